"""Refunds of online payments, whole or in parts, through the signed webhook and the staff action: the ledger reverses
exactly what Stripe has refunded (its cumulative amount) once, whatever the order or repeats of the events, giving
back the newest of what the payment settled; and the daily reconciliation compares Stripe's refunds with the
ledger's reversals, for the day's charges and for earlier charges refunded that day."""
from __future__ import annotations

import datetime
import itertools
import json
import time
from decimal import Decimal as D

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.models import Account, Bill, LedgerEntry, OnlinePayment, OnlineRefund, Payment, PaymentAllocation
from core.money import ZERO
from core.selectors.accounts import account_amount_due
from core.services.ledger import account_lock, ledger_post
from core.services.online_payments import online_payments_reconcile
from core.services.payments import payment_post
from portal.payments.stripe_gateway import StripeGateway
from tests.factories import residential_tiered_tariff
from tests.portal.test_payments import (
    charge_refunded_data,
    credited_through_stripe,
    customer_prepaid,
    customer_with_arrears,
    deliver,
    event,
    intent_data,
    staff,
    start_payment,
)

_bill_numbers = itertools.count(1)
_refund_numbers = itertools.count(1)


def refunded_event(online_payment: OnlinePayment, *refunds: int) -> dict:
    """charge.refunded as Stripe sends it after these refunds (fen, oldest first): amount_refunded is their sum."""
    data = charge_refunded_data(online_payment, refunded=sum(refunds))
    data["refunds"] = {"data": [
        {"id": f"re_part{next(_refund_numbers):06d}", "amount": amount, "status": "succeeded", "created": int(time.time())}
        for amount in refunds
    ]}
    return event("charge.refunded", data)


def with_refund_ids_of(payload: dict, earlier: dict) -> dict:
    """The same refunds again, as Stripe names them in every later event about the charge."""
    payload["data"]["object"]["refunds"]["data"][: len(earlier["data"]["object"]["refunds"]["data"])] = (
        earlier["data"]["object"]["refunds"]["data"]
    )
    return payload


def outcome(client, payload: dict, secret: str) -> str:
    return deliver(client, payload, secret).json()["outcome"]


def reversals(account: Account) -> list[D]:
    return list(LedgerEntry.objects.filter(account=account, kind=LedgerEntry.Kind.PAYMENT_REVERSAL)
                .order_by("id").values_list("amount", flat=True))


def books_whole(account: Account) -> D:
    """The account's balance, once it is checked to be the ledger's sum and the open items less prepaid credit, and
    every payment's allocations and credit to add up to what is left of it after its reversals."""
    account.refresh_from_db()
    entries = LedgerEntry.objects.filter(account=account)
    assert sum(entries.values_list("amount", flat=True), ZERO) == account.balance
    assert entries.order_by("-id").first().balance_after == account.balance
    due = account_amount_due(account=account, as_of=timezone.localdate())
    assert due.bills_outstanding + due.late_fees_outstanding - due.prepaid_credit == account.balance
    for payment in Payment.objects.filter(account=account):
        allocated = sum(payment.allocations.values_list("amount", flat=True), ZERO)
        reversed_total = sum(payment.ledger_entries.filter(kind=LedgerEntry.Kind.PAYMENT_REVERSAL)
                             .values_list("amount", flat=True), ZERO)
        assert allocated + payment.unallocated == payment.amount - reversed_total
        assert payment.status == (Payment.Status.REVERSED if reversed_total == payment.amount else Payment.Status.POSTED)
    for bill in Bill.objects.filter(account=account):
        assert ZERO <= bill.amount_paid <= bill.total
    return account.balance


def bill_of(account: Account, *, total: str, months_ago: int) -> Bill:
    """An issued bill of an earlier month not yet due, posted to the ledger the way the billing engine does."""
    today = timezone.localdate()
    period = today.replace(day=1)
    for _ in range(months_ago):
        period = (period - datetime.timedelta(days=1)).replace(day=1)
    with transaction.atomic():
        locked = account_lock(account_id=account.pk)
        bill = Bill.objects.create(
            number=f"R{next(_bill_numbers):09d}", account=locked, period=period,
            tariff_version=residential_tiered_tariff().versions.order_by("effective_from").first(), issued_on=today,
            due_date=today + datetime.timedelta(days=20), kwh=D("100.00"), total=D(total),
        )
        ledger_post(account=locked, kind=LedgerEntry.Kind.BILL, amount=bill.total, bill=bill)
    return bill


def credited(client, secret: str, total: str = "100.00") -> tuple[Account, OnlinePayment]:
    _user, account = customer_with_arrears(client, total)
    online_payment = start_payment(client, account)
    assert outcome(client, event("payment_intent.succeeded", intent_data(online_payment)), secret) == f"credited {total}"
    online_payment.refresh_from_db()
    return account, online_payment


# --- the webhook ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_partial_refund_reverses_that_part_once_and_the_full_refund_the_rest(client, stripe_on):
    secret = stripe_on.webhook_secret
    account, online_payment = credited(client, secret)
    bill = Bill.objects.get(account=account)
    assert books_whole(account) == D("0.00")
    # Staff give 25.00 back in Stripe's dashboard.
    partial = refunded_event(online_payment, 2500)
    assert outcome(client, partial, secret) == "reversed 25.00, 25.00 of 100.00 refunded"
    online_payment.refresh_from_db()
    bill.refresh_from_db()
    assert (online_payment.state, online_payment.refunded_amount) == ("partially_refunded", D("25.00"))
    assert online_payment.get_state_display() == "部分退款"
    assert online_payment.payment.status == Payment.Status.POSTED
    assert reversals(account) == [D("25.00")]
    entry = LedgerEntry.objects.get(account=account, kind=LedgerEntry.Kind.PAYMENT_REVERSAL)
    refund_id = partial["data"]["object"]["refunds"]["data"][0]["id"]
    assert entry.payment == online_payment.payment and refund_id in entry.memo and entry.memo.startswith("在线支付退款")
    assert (bill.amount_paid, bill.state) == (D("75.00"), Bill.State.PARTLY_PAID)
    assert books_whole(account) == D("25.00")
    assert account_amount_due(account=account, as_of=timezone.localdate()).total_due == D("25.00")
    # The same delivery again, and another event saying the same (Stripe sends several): nothing more.
    assert deliver(client, partial, secret).json()["duplicate"] is True
    assert outcome(client, with_refund_ids_of(refunded_event(online_payment, 2500), partial), secret) == "already reversed"
    assert reversals(account) == [D("25.00")]
    # The rest refunded later: amount_refunded is the charge's total, the ledger posts the difference.
    full = with_refund_ids_of(refunded_event(online_payment, 2500, 7500), partial)
    assert outcome(client, full, secret) == "reversed 75.00"
    online_payment.refresh_from_db()
    bill.refresh_from_db()
    assert (online_payment.state, online_payment.refunded_amount) == ("refunded", D("100.00"))
    assert online_payment.payment.status == Payment.Status.REVERSED
    assert reversals(account) == [D("25.00"), D("75.00")]
    assert (bill.amount_paid, bill.state) == (D("0.00"), Bill.State.ISSUED)
    assert books_whole(account) == D("100.00")
    assert sorted(OnlineRefund.objects.filter(online_payment=online_payment).values_list("amount", flat=True)) == [
        D("25.00"), D("75.00")
    ]
    # The partial refund's event delivered late (a new delivery) changes nothing.
    assert outcome(client, with_refund_ids_of(refunded_event(online_payment, 2500), partial), secret) == "already reversed"
    assert reversals(account) == [D("25.00"), D("75.00")]
    assert books_whole(account) == D("100.00")


@pytest.mark.django_db
def test_a_full_refund_then_the_partial_refunds_event_late_reverses_once(client, stripe_on):
    secret = stripe_on.webhook_secret
    account, online_payment = credited(client, secret)
    first = refunded_event(online_payment, 2500)
    full = with_refund_ids_of(refunded_event(online_payment, 2500, 7500), first)
    assert outcome(client, full, secret) == "reversed 100.00"
    assert outcome(client, first, secret) == "already reversed"
    assert outcome(client, full, secret) == "duplicate"
    online_payment.refresh_from_db()
    assert (online_payment.state, online_payment.refunded_amount) == ("refunded", D("100.00"))
    assert reversals(account) == [D("100.00")]
    assert books_whole(account) == D("100.00")


@pytest.mark.django_db
def test_a_partial_refund_arriving_before_the_success_credits_then_reverses_that_part(client, stripe_on):
    secret = stripe_on.webhook_secret
    _user, account = customer_with_arrears(client, "100.00")
    online_payment = start_payment(client, account)
    outcomes = [
        outcome(client, payload, secret)
        for payload in (
            refunded_event(online_payment, 3000),
            event("payment_intent.succeeded", intent_data(online_payment)),
            event("payment_intent.payment_failed", intent_data(online_payment, last_payment_error={"message": "x"})),
            event("payment_intent.canceled", intent_data(online_payment)),
        )
    ]
    assert outcomes == ["reversed 30.00, 30.00 of 100.00 refunded", "already credited", "kept partially_refunded",
                        "kept partially_refunded"]
    online_payment.refresh_from_db()
    assert (online_payment.state, online_payment.refunded_amount) == ("partially_refunded", D("30.00"))
    assert list(LedgerEntry.objects.filter(account=account, payment__isnull=False).order_by("id")
                .values_list("kind", "amount")) == [("payment", D("-100.00")), ("payment_reversal", D("30.00"))]
    assert books_whole(account) == D("30.00")


@pytest.mark.django_db
def test_a_partial_refund_takes_back_prepaid_credit_first(client, stripe_on):
    secret = stripe_on.webhook_secret
    _user, account = customer_prepaid(client)
    online_payment = start_payment(client, account, amount="50.00")
    deliver(client, event("payment_intent.succeeded", intent_data(online_payment)), secret)
    assert outcome(client, refunded_event(online_payment, 2000), secret) == "reversed 20.00, 20.00 of 50.00 refunded"
    payment = Payment.objects.get(account=account)
    assert (payment.unallocated, payment.status) == (D("30.00"), Payment.Status.POSTED)
    assert not PaymentAllocation.objects.filter(payment=payment).exists()
    assert account_amount_due(account=account, as_of=timezone.localdate()).prepaid_credit == D("30.00")
    assert books_whole(account) == D("-30.00")


@pytest.mark.django_db
def test_a_partial_refund_reopens_the_newest_bill_first_and_other_credit_then_pays_it(client, stripe_on):
    secret = stripe_on.webhook_secret
    _user, account = customer_with_arrears(client, "40.00")  # this month's bill
    older = bill_of(account, total="60.00", months_ago=1)
    newer = Bill.objects.get(account=account, period=timezone.localdate().replace(day=1))
    online_payment = start_payment(client, account)
    assert online_payment.amount == D("100.00")
    deliver(client, event("payment_intent.succeeded", intent_data(online_payment)), secret)
    # 10.00 paid at a counter meanwhile: nothing is due, it stays prepaid credit.
    counter = payment_post(account=account, amount="10.00", channel="counter", idempotency_key="counter-1",
                           received_at=timezone.now()).payment
    assert books_whole(account) == D("-10.00")
    first = refunded_event(online_payment, 2500)
    assert outcome(client, first, secret) == "reversed 25.00, 25.00 of 100.00 refunded"
    older.refresh_from_db()
    newer.refresh_from_db()
    counter.refresh_from_db()
    # The payment now settles what 75.00 would have: the older bill, and 15.00 of the newer; the counter's credit
    # pays 10.00 of what was reopened.
    assert (older.amount_paid, older.state) == (D("60.00"), Bill.State.PAID)
    assert (newer.amount_paid, newer.state) == (D("25.00"), Bill.State.PARTLY_PAID)
    assert counter.unallocated == D("0.00")
    assert books_whole(account) == D("15.00")
    # More refunded: the rest of the newer bill's share, then the older bill's.
    second = with_refund_ids_of(refunded_event(online_payment, 2500, 3000), first)
    assert outcome(client, second, secret) == "reversed 30.00, 55.00 of 100.00 refunded"
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.amount_paid, older.state) == (D("45.00"), Bill.State.PARTLY_PAID)
    assert (newer.amount_paid, newer.state) == (D("10.00"), Bill.State.PARTLY_PAID)
    assert books_whole(account) == D("45.00")
    assert reversals(account) == [D("25.00"), D("30.00")]


@pytest.mark.django_db
def test_the_status_page_shows_a_partly_refunded_payment(client, stripe_on):
    account, online_payment = credited(client, stripe_on.webhook_secret)
    deliver(client, refunded_event(online_payment, 2500), stripe_on.webhook_secret)
    page = client.get(reverse("portal:pay_status", args=[account.number, online_payment.pk])).content.decode()
    assert '<dd class="pay-state pay-state--partially_refunded">部分退款</dd>' in page
    page = client.get(reverse("portal:pay_account", args=[account.number])).content.decode()
    assert "部分退款" in page


@pytest.mark.django_db
def test_the_customer_sees_how_much_was_refunded_and_what_stays_credited(client, stripe_on):
    secret = stripe_on.webhook_secret
    account, online_payment = credited(client, secret)
    status = reverse("portal:pay_status", args=[account.number, online_payment.pk])
    history = reverse("portal:pay_account", args=[account.number])
    # Not refunded: nothing about refunds.
    assert "已退款金额" not in client.get(status).content.decode()
    assert "仍入账" not in client.get(history).content.decode()

    first = refunded_event(online_payment, 2500)
    deliver(client, first, secret)
    page = client.get(status).content.decode()
    assert '<dt>已退款金额</dt><dd class="pay-refunded">25.00 元</dd>' in page
    assert '<dt>仍入账金额</dt><dd class="pay-kept">75.00 元</dd>' in page
    # The bill of 100.00 is owed again for the part given back.
    assert "当前应缴金额 25.00 元" in page
    assert "（已退款 25.00 元，仍入账 75.00 元）" in client.get(history).content.decode()

    deliver(client, with_refund_ids_of(refunded_event(online_payment, 2500, 7500), first), secret)
    page = client.get(status).content.decode()
    assert '<dd class="pay-state pay-state--refunded">已退款</dd>' in page
    assert '<dt>已退款金额</dt><dd class="pay-refunded">100.00 元</dd>' in page
    assert '<dt>仍入账金额</dt><dd class="pay-kept">0.00 元</dd>' in page
    assert "（已退款 100.00 元，仍入账 0.00 元）" in client.get(history).content.decode()


# --- staff refunds after a partial refund -----------------------------------------------------------------------


def charge_event(stripe_client, online_payment: OnlinePayment) -> dict:
    """charge.refunded carrying the charge as localstripe holds it now (its refunds, amount_refunded)."""
    intent = stripe_client.v1.payment_intents.retrieve(online_payment.provider_reference)
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge["id"] if isinstance(intent.latest_charge, dict)
                                               else intent.latest_charge)
    return event("charge.refunded", json.loads(str(charge)))


@pytest.mark.django_db
def test_staff_refund_after_a_dashboard_partial_refund_refunds_and_reverses_the_rest(client, stripe_on, stripe_client):
    secret = stripe_on.webhook_secret
    account, online_payment = credited_through_stripe(client, stripe_client, secret)
    stripe_client.v1.refunds.create(params={"payment_intent": online_payment.provider_reference, "amount": 2345})
    assert outcome(client, charge_event(stripe_client, online_payment), secret) == (
        "reversed 23.45, 23.45 of 123.45 refunded"
    )
    client.force_login(staff(may_refund=True))
    changelist = reverse("admin:core_onlinepayment_changelist")
    response = client.post(changelist, {"action": "online_payments_refund", "_selected_action": [online_payment.pk]},
                           follow=True)
    assert [str(message) for message in response.context["messages"]] == [
        f"{online_payment.provider_reference} 已退款并冲正"
    ]
    online_payment.refresh_from_db()
    assert (online_payment.state, online_payment.refunded_amount) == ("refunded", D("123.45"))
    refunds = stripe_client.v1.refunds.list(params={"payment_intent": online_payment.provider_reference}).data
    assert sorted(refund.amount for refund in refunds) == [2345, 10000]
    assert reversals(account) == [D("23.45"), D("100.00")]
    assert books_whole(account) == D("123.45")
    # Stripe's event for the staff refund then finds it done.
    assert outcome(client, charge_event(stripe_client, online_payment), secret) == "already reversed"
    assert reversals(account) == [D("23.45"), D("100.00")]


# --- reconciliation ---------------------------------------------------------------------------------------------


class EarlierDayCharges(StripeGateway):
    """localstripe dates every object now: this Stripe account lists the given charges on no day, as Stripe does
    for the charges of today's reconciliation made on an earlier day (everything else is localstripe's answer)."""

    def __init__(self, *, earlier: set[str], **kwargs):
        super().__init__(**kwargs)
        self.earlier = earlier

    def charges_created_between(self, *, start: int, end: int):
        return [charge for charge in super().charges_created_between(start=start, end=end)
                if charge.id not in self.earlier]


def reconcile(gateway: StripeGateway | None = None):
    return online_payments_reconcile(day=timezone.localdate(), gateway=gateway or StripeGateway.from_settings())


def differences(result) -> list[tuple[str, str, str]]:
    return [(difference.kind, difference.reference, difference.detail) for difference in result.differences]


def charge_id(stripe_client, online_payment: OnlinePayment) -> str:
    latest = stripe_client.v1.payment_intents.retrieve(online_payment.provider_reference).latest_charge
    return latest["id"] if isinstance(latest, dict) else latest


@pytest.mark.django_db
def test_reconciliation_lists_a_refund_the_ledger_has_not_reversed_and_nothing_once_all_agree(
    client, stripe_on, stripe_client
):
    stripe_on.flush()  # other tests' charges at the shared localstripe have no payment in this test's database
    secret = stripe_on.webhook_secret
    account, online_payment = credited_through_stripe(client, stripe_client, secret, "40.00")
    assert differences(reconcile()) == []
    # Refunded in Stripe's dashboard; the webhook is lost.
    stripe_client.v1.refunds.create(params={"payment_intent": online_payment.provider_reference, "amount": 1000})
    result = reconcile()
    assert differences(result) == [
        ("refund_mismatch", online_payment.provider_reference, "stripe refunded 10.00, ledger reversed 0.00, ours succeeded")
    ]
    assert (result.charges, result.payments, result.refunds) == (1, 1, 1)
    # Delivered at last: Stripe and the ledger agree.
    assert outcome(client, charge_event(stripe_client, online_payment), secret).startswith("reversed 10.00")
    assert differences(reconcile()) == []
    # The rest refunded in the dashboard too, its webhook lost again.
    stripe_client.v1.refunds.create(params={"payment_intent": online_payment.provider_reference, "amount": 3000})
    assert differences(reconcile()) == [
        ("refund_mismatch", online_payment.provider_reference,
         "stripe refunded 40.00, ledger reversed 10.00, ours partially_refunded")
    ]
    assert outcome(client, charge_event(stripe_client, online_payment), secret) == "reversed 30.00"
    assert differences(reconcile()) == []
    assert books_whole(account) == D("40.00")


@pytest.mark.django_db
def test_reconciliation_compares_earlier_charges_refunded_that_day(client, stripe_on, stripe_client, settings):
    stripe_on.flush()
    secret = stripe_on.webhook_secret
    _account, online_payment = credited_through_stripe(client, stripe_client, secret, "40.00")
    made_earlier = charge_id(stripe_client, online_payment)
    gateway = EarlierDayCharges(earlier={made_earlier}, secret_key=settings.STRIPE_SECRET_KEY,
                                webhook_secret=secret, api_base=settings.STRIPE_API_BASE)
    # Not refunded: the earlier charge is not among the day's.
    result = reconcile(gateway)
    assert (result.charges, result.refunds, differences(result)) == (0, 0, [])
    stripe_client.v1.refunds.create(params={"payment_intent": online_payment.provider_reference, "amount": 1500})
    result = reconcile(gateway)
    assert (result.charges, result.refunds) == (0, 1)
    assert differences(result) == [
        ("refund_mismatch", online_payment.provider_reference, "stripe refunded 15.00, ledger reversed 0.00, ours succeeded")
    ]
    deliver(client, charge_event(stripe_client, online_payment), secret)
    assert differences(reconcile(gateway)) == []
    # Yesterday's refunds are none of them: the listing stops at the day's start.
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    assert online_payments_reconcile(day=yesterday, gateway=gateway).refunds == 0


def paid_other_than_asked_and_credited_unpaid(client, stripe_client, secret) -> tuple:
    """Two online payments reconciliation must list: one whose intent's amount was changed at Stripe before it was
    paid (19.99 for 20.00 due), one credited by a signed event but never paid at Stripe (30.00)."""
    # The intent's amount changed at Stripe before it was paid.
    _user, first = customer_with_arrears(client, "20.00")
    changed = start_payment(client, first)
    stripe_client.v1.payment_intents.update(changed.provider_reference,
                                            params={"amount": 1999, "payment_method": "pm_card_visa"})
    stripe_client.v1.payment_intents.confirm(changed.provider_reference)
    # Credited by a signed event, never paid at Stripe.
    _user, second = customer_with_arrears(client, "30.00")
    unpaid = start_payment(client, second)
    assert outcome(client, event("payment_intent.succeeded", intent_data(unpaid)), secret) == "credited 30.00"
    return changed, unpaid


@pytest.mark.django_db
def test_reconciliation_lists_an_amount_mismatch_and_a_credit_without_a_charge(client, stripe_on, stripe_client):
    stripe_on.flush()
    secret = stripe_on.webhook_secret
    changed, unpaid = paid_other_than_asked_and_credited_unpaid(client, stripe_client, secret)
    assert sorted(differences(reconcile())) == [
        ("amount_mismatch", changed.provider_reference, "stripe 19.99, ours 20.00"),
        ("credited_without_charge", unpaid.provider_reference, "30.00, stripe requires_payment_method"),
    ]
