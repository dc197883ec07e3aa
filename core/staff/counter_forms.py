"""Forms of the counter pages. They render inputs and collect raw text; core.services.counter validates, and its
refusals are shown against the fields they name."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.models.counter import CounterMethod, DepositAccount


class AccountSearchForm(forms.Form):
    q = forms.CharField(
        label=_("户号、手机号码或户名"), required=False, max_length=50,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )


class PaymentForm(forms.Form):
    amount = forms.CharField(
        label=_("收费金额（元）"), required=False, max_length=20, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    # Raw text in a select: the service names a bad choice in its own words.
    method = forms.CharField(
        label=_("收费方式"), required=False, initial=CounterMethod.CASH, widget=forms.Select(choices=CounterMethod.choices)
    )
    slip_reference = forms.CharField(
        label=_("票据号（进账单、列账单必填）"), required=False, max_length=40
    )


class PaymentConfirmForm(forms.Form):
    """The summary's hidden copy of what was checked, and the one-time token that makes a double click post once."""

    amount = forms.CharField(widget=forms.HiddenInput, required=False, max_length=20)
    method = forms.CharField(widget=forms.HiddenInput, required=False, max_length=20)
    slip_reference = forms.CharField(widget=forms.HiddenInput, required=False, max_length=40)
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)


class ReverseForm(forms.Form):
    reason = forms.CharField(label=_("冲正原因"), max_length=200, required=False)


class SettlementForm(forms.Form):
    business_day = forms.DateField(widget=forms.HiddenInput)
    cash_amount = forms.CharField(label=_("现金（元）"), required=False, max_length=20)
    bank_slip_amount = forms.CharField(label=_("进账单（元）"), required=False, max_length=20)
    list_slip_amount = forms.CharField(label=_("列账单（元）"), required=False, max_length=20)
    deposit_account = forms.CharField(label=_("解款账户"), required=False, widget=forms.Select)

    def __init__(self, *args, deposit_accounts: list[DepositAccount], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deposit_account"].widget.choices = [("", _("请选择"))] + [
            (str(deposit.pk), str(deposit)) for deposit in deposit_accounts
        ]


class ReviewForm(forms.Form):
    note = forms.CharField(label=_("审核意见"), required=False, max_length=200)
