"""Posting to the append-only account ledger. Every change of what a customer owes goes through here."""
from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from core.models import Account, LedgerEntry
from core.money import to_money


def account_lock(*, account_id: int) -> Account:
    """Lock one account row for the rest of the transaction (select_for_update) and return it fresh."""
    return Account.objects.select_for_update().get(pk=account_id)


def ledger_post(
    *,
    account: Account,
    kind: str,
    amount: Decimal,
    bill=None,
    payment=None,
    late_fee=None,
    memo: str = "",
    user=None,
) -> LedgerEntry:
    """Append one entry and move the account's running balance with it.

    The caller holds the account row lock (account_lock) inside its transaction, so two postings to one
    account never interleave and balance_after is always the running sum.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_post must run inside the caller's transaction")
    amount = to_money(amount)
    account.balance = to_money(account.balance + amount)
    Account.objects.filter(pk=account.pk).update(balance=account.balance)
    return LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        balance_after=account.balance,
        bill=bill,
        payment=payment,
        late_fee=late_fee,
        memo=memo[:200],
        created_by=user,
    )
