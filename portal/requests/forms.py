"""Forms of the portal's requests: the wizard's first step, document upload, feedback and fault reports. The
wizard's second step is built from the process definition's field spec (see views.field_rows) and cleaned by
core, so it has no Django form."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.models import Branch, BusinessType, ComplaintClass
from core.selectors.portal_tickets import FEEDBACK_TYPES


def _account_choices(accounts) -> list[tuple[str, str]]:
    return [("", _("不选择户号"))] + [(a.number, f"{a.number} {a.address}") for a in accounts]


class _AccountBranchForm(forms.Form):
    account = forms.ChoiceField(label=_("户号"), required=False)
    branch = forms.ModelChoiceField(
        label=_("所在县公司"), queryset=Branch.objects.order_by("code"), required=False,
        empty_label=_("请选择县公司"), help_text=_("不选择户号时必填"),
    )

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.accounts = {a.number: a for a in accounts}
        self.fields["account"].choices = _account_choices(accounts)

    def clean_account(self):
        number = self.cleaned_data.get("account") or ""
        return self.accounts.get(number)


class ApplyTypeForm(_AccountBranchForm):
    business_type = forms.ChoiceField(label=_("业务类型"), widget=forms.RadioSelect)

    field_order = ["business_type", "account", "branch"]

    def __init__(self, *args, types, **kwargs):
        super().__init__(*args, **kwargs)
        self.types = {t.business_type: t for t in types}
        self.fields["business_type"].choices = [(t.business_type, t.label) for t in types]

    def clean(self):
        cleaned = super().clean()
        chosen = self.types.get(cleaned.get("business_type"))
        if chosen is None:
            return cleaned
        if chosen.requires_account and cleaned.get("account") is None:
            self.add_error("account", _("该业务须选择已绑定的户号"))
        elif cleaned.get("account") is None and cleaned.get("branch") is None:
            self.add_error("branch", _("请选择受理的县公司"))
        return cleaned


class DocumentForm(forms.Form):
    material = forms.ChoiceField(label=_("材料名称"))
    file = forms.FileField(label=_("选择文件"), help_text=_("PDF、JPG、PNG、Word 或 Excel，每份不超过 10 MB"))

    def __init__(self, *args, materials, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["material"].choices = [(m.code, m.label) for m in materials]


class FeedbackForm(_AccountBranchForm):
    business_type = forms.ChoiceField(
        label=_("诉求类型"), choices=[(t, BusinessType(t).label) for t in FEEDBACK_TYPES], initial=BusinessType.COMPLAINT,
    )
    complaint_class = forms.ChoiceField(
        label=_("投诉分类"), required=False, choices=[("", _("（投诉时必选）"))] + list(ComplaintClass.choices),
    )
    anonymous = forms.BooleanField(label=_("匿名举报（不留姓名和联系方式，无法回复您）"), required=False)
    summary = forms.CharField(label=_("标题"), max_length=100)
    description = forms.CharField(label=_("具体内容"), widget=forms.Textarea(attrs={"rows": 5}), max_length=2000)
    contact_name = forms.CharField(label=_("联系人"), max_length=60, required=False)
    contact_phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)

    field_order = ["business_type", "complaint_class", "account", "branch", "summary", "description",
                   "contact_name", "contact_phone", "anonymous"]


class FaultReportForm(_AccountBranchForm):
    address = forms.CharField(label=_("故障地点"), max_length=200, required=False, help_text=_("不选择户号时必填"))
    description = forms.CharField(label=_("故障情况"), widget=forms.Textarea(attrs={"rows": 4}), max_length=500)
    phone = forms.CharField(label=_("联系电话"), max_length=20)

    field_order = ["account", "branch", "address", "description", "phone"]
