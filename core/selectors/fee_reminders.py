"""The fee-reminder list (催费清单): a branch's accounts with bills past their due date and still owing, for the
call centre's outbound reminders. Amounts are summed in the database, one page at a time, in a fixed number of
queries whatever the branch holds."""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Min, QuerySet, Sum

from core.models import Account, Bill, Branch
from core.money import to_money

OWING_STATES = (Bill.State.ISSUED, Bill.State.PARTLY_PAID, Bill.State.OVERDUE)
_OUTSTANDING = ExpressionWrapper(
    F("total") - F("amount_paid") - F("amount_adjusted"), output_field=DecimalField(max_digits=14, decimal_places=2)
)


@dataclass(frozen=True)
class FeeReminder:
    """One account to remind: what its overdue bills still owe, how many, and since when."""

    account: Account
    overdue_amount: Decimal
    overdue_bills: int
    oldest_due_date: datetime.date
    days_overdue: int


@dataclass(frozen=True)
class FeeReminderPage:
    branch: Branch
    as_of: datetime.date
    count: int
    total_amount: Decimal
    reminders: list[FeeReminder]


def branch_by_code(*, code: str) -> Branch | None:
    return Branch.objects.filter(code=code).first()


def _overdue_by_account(*, branch: Branch, as_of: datetime.date, min_amount: Decimal) -> QuerySet:
    """Per account of the branch (closed accounts left out): the outstanding of its bills due before `as_of`."""
    return (
        Bill.objects.filter(
            account__branch=branch,
            state__in=OWING_STATES,
            due_date__lt=as_of,
        )
        .exclude(kind=Bill.Kind.CREDIT_NOTE)
        .exclude(account__status=Account.Status.CLOSED)
        .values("account_id", "account__number")
        .annotate(
            overdue_amount=Sum(_OUTSTANDING, output_field=DecimalField(max_digits=14, decimal_places=2)),
            overdue_bills=Count("id"),
            oldest_due_date=Min("due_date"),
        )
        .filter(overdue_amount__gt=0, overdue_amount__gte=min_amount)
    )


def fee_reminders_for_branch(
    *, branch: Branch, as_of: datetime.date, offset: int, limit: int, min_amount: Decimal = Decimal("0.01")
) -> FeeReminderPage:
    """One page of the branch's accounts in arrears, by account number (three queries: the count and total,
    the page, its accounts with their customers)."""
    grouped = _overdue_by_account(branch=branch, as_of=as_of, min_amount=min_amount)
    totals = grouped.order_by().aggregate(count=Count("account_id"), total=Sum("overdue_amount"))
    count = totals["count"] or 0
    rows = list(grouped.order_by("account__number")[offset:offset + limit]) if count else []
    accounts = Account.objects.select_related("customer").in_bulk([row["account_id"] for row in rows])
    reminders = [
        FeeReminder(
            account=accounts[row["account_id"]],
            overdue_amount=to_money(row["overdue_amount"]),
            overdue_bills=row["overdue_bills"],
            oldest_due_date=row["oldest_due_date"],
            days_overdue=(as_of - row["oldest_due_date"]).days,
        )
        for row in rows
    ]
    return FeeReminderPage(
        branch=branch, as_of=as_of, count=count, total_amount=to_money(totals["total"] or 0), reminders=reminders,
    )
