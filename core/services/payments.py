"""Payments (实收): posting, allocation to late fees and bills, release and reversal (whole or in part).

A payment first settles late fees and the oldest bill, then newer bills; what is left stays on the payment
as prepaid credit (Payment.unallocated) and offsets the next bill (account_allocate).
"""
from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import IdempotencyConflict, InvalidPaymentAmount, PaymentAlreadyReversed, PaymentError
from core.models import Account, Bill, LateFee, LedgerEntry, Payment, PaymentAllocation
from core.money import ZERO
from core.selectors.payments import payments_reversed
from core.services.bill_states import bill_state_derive
from core.services.late_fees import late_fees_assess, money_amount_parse
from core.services.ledger import account_lock, ledger_post

# Late fees run to the customer's calendar day, which is the utility's local day.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
_KEY_LENGTH = Payment._meta.get_field("idempotency_key").max_length
_REFERENCE_LENGTH = Payment._meta.get_field("external_reference").max_length
_REVERSAL_REASON_LENGTH = Payment._meta.get_field("reversal_reason").max_length
_MEMO_LENGTH = LedgerEntry._meta.get_field("memo").max_length

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaymentResult:
    payment: Payment
    created: bool


def _payment_existing(*, idempotency_key: str, account: Account, amount: Decimal) -> Payment | None:
    """The payment already posted under this key, if any; the same key for other content is a conflict."""
    existing = Payment.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None and (existing.account_id != account.pk or existing.amount != amount):
        raise IdempotencyConflict(_("该幂等键已用于另一笔缴费"), field="idempotency_key")
    return existing


def payment_input_check(
    *, amount: Decimal | str, channel: str, idempotency_key: str, received_at: datetime.datetime,
    external_reference: str = "",
) -> tuple[Decimal, str, str]:
    """What a payment needs before anything is read: (amount, key, reference) cleaned, or a PaymentError."""
    amount = money_amount_parse(value=amount, error=InvalidPaymentAmount)
    if channel not in Payment.Channel.values:
        raise PaymentError(_("缴费渠道无效"), field="channel")
    idempotency_key = (idempotency_key or "").strip()
    if not idempotency_key or len(idempotency_key) > _KEY_LENGTH:
        raise PaymentError(_("幂等键不能为空且不超过100个字符"), field="idempotency_key")
    external_reference = (external_reference or "").strip()
    if len(external_reference) > _REFERENCE_LENGTH:
        raise PaymentError(_("外部流水号不超过100个字符"), field="external_reference")
    if not isinstance(received_at, datetime.datetime) or timezone.is_naive(received_at):
        raise PaymentError(_("收款时间必须带时区"), field="received_at")
    return amount, idempotency_key, external_reference


def payment_post(
    *,
    account: Account,
    amount: Decimal | str,
    channel: str,
    idempotency_key: str,
    received_at: datetime.datetime,
    external_reference: str = "",
    user=None,
) -> PaymentResult:
    """Post a payment once per idempotency key: assess late fees to the received day, then allocate.

    Locks the account row (account_lock) inside its own transaction (a savepoint inside the caller's).
    """
    amount, idempotency_key, external_reference = payment_input_check(
        amount=amount, channel=channel, idempotency_key=idempotency_key, received_at=received_at,
        external_reference=external_reference,
    )
    existing = _payment_existing(idempotency_key=idempotency_key, account=account, amount=amount)
    if existing is not None:
        return PaymentResult(existing, False)
    try:
        with transaction.atomic():
            locked = account_lock(account_id=account.pk)
            # A concurrent delivery of the same key for this account waited on the lock: it now sees the row.
            existing = _payment_existing(idempotency_key=idempotency_key, account=locked, amount=amount)
            if existing is not None:
                return PaymentResult(existing, False)
            payment = Payment.objects.create(
                account=locked,
                amount=amount,
                channel=channel,
                idempotency_key=idempotency_key,
                external_reference=external_reference,
                received_at=received_at,
                unallocated=amount,
                created_by=user,
            )
            late_fees_assess(account=locked, through=received_at.astimezone(LOCAL_TZ).date())
            ledger_post(
                account=locked,
                kind=LedgerEntry.Kind.PAYMENT,
                amount=-amount,
                payment=payment,
                memo=external_reference,
                user=user,
            )
            account_allocate(account=locked)
    except IntegrityError:
        # The same key committed by another transaction (another account's lock, or a race on the insert).
        existing = _payment_existing(idempotency_key=idempotency_key, account=account, amount=amount)
        if existing is None:
            raise
        return PaymentResult(existing, False)
    payment.refresh_from_db()
    account.balance = locked.balance
    return PaymentResult(payment, True)


def _open_items(*, account: Account) -> tuple[list[LateFee], list[Bill]]:
    """Late fees then bills that still owe something, each oldest first."""
    late_fees = [
        fee
        for fee in LateFee.objects.filter(account=account).select_related("bill").order_by("bill__period", "accrued_from", "id")
        if fee.outstanding > 0
    ]
    bills = [
        bill
        for bill in Bill.objects.filter(account=account)
        .exclude(kind=Bill.Kind.CREDIT_NOTE)
        .exclude(state__in=[Bill.State.WRITTEN_OFF, Bill.State.CREDITED])
        .order_by("period", "id")
        if bill.outstanding > 0
    ]
    return late_fees, bills


def account_allocate(*, account: Account) -> None:
    """Apply every posted payment's unallocated credit, oldest payment first, to open late fees then bills.

    Runs inside the caller's transaction; the caller holds the account lock (account_lock).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("account_allocate must run inside the caller's transaction")
    payments = list(
        Payment.objects.filter(account=account, status=Payment.Status.POSTED, unallocated__gt=0).order_by(
            "received_at", "id"
        )
    )
    if not payments:
        return
    late_fees, bills = _open_items(account=account)
    plan = allocation_plan(payments=payments, items=[*late_fees, *bills])
    for allocation in plan.allocations:
        allocation.save()
    for payment in plan.payments:
        payment.save(update_fields=["unallocated"])
    _items_save(items=plan.items)


@dataclass(frozen=True)
class AllocationPlan:
    allocations: list[PaymentAllocation]  # unsaved, in the order they apply
    payments: list[Payment]  # whose unallocated credit moved
    items: list[LateFee | Bill]  # whose amount_paid moved


def allocation_plan(*, payments: list[Payment], items: list[LateFee | Bill]) -> AllocationPlan:
    """Apply the payments' unallocated credit, first payment first, to the items in order (late fees, then bills,
    each oldest first), in memory: moves each payment's unallocated and each item's amount_paid and returns the
    allocation rows to write. Reads and writes nothing, so a batch (core.services.payments_batch) plans many
    payments from one read."""
    queue = [payment for payment in payments if payment.unallocated > 0]
    allocations: list[PaymentAllocation] = []
    touched_payments: list[Payment] = []
    touched_items: list[LateFee | Bill] = []
    for item in items:
        while item.outstanding > 0 and queue:
            payment = queue[0]
            applied = min(payment.unallocated, item.outstanding)
            allocations.append(PaymentAllocation(
                payment=payment,
                bill=item if isinstance(item, Bill) else None,
                late_fee=item if isinstance(item, LateFee) else None,
                amount=applied,
            ))
            payment.unallocated -= applied
            item.amount_paid += applied
            if not touched_payments or touched_payments[-1] is not payment:
                touched_payments.append(payment)
            if not touched_items or touched_items[-1] is not item:
                touched_items.append(item)
            if payment.unallocated == 0:
                queue.pop(0)
        if not queue:
            break
    return AllocationPlan(allocations, touched_payments, touched_items)


def _items_save(*, items) -> None:
    today = timezone.localdate()
    for item in items:
        if isinstance(item, Bill):
            item.state = bill_state_derive(bill=item, today=today)
            item.save(update_fields=["amount_paid", "state"])
        else:
            item.save(update_fields=["amount_paid"])


def bill_allocations_release(*, bill: Bill) -> Decimal:
    """Undo every payment's net allocation to one bill, returning the money to the payments as credit.

    Runs inside the caller's transaction; the caller holds the account lock. The balance does not move:
    the money changes from paying this bill to prepaid credit. Returns the total released.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("bill_allocations_release must run inside the caller's transaction")
    # Allocations may have moved amount_paid since the caller loaded the bill; its other fields are the caller's.
    bill.refresh_from_db(fields=["amount_paid"])
    # Summed in Python: SQLite sums decimals as floats.
    nets: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for payment_id, amount in PaymentAllocation.objects.filter(bill=bill).values_list("payment_id", "amount"):
        nets[payment_id] += amount
    released = ZERO
    for payment_id, net in sorted(nets.items()):
        if net <= 0:
            continue
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        PaymentAllocation.objects.create(payment=payment, bill=bill, amount=-net)
        payment.unallocated += net
        payment.save(update_fields=["unallocated"])
        released += net
    if released:
        bill.amount_paid -= released
        bill.state = bill_state_derive(bill=bill, today=timezone.localdate())
        bill.save(update_fields=["amount_paid", "state"])
    return released


def payment_reverse(*, payment: Payment, user, reason: str, amount: Decimal | str | None = None) -> LedgerEntry:
    """Reverse a payment (bounced, posted in error, refunded): all that is left of it, or `amount` of it.

    Posts +amount as a payment_reversal and takes back as much of what the payment settled: its prepaid credit
    first, then its allocations newest first, re-opening those late fees and bills, so a payment reversed in part
    still settles what a payment of the smaller amount would have (late fees and the oldest bills). Once nothing is
    left of it the payment is reversed and settles nothing; more than is left is refused, and so is a reversed
    payment (PaymentAlreadyReversed). Other payments' credit is then applied to whatever was re-opened.

    Locks the account row (account_lock) and the payment row inside its own transaction.
    """
    reason = (reason or "").strip()
    if not reason:
        raise PaymentError(_("请填写冲正原因"), field="reason")
    if amount is not None:
        amount = money_amount_parse(value=amount, error=InvalidPaymentAmount)
    with transaction.atomic():
        account = account_lock(account_id=payment.account_id)
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        left = locked.amount - payments_reversed(payment_ids=[locked.pk])[locked.pk]
        if locked.status == Payment.Status.REVERSED or left <= 0:
            raise PaymentAlreadyReversed(_("该笔缴费已冲正"))
        if amount is None:
            amount = left
        elif amount > left:
            raise InvalidPaymentAmount(_("金额超出允许范围"), field="amount")
        whole = amount == left
        taken = _payment_settlement_take_back(payment=locked, amount=None if whole else amount)
        if taken != amount:
            # Its credit and allocations did not add up to what was left of it: the ledger is still right, say so.
            logger.error("payment %s: reversing %s took back %s of what it settled", locked.pk, amount, taken)
        entry = ledger_post(
            account=account,
            kind=LedgerEntry.Kind.PAYMENT_REVERSAL,
            amount=amount,
            payment=locked,
            memo=reason[:_MEMO_LENGTH],
            user=user,
        )
        fields = ["unallocated"]
        if whole:
            locked.status = Payment.Status.REVERSED
            locked.reversal_reason = reason[:_REVERSAL_REASON_LENGTH]
            fields += ["status", "reversal_reason"]
        locked.save(update_fields=fields)
        account_allocate(account=account)
    payment.refresh_from_db()
    return entry


def _payment_settlement_take_back(*, payment: Payment, amount: Decimal | None) -> Decimal:
    """Take back `amount` (None: all) of what a payment settled, returning what was taken: its prepaid credit first,
    then its allocations newest first, each undone by a negative allocation that re-opens the late fee or bill.

    Moves payment.unallocated for the caller to save; runs inside the caller's transaction, under the account and
    payment locks.
    """
    from_credit = payment.unallocated if amount is None else min(payment.unallocated, amount)
    payment.unallocated -= from_credit
    taken = from_credit
    # Net per late fee or bill, and each one's newest allocation (a release and a re-allocation may follow the first).
    nets: dict[tuple[str, int], Decimal] = defaultdict(lambda: ZERO)
    newest: dict[tuple[str, int], int] = {}
    for allocation_id, bill_id, late_fee_id, allocated in PaymentAllocation.objects.filter(payment=payment).order_by(
        "id"
    ).values_list("id", "bill_id", "late_fee_id", "amount"):
        target = ("bill", bill_id) if bill_id else ("late_fee", late_fee_id)
        nets[target] += allocated
        if allocated > 0:
            newest[target] = allocation_id
    reopened: list[LateFee | Bill] = []
    for target in sorted(nets, key=lambda target: newest.get(target, 0), reverse=True):
        if amount is not None and taken == amount:
            break
        part = nets[target] if amount is None else min(nets[target], amount - taken)
        if part <= 0:
            continue
        kind, pk = target
        item = Bill.objects.get(pk=pk) if kind == "bill" else LateFee.objects.get(pk=pk)
        PaymentAllocation.objects.create(
            payment=payment,
            bill=item if kind == "bill" else None,
            late_fee=item if kind == "late_fee" else None,
            amount=-part,
        )
        item.amount_paid -= part
        reopened.append(item)
        taken += part
    _items_save(items=reopened)
    return taken
