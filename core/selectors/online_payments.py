"""Reads of online payments for the portal and staff."""
from __future__ import annotations

from django.db.models import QuerySet

from core.models import Account, OnlinePayment


def online_payments_of_account(*, account: Account, limit: int = 20) -> list[OnlinePayment]:
    """The account's latest online payments, newest first."""
    return list(OnlinePayment.objects.filter(account=account).select_related("payment").order_by("-created_at", "-pk")[:limit])


def online_payment_of_account_or_none(*, account: Account, online_payment_id: int) -> OnlinePayment | None:
    """The online payment with this id if it belongs to the account (None otherwise, so callers answer 404)."""
    return OnlinePayment.objects.filter(account=account, pk=online_payment_id).select_related("payment", "account").first()


def online_payments_unsettled(*, provider: str = "stripe") -> QuerySet[OnlinePayment]:
    return OnlinePayment.objects.filter(provider=provider, state="created")
