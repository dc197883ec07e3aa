"""Reads of online payments for the portal and staff."""
from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet

from core.models import Account, LedgerEntry, OnlinePayment
from core.money import ZERO


def online_payments_of_account(*, account: Account, limit: int = 20) -> list[OnlinePayment]:
    """The account's latest online payments, newest first."""
    return list(OnlinePayment.objects.filter(account=account).select_related("payment").order_by("-created_at", "-pk")[:limit])


def online_payment_of_account_or_none(*, account: Account, online_payment_id: int) -> OnlinePayment | None:
    """The online payment with this id if it belongs to the account (None otherwise, so callers answer 404)."""
    return OnlinePayment.objects.filter(account=account, pk=online_payment_id).select_related("payment", "account").first()


def online_payments_unsettled(*, provider: str = "stripe") -> QuerySet[OnlinePayment]:
    return OnlinePayment.objects.filter(provider=provider, state="created")


def payments_reversed(*, payment_ids: list[int]) -> dict[int, Decimal]:
    """What the ledger has reversed of each payment (the sum of its payment_reversal entries; 0.00 for none)."""
    reversed_by_payment = dict.fromkeys(payment_ids, ZERO)
    # Summed in Python: SQLite sums decimals as floats.
    for payment_id, amount in LedgerEntry.objects.filter(
        kind=LedgerEntry.Kind.PAYMENT_REVERSAL, payment_id__in=payment_ids
    ).values_list("payment_id", "amount"):
        reversed_by_payment[payment_id] += amount
    return reversed_by_payment
