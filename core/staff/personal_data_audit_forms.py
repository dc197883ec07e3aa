"""The filters of the personal-data access log: staff member, account number, date range and where it was opened."""
from __future__ import annotations

import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from core.selectors.personal_data_audit import CONTEXT_KINDS, AccessFilters

# With nothing chosen the page shows the last 30 days.
DEFAULT_DAYS = 30


class AccessFilterForm(forms.Form):
    staff = forms.CharField(label=_("查看人账号"), required=False, max_length=150)
    number = forms.RegexField(
        label=_("户号"), required=False, regex=r"^\d{10}$",
        error_messages={"invalid": _("户号为10位数字")},
    )
    date_from = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    context = forms.ChoiceField(label=_("查看场景"), required=False, choices=[("", _("全部")), *CONTEXT_KINDS.items()])

    def clean(self):
        data = super().clean()
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last:
            self.add_error("date_to", _("结束日期不能早于开始日期"))
        return data

    def filters(self, *, today: datetime.date) -> AccessFilters:
        """The chosen filters from valid data; an unbound form is the last DEFAULT_DAYS days."""
        if not self.is_bound:
            return AccessFilters(date_from=today - datetime.timedelta(days=DEFAULT_DAYS - 1))
        data = self.cleaned_data
        return AccessFilters(
            staff=data["staff"].strip(), number=data["number"], date_from=data["date_from"],
            date_to=data["date_to"], context=data["context"],
        )
