"""Business-hall counter collection (营业厅收费): take a payment, reverse one, close the day, review the day.

A cashier takes cash, bank-slip (进账单) or list-slip (列账单) payments against any account of the company; each is
posted through payment_post (channel counter) and gets a numbered receipt. Receipts land on the cashier's business
day (the local date they were taken). Closing the day writes the settlement (解款), which must equal the day's
receipts method by method; from then on the day takes no more receipts, and once the branch accountant (账务员)
has reviewed it its totals are final. A correction is a reversal receipt on the day it is made, never an edit.

Lock order, everywhere: the cashier's seat, then the outlet (receipt numbering), then the account (payment_post,
payment_reverse); a settlement under review is locked alone.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, InvalidPaymentAmount
from core.models import Account, Branch, Payment, StaffAssignment
from core.models.counter import (
    CounterCashier,
    CounterMethod,
    CounterOutlet,
    CounterReceipt,
    CounterSettlement,
    DepositAccount,
)
from core.money import CENT, ZERO, format_yuan, to_money
from core.services.late_fees import money_amount_parse
from core.services.payments import LOCAL_TZ, payment_post, payment_reverse
from core.services.roles import ROLE_BRANCH_ACCOUNTANT

TAKE_PERMISSION = "core.add_counterreceipt"
CLOSE_PERMISSION = "core.add_countersettlement"
REVIEW_PERMISSION = "core.review_countersettlement"
IDEMPOTENCY_PREFIX = "counter:"
# Settlement figures are a day's takings at one window: far below this.
SETTLEMENT_CEILING = Decimal("1000000000000")
_SLIP_LENGTH = CounterReceipt._meta.get_field("slip_reference").max_length
_REASON_LENGTH = CounterReceipt._meta.get_field("reason").max_length
_NOTE_LENGTH = CounterSettlement._meta.get_field("review_note").max_length
SLIP_METHODS = (CounterMethod.BANK_SLIP, CounterMethod.LIST_SLIP)


class CounterError(DomainError):
    code = "counter_error"


class CounterNotCashier(CounterError):
    code = "counter_not_cashier"


class CounterPermissionDenied(CounterError):
    code = "counter_permission_denied"


class CounterInputInvalid(CounterError):
    code = "counter_input_invalid"


class CounterDayClosed(CounterError):
    code = "counter_day_closed"


class CounterEarlierDayOpen(CounterError):
    code = "counter_earlier_day_open"


class CounterNothingToSettle(CounterError):
    code = "counter_nothing_to_settle"


class CounterSettlementMismatch(CounterError):
    """The settlement differs from the day's receipts; `differences` holds each method that does not match."""

    code = "counter_settlement_mismatch"

    def __init__(self, message, *, differences: dict[str, str], field: str | None = None):
        super().__init__(message, field=field)
        self.differences = differences


class CounterSettlementReviewed(CounterError):
    code = "counter_settlement_reviewed"


class CounterReceiptConflict(CounterError):
    code = "counter_receipt_conflict"


@dataclass(frozen=True)
class CounterTakeResult:
    receipt: CounterReceipt
    created: bool


@dataclass(frozen=True)
class MethodTotal:
    method: str
    label: str
    amount: Decimal
    count: int

    @property
    def amount_display(self) -> str:
        return format_yuan(self.amount)


@dataclass(frozen=True)
class DayTotals:
    business_day: datetime.date
    methods: tuple[MethodTotal, ...]
    total: Decimal
    count: int

    def amount_for(self, method: str) -> Decimal:
        return next((row.amount for row in self.methods if row.method == method), ZERO)

    @property
    def total_display(self) -> str:
        return format_yuan(self.total)


def business_day_of(moment: datetime.datetime) -> datetime.date:
    """The utility's local calendar day of a moment: the day a receipt belongs to."""
    return moment.astimezone(LOCAL_TZ).date()


def counter_day_totals(*, cashier, business_day: datetime.date) -> DayTotals:
    """A cashier's receipts of one day summed by method in the database (reversals count negative)."""
    rows = {
        row["method"]: row
        for row in CounterReceipt.objects.filter(cashier=cashier, business_day=business_day)
        .values("method")
        .annotate(amount=Sum("amount"), count=Count("id"))
    }
    methods = tuple(
        MethodTotal(
            method=method,
            label=str(label),
            amount=to_money(rows[method]["amount"]) if method in rows else ZERO,
            count=rows[method]["count"] if method in rows else 0,
        )
        for method, label in CounterMethod.choices
    )
    return DayTotals(
        business_day=business_day,
        methods=methods,
        total=sum((row.amount for row in methods), ZERO),
        count=sum(row.count for row in methods),
    )


def counter_cashier_seat(*, user, lock: bool = False) -> CounterCashier:
    """The user's active seat at an open outlet; anyone else is refused (CounterNotCashier)."""
    if user is None or not user.is_authenticated or not user.has_perm(TAKE_PERMISSION):
        raise CounterNotCashier(_("您不是收费员，不能办理收费"))
    seats = CounterCashier.objects.select_related("outlet", "outlet__branch").filter(
        user=user, active=True, outlet__active=True
    )
    if lock:
        seats = seats.select_for_update(of=("self",))
    seat = seats.first()
    if seat is None:
        raise CounterNotCashier(_("您尚未分配到营业中的营业厅，不能办理收费"))
    return seat


def _earlier_open_day(*, cashier, before: datetime.date) -> datetime.date | None:
    """The first earlier day on which the cashier took receipts but has not settled."""
    settled = CounterSettlement.objects.filter(cashier=cashier).values("business_day")
    return (
        CounterReceipt.objects.filter(cashier=cashier, business_day__lt=before)
        .exclude(business_day__in=settled)
        .order_by("business_day")
        .values_list("business_day", flat=True)
        .first()
    )


def _day_must_be_open(*, seat: CounterCashier, business_day: datetime.date) -> None:
    """Refuse a receipt on a settled day, or while an earlier day with receipts is still unsettled."""
    if CounterSettlement.objects.filter(cashier=seat.user, business_day=business_day).exists():
        raise CounterDayClosed(
            _("%(day)s 已日结解款，不能再收费或冲正") % {"day": business_day.isoformat()}
        )
    earlier = _earlier_open_day(cashier=seat.user, before=business_day)
    if earlier is not None:
        raise CounterEarlierDayOpen(
            _("请先完成 %(day)s 的日结解款") % {"day": earlier.isoformat()}
        )


def _receipt_number(*, outlet: CounterOutlet, business_day: datetime.date) -> str:
    """The outlet's next receipt number of the day; the caller holds the outlet row lock."""
    taken = CounterReceipt.objects.filter(outlet=outlet, business_day=business_day).count()
    return f"{outlet.code}-{business_day:%Y%m%d}-{taken + 1:04d}"


def _method_parse(method: str) -> str:
    if method not in CounterMethod.values:
        raise CounterInputInvalid(_("请选择收费方式：现金、进账单或列账单"), field="method")
    return method


def _slip_reference_parse(*, method: str, slip_reference: str) -> str:
    slip_reference = (slip_reference or "").strip()
    if method not in SLIP_METHODS:
        return ""
    if not slip_reference:
        raise CounterInputInvalid(_("进账单、列账单收费须填写票据号"), field="slip_reference")
    if len(slip_reference) > _SLIP_LENGTH:
        raise CounterInputInvalid(_("票据号不超过40个字符"), field="slip_reference")
    return slip_reference


@dataclass(frozen=True)
class CounterPaymentDraft:
    """A payment the cashier is about to take, validated but not yet written (the summary before confirming)."""

    account: Account
    amount: Decimal
    method: str
    slip_reference: str

    @property
    def method_label(self) -> str:
        return str(CounterMethod(self.method).label)

    @property
    def amount_display(self) -> str:
        return format_yuan(self.amount)


def counter_payment_check(
    *, cashier, account: Account, amount: Decimal | str, method: str, slip_reference: str = ""
) -> CounterPaymentDraft:
    """Validate a payment as counter_payment_take would, writing nothing: the cashier confirms the summary next."""
    if isinstance(amount, str) and not amount.strip():
        raise InvalidPaymentAmount(_("请填写收费金额"), field="amount")
    amount = money_amount_parse(value=amount, error=InvalidPaymentAmount)
    method = _method_parse(method)
    slip_reference = _slip_reference_parse(method=method, slip_reference=slip_reference)
    counter_cashier_seat(user=cashier)
    return CounterPaymentDraft(account=account, amount=amount, method=method, slip_reference=slip_reference)


def _existing_take(*, key: str, account: Account, amount: Decimal, method: str) -> CounterReceipt | None:
    """The receipt already written under this key; the same key for a different payment is a conflict."""
    existing = (
        CounterReceipt.objects.select_related("payment")
        .filter(payment__idempotency_key=key, kind=CounterReceipt.Kind.PAYMENT)
        .first()
    )
    if existing is not None and (
        existing.account_id != account.pk or existing.amount != amount or existing.method != method
    ):
        raise CounterReceiptConflict(_("该笔收费已按不同的内容提交过，请重新办理"))
    return existing


def counter_payment_take(
    *,
    cashier,
    account: Account,
    amount: Decimal | str,
    method: str,
    idempotency_key: str,
    slip_reference: str = "",
    at: datetime.datetime | None = None,
) -> CounterTakeResult:
    """Take one payment at the cashier's outlet: post it (channel counter) and write its numbered receipt.

    The same idempotency key gives back the receipt already written (a double click, a resent form).
    Locks the cashier's seat, then the outlet, then (in payment_post) the account.
    """
    draft = counter_payment_check(
        cashier=cashier, account=account, amount=amount, method=method, slip_reference=slip_reference
    )
    amount, method, slip_reference = draft.amount, draft.method, draft.slip_reference
    key = (idempotency_key or "").strip()
    if not key:
        raise CounterInputInvalid(_("收费请求缺少防重码，请重新办理"), field="idempotency_key")
    key = IDEMPOTENCY_PREFIX + key
    at = at or timezone.now()
    business_day = business_day_of(at)
    existing = _existing_take(key=key, account=account, amount=amount, method=method)
    if existing is not None:
        return CounterTakeResult(existing, False)
    with transaction.atomic():
        seat = counter_cashier_seat(user=cashier, lock=True)
        existing = _existing_take(key=key, account=account, amount=amount, method=method)
        if existing is not None:
            return CounterTakeResult(existing, False)
        _day_must_be_open(seat=seat, business_day=business_day)
        outlet = CounterOutlet.objects.select_for_update().get(pk=seat.outlet_id)
        number = _receipt_number(outlet=outlet, business_day=business_day)
        posted = payment_post(
            account=account,
            amount=amount,
            channel=Payment.Channel.COUNTER,
            idempotency_key=key,
            received_at=at,
            external_reference=number,
            user=cashier,
        )
        if not posted.created:
            # The key was used by a payment that has no counter receipt: not one of ours.
            raise CounterReceiptConflict(_("该笔收费已按不同的内容提交过，请重新办理"))
        receipt = CounterReceipt.objects.create(
            number=number,
            kind=CounterReceipt.Kind.PAYMENT,
            method=method,
            amount=amount,
            account=account,
            payment=posted.payment,
            slip_reference=slip_reference,
            outlet=outlet,
            cashier=cashier,
            business_day=business_day,
            taken_at=at,
        )
    return CounterTakeResult(receipt, True)


def counter_receipt_reverse(
    *, receipt: CounterReceipt, cashier, reason: str, at: datetime.datetime | None = None
) -> CounterReceipt:
    """Reverse a counter payment: payment_reverse, and a negative receipt on the reversing cashier's open day.

    The original receipt and its day stay as they were; a reviewed day is corrected on a later day only.
    Locks the cashier's seat, the outlet, then (in payment_reverse) the account and the payment.
    """
    reason = (reason or "").strip()
    if not reason:
        raise CounterInputInvalid(_("请填写冲正原因"), field="reason")
    if len(reason) > _REASON_LENGTH:
        raise CounterInputInvalid(_("冲正原因不超过200个字符"), field="reason")
    if receipt.kind != CounterReceipt.Kind.PAYMENT:
        raise CounterInputInvalid(_("冲正收据不能再冲正"))
    at = at or timezone.now()
    business_day = business_day_of(at)
    counter_cashier_seat(user=cashier)
    with transaction.atomic():
        seat = counter_cashier_seat(user=cashier, lock=True)
        if CounterReceipt.objects.filter(reverses=receipt).exists():
            raise CounterInputInvalid(_("该收据已冲正"))
        _day_must_be_open(seat=seat, business_day=business_day)
        outlet = CounterOutlet.objects.select_for_update().get(pk=seat.outlet_id)
        number = _receipt_number(outlet=outlet, business_day=business_day)
        payment_reverse(payment=receipt.payment, user=cashier, reason=reason)
        reversal = CounterReceipt.objects.create(
            number=number,
            kind=CounterReceipt.Kind.REVERSAL,
            method=receipt.method,
            amount=-receipt.amount,
            account_id=receipt.account_id,
            payment_id=receipt.payment_id,
            reverses=receipt,
            slip_reference=receipt.slip_reference,
            outlet=outlet,
            cashier=cashier,
            business_day=business_day,
            taken_at=at,
            reason=reason,
        )
    return reversal


def _settlement_amount_parse(*, value, method: str, label: str) -> Decimal:
    """One method's settlement figure: exact yuan with at most 2 decimals (a day of reversals may be negative)."""
    field = f"{method}_amount"
    if isinstance(value, (bool, float)) or not isinstance(value, (Decimal, str, int)):
        raise CounterInputInvalid(_("%(method)s金额必须是精确的十进制数") % {"method": label}, field=field)
    text = value.strip() if isinstance(value, str) else value
    if text == "":
        raise CounterInputInvalid(_("请填写%(method)s解款金额（没有请填0）") % {"method": label}, field=field)
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        raise CounterInputInvalid(_("%(method)s金额格式不正确") % {"method": label}, field=field) from None
    if not amount.is_finite() or abs(amount) >= SETTLEMENT_CEILING:
        raise CounterInputInvalid(_("%(method)s金额格式不正确") % {"method": label}, field=field)
    if amount != amount.quantize(CENT):
        raise CounterInputInvalid(_("%(method)s金额最多保留两位小数") % {"method": label}, field=field)
    return to_money(amount)


def counter_day_close(
    *,
    cashier,
    business_day: datetime.date,
    amounts: dict[str, Decimal | str],
    deposit_account_id: int | str | None,
    at: datetime.datetime | None = None,
) -> CounterSettlement:
    """Close a cashier's day with its settlement (解款): each method's figure must equal the day's receipts.

    `amounts` maps each CounterMethod value to the figure the cashier counted. Locks the cashier's seat, so no
    receipt lands on the day while it is being closed.
    """
    at = at or timezone.now()
    if not cashier.has_perm(CLOSE_PERMISSION):
        raise CounterNotCashier(_("您不是收费员，不能日结解款"))
    if not isinstance(business_day, datetime.date) or business_day > business_day_of(at):
        raise CounterInputInvalid(_("营业日无效：不能为以后的日期解款"), field="business_day")
    parsed = {
        method: _settlement_amount_parse(value=amounts.get(method, ""), method=method, label=str(label))
        for method, label in CounterMethod.choices
    }
    with transaction.atomic():
        seat = counter_cashier_seat(user=cashier, lock=True)
        deposit = _deposit_account_for(branch=seat.outlet.branch, deposit_account_id=deposit_account_id)
        if CounterSettlement.objects.filter(cashier=cashier, business_day=business_day).exists():
            raise CounterDayClosed(_("%(day)s 已日结解款") % {"day": business_day.isoformat()})
        totals = counter_day_totals(cashier=cashier, business_day=business_day)
        if totals.count == 0:
            raise CounterNothingToSettle(_("%(day)s 没有收费记录，无需解款") % {"day": business_day.isoformat()})
        differences = {
            method: str(
                _("%(method)s：解款 %(counted)s，当日收费 %(taken)s")
                % {"method": row.label, "counted": format_yuan(parsed[method]), "taken": row.amount_display}
            )
            for method, row in ((row.method, row) for row in totals.methods)
            if parsed[method] != row.amount
        }
        if differences:
            raise CounterSettlementMismatch(
                _("解款金额与当日收费不符：%(detail)s") % {"detail": "；".join(differences.values())},
                differences=differences,
                field=f"{next(iter(differences))}_amount",
            )
        return CounterSettlement.objects.create(
            cashier=cashier,
            outlet=seat.outlet,
            business_day=business_day,
            cash_amount=parsed[CounterMethod.CASH],
            bank_slip_amount=parsed[CounterMethod.BANK_SLIP],
            list_slip_amount=parsed[CounterMethod.LIST_SLIP],
            total=totals.total,
            receipt_count=totals.count,
            deposit_account=deposit,
            closed_at=at,
        )


def _deposit_account_for(*, branch: Branch, deposit_account_id) -> DepositAccount:
    try:
        pk = int(deposit_account_id)
    except (TypeError, ValueError):
        raise CounterInputInvalid(_("请选择解款账户"), field="deposit_account") from None
    deposit = DepositAccount.objects.filter(pk=pk, branch=branch, active=True).first()
    if deposit is None:
        raise CounterInputInvalid(_("请选择本县公司启用的解款账户"), field="deposit_account")
    return deposit


def accountant_branch_filter(*, user, prefix: str = "") -> Q:
    """Which branches' settlements the user reviews: their active 账务员 assignments (no branch means all)."""
    assignments = StaffAssignment.objects.filter(user=user, post__code=ROLE_BRANCH_ACCOUNTANT, active=True)
    if assignments.filter(branch__isnull=True).exists():
        return Q()
    branch_ids = list(assignments.values_list("branch_id", flat=True))
    return Q(**{f"{prefix}branch_id__in": branch_ids})


def counter_settlement_reviewable_by(*, settlement: CounterSettlement, user) -> bool:
    """True when the user is a branch accountant (账务员) of the settlement's outlet's branch."""
    if user is None or not user.is_authenticated or not user.has_perm(REVIEW_PERMISSION):
        return False
    return CounterOutlet.objects.filter(accountant_branch_filter(user=user), pk=settlement.outlet_id).exists()


def counter_settlement_review(
    *, settlement: CounterSettlement, accountant, note: str = "", at: datetime.datetime | None = None
) -> CounterSettlement:
    """The branch accountant confirms a cashier's day: the figures still match the receipts, and become final.

    Locks the settlement row.
    """
    note = (note or "").strip()
    if len(note) > _NOTE_LENGTH:
        raise CounterInputInvalid(_("审核意见不超过200个字符"), field="note")
    if not counter_settlement_reviewable_by(settlement=settlement, user=accountant):
        raise CounterPermissionDenied(_("只有该营业厅所属县公司的账务员可以审核此解款单"))
    if accountant.pk == settlement.cashier_id:
        raise CounterPermissionDenied(_("不能审核自己的解款单"))
    at = at or timezone.now()
    with transaction.atomic():
        locked = CounterSettlement.objects.select_for_update().get(pk=settlement.pk)
        if locked.state == CounterSettlement.State.REVIEWED:
            raise CounterSettlementReviewed(_("该解款单已审核"))
        totals = counter_day_totals(cashier=locked.cashier_id, business_day=locked.business_day)
        if totals.total != locked.total or totals.count != locked.receipt_count:
            raise CounterSettlementMismatch(
                _("解款单与当日收费不符，请联系收费员核对"), differences={}
            )
        locked.state = CounterSettlement.State.REVIEWED
        locked.reviewed_by = accountant
        locked.reviewed_at = at
        locked.review_note = note
        locked.save(update_fields=["state", "reviewed_by", "reviewed_at", "review_note"])
    settlement.refresh_from_db()
    return settlement
