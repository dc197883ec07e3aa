"""Forms of the quality pages: the report period and branch, the audit list's filters and a flag's resolution."""
from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import AuditFlag, AuditRule, Branch, ComplaintClass
from core.selectors.quality_reports import UNCLASSIFIED, ReportPeriod

# A report covers at most about a year: longer ranges are what the decision-support dashboards are for.
LONGEST_PERIOD_DAYS = 366


class ReportFilterForm(forms.Form):
    """A month (YYYY-MM), or a date range, and optionally one branch. Nothing chosen: the default period."""

    month = forms.DateField(
        label=_("月份"), required=False, input_formats=["%Y-%m"], widget=forms.DateInput(attrs={"type": "month"}),
        error_messages={"invalid": _("请按“年-月”填写月份，例如 2026-10")},
    )
    date_from = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    branch = forms.ModelChoiceField(
        label=_("县公司"), queryset=Branch.objects.order_by("code"), required=False, empty_label=_("全部")
    )

    def clean(self):
        data = super().clean()
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last:
            self.add_error("date_to", _("结束日期不能早于开始日期"))
        elif first and ((last or timezone.localdate()) - first).days >= LONGEST_PERIOD_DAYS:
            self.add_error("date_from", _("统计期间不能超过一年"))
        return data

    def period(self, *, default: ReportPeriod, today: datetime.date) -> ReportPeriod:
        """The chosen period from valid data: the month, else the range (an open end is today, an open start the
        first of the end's month), else the default."""
        data = self.cleaned_data if self.is_bound else {}
        if data.get("month"):
            return ReportPeriod.month(data["month"])
        first, last = data.get("date_from"), data.get("date_to")
        if first or last:
            last = last or max(first, today)
            return ReportPeriod(first=first or last.replace(day=1), last=last)
        return default

    def branch_id(self) -> int | None:
        branch = self.cleaned_data.get("branch") if self.is_bound else None
        return branch.pk if branch else None


class ComplaintListForm(ReportFilterForm):
    complaint_class = forms.ChoiceField(
        label=_("投诉分类"), required=False,
        choices=[("", _("全部")), *ComplaintClass.choices, (UNCLASSIFIED, _("未分类"))],
    )
    complainer = forms.RegexField(
        label=_("投诉人"), required=False, regex=r"^[cp][0-9A-Za-z+\-]{1,30}$", widget=forms.HiddenInput,
        error_messages={"invalid": _("投诉人参数无效")},
    )


class AuditFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部")), *AuditFlag.State.choices],
        initial=AuditFlag.State.OPEN,
    )
    rule = forms.ChoiceField(label=_("稽查规则"), required=False, choices=[("", _("全部")), *AuditRule.choices])
    branch = forms.ModelChoiceField(
        label=_("县公司"), queryset=Branch.objects.order_by("code"), required=False, empty_label=_("全部")
    )


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("处理说明"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("请填写处理说明"), "max_length": _("处理说明不能超过2000字")},
    )
