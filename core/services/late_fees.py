"""Late fees (电费违约金): the daily-rate calculation, assessment into the ledger, and waivers.

Rates, the minimum charge and the payment term are CollectionPolicy rows (data), never constants here.
"""
from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from core.errors import CollectionPolicyMissing, DomainError, LateFeeError
from core.models import Account, Bill, CollectionPolicy, LateFee, LedgerEntry, Payment
from core.money import CENT, ZERO, to_money
from core.services.ledger import account_lock, ledger_post

ONE_DAY = datetime.timedelta(days=1)
# The largest amount the money columns can hold; anything above it is a typing error, not a payment.
_AMOUNT_FIELD = Payment._meta.get_field("amount")
AMOUNT_CEILING = Decimal(10) ** (_AMOUNT_FIELD.max_digits - _AMOUNT_FIELD.decimal_places)


def money_amount_parse(*, value: Decimal | str | int, error: type[DomainError]) -> Decimal:
    """A positive amount in yuan with at most 2 decimals, from Decimal, int or text; floats are refused."""
    if isinstance(value, (bool, float)) or not isinstance(value, (Decimal, str, int)):
        raise error(_("金额必须是精确的十进制数"), field="amount")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        raise error(_("金额格式不正确"), field="amount") from None
    if not amount.is_finite():
        raise error(_("金额格式不正确"), field="amount")
    if amount <= 0:
        raise error(_("金额必须大于零"), field="amount")
    if amount != amount.quantize(CENT):
        raise error(_("金额最多保留两位小数"), field="amount")
    if amount >= AMOUNT_CEILING:
        raise error(_("金额超出允许范围"), field="amount")
    return to_money(amount)


@dataclass(frozen=True)
class LateFeeQuote:
    days: int
    amount_before_minimum: Decimal
    accrued_from: datetime.date
    accrued_to: datetime.date
    days_current_year: int
    days_prior_years: int


def late_fee_calculate(
    *,
    base_amount: Decimal,
    due_date: datetime.date,
    through: datetime.date,
    rate_current_year: Decimal,
    rate_prior_years: Decimal,
    accrue_from: datetime.date | None = None,
) -> LateFeeQuote:
    """The fee on base_amount for each day from the day after due_date (or accrue_from, if later) through
    `through` inclusive.

    "Current year's arrears" is read as: a day in the same calendar year as the due date is charged at
    rate_current_year, a day in any later year at rate_prior_years (so arrears due 2025-12-20 cost the
    current-year rate through 2025-12-31 and the prior-years rate from 2026-01-01). The sum is rounded to
    the fen once, at the end; the minimum charge is applied by the caller to a whole assessment.
    """
    start = due_date + ONE_DAY
    if accrue_from is not None and accrue_from > start:
        start = accrue_from
    if through < start or base_amount <= 0:
        return LateFeeQuote(0, ZERO, start, through, 0, 0)
    days = (through - start).days + 1
    year_end = datetime.date(due_date.year, 12, 31)
    days_current_year = max(0, (min(through, year_end) - start).days + 1)
    days_prior_years = days - days_current_year
    amount = to_money(base_amount * (rate_current_year * days_current_year + rate_prior_years * days_prior_years))
    return LateFeeQuote(days, amount, start, through, days_current_year, days_prior_years)


def collection_policy_for(*, category: str) -> CollectionPolicy:
    """The collection policy of a customer category; its absence is a configuration error, said plainly."""
    try:
        return CollectionPolicy.objects.get(category=category)
    except CollectionPolicy.DoesNotExist:
        raise CollectionPolicyMissing(_("该用电类别未配置催收政策，无法计算违约金"), field="category") from None


@dataclass(frozen=True)
class PendingLateFee:
    bill: Bill
    quote: LateFeeQuote
    amount: Decimal


def late_fees_pending(*, account: Account, through: datetime.date) -> list[PendingLateFee]:
    """What an assessment through `through` would charge, oldest bill first, the minimum already applied.

    Each bill accrues from the day after its last assessment, on what it still owes now, so assessing
    twice for the same date charges nothing the second time. Reads only.
    """
    bills = (
        Bill.objects.filter(account=account, due_date__lt=through)
        .exclude(kind=Bill.Kind.CREDIT_NOTE)
        .exclude(state__in=[Bill.State.WRITTEN_OFF, Bill.State.CREDITED])
        .order_by("period", "id")
    )
    accrued_to = dict(
        LateFee.objects.filter(account=account).values_list("bill_id").annotate(last=Max("accrued_to")).order_by()
    )
    return late_fees_pending_for(
        bills=bills, accrued_to=accrued_to, through=through,
        policy_of=lambda: collection_policy_for(category=account.category),
    )


def late_fees_pending_for(
    *, bills, accrued_to: dict[int, datetime.date], through: datetime.date, policy_of: Callable[[], CollectionPolicy],
) -> list[PendingLateFee]:
    """late_fees_pending over bills already read: `bills` in (period, id) order, `accrued_to` the last accrued day
    per bill id, `policy_of` giving the account's collection policy when first needed. Reads nothing itself, so a
    batch (core.services.payments_batch) assesses many accounts from one read."""
    policy = None
    pending: list[PendingLateFee] = []
    for bill in bills:
        if bill.due_date >= through or bill.outstanding <= 0:
            continue
        if bill.kind == Bill.Kind.CREDIT_NOTE or bill.state in (Bill.State.WRITTEN_OFF, Bill.State.CREDITED):
            continue
        if policy is None:
            policy = policy_of()
        last = accrued_to.get(bill.pk)
        quote = late_fee_calculate(
            base_amount=bill.outstanding,
            due_date=bill.due_date,
            through=through,
            rate_current_year=policy.daily_rate_current_year,
            rate_prior_years=policy.daily_rate_prior_years,
            accrue_from=last + ONE_DAY if last else None,
        )
        if quote.days:
            pending.append(PendingLateFee(bill, quote, quote.amount_before_minimum))
    if pending:
        total = sum((p.amount for p in pending), ZERO)
        if total < policy.minimum_late_fee:
            # The rule charges a whole assessment at least the minimum; the oldest bill carries the difference.
            oldest = pending[0]
            pending[0] = PendingLateFee(oldest.bill, oldest.quote, oldest.amount + policy.minimum_late_fee - total)
    return pending


def late_fees_assess(*, account: Account, through: datetime.date) -> list[LateFee]:
    """Charge the late fees accrued through `through` (inclusive) and post them to the ledger.

    Locks the account row (account_lock) inside its own transaction, or inside the caller's when called
    from one (payment_post does). The caller's `account` instance gets the new balance.
    """
    with transaction.atomic():
        locked = account_lock(account_id=account.pk)
        late_fees = []
        for pending in late_fees_pending(account=locked, through=through):
            late_fee = LateFee.objects.create(
                account=locked,
                bill=pending.bill,
                accrued_from=pending.quote.accrued_from,
                accrued_to=pending.quote.accrued_to,
                days=pending.quote.days,
                base_amount=pending.bill.outstanding,
                amount=pending.amount,
            )
            if late_fee.amount:
                ledger_post(
                    account=locked,
                    kind=LedgerEntry.Kind.LATE_FEE,
                    amount=late_fee.amount,
                    bill=pending.bill,
                    late_fee=late_fee,
                    memo=f"{pending.bill.number} {late_fee.accrued_from:%Y-%m-%d}~{late_fee.accrued_to:%Y-%m-%d}",
                )
            late_fees.append(late_fee)
        account.balance = locked.balance
    return late_fees


def late_fee_waive(*, late_fee: LateFee, amount: Decimal | str, user, reason: str) -> LedgerEntry:
    """Waive part or all of what a late fee still owes, recording who and why.

    Locks the account row (account_lock) and the late fee row inside its own transaction.
    """
    amount = money_amount_parse(value=amount, error=LateFeeError)
    reason = (reason or "").strip()
    if not reason:
        raise LateFeeError(_("请填写减免原因"), field="reason")
    if user is None:
        raise LateFeeError(_("减免须记录经办人"), field="user")
    with transaction.atomic():
        account = account_lock(account_id=late_fee.account_id)
        locked = LateFee.objects.select_for_update().select_related("bill").get(pk=late_fee.pk)
        if amount > locked.outstanding:
            raise LateFeeError(_("减免金额不能超过违约金未收金额"), field="amount")
        locked.amount_waived += amount
        locked.waived_by = user
        locked.waive_reason = reason[:200]
        locked.save(update_fields=["amount_waived", "waived_by", "waive_reason"])
        entry = ledger_post(
            account=account,
            kind=LedgerEntry.Kind.LATE_FEE_WAIVER,
            amount=-amount,
            bill=locked.bill,
            late_fee=locked,
            memo=reason,
            user=user,
        )
    late_fee.amount_waived = locked.amount_waived
    late_fee.waived_by = user
    late_fee.waive_reason = locked.waive_reason
    return entry
