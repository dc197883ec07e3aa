"""Reads for the binding pages and the guest bill lookup: a user's own binding, and what a guest may see of an
account once its number and holder's name checked out (amounts and bills; the name and address masked, never
the phone or ID number)."""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Min

from core.models import Account, AccountBinding, Bill
from core.money import format_yuan
from core.selectors.accounts import account_amount_due

GUEST_BILLS_SHOWN = 6
OPEN_BILL_STATES = (Bill.State.ISSUED, Bill.State.PARTLY_PAID, Bill.State.OVERDUE)

# The address is kept down to its street or township (街道, 镇, 乡); the house number and road are hidden.
_ADDRESS_AREA = re.compile(r"^(.*?(?:街道|镇|乡))")
_ADDRESS_PREFECTURE = re.compile(r"^(?:.{2,3}省)?(?:.{2,10}(?:自治州|州|地区))?(?=.{2,}(?:市|县))")


def binding_for_account(*, user, account: Account) -> AccountBinding | None:
    """The user's active binding of an account they may see (the caller has checked that)."""
    return AccountBinding.objects.filter(user=user, account=account, unbound_at__isnull=True).first()


def name_mask(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧***; a single character stays as typed only when nothing would be left."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*" if name else ""
    return name[0] + "*" * (len(name) - 1)


def address_mask(address: str) -> str:
    """恩施州恩施市舞阳坝街道施州大道12号 -> 恩施市舞阳坝街道***: the area a neighbour would know, not the door."""
    address = (address or "").strip()
    if not address:
        return ""
    trimmed = _ADDRESS_PREFECTURE.sub("", address, count=1) or address
    match = _ADDRESS_AREA.match(trimmed)
    if match and len(match.group(1)) < len(trimmed):
        return match.group(1) + "***"
    keep = min(6, len(trimmed) // 3)
    return trimmed[:keep] + "***"


@dataclass(frozen=True)
class GuestBillLine:
    period_display: str
    kwh: Decimal
    total_display: str
    outstanding_display: str
    due_date: datetime.date
    state_display: str


@dataclass(frozen=True)
class GuestBillSummary:
    account_number: str
    name_masked: str
    address_masked: str
    total_due: Decimal
    total_due_display: str
    prepaid_credit_display: str
    owes: bool
    earliest_due_date: datetime.date | None
    bills: list[GuestBillLine]


def guest_bill_summary(*, account: Account, as_of: datetime.date) -> GuestBillSummary:
    """What the guest lookup shows: amount due, the earliest due date among open bills, the latest bills."""
    due = account_amount_due(account=account, as_of=as_of)
    bills = list(
        Bill.objects.filter(account=account)
        .exclude(kind=Bill.Kind.CREDIT_NOTE)
        .only("period", "kwh", "total", "amount_paid", "amount_adjusted", "due_date", "state", "kind")
        .order_by("-period", "-id")[:GUEST_BILLS_SHOWN]
    )
    earliest_due = (
        Bill.objects.filter(account=account, state__in=OPEN_BILL_STATES)
        .exclude(kind=Bill.Kind.CREDIT_NOTE)
        .aggregate(earliest=Min("due_date"))["earliest"]
    )
    return GuestBillSummary(
        account_number=account.number,
        name_masked=name_mask(account.name),
        address_masked=address_mask(account.address),
        total_due=due.total_due,
        total_due_display=format_yuan(due.total_due),
        prepaid_credit_display=format_yuan(due.prepaid_credit),
        owes=due.total_due > 0,
        earliest_due_date=earliest_due if due.total_due > 0 else None,
        bills=[
            GuestBillLine(
                period_display=f"{bill.period:%Y-%m}",
                kwh=bill.kwh,
                total_display=format_yuan(bill.total),
                outstanding_display=format_yuan(max(bill.outstanding, Decimal("0.00"))),
                due_date=bill.due_date,
                state_display=bill.get_state_display(),
            )
            for bill in bills
        ],
    )
