"""Posting many payments at once (bank collection and withholding files): the same effect as payment_post on each
line in order — once per idempotency key, late fees assessed to each received day, the ledger's running balance,
allocation to late fees then the oldest bills — but read and written set-wise, a few queries per chunk of lines
instead of some twenty-five per line.

The rules are not repeated here: late_fees_pending_for and allocation_plan are the ones payment_post uses; this
module only reads their inputs for a whole chunk and writes their outcome with bulk statements.
"""
from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, IdempotencyConflict, PaymentError
from core.models import Account, Bill, CollectionPolicy, LateFee, LedgerEntry, Payment, PaymentAllocation
from core.money import to_money
from core.services.bill_states import bill_state_derive
from core.services.late_fees import collection_policy_for, late_fees_pending_for
from core.services.payments import LOCAL_TZ, PaymentResult, allocation_plan, payment_input_check

# Lines read and written together; each chunk's IN lists stay well inside SQLite's and PostgreSQL's limits.
CHUNK = 1000


@dataclass(frozen=True)
class PaymentLine:
    account_id: int
    amount: Decimal | str
    idempotency_key: str
    received_at: datetime.datetime
    external_reference: str = ""


class PaymentLineRefused(DomainError):
    """A line that payment_post would refuse; `index` is its place in the lines given (0-based)."""

    code = "payment_line_refused"

    def __init__(self, error: DomainError, *, index: int):
        super().__init__(error.message, field=error.field)
        self.index = index


@dataclass
class _AccountBook:
    """One locked account as the chunk sees it: its open bills and late fees, its payments with credit left, the
    last accrued day per bill, and everything this chunk adds or changes."""

    account: Account
    bills: list[Bill]
    late_fees: list[LateFee]
    credit: list[Payment]
    accrued_to: dict[int, datetime.date]
    touched_bills: dict[int, Bill] = field(default_factory=dict)
    touched_late_fees: dict[int, LateFee] = field(default_factory=dict)
    touched_payments: dict[int, Payment] = field(default_factory=dict)


def payments_post_batch(*, lines: list[PaymentLine], channel: str, user=None, progress=None) -> list[PaymentResult]:
    """Post every line once per idempotency key, in order, with the effect of payment_post on each: one result per
    line (created False for a key already posted, also earlier in the same lines). Runs inside the caller's
    transaction and locks every account row of a chunk (select_for_update, in id order) before reading it.
    A line payment_post would refuse raises PaymentLineRefused naming it; the caller's transaction then writes
    nothing. `progress(done, total)` is called after each chunk."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("payments_post_batch must run inside the caller's transaction")
    cleaned = []
    for index, line in enumerate(lines):
        try:
            cleaned.append(payment_input_check(
                amount=line.amount, channel=channel, idempotency_key=line.idempotency_key,
                received_at=line.received_at, external_reference=line.external_reference,
            ))
        except DomainError as error:
            raise PaymentLineRefused(error, index=index) from None
    results: list[PaymentResult] = []
    posted: dict[str, Payment] = {}
    for start in range(0, len(lines), CHUNK):
        chunk = range(start, min(start + CHUNK, len(lines)))
        results += _chunk_post(lines=lines, cleaned=cleaned, indexes=chunk, channel=channel, user=user, posted=posted)
        if progress:
            progress(chunk.stop, len(lines))
    return results


def _conflict_check(existing: Payment, *, account_id: int, amount: Decimal, index: int) -> None:
    if existing.account_id != account_id or existing.amount != amount:
        raise PaymentLineRefused(IdempotencyConflict(_("该幂等键已用于另一笔缴费"), field="idempotency_key"), index=index)


def _books(account_ids: set[int]) -> dict[int, _AccountBook]:
    """Lock the accounts (in id order) and read what payment_post reads for each, a query per kind for all."""
    accounts = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk")}
    bills = defaultdict(list)
    for bill in (
        Bill.objects.filter(account_id__in=account_ids, total__gt=F("amount_paid") + F("amount_adjusted"))
        .exclude(kind=Bill.Kind.CREDIT_NOTE)
        .exclude(state__in=[Bill.State.WRITTEN_OFF, Bill.State.CREDITED])
        .order_by("period", "id")
    ):
        bills[bill.account_id].append(bill)
    late_fees = defaultdict(list)
    for fee in (
        LateFee.objects.filter(account_id__in=account_ids, amount__gt=F("amount_paid") + F("amount_waived"))
        .select_related("bill")
        .order_by("bill__period", "accrued_from", "id")
    ):
        late_fees[fee.account_id].append(fee)
    credit = defaultdict(list)
    for payment in Payment.objects.filter(
        account_id__in=account_ids, status=Payment.Status.POSTED, unallocated__gt=0
    ).order_by("received_at", "id"):
        credit[payment.account_id].append(payment)
    accrued_to = defaultdict(dict)
    for account_id, bill_id, last in (
        LateFee.objects.filter(account_id__in=account_ids).values_list("account_id", "bill_id")
        .annotate(last=Max("accrued_to")).order_by()
    ):
        accrued_to[account_id][bill_id] = last
    return {
        pk: _AccountBook(account=account, bills=bills[pk], late_fees=late_fees[pk], credit=credit[pk],
                         accrued_to=accrued_to[pk])
        for pk, account in accounts.items()
    }


def _chunk_post(
    *, lines, cleaned, indexes: range, channel: str, user, posted: dict[str, Payment],
) -> list[PaymentResult]:
    """Post one chunk: read its accounts' books (locked), plan every line in order in memory, write set-wise."""
    keys = {cleaned[i][1] for i in indexes}
    for payment in Payment.objects.filter(idempotency_key__in=keys - posted.keys()):
        posted[payment.idempotency_key] = payment
    account_ids = {lines[i].account_id for i in indexes}
    books = _books(account_ids)
    # A key committed by another transaction while this one waited for the account locks.
    for payment in Payment.objects.filter(idempotency_key__in=keys - posted.keys()):
        posted[payment.idempotency_key] = payment
    policies: dict[str, CollectionPolicy] = {}

    def policy_of(account: Account, index: int):
        def read() -> CollectionPolicy:
            if account.category not in policies:
                try:
                    policies[account.category] = collection_policy_for(category=account.category)
                except DomainError as error:
                    raise PaymentLineRefused(error, index=index) from None
            return policies[account.category]
        return read

    results: list[PaymentResult] = []
    new_payments: list[Payment] = []
    new_late_fees: list[LateFee] = []
    entries: list[LedgerEntry] = []
    allocations: list[PaymentAllocation] = []
    # id() of a payment or late fee made here -> its place; they sort after every row read (their ids come later).
    order: dict[int, int] = {}
    for index in indexes:
        line = lines[index]
        amount, key, reference = cleaned[index]
        existing = posted.get(key)
        if existing is not None:
            _conflict_check(existing, account_id=line.account_id, amount=amount, index=index)
            results.append(PaymentResult(existing, False))
            continue
        book = books.get(line.account_id)
        if book is None:
            raise PaymentLineRefused(PaymentError(_("户号不存在"), field="account"), index=index)
        account = book.account
        through = line.received_at.astimezone(LOCAL_TZ).date()
        for pending in late_fees_pending_for(bills=book.bills, accrued_to=book.accrued_to, through=through,
                                             policy_of=policy_of(account, index)):
            late_fee = LateFee(
                account=account, bill=pending.bill, accrued_from=pending.quote.accrued_from,
                accrued_to=pending.quote.accrued_to, days=pending.quote.days, base_amount=pending.bill.outstanding,
                amount=pending.amount,
            )
            order[id(late_fee)] = len(order)
            new_late_fees.append(late_fee)
            book.late_fees.append(late_fee)
            book.accrued_to[pending.bill.pk] = pending.quote.accrued_to
            if late_fee.amount:
                entries.append(_entry(
                    account=account, kind=LedgerEntry.Kind.LATE_FEE, amount=late_fee.amount, bill=pending.bill,
                    late_fee=late_fee,
                    memo=f"{pending.bill.number} {late_fee.accrued_from:%Y-%m-%d}~{late_fee.accrued_to:%Y-%m-%d}",
                ))
        payment = Payment(
            account=account, amount=amount, channel=channel, idempotency_key=key, external_reference=reference,
            received_at=line.received_at, unallocated=amount, created_by=user,
        )
        order[id(payment)] = len(order)
        new_payments.append(payment)
        posted[key] = payment
        book.credit.append(payment)
        entries.append(_entry(account=account, kind=LedgerEntry.Kind.PAYMENT, amount=-amount, payment=payment,
                              memo=reference, user=user))
        results.append(PaymentResult(payment, True))
        # payment_post's account_allocate: credit oldest first (rows read before those made here), then items.
        book.credit.sort(key=lambda p: (p.received_at, p.pk is None, p.pk or order[id(p)]))
        book.late_fees.sort(key=lambda f: (f.bill.period, f.accrued_from, f.pk is None, f.pk or order[id(f)]))
        items = [fee for fee in book.late_fees if fee.outstanding > 0] + [b for b in book.bills if b.outstanding > 0]
        plan = allocation_plan(payments=book.credit, items=items)
        allocations += plan.allocations
        for moved in plan.payments:
            book.touched_payments[id(moved)] = moved
        for item in plan.items:
            (book.touched_bills if isinstance(item, Bill) else book.touched_late_fees)[id(item)] = item
        book.credit = [p for p in book.credit if p.unallocated > 0]
        book.late_fees = [fee for fee in book.late_fees if fee.outstanding > 0]
        book.bills = [b for b in book.bills if b.outstanding > 0]
    _write(books=books.values(), new_payments=new_payments, new_late_fees=new_late_fees, entries=entries,
           allocations=allocations)
    return results


def _entry(*, account: Account, kind: str, amount: Decimal, bill=None, payment=None, late_fee=None, memo="",
           user=None) -> LedgerEntry:
    """ledger_post's entry, in memory: the account's running balance moves with it."""
    amount = to_money(amount)
    account.balance = to_money(account.balance + amount)
    return LedgerEntry(account=account, kind=kind, amount=amount, balance_after=account.balance, bill=bill,
                       payment=payment, late_fee=late_fee, memo=memo[:200], created_by=user)


def _write(*, books, new_payments, new_late_fees, entries, allocations) -> None:
    """Everything the chunk decided, a statement per kind (rows made here get their ids from the insert)."""
    LateFee.objects.bulk_create(new_late_fees)
    Payment.objects.bulk_create(new_payments)
    LedgerEntry.objects.bulk_create(entries)
    PaymentAllocation.objects.bulk_create(allocations)
    today = timezone.localdate()
    made = {id(row) for row in (*new_payments, *new_late_fees)}
    posted_to = {id(entry.account) for entry in entries}
    bills, late_fees, payments, accounts = [], [], [], []
    for book in books:
        for bill in book.touched_bills.values():
            bill.state = bill_state_derive(bill=bill, today=today)
            bills.append(bill)
        # Rows made here were inserted with their final amounts; only rows read before need an update.
        late_fees += [fee for fee in book.touched_late_fees.values() if id(fee) not in made]
        payments += [payment for payment in book.touched_payments.values() if id(payment) not in made]
        if id(book.account) in posted_to:
            accounts.append(book.account)
    Bill.objects.bulk_update(bills, ["amount_paid", "state"], batch_size=CHUNK)
    LateFee.objects.bulk_update(late_fees, ["amount_paid"], batch_size=CHUNK)
    Payment.objects.bulk_update(payments, ["unallocated"], batch_size=CHUNK)
    Account.objects.bulk_update(accounts, ["balance"], batch_size=CHUNK)
