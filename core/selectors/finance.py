"""Finance figures per county branch and bill month: receivable (应收), received (实收), written off (核销),
outstanding (欠费), late fees (违约金) and the cash booked in the month, each summed by the database.

Amounts are summed as whole fen (ROUND(amount * 100)): SQLite keeps decimals as floats, and a sum of
integers stays exact there as it does in PostgreSQL's numeric.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, fields
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce, Round

from core.models import Bill, Branch, LateFee, LedgerEntry

# Ledger postings belong to the utility's local calendar month.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
_CASH_KINDS = (LedgerEntry.Kind.PAYMENT, LedgerEntry.Kind.PAYMENT_REVERSAL, LedgerEntry.Kind.REFUND)


@dataclass(frozen=True)
class FinanceFigures:
    """One branch's figures for one bill month (or their totals). Money in yuan, 2 places."""

    bills: int
    receivable: Decimal
    received: Decimal
    written_off: Decimal
    outstanding: Decimal
    late_fees: Decimal
    late_fees_received: Decimal
    late_fees_waived: Decimal
    collected: Decimal

    @classmethod
    def money_fields(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls) if field.name != "bills")


@dataclass(frozen=True)
class BranchFinance:
    code: str
    name: str
    figures: FinanceFigures


@dataclass(frozen=True)
class FinanceSummary:
    period: datetime.date
    branches: list[BranchFinance]
    totals: FinanceFigures


_FEN = DecimalField(max_digits=20, decimal_places=0)


def _fen_sum(expression, *, filter: Q | None = None):
    fen = Round(ExpressionWrapper(expression * Value(100), output_field=_FEN), output_field=_FEN)
    return Coalesce(Sum(fen, filter=filter, output_field=_FEN), Value(0), output_field=_FEN)


def _yuan(fen) -> Decimal:
    return (Decimal(int(fen or 0)) / 100).quantize(Decimal("0.01"))


def month_bounds(*, period: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The first instant of the bill month and of the next one, in the utility's local time."""
    start = datetime.datetime(period.year, period.month, 1, tzinfo=LOCAL_TZ)
    year, month = (period.year + 1, 1) if period.month == 12 else (period.year, period.month + 1)
    return start, datetime.datetime(year, month, 1, tzinfo=LOCAL_TZ)


def _bill_figures(*, period: datetime.date, branch_ids: list[int]) -> dict[int, dict]:
    """Per branch: regular bill count, receivable (a credit note nets off the bill it cancels, its re-bill
    counts instead), received, written off and outstanding on the month's bills (one query).
    receivable = received + written_off + outstanding: a credited bill's adjustment equals its credit note."""
    charge = ~Q(kind=Bill.Kind.CREDIT_NOTE)
    rows = (
        Bill.objects.filter(period=period, account__branch_id__in=branch_ids)
        .values("account__branch_id")
        .annotate(
            bills=Count("id", filter=Q(kind=Bill.Kind.REGULAR)),
            receivable=_fen_sum(F("total")),
            received=_fen_sum(F("amount_paid"), filter=charge),
            written_off=_fen_sum(F("amount_adjusted"), filter=Q(state=Bill.State.WRITTEN_OFF)),
            outstanding=_fen_sum(F("total") - F("amount_paid") - F("amount_adjusted"), filter=charge),
        )
        .order_by()
    )
    return {row.pop("account__branch_id"): row for row in rows}


def _late_fee_figures(*, period: datetime.date, branch_ids: list[int]) -> dict[int, dict]:
    """Per branch: late fees assessed on the month's bills, what was paid of them and what was waived."""
    rows = (
        LateFee.objects.filter(bill__period=period, account__branch_id__in=branch_ids)
        .values("account__branch_id")
        .annotate(
            late_fees=_fen_sum(F("amount")),
            late_fees_received=_fen_sum(F("amount_paid")),
            late_fees_waived=_fen_sum(F("amount_waived")),
        )
        .order_by()
    )
    return {row.pop("account__branch_id"): row for row in rows}


def _cash_figures(*, period: datetime.date, branch_ids: list[int]) -> dict[int, dict]:
    """Per branch: money booked to the ledger in the calendar month (payments less reversals and refunds)."""
    start, end = month_bounds(period=period)
    rows = (
        LedgerEntry.objects.filter(
            kind__in=_CASH_KINDS, created_at__gte=start, created_at__lt=end, account__branch_id__in=branch_ids
        )
        .values("account__branch_id")
        .annotate(collected=_fen_sum(-F("amount")))
        .order_by()
    )
    return {row.pop("account__branch_id"): row for row in rows}


def _figures(*parts: dict) -> FinanceFigures:
    merged: dict = {}
    for part in parts:
        merged.update(part)
    money = {name: _yuan(merged.get(name)) for name in FinanceFigures.money_fields()}
    return FinanceFigures(bills=int(merged.get("bills") or 0), **money)


def finance_summary(*, period: datetime.date, branch: Branch | None = None) -> FinanceSummary:
    """Every branch's figures for the bill month (or one branch's), ordered by branch code, with totals."""
    period = period.replace(day=1)
    branches = [branch] if branch is not None else list(Branch.objects.order_by("code"))
    ids = [item.pk for item in branches]
    bills = _bill_figures(period=period, branch_ids=ids)
    late_fees = _late_fee_figures(period=period, branch_ids=ids)
    cash = _cash_figures(period=period, branch_ids=ids)
    rows = [
        BranchFinance(
            code=item.code,
            name=item.name,
            figures=_figures(bills.get(item.pk, {}), late_fees.get(item.pk, {}), cash.get(item.pk, {})),
        )
        for item in branches
    ]
    totals = FinanceFigures(
        bills=sum(row.figures.bills for row in rows),
        **{
            name: sum((getattr(row.figures, name) for row in rows), Decimal("0.00"))
            for name in FinanceFigures.money_fields()
        },
    )
    return FinanceSummary(period=period, branches=rows, totals=totals)
