"""Forms of the binding pages: they parse what was typed; the binding service decides every rule."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.models import BindingMethod


class BindForm(forms.Form):
    account_number = forms.CharField(
        label=_("户号"), max_length=20, widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("10位数字，见电费账单或缴费凭证"),
    )
    holder_name = forms.CharField(label=_("户主姓名"), max_length=100)
    method = forms.ChoiceField(
        label=_("验证方式"), choices=BindingMethod.choices, widget=forms.RadioSelect, initial=BindingMethod.ID_DIGITS
    )
    id_last4 = forms.CharField(
        label=_("证件号后四位"), max_length=4, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 4}),
    )
    sms_code = forms.CharField(
        label=_("短信验证码"), max_length=8, required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "size": 6}),
        help_text=_("先点“发送验证码”，验证码发送到该户号预留的手机"),
    )
    label = forms.CharField(label=_("备注名（可选）"), max_length=20, required=False,
                            help_text=_("如“家里”“父母家”"))


class BindingSettingsForm(forms.Form):
    label = forms.CharField(label=_("备注名"), max_length=20, required=False)
    low_balance_threshold = forms.CharField(
        label=_("余额提醒阈值（元）"), max_length=12, widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text=_("智能交费户余额低于该金额时，短信发到您登录用的手机号"),
    )
    tier_alerts = forms.BooleanField(
        label=_("阶梯电量提醒"), required=False, help_text=_("预计即将进入下一档电价时短信提醒"),
    )
