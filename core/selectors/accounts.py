"""Reads about one account: what it owes now and its ledger statement."""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from core.models import Account, Bill, LateFee, LedgerEntry, Payment
from core.money import ZERO, to_money
from core.services.late_fees import late_fees_pending


@dataclass(frozen=True)
class AmountDue:
    bills_outstanding: Decimal
    late_fees_outstanding: Decimal
    late_fees_accruing: Decimal
    prepaid_credit: Decimal
    total_due: Decimal


def account_amount_due(*, account: Account, as_of: datetime.date) -> AmountDue:
    """What paying in full on `as_of` would take: open bills and fees, plus fees accrued but not yet posted
    (the minimum applied as an assessment that day would), less prepaid credit."""
    # Summed in Python: SQLite sums decimals as floats.
    bills = sum(
        (
            bill.outstanding
            for bill in Bill.objects.filter(account=account)
            .exclude(kind=Bill.Kind.CREDIT_NOTE)
            .exclude(state__in=[Bill.State.WRITTEN_OFF, Bill.State.CREDITED])
            .only("kind", "total", "amount_paid", "amount_adjusted")
        ),
        ZERO,
    )
    late_fees = sum(
        (fee.outstanding for fee in LateFee.objects.filter(account=account).only("amount", "amount_paid", "amount_waived")),
        ZERO,
    )
    accruing = sum((pending.amount for pending in late_fees_pending(account=account, through=as_of)), ZERO)
    prepaid = sum(
        Payment.objects.filter(account=account, status=Payment.Status.POSTED).values_list("unallocated", flat=True), ZERO
    )
    total = max(bills + late_fees + accruing - prepaid, ZERO)
    return AmountDue(
        bills_outstanding=to_money(bills),
        late_fees_outstanding=to_money(late_fees),
        late_fees_accruing=to_money(accruing),
        prepaid_credit=to_money(prepaid),
        total_due=to_money(total),
    )


def account_statement(*, account: Account, limit: int = 50) -> list[LedgerEntry]:
    """The latest ledger entries, newest first."""
    return list(
        LedgerEntry.objects.filter(account=account)
        .select_related("bill", "payment", "late_fee", "created_by")
        .order_by("-id")[:limit]
    )
