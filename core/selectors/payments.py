"""Reads of payments (实收) and their reversals in the ledger."""
from __future__ import annotations

from decimal import Decimal

from core.models import LedgerEntry
from core.money import ZERO


def payments_reversed(*, payment_ids: list[int]) -> dict[int, Decimal]:
    """What the ledger has reversed of each payment (the sum of its payment_reversal entries; 0.00 for none)."""
    reversed_by_payment = dict.fromkeys(payment_ids, ZERO)
    # Summed in Python: SQLite sums decimals as floats.
    for payment_id, amount in LedgerEntry.objects.filter(
        kind=LedgerEntry.Kind.PAYMENT_REVERSAL, payment_id__in=payment_ids
    ).values_list("payment_id", "amount"):
        reversed_by_payment[payment_id] += amount
    return reversed_by_payment
