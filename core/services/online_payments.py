"""Online payments (Stripe PaymentIntents): the amount is the server's, the ledger is credited only by the
provider's signed word, exactly once, and refunds reverse it.

Exactly once, whatever the order or repeats of webhook events: every event is recorded (ProviderEvent, unique per
provider) in the transaction that applies it, the online payment's row is locked while it is applied, and the
ledger posting itself is idempotent by key ("stripe:<PaymentIntent id>"). Refunds are reversed in the ledger by
amount: Stripe's charge carries its cumulative refunded amount, and each charge.refunded (or the staff refund, as
soon as Stripe reports it succeeded) posts only what that amount exceeds the ledger's reversals of the payment by,
so a partial refund made in the Stripe dashboard reverses that part, a later full refund the rest, and a repeat or
a late event nothing.
The provider is reached through a gateway object the entry point passes in (portal.payments.stripe_gateway):
core never imports the portal.
"""
from __future__ import annotations

import datetime
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import (
    DomainError,
    OnlinePaymentAmountInvalid,
    OnlinePaymentNothingDue,
    OnlinePaymentStateInvalid,
    OnlineRefundRefused,
    PaymentAlreadyReversed,
)
from core.models import Account, OnlinePayment, OnlineRefund, Payment, ProviderEvent
from core.models.online_payments import OnlinePaymentPurpose, OnlinePaymentState
from core.selectors.accounts import account_amount_due
from core.selectors.payments import payments_reversed
from core.services.ledger import account_lock
from core.services.payments import payment_post, payment_reverse

logger = logging.getLogger(__name__)

PROVIDER = "stripe"
CURRENCY = "cny"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")
# Limits of one online payment, as data: a prepaid top-up between 10 and 5,000 yuan (the usual counter limits of
# 智能交费 top-ups); an arrears payment is whatever is due, up to the provider's ceiling for one card payment.
TOPUP_MINIMUM = Decimal("10.00")
TOPUP_MAXIMUM = Decimal("5000.00")
PAYMENT_MAXIMUM = Decimal("50000.00")
# An unpaid intent is resumed rather than duplicated when the same payment is asked for again within this window.
RESUME_WINDOW = datetime.timedelta(minutes=30)
_REFERENCE_LENGTH = OnlinePayment._meta.get_field("provider_reference").max_length
_OUTCOME_LENGTH = ProviderEvent._meta.get_field("outcome").max_length


class Intent(Protocol):
    id: str
    client_secret: str
    status: str
    amount: int
    currency: str
    metadata: dict[str, str]


class Event(Protocol):
    id: str
    type: str
    created: int
    object: dict

    @property
    def object_id(self) -> str: ...


class Charge(Protocol):
    id: str
    payment_intent: str
    status: str
    amount: int
    amount_refunded: int
    currency: str
    created: int


class Refund(Protocol):
    id: str
    status: str
    amount: int
    charge: str
    created: int


class PaymentGateway(Protocol):
    """What the services need from a provider adapter (portal.payments.stripe_gateway.StripeGateway)."""

    def intent_create(self, *, amount: int, currency: str, metadata: dict[str, str], idempotency_key: str) -> Intent: ...

    def intent_get(self, *, intent_id: str) -> Intent: ...

    def intent_confirm_card(self, *, intent_id: str, card_token: str) -> Intent: ...

    def refund_create(
        self, *, intent_id: str, amount: int, idempotency_key: str, metadata: dict[str, str]
    ) -> Refund: ...

    def charges_created_between(self, *, start: int, end: int) -> list[Charge]: ...

    def charge_get(self, *, charge_id: str) -> Charge: ...

    def refunds_created_between(self, *, start: int, end: int) -> list[Refund]: ...


def money_to_minor(amount: Decimal) -> int:
    """Yuan to fen, the unit Stripe counts CNY in."""
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


def minor_to_money(amount: int) -> Decimal:
    return (Decimal(int(amount)) / 100).quantize(CENT)


def _timestamp(value: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(value), tz=datetime.UTC)


# --- starting a payment -----------------------------------------------------------------------------------------


def online_payment_amount(*, account: Account, purpose: str, amount_entered: str | Decimal | None = None) -> Decimal:
    """What this payment will be: all that is due (arrears), or a top-up within the limits (prepaid accounts)."""
    if purpose == OnlinePaymentPurpose.ARREARS:
        due = account_amount_due(account=account, as_of=timezone.localdate()).total_due
        if due <= 0:
            raise OnlinePaymentNothingDue(_("该户号目前没有欠费，无需缴费"))
        if due > PAYMENT_MAXIMUM:
            raise OnlinePaymentAmountInvalid(
                _("欠费金额超过网上单笔缴费上限%(maximum)s元，请到营业厅缴费") % {"maximum": PAYMENT_MAXIMUM}
            )
        return due
    if purpose != OnlinePaymentPurpose.TOPUP:
        raise OnlinePaymentAmountInvalid(_("缴费用途无效"), field="purpose")
    if account.billing_mode != Account.BillingMode.PREPAID:
        raise OnlinePaymentAmountInvalid(_("只有智能交费户号可以预存电费"), field="purpose")
    try:
        amount = Decimal(str(amount_entered if amount_entered is not None else "").strip())
    except InvalidOperation:
        raise OnlinePaymentAmountInvalid(_("请输入正确的金额"), field="amount") from None
    # The range first: quantize cannot hold an amount like 1e30 at two places and would raise.
    if not amount.is_finite() or not TOPUP_MINIMUM <= amount <= TOPUP_MAXIMUM or amount != amount.quantize(CENT):
        raise OnlinePaymentAmountInvalid(
            _("预存金额须在%(minimum)s元至%(maximum)s元之间，最多两位小数")
            % {"minimum": TOPUP_MINIMUM, "maximum": TOPUP_MAXIMUM},
            field="amount",
        )
    return amount.quantize(CENT)


def online_payment_start(
    *,
    account: Account,
    user,
    purpose: str,
    amount_entered: str | Decimal | None = None,
    request_key: str,
    gateway: PaymentGateway,
) -> OnlinePayment:
    """Compute the amount, create the provider's PaymentIntent and record it (state created).

    A form posted again (or the pay page reopened) within RESUME_MINUTES resumes the user's unpaid intent for the
    same account, purpose and amount instead of making another: checked and created under the account's row lock
    (account_lock), so two posts at once make one. request_key (one per form shown) is also the provider's
    idempotency key. Nothing touches the ledger here: only the provider's confirmation does.
    """
    amount = online_payment_amount(account=account, purpose=purpose, amount_entered=amount_entered)
    request_key = (request_key or "").strip()
    if not request_key or len(request_key) > 60:
        raise OnlinePaymentStateInvalid(_("页面已过期，请重新打开缴费页面"))
    payer = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        account_lock(account_id=account.pk)
        resumable = (
            OnlinePayment.objects.filter(
                provider=PROVIDER, account=account, user=payer, purpose=purpose, amount=amount,
                state=OnlinePaymentState.CREATED, created_at__gte=timezone.now() - RESUME_WINDOW,
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        if resumable is not None:
            return resumable
        intent = gateway.intent_create(
            amount=money_to_minor(amount),
            currency=CURRENCY,
            metadata={"account": account.number, "purpose": purpose, "request": request_key},
            idempotency_key=f"portal-pay:{request_key}",
        )
        online_payment, _created = OnlinePayment.objects.get_or_create(
            provider=PROVIDER,
            provider_reference=intent.id[:_REFERENCE_LENGTH],
            defaults={
                "account": account,
                "user": payer,
                "purpose": purpose,
                "amount": minor_to_money(intent.amount),
                "currency": intent.currency,
                "created_at": timezone.now(),
            },
        )
    return online_payment


def online_payment_card_confirm(*, online_payment: OnlinePayment, card_token: str, gateway: PaymentGateway) -> Intent:
    """Confirm the intent with the card the browser tokenised; the ledger still waits for the signed webhook."""
    if online_payment.state != OnlinePaymentState.CREATED:
        raise OnlinePaymentStateInvalid(_("这笔缴费已处理，请勿重复支付"))
    card_token = (card_token or "").strip()
    if not card_token.startswith("tok_") or len(card_token) > 100:
        raise OnlinePaymentStateInvalid(_("银行卡信息无效，请重新填写"), field="card")
    return gateway.intent_confirm_card(intent_id=online_payment.provider_reference, card_token=card_token)


# --- provider events (the webhook) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventOutcome:
    event_id: str
    duplicate: bool
    outcome: str


def online_payment_event_apply(*, event: Event) -> EventOutcome:
    """Record a verified provider event once and apply it: credit, fail, cancel or reverse the online payment.

    One transaction: the OnlinePayment row locked (select_for_update), the ledger posting/reversal, then the
    ProviderEvent row with its outcome (unique per provider, so of two deliveries racing each other the second's
    insert is refused and everything it did is rolled back: it waited on the payment's lock, found it settled and
    changed nothing anyway). A crash leaves nothing, and the provider's retry applies the event afresh. A repeat
    already committed is answered by one read, without a transaction (Stripe retries every delivery it did not see
    acknowledged, so repeats are common). An event a rule refuses (say the payment was reversed at a counter
    meanwhile) leaves the ledger as it was and is recorded with its anomaly, never retried into the ledger.
    Five statements for an event that changes nothing, no savepoint on the way.
    """
    if ProviderEvent.objects.filter(provider=PROVIDER, event_id=event.id).exists():
        return EventOutcome(event.id, True, "duplicate")
    try:
        try:
            with transaction.atomic():
                outcome = _event_dispatch(event=event)
                _event_record(event=event, outcome=outcome)
        except DomainError as error:
            logger.warning("stripe event %s refused: %s", event.id, error)
            outcome = f"anomaly: {error.code} {error}"
            with transaction.atomic():
                _event_record(event=event, outcome=outcome)
    except IntegrityError:
        # The same event committed by a concurrent delivery between our check and our insert or commit.
        if ProviderEvent.objects.filter(provider=PROVIDER, event_id=event.id).exists():
            return EventOutcome(event.id, True, "duplicate")
        raise
    return EventOutcome(event.id, False, outcome)


def _event_record(*, event: Event, outcome: str) -> ProviderEvent:
    now = timezone.now()
    return ProviderEvent.objects.create(
        provider=PROVIDER,
        event_id=event.id,
        type=event.type[:60],
        object_reference=_event_intent_id(event)[:100],
        received_at=now,
        processed_at=now,
        outcome=outcome[:_OUTCOME_LENGTH],
    )


def _event_intent_id(event: Event) -> str:
    if event.type.startswith("charge."):
        return str(event.object.get("payment_intent") or "")
    return event.object_id


def _event_dispatch(*, event: Event) -> str:
    handlers = {
        "payment_intent.succeeded": _intent_succeeded,
        "payment_intent.payment_failed": _intent_failed,
        "payment_intent.canceled": _intent_canceled,
        "charge.refunded": _charge_refunded,
    }
    handler = handlers.get(event.type)
    if handler is None:
        return "ignored"
    intent_id = _event_intent_id(event)
    online_payment = (
        OnlinePayment.objects.select_for_update(of=("self",))
        # The user too: a credit records who paid (payment_post's created_by), one join instead of a query.
        .select_related("account", "payment", "user")
        .filter(provider=PROVIDER, provider_reference=intent_id)
        .first()
    )
    if online_payment is None:
        logger.warning("stripe event %s for unknown payment intent %r", event.id, intent_id)
        return f"anomaly: unknown payment intent {intent_id}"
    return handler(online_payment=online_payment, event=event)


def _mismatch(*, online_payment: OnlinePayment, amount: int, currency: str, metadata: dict | None) -> str:
    """Why the provider's object does not describe our payment ('' when it does)."""
    if minor_to_money(amount) != online_payment.amount:
        return f"amount {minor_to_money(amount)} != {online_payment.amount}"
    if (currency or "").lower() != online_payment.currency.lower():
        return f"currency {currency} != {online_payment.currency}"
    if metadata is not None and metadata.get("account") != online_payment.account.number:
        return f"account {metadata.get('account')} != {online_payment.account.number}"
    return ""


def _credit(*, online_payment: OnlinePayment, received_at: datetime.datetime) -> None:
    """Post the payment to the ledger (idempotent by the intent's key) and mark the online payment succeeded."""
    result = payment_post(
        account=online_payment.account,
        amount=online_payment.amount,
        channel=Payment.Channel.ONLINE,
        idempotency_key=f"stripe:{online_payment.provider_reference}",
        received_at=received_at,
        external_reference=online_payment.provider_reference,
        user=online_payment.user,
    )
    online_payment.payment = result.payment
    online_payment.state = OnlinePaymentState.SUCCEEDED
    online_payment.succeeded_at = received_at
    online_payment.failure_message = ""
    online_payment.save(update_fields=["payment", "state", "succeeded_at", "failure_message", "updated_at"])


def _intent_succeeded(*, online_payment: OnlinePayment, event: Event) -> str:
    if online_payment.payment_id is not None:
        return "already credited"
    mismatch = _mismatch(
        online_payment=online_payment,
        amount=int(event.object.get("amount") or 0),
        currency=str(event.object.get("currency") or ""),
        metadata=event.object.get("metadata") or {},
    )
    if mismatch:
        logger.warning("stripe event %s not credited: %s", event.id, mismatch)
        return f"anomaly: not credited, {mismatch}"
    _credit(online_payment=online_payment, received_at=_timestamp(event.created))
    return f"credited {online_payment.amount}"


def _intent_failed(*, online_payment: OnlinePayment, event: Event) -> str:
    # A late failure of an earlier attempt never undoes a success.
    if online_payment.state != OnlinePaymentState.CREATED:
        return f"kept {online_payment.state}"
    error = event.object.get("last_payment_error") or {}
    online_payment.state = OnlinePaymentState.FAILED
    online_payment.failure_message = str(error.get("message") or "")[:200]
    online_payment.save(update_fields=["state", "failure_message", "updated_at"])
    return "failed"


def _intent_canceled(*, online_payment: OnlinePayment, event: Event) -> str:
    if online_payment.state not in (OnlinePaymentState.CREATED, OnlinePaymentState.FAILED):
        return f"kept {online_payment.state}"
    online_payment.state = OnlinePaymentState.CANCELED
    online_payment.save(update_fields=["state", "updated_at"])
    return "canceled"


def _charge_refunded(*, online_payment: OnlinePayment, event: Event) -> str:
    charge = event.object
    mismatch = _mismatch(
        online_payment=online_payment,
        amount=int(charge.get("amount") or 0),
        currency=str(charge.get("currency") or ""),
        metadata=None,
    )
    if mismatch:
        return f"anomaly: refund not applied, {mismatch}"
    now = timezone.now()
    refund_ids = []
    for refund in (charge.get("refunds") or {}).get("data") or []:
        if refund.get("status") == "succeeded":
            refund_ids.append(str(refund["id"])[:100])
            OnlineRefund.objects.update_or_create(
                provider_reference=refund_ids[-1],
                defaults={"confirmed_at": now},
                create_defaults={
                    "online_payment": online_payment,
                    "amount": minor_to_money(int(refund.get("amount") or 0)),
                    "reason": "stripe",
                    "requested_at": _timestamp(int(refund.get("created") or event.created)),
                    "confirmed_at": now,
                },
            )
    return _refunds_reverse(
        online_payment=online_payment,
        refunded=minor_to_money(int(charge.get("amount_refunded") or 0)),
        user=None,
        reason=" ".join(["stripe charge.refunded", str(charge.get("id") or ""), *refund_ids]),
        received_at=_timestamp(event.created),
    )


def _refunds_reverse(
    *, online_payment: OnlinePayment, refunded: Decimal, user, reason: str, received_at: datetime.datetime
) -> str:
    """Reverse in the ledger what the provider has refunded of this payment (`refunded`, its cumulative amount) and
    the ledger has not reversed yet (payment_reverse of the difference); the state follows (partially_refunded, then
    refunded once all of it is).

    Credits the payment first if the success event has not arrived yet (a refunded charge had succeeded). Called
    under the online payment's row lock, which every path to its refunds takes, so what the ledger has reversed of
    the payment does not move meanwhile. A payment reversed elsewhere (payment_reverse at a counter) is refused:
    PaymentAlreadyReversed.
    """
    if online_payment.state == OnlinePaymentState.REFUNDED:
        return "already reversed"
    if online_payment.payment_id is None:
        _credit(online_payment=online_payment, received_at=received_at)
    payment = online_payment.payment
    if payment.status == Payment.Status.REVERSED:
        # Not by a refund (that leaves the online payment refunded): Stripe's refund cannot be matched any more.
        raise PaymentAlreadyReversed(_("该笔缴费已冲正"))
    before = payments_reversed(payment_ids=[payment.pk])[payment.pk]
    due = min(refunded, online_payment.amount) - before
    if due <= 0:
        return "already reversed" if before else "nothing refunded"
    payment_reverse(payment=payment, amount=due, user=user, reason=f"在线支付退款 {reason}")
    reversed_total = before + due
    fully = reversed_total == online_payment.amount
    online_payment.refunded_amount = reversed_total
    online_payment.state = OnlinePaymentState.REFUNDED if fully else OnlinePaymentState.PARTIALLY_REFUNDED
    online_payment.save(update_fields=["state", "refunded_amount", "updated_at"])
    if fully:
        return f"reversed {due}"
    return f"reversed {due}, {reversed_total} of {online_payment.amount} refunded"


# --- staff refunds ----------------------------------------------------------------------------------------------


def online_payment_refund(*, online_payment: OnlinePayment, user, reason: str, gateway: PaymentGateway) -> OnlineRefund:
    """Refund what is left of a credited online payment (all of it, or the rest after a partial refund) at the
    provider and reverse it in the ledger at once.

    The provider call carries the idempotency key "refund:<id>" ("refund:<id>:<fen refunded before>" after a partial
    refund), so a double click or two staff at once make one refund; the reversal runs under the online payment's
    row lock and only once (state refunded). The later charge.refunded event finds it done.
    """
    reason = (reason or "").strip()
    if not reason:
        raise OnlineRefundRefused(_("请填写退款原因"), field="reason")
    if not user.has_perm("core.change_onlinepayment"):
        raise OnlineRefundRefused(_("您没有退款权限"))
    refundable = (OnlinePaymentState.SUCCEEDED, OnlinePaymentState.PARTIALLY_REFUNDED)
    if online_payment.state not in refundable or online_payment.payment_id is None:
        raise OnlineRefundRefused(_("只有支付成功且已入账的缴费可以退款"))
    before = money_to_minor(online_payment.refunded_amount)
    refund = gateway.refund_create(
        intent_id=online_payment.provider_reference,
        amount=money_to_minor(online_payment.amount) - before,
        idempotency_key=f"refund:{online_payment.pk}" + (f":{before}" if before else ""),
        metadata={"online_payment": str(online_payment.pk), "account": online_payment.account.number},
    )
    if refund.status != "succeeded":
        raise OnlineRefundRefused(_("退款未成功（%(status)s），请稍后在支付渠道核实") % {"status": refund.status})
    now = timezone.now()
    with transaction.atomic():
        locked = OnlinePayment.objects.select_for_update(of=("self",)).select_related("account", "payment").get(pk=online_payment.pk)
        record, _created = OnlineRefund.objects.get_or_create(
            provider_reference=refund.id[:100],
            defaults={
                "online_payment": locked,
                "amount": minor_to_money(refund.amount),
                "reason": reason[:200],
                "requested_by": user,
                "requested_at": now,
                "confirmed_at": now,
            },
        )
        # Stripe refunded the rest: all of the payment is refunded now.
        _refunds_reverse(online_payment=locked, refunded=locked.amount, user=user, reason=f"{refund.id} {reason}",
                         received_at=now)
    online_payment.refresh_from_db()
    return record


# --- daily reconciliation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    kind: str
    reference: str
    detail: str


@dataclass(frozen=True)
class Reconciliation:
    day: datetime.date
    charges: int
    payments: int
    differences: list[Difference]
    # Refunds made on the day (their charges are compared too, whatever day those were made).
    refunds: int = 0


def _day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=LOCAL_TZ)
    return start, start + datetime.timedelta(days=1)


def online_payments_reconcile(*, day: datetime.date, gateway: PaymentGateway, progress=None) -> Reconciliation:
    """Stripe's charges of one local day, and the charges of earlier days refunded that day, against our online
    payments and the ledger; the differences listed.

    Kinds: unknown_charge (a charge we have no payment for), not_credited (Stripe took the money, the ledger has
    no posting), amount_mismatch, refund_mismatch (Stripe's refunded amount, cumulative, vs what the ledger has
    reversed of the payment: a refund whose webhook was lost, or a reversal Stripe knows nothing of),
    credited_without_charge (we credited a payment of that day Stripe shows no succeeded charge for).
    """
    start, end = _day_bounds(day)
    charges = gateway.charges_created_between(start=int(start.timestamp()), end=int(end.timestamp()))
    refunds = gateway.refunds_created_between(start=int(start.timestamp()), end=int(end.timestamp()))
    of_the_day = {charge.id for charge in charges}
    earlier = [
        gateway.charge_get(charge_id=charge_id)
        for charge_id in dict.fromkeys(refund.charge for refund in refunds if refund.charge)
        if charge_id not in of_the_day
    ]
    compared = [*charges, *earlier]
    payments = {
        payment.provider_reference: payment
        for payment in OnlinePayment.objects.filter(provider=PROVIDER)
        .filter(provider_reference__in=[charge.payment_intent for charge in compared if charge.payment_intent])
        .select_related("payment")
    }
    reversed_by_payment = payments_reversed(payment_ids=[p.payment_id for p in payments.values() if p.payment_id])
    differences: list[Difference] = []
    charged: set[str] = set()
    for number, charge in enumerate(compared, start=1):
        if progress is not None:
            progress(number, len(compared))
        if charge.status != "succeeded":
            continue
        charged.add(charge.payment_intent)
        payment = payments.get(charge.payment_intent)
        if payment is None:
            differences.append(Difference("unknown_charge", charge.id, f"{minor_to_money(charge.amount)} {charge.currency}"))
            continue
        if minor_to_money(charge.amount) != payment.amount:
            differences.append(Difference(
                "amount_mismatch", payment.provider_reference, f"stripe {minor_to_money(charge.amount)}, ours {payment.amount}"
            ))
            continue
        if payment.payment is None:
            differences.append(Difference("not_credited", payment.provider_reference, f"{payment.amount} {payment.state}"))
            continue
        refunded, reversed_total = minor_to_money(charge.amount_refunded), reversed_by_payment[payment.payment_id]
        if refunded != reversed_total:
            differences.append(Difference(
                "refund_mismatch", payment.provider_reference,
                f"stripe refunded {refunded}, ledger reversed {reversed_total}, ours {payment.state}",
            ))
    credited = (
        OnlinePayment.objects.filter(provider=PROVIDER, succeeded_at__gte=start, succeeded_at__lt=end, payment__isnull=False)
        .exclude(provider_reference__in=charged)
        .order_by("succeeded_at", "pk")
    )
    for payment in credited:
        intent = gateway.intent_get(intent_id=payment.provider_reference)
        if intent.status != "succeeded":
            differences.append(Difference(
                "credited_without_charge", payment.provider_reference, f"{payment.amount}, stripe {intent.status}"
            ))
    matched = {charge.payment_intent for charge in charges} & payments.keys()
    return Reconciliation(
        day=day, charges=len(charges), payments=len(matched), differences=differences, refunds=len(refunds)
    )


def online_payments_reconciliation_save(*, reconciliation: Reconciliation, directory: Path) -> Path:
    """Keep a day's differences as JSON (directory/stripe-<day>.json, replaced by a re-run of that day)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"stripe-{reconciliation.day.isoformat()}.json"
    content = {
        "day": reconciliation.day.isoformat(),
        "charges": reconciliation.charges,
        "payments": reconciliation.payments,
        "refunds": reconciliation.refunds,
        "differences": [asdict(difference) for difference in reconciliation.differences],
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(content, ensure_ascii=False, indent=2), encoding="utf-8")
    temporary.replace(path)
    return path
