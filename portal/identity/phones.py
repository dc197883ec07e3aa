"""Mainland China mobile numbers: what customers type (spaces, dashes, +86) and the one form we store."""
from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS = re.compile(r"[\s\-()]")


def mobile_normalise(value: str) -> str:
    """The stored (national, 11-digit) form of a mainland mobile number; ValidationError if it is not one."""
    digits = _SEPARATORS.sub("", value or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not MOBILE_PATTERN.match(digits):
        raise ValidationError(_("请输入正确的11位手机号码"), code="invalid_phone")
    return digits


class MobileField(forms.CharField):
    """A mobile number typed on a phone keypad, cleaned to 11 digits."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("label", _("手机号码"))
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={
                "type": "tel", "inputmode": "numeric", "autocomplete": "tel", "placeholder": _("11位手机号码"),
            }),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return value
        return mobile_normalise(value)
