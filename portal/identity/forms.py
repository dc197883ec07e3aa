"""The portal's sign-up form: a mobile number (confirmed by an SMS code, password optional), or an email address
with a password."""
from __future__ import annotations

from allauth.account.forms import SignupForm
from django import forms
from django.utils.translation import gettext_lazy as _


class PortalSignupForm(SignupForm):
    field_order = ["phone", "email", "password1", "password2"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = _("电子邮箱")
        self.fields["email"].help_text = _("不填手机号码时必填，用于密码登录和找回密码")
        self.fields["phone"].help_text = _("注册后我们会向该号码发送短信验证码")
        self.fields["password1"].label = _("密码")
        self.fields["password2"].label = _("确认密码")

    def clean(self) -> dict:
        cleaned = super().clean()
        phone, email = cleaned.get("phone"), cleaned.get("email")
        if not phone and not email and not self.has_error("phone") and not self.has_error("email"):
            raise forms.ValidationError(_("请填写手机号码，或填写电子邮箱并设置密码"), code="phone_or_email")
        if email and not phone and not cleaned.get("password1") and not self.has_error("password1"):
            self.add_error("password1", forms.ValidationError(_("用电子邮箱注册需要设置密码"), code="password_required"))
        return cleaned
