"""Reads about a caller on the hotline: which accounts the calling number is on file for, whether a known outage
covers them now (storm mode), what an account owes and its latest bill, and a ticket by the number keyed in.

The IVR asks here on both transports; nothing returned carries more than the IVR may read out (amounts, dates,
ticket states), never a name, an address or an ID number.
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal

from core.models import Account, Bill, Outage, Ticket
from core.selectors.accounts import account_amount_due
from core.selectors.outages import outages_affecting_account

_NOT_DIGITS = re.compile(r"\D")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def caller_number_normalise(raw: str) -> str:
    """The calling number as customers' phones are stored: digits only, in the national form (Twilio sends E.164:
    +8613812345678 is 13812345678, +867188221234 is the landline 07188221234; Asterisk whatever the trunk passes)."""
    digits = _NOT_DIGITS.sub("", raw or "")
    if digits.startswith("0086"):
        national = digits[4:]
    elif digits.startswith("86") and len(digits) >= 11:
        national = digits[2:]
    else:
        return digits
    return national if _MOBILE.match(national) or national.startswith("0") else "0" + national


def caller_number_is_mobile(phone: str) -> bool:
    """True when the (normalised) number can receive an SMS."""
    return bool(_MOBILE.match(phone or ""))


def accounts_for_caller_number(*, phone: str) -> list[Account]:
    """The open accounts whose customer has this phone on file, by account number (one query); none for an
    empty or withheld number."""
    phone = caller_number_normalise(phone)
    if not phone:
        return []
    return list(
        Account.objects.filter(customer__phone=phone)
        .exclude(status=Account.Status.CLOSED)
        .select_related("customer")
        .order_by("number")
    )


def account_by_number(*, number: str) -> Account | None:
    """The account with this (validated) number, or None."""
    return Account.objects.select_related("customer").filter(number=number).first()


def account_matches_caller(*, account: Account, phone: str) -> bool:
    """True when the calling number is the phone on file for the account's customer."""
    phone = caller_number_normalise(phone)
    return bool(phone) and caller_number_normalise(account.customer.phone) == phone


def outage_now_for_account(*, account: Account, at: datetime.datetime) -> Outage | None:
    """The announced outage over the account's transformer area that is on at `at` (the soonest started)."""
    for outage in outages_affecting_account(account=account, at=at):
        if outage.starts_at <= at:
            return outage
    return None


def outage_next_for_account(*, account: Account, at: datetime.datetime, horizon_days: int = 14) -> Outage | None:
    """The outage on now or the next one announced within `horizon_days` (two weeks: planned outages are
    announced at least seven days ahead), or None."""
    outages = outages_affecting_account(account=account, at=at, horizon_days=horizon_days)
    return outages[0] if outages else None


@dataclass(frozen=True)
class StormMatch:
    """A caller whose number is on file for an account inside an outage that is on now."""

    account: Account
    outage: Outage


def storm_match_for_caller(*, phone: str, at: datetime.datetime) -> StormMatch | None:
    """The first of the caller's accounts (by number) fed from an area with an outage on now, or None."""
    for account in accounts_for_caller_number(phone=phone):
        outage = outage_now_for_account(account=account, at=at)
        if outage is not None:
            return StormMatch(account=account, outage=outage)
    return None


@dataclass(frozen=True)
class AccountIvrSummary:
    """What the IVR reads out about an account: the amount due (arrears and fees, less prepaid credit), the
    prepaid credit, and the latest bill (None when nothing was billed yet)."""

    total_due: Decimal
    arrears: Decimal
    prepaid_credit: Decimal
    latest_bill_period: datetime.date | None
    latest_bill_kwh: Decimal | None
    latest_bill_total: Decimal | None
    latest_bill_due_date: datetime.date | None


def account_ivr_summary(*, account: Account, as_of: datetime.date) -> AccountIvrSummary:
    """The amounts and latest bill of an account as of a day."""
    due = account_amount_due(account=account, as_of=as_of)
    bill = (
        Bill.objects.filter(account=account)
        .exclude(kind=Bill.Kind.CREDIT_NOTE)
        .only("period", "kwh", "total", "due_date")
        .order_by("-period", "-id")
        .first()
    )
    return AccountIvrSummary(
        total_due=due.total_due,
        arrears=due.bills_outstanding + due.late_fees_outstanding + due.late_fees_accruing,
        prepaid_credit=due.prepaid_credit,
        latest_bill_period=bill.period if bill else None,
        latest_bill_kwh=bill.kwh if bill else None,
        latest_bill_total=bill.total if bill else None,
        latest_bill_due_date=bill.due_date if bill else None,
    )


def ticket_by_number(*, number: str) -> Ticket | None:
    """The ticket with this number (11 digits as keyed), or None."""
    if not number.isdigit():
        return None
    return Ticket.objects.filter(number=number).first()
