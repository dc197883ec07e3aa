"""Account numbers (户号): 9 digits plus a Luhn check digit, so a mistyped digit or a swap of two
neighbouring digits on the IVR keypad is caught before any lookup."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import InvalidAccountNumber

ACCOUNT_NUMBER_LENGTH = 10


def luhn_check_digit(body: str) -> str:
    """The digit that makes body + digit pass the Luhn test."""
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def account_number_from_body(body: str) -> str:
    """Build a full account number from its first nine digits."""
    if len(body) != ACCOUNT_NUMBER_LENGTH - 1 or not body.isdigit():
        raise InvalidAccountNumber(_("户号主体必须是9位数字"))
    return body + luhn_check_digit(body)


def account_number_validate(raw: str) -> str:
    """Normalise (strip spaces and dashes) and validate a typed account number; return the 10 digits."""
    number = (raw or "").replace(" ", "").replace("-", "").strip()
    if not number.isdigit():
        raise InvalidAccountNumber(_("户号只能包含数字"))
    if len(number) != ACCOUNT_NUMBER_LENGTH:
        raise InvalidAccountNumber(_("户号应为10位数字"))
    if luhn_check_digit(number[:-1]) != number[-1]:
        raise InvalidAccountNumber(_("户号校验位不正确，请核对后重新输入"))
    return number
