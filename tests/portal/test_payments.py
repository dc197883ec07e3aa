"""Online payment with Stripe, against localstripe on loopback through the official stripe library: the server's
amount, the card flow, the signed webhook posting to the ledger exactly once whatever the order or repeats, staff
refunds reversing it, and the daily reconciliation."""
from __future__ import annotations

import datetime
import hashlib
import hmac
import itertools
import json
import time
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal import admin as admin_online_payments
from core.models import Account, Bill, LedgerEntry, OnlinePayment, OnlineRefund, Payment, ProviderEvent
from core.models.online_payments import OnlinePaymentState
from core.selectors.accounts import account_amount_due
from core.services.ledger import account_lock, ledger_post
from tests.factories import AccountFactory, residential_tiered_tariff
from tests.portal.factories import AccountBindingFactory, PortalUserFactory

WEBHOOK = "/payments/stripe/webhook/"
WEBHOOK_WAIT_SECONDS = 15.0
LOCALSTRIPE_DELIVERY_DELAY = 1.5
_bill_numbers = itertools.count(1)
_event_numbers = itertools.count(1)


@pytest.fixture
def webhooks_to(localstripe):
    """Have localstripe deliver its signed events to this live server's webhook."""
    registered = []

    def register(live_server) -> None:
        # localstripe posts each event 1 s after it happens to whatever hooks exist then: let earlier tests'
        # events go out to no hook first, so only this test's events reach this server.
        time.sleep(LOCALSTRIPE_DELIVERY_DELAY)
        localstripe.webhook_register(f"{live_server.url}{WEBHOOK}")
        registered.append(True)

    yield register
    if registered:
        localstripe.webhook_unregister()


def bill_owed(*, account: Account, total: str) -> Bill:
    """An issued bill not yet due (no late fee accrues), posted to the ledger the way the billing engine does."""
    today = timezone.localdate()
    tariff = residential_tiered_tariff()
    with transaction.atomic():
        locked = account_lock(account_id=account.pk)
        bill = Bill.objects.create(
            number=f"P{next(_bill_numbers):09d}",
            account=locked,
            period=today.replace(day=1),
            tariff_version=tariff.versions.order_by("effective_from").first(),
            issued_on=today,
            due_date=today + datetime.timedelta(days=20),
            kwh=D("200.00"),
            total=D(total),
        )
        ledger_post(account=locked, kind=LedgerEntry.Kind.BILL, amount=bill.total, bill=bill)
    return bill


def customer_with_arrears(client, total: str = "123.45"):
    binding = AccountBindingFactory()
    bill_owed(account=binding.account, total=total)
    client.force_login(binding.user)
    return binding.user, binding.account


def customer_prepaid(client):
    binding = AccountBindingFactory(account=AccountFactory(billing_mode=Account.BillingMode.PREPAID))
    client.force_login(binding.user)
    return binding.user, binding.account


def signed(payload: dict, secret: str) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    stamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={stamp},v1={signature}"


def event(kind: str, data: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_test{next(_event_numbers):06d}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": data},
    }


def intent_data(online_payment: OnlinePayment, *, amount: int | None = None, **extra) -> dict:
    return {
        "id": online_payment.provider_reference,
        "object": "payment_intent",
        "amount": amount if amount is not None else int(online_payment.amount * 100),
        "currency": "cny",
        "metadata": {"account": online_payment.account.number},
        **extra,
    }


def charge_refunded_data(online_payment: OnlinePayment, *, refunded: int | None = None) -> dict:
    amount = int(online_payment.amount * 100)
    refunded = amount if refunded is None else refunded
    return {
        "id": "ch_test" + online_payment.provider_reference[3:],
        "object": "charge",
        "payment_intent": online_payment.provider_reference,
        "amount": amount,
        "amount_refunded": refunded,
        "currency": "cny",
        "refunds": {"data": [{"id": "re_test" + online_payment.provider_reference[3:], "amount": refunded,
                              "status": "succeeded", "created": int(time.time())}]},
    }


def deliver(client, payload: dict, secret: str):
    body, header = signed(payload, secret)
    return client.post(WEBHOOK, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def start_payment(client, account: Account, **fields) -> OnlinePayment:
    response = client.post(reverse("portal:pay_account", args=[account.number]), {"request_key": "form-1", **fields})
    assert response.status_code == 302, response.content.decode()
    return OnlinePayment.objects.get(account=account)


def wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + WEBHOOK_WAIT_SECONDS
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


# --- the pay pages --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_stripe_keys_the_page_offers_other_ways(client, settings):
    settings.STRIPE_SECRET_KEY = ""
    customer_with_arrears(client)
    page = client.get(reverse("portal:pay")).content.decode()
    assert "网上缴费暂不可用" in page
    assert "95598" in page and "营业厅" in page


@pytest.mark.django_db
def test_pay_page_lists_bound_accounts_with_what_is_due(client, stripe_on):
    _user, account = customer_with_arrears(client, "88.10")
    AccountBindingFactory()  # someone else's account is not listed
    page = client.get(reverse("portal:pay")).content.decode()
    assert account.number in page
    assert "88.10" in page
    assert reverse("portal:pay_account", args=[account.number]) in page
    assert page.count('class="pay-account"') == 1


@pytest.mark.django_db
def test_arrears_amount_is_the_servers_whatever_the_browser_sends(client, stripe_on, stripe_client):
    _user, account = customer_with_arrears(client, "123.45")
    online_payment = start_payment(client, account, amount="0.01")
    assert (online_payment.amount, online_payment.state, online_payment.purpose) == (D("123.45"), "created", "arrears")
    intent = stripe_client.v1.payment_intents.retrieve(online_payment.provider_reference)
    assert (intent.amount, intent.currency, intent.metadata["account"]) == (12345, "cny", account.number)
    assert not Payment.objects.filter(account=account).exists()


@pytest.mark.django_db
def test_the_same_form_posted_twice_makes_one_intent(client, stripe_on):
    _user, account = customer_with_arrears(client)
    first = start_payment(client, account)
    client.post(reverse("portal:pay_account", args=[account.number]), {"request_key": "form-1"})
    assert list(OnlinePayment.objects.filter(account=account)) == [first]


@pytest.mark.django_db
def test_nothing_due_is_refused_plainly(client, stripe_on):
    binding = AccountBindingFactory()
    client.force_login(binding.user)
    response = client.post(reverse("portal:pay_account", args=[binding.account.number]), {"request_key": "k"})
    assert response.status_code == 400
    assert "该户号目前没有欠费，无需缴费" in response.content.decode()
    assert not OnlinePayment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["5.00", "5000.01", "12.345", "abc", "", "NaN", "-20", "1e30", "-1e30", "Infinity",
                                    "1e-30", "50.000000000000000000000000000001"])
def test_topup_outside_the_limits_is_refused(client, stripe_on, amount):
    _user, account = customer_prepaid(client)
    response = client.post(reverse("portal:pay_account", args=[account.number]), {"request_key": "k", "amount": amount})
    assert response.status_code == 400
    page = response.content.decode()
    assert "预存金额须在10.00元至5000.00元之间，最多两位小数" in page or "请输入正确的金额" in page
    assert not OnlinePayment.objects.exists()


@pytest.mark.django_db
def test_topup_within_the_limits(client, stripe_on):
    _user, account = customer_prepaid(client)
    online_payment = start_payment(client, account, amount="50.00")
    assert (online_payment.amount, online_payment.purpose) == (D("50.00"), "topup")


@pytest.mark.django_db
def test_checkout_page_loads_stripe_js_from_settings(client, stripe_on):
    _user, account = customer_with_arrears(client)
    online_payment = start_payment(client, account)
    page = client.get(reverse("portal:pay_checkout", args=[account.number, online_payment.pk])).content.decode()
    assert f'<script src="{stripe_on.js_url}"></script>' in page
    assert f'data-publishable-key="{stripe_on.publishable_key}"' in page
    assert "portal/pay.js" in page
    assert 'id="card-element"' in page


@pytest.mark.django_db
def test_someone_elses_payment_is_404(client, stripe_on):
    _user, account = customer_with_arrears(client)
    online_payment = start_payment(client, account)
    other = AccountBindingFactory()
    client.force_login(other.user)
    for name in ("pay_checkout", "pay_status"):
        assert client.get(reverse(f"portal:{name}", args=[account.number, online_payment.pk])).status_code == 404
        assert client.get(reverse(f"portal:{name}", args=[other.account.number, online_payment.pk])).status_code == 404
    assert client.get(reverse("portal:pay_account", args=[account.number])).status_code == 404
    response = client.post(reverse("portal:pay_confirm", args=[account.number, online_payment.pk]), {"token": "tok_x"})
    assert response.status_code == 404


@pytest.mark.django_db
def test_pay_pages_need_login(client, stripe_on):
    response = client.get(reverse("portal:pay"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_pay_form_enforces_csrf(stripe_on):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    _user, account = customer_with_arrears(client)
    response = client.post(reverse("portal:pay_account", args=[account.number]), {"request_key": "k"})
    assert response.status_code == 403
    assert not OnlinePayment.objects.exists()


# --- the browser's claim and the webhook ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_card_payment_is_credited_once_by_localstripes_signed_webhook(client, stripe_on, stripe_client, live_server, webhooks_to):
    webhooks_to(live_server)
    _user, account = customer_with_arrears(client, "123.45")
    online_payment = start_payment(client, account)
    # What pay.js does: Stripe.js tokenises the card, the server confirms the intent with it.
    token = stripe_client.v1.tokens.create(
        params={"card": {"number": "4242424242424242", "exp_month": "12", "exp_year": "2030", "cvc": "123"}}
    )
    answer = client.post(reverse("portal:pay_confirm", args=[account.number, online_payment.pk]), {"token": token.id})
    assert answer.json() == {"status": "succeeded", "client_secret": ""}
    # Stripe said yes to the browser; the server credits only on the signed event (delivered about 1 s later).
    wait_for(lambda: OnlinePayment.objects.get(pk=online_payment.pk).payment_id is not None, "the webhook")
    online_payment.refresh_from_db()
    payment = online_payment.payment
    assert (online_payment.state, payment.amount, payment.channel) == ("succeeded", D("123.45"), "online")
    assert payment.idempotency_key == f"stripe:{online_payment.provider_reference}"
    assert account_amount_due(account=account, as_of=timezone.localdate()).total_due == D("0.00")
    assert Bill.objects.get(account=account).state == Bill.State.PAID
    # localstripe is shared by the session: events of other tests' intents may arrive too (recorded as anomalies).
    event = ProviderEvent.objects.get(type="payment_intent.succeeded", object_reference=online_payment.provider_reference)
    assert (event.object_reference, event.outcome) == (online_payment.provider_reference, "credited 123.45")
    page = client.get(reverse("portal:pay_status", args=[account.number, online_payment.pk])).content.decode()
    assert "已入账" in page and "支付成功" in page


@pytest.mark.django_db
def test_declined_card_is_told_and_nothing_credited(client, stripe_on, stripe_client):
    _user, account = customer_with_arrears(client)
    online_payment = start_payment(client, account)
    token = stripe_client.v1.tokens.create(
        params={"card": {"number": "4000000000000341", "exp_month": "12", "exp_year": "2030", "cvc": "123"}}
    )
    answer = client.post(reverse("portal:pay_confirm", args=[account.number, online_payment.pk]), {"token": token.id})
    assert answer.status_code == 400
    assert answer.json() == {"error": "Your card was declined."}
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_card_needing_authentication_hands_confirmcardpayment_the_client_secret(client, stripe_on, stripe_client):
    _user, account = customer_with_arrears(client)
    online_payment = start_payment(client, account)
    token = stripe_client.v1.tokens.create(
        params={"card": {"number": "4000002760003184", "exp_month": "12", "exp_year": "2030", "cvc": "123"}}
    )
    answer = client.post(reverse("portal:pay_confirm", args=[account.number, online_payment.pk]), {"token": token.id}).json()
    assert answer["status"] == "requires_action"
    assert answer["client_secret"].startswith(online_payment.provider_reference + "_secret_")


@pytest.mark.django_db
def test_browser_claim_without_stripes_confirmation_is_not_credited(client, stripe_on):
    _user, account = customer_with_arrears(client, "60.00")
    online_payment = start_payment(client, account)
    # The browser goes straight to the status page saying it paid; a forged event is refused.
    page = client.get(reverse("portal:pay_status", args=[account.number, online_payment.pk]) + "?paid=1").content.decode()
    assert "正在等待支付渠道确认，确认后才会入账" in page
    body = json.dumps(event("payment_intent.succeeded", intent_data(online_payment))).encode()
    forged = client.post(WEBHOOK, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=00")
    assert forged.status_code == 400
    _body, wrong_secret_header = signed(json.loads(body), "whsec_someone_else")
    assert client.post(WEBHOOK, data=body, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=wrong_secret_header).status_code == 400
    assert client.post(WEBHOOK, data=body, content_type="application/json").status_code == 400
    online_payment.refresh_from_db()
    assert (online_payment.state, online_payment.payment) == ("created", None)
    assert not ProviderEvent.objects.exists()
    assert account_amount_due(account=account, as_of=timezone.localdate()).total_due == D("60.00")


@pytest.mark.django_db
def test_webhook_is_post_only_and_needs_no_csrf(client, stripe_on):
    from django.test import Client

    _user, account = customer_with_arrears(client)
    online_payment = start_payment(client, account)
    client = Client(enforce_csrf_checks=True)
    assert client.get(WEBHOOK).status_code == 405
    assert deliver(client, event("payment_intent.succeeded", intent_data(online_payment)), stripe_on.webhook_secret).status_code == 200


@pytest.mark.django_db
def test_repeats_post_once(client, stripe_on):
    _user, account = customer_with_arrears(client, "123.45")
    online_payment = start_payment(client, account)
    succeeded = event("payment_intent.succeeded", intent_data(online_payment))
    answers = [deliver(client, succeeded, stripe_on.webhook_secret).json() for _ in range(3)]
    assert [answer["duplicate"] for answer in answers] == [False, True, True]
    # A different event about the same intent (Stripe may send several) credits nothing more.
    again = deliver(client, event("payment_intent.succeeded", intent_data(online_payment)), stripe_on.webhook_secret).json()
    assert again["outcome"] == "already credited"
    assert Payment.objects.filter(account=account).count() == 1
    assert LedgerEntry.objects.filter(account=account, kind=LedgerEntry.Kind.PAYMENT).count() == 1
    assert ProviderEvent.objects.count() == 2


@pytest.mark.django_db
def test_a_repeat_already_recorded_is_answered_by_one_read(client, stripe_on, django_assert_num_queries):
    from django.test import Client

    _user, account = customer_with_arrears(client, "123.45")
    online_payment = start_payment(client, account)
    succeeded = event("payment_intent.succeeded", intent_data(online_payment))
    webhook_client = Client()
    assert deliver(webhook_client, succeeded, stripe_on.webhook_secret).json()["outcome"] == "credited 123.45"
    with django_assert_num_queries(1):
        answer = deliver(webhook_client, succeeded, stripe_on.webhook_secret).json()
    assert answer == {"event": succeeded["id"], "duplicate": True, "outcome": "duplicate"}
    assert Payment.objects.filter(account=account).count() == 1


@pytest.mark.django_db
def test_a_delivery_losing_the_race_to_a_concurrent_one_is_a_duplicate(client, stripe_on, monkeypatch):
    """Both deliveries read "not recorded yet"; the other commits first: the unique row refuses ours, nothing is
    posted twice and the answer is still 200 duplicate."""
    from django.db.models import QuerySet

    _user, account = customer_with_arrears(client, "123.45")
    online_payment = start_payment(client, account)
    succeeded = event("payment_intent.succeeded", intent_data(online_payment))
    assert deliver(client, succeeded, stripe_on.webhook_secret).json()["duplicate"] is False
    real_exists = QuerySet.exists
    reads = []

    def exists_missing_the_first_read(queryset):
        reads.append(queryset.model)
        if queryset.model is ProviderEvent and len(reads) == 1:
            return False
        return real_exists(queryset)

    monkeypatch.setattr(QuerySet, "exists", exists_missing_the_first_read)
    response = deliver(client, succeeded, stripe_on.webhook_secret)
    assert response.status_code == 200
    assert response.json() == {"event": succeeded["id"], "duplicate": True, "outcome": "duplicate"}
    assert reads == [ProviderEvent, ProviderEvent]
    assert Payment.objects.filter(account=account).count() == 1
    assert LedgerEntry.objects.filter(account=account, kind=LedgerEntry.Kind.PAYMENT).count() == 1
    assert ProviderEvent.objects.filter(event_id=succeeded["id"]).count() == 1


@pytest.mark.django_db
def test_refund_before_success_credits_then_reverses_once(client, stripe_on):
    _user, account = customer_with_arrears(client, "123.45")
    online_payment = start_payment(client, account)
    secret = stripe_on.webhook_secret
    refunded = event("charge.refunded", charge_refunded_data(online_payment))
    succeeded = event("payment_intent.succeeded", intent_data(online_payment))
    failed = event("payment_intent.payment_failed", intent_data(online_payment, last_payment_error={"message": "x"}))
    outcomes = [deliver(client, payload, secret).json()["outcome"] for payload in (refunded, succeeded, failed, refunded)]
    assert outcomes == ["reversed 123.45", "already credited", "kept refunded", "duplicate"]
    online_payment.refresh_from_db()
    assert (online_payment.state, online_payment.refunded_amount) == ("refunded", D("123.45"))
    assert online_payment.payment.status == Payment.Status.REVERSED
    assert Payment.objects.filter(account=account).count() == 1
    assert LedgerEntry.objects.filter(account=account, kind=LedgerEntry.Kind.PAYMENT_REVERSAL).count() == 1
    assert account_amount_due(account=account, as_of=timezone.localdate()).total_due == D("123.45")
    assert OnlineRefund.objects.get().amount == D("123.45")


@pytest.mark.django_db
def test_late_failure_never_undoes_a_success_and_failure_first_then_success_credits(client, stripe_on):
    _user, account = customer_with_arrears(client, "40.00")
    online_payment = start_payment(client, account)
    secret = stripe_on.webhook_secret
    failed = event("payment_intent.payment_failed",
                   intent_data(online_payment, last_payment_error={"message": "Your card was declined."}))
    assert deliver(client, failed, secret).json()["outcome"] == "failed"
    online_payment.refresh_from_db()
    assert (online_payment.state, online_payment.failure_message) == ("failed", "Your card was declined.")
    assert deliver(client, event("payment_intent.succeeded", intent_data(online_payment)), secret).json()["outcome"] == "credited 40.00"
    assert deliver(client, event("payment_intent.payment_failed", intent_data(online_payment)), secret).json()["outcome"] == "kept succeeded"
    assert deliver(client, event("payment_intent.canceled", intent_data(online_payment)), secret).json()["outcome"] == "kept succeeded"
    online_payment.refresh_from_db()
    assert (online_payment.state, online_payment.failure_message) == ("succeeded", "")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount": 1}, "amount 0.01 != 123.45"),
        ({"currency": "usd"}, "currency usd != cny"),
        ({"metadata": {"account": "0000000000"}}, "account 0000000000 != "),
    ],
)
def test_an_event_that_does_not_match_our_payment_is_an_anomaly_not_a_credit(client, stripe_on, change, reason):
    _user, account = customer_with_arrears(client, "123.45")
    online_payment = start_payment(client, account)
    answer = deliver(client, event("payment_intent.succeeded", {**intent_data(online_payment), **change}),
                     stripe_on.webhook_secret).json()
    assert answer["outcome"].startswith(f"anomaly: not credited, {reason}")
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_unknown_intent_and_other_types_are_recorded_not_applied(client, stripe_on):
    secret = stripe_on.webhook_secret
    unknown = {"id": "pi_nobody", "amount": 100, "currency": "cny", "metadata": {}}
    assert deliver(client, event("payment_intent.succeeded", unknown), secret).json()["outcome"] == (
        "anomaly: unknown payment intent pi_nobody"
    )
    assert deliver(client, event("customer.created", {"id": "cus_1"}), secret).json()["outcome"] == "ignored"
    assert ProviderEvent.objects.count() == 2
    assert not Payment.objects.exists()


# --- staff refunds ----------------------------------------------------------------------------------------------


def staff(*, may_refund: bool):
    user = get_user_model().objects.create_user("cashier" if may_refund else "viewer", password="pw", is_staff=True)
    codenames = ["view_onlinepayment"] + (["change_onlinepayment"] if may_refund else [])
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="core", codename__in=codenames))
    return user


def credited_through_stripe(client, stripe_client, secret: str, total: str = "123.45"):
    """A payment really made at localstripe, its success event delivered (signed) to our webhook."""
    _user, account = customer_with_arrears(client, total)
    online_payment = start_payment(client, account)
    stripe_client.v1.payment_intents.update(online_payment.provider_reference, params={"payment_method": "pm_card_visa"})
    intent = stripe_client.v1.payment_intents.confirm(online_payment.provider_reference)
    assert intent.status == "succeeded"
    deliver(client, event("payment_intent.succeeded", intent_data(online_payment)), secret)
    online_payment.refresh_from_db()
    assert online_payment.payment is not None
    return account, online_payment


def test_the_refund_action_is_on_the_online_payment_admin():
    from django.contrib import admin

    assert isinstance(admin.site._registry[OnlinePayment], admin_online_payments.OnlinePaymentRefundAdmin)


@pytest.mark.django_db
def test_staff_refund_refunds_at_stripe_and_reverses_the_ledger_once(client, stripe_on, stripe_client):
    account, online_payment = credited_through_stripe(client, stripe_client, stripe_on.webhook_secret)
    client.force_login(staff(may_refund=True))
    changelist = reverse("admin:core_onlinepayment_changelist")
    action = {"action": "online_payments_refund", "_selected_action": [online_payment.pk]}
    response = client.post(changelist, action, follow=True)
    assert [str(message) for message in response.context["messages"]] == [
        f"{online_payment.provider_reference} 已退款并冲正"
    ]
    online_payment.refresh_from_db()
    assert (online_payment.state, online_payment.refunded_amount) == ("refunded", D("123.45"))
    refund = OnlineRefund.objects.get(online_payment=online_payment)
    assert refund.confirmed_at is not None and refund.requested_by.username == "cashier"
    charge = stripe_client.v1.charges.list(params={"limit": 100}).data
    refunded_at_stripe = [c for c in charge if c.payment_intent == online_payment.provider_reference][0]
    assert refunded_at_stripe.amount_refunded == 12345
    assert account_amount_due(account=account, as_of=timezone.localdate()).total_due == D("123.45")
    # Again: refused, nothing more at Stripe or in the ledger; Stripe's charge.refunded then finds it done.
    again = client.post(changelist, action, follow=True)
    assert [str(message) for message in again.context["messages"]] == [
        f"{online_payment.provider_reference}: 只有支付成功且已入账的缴费可以退款"
    ]
    answer = deliver(client, event("charge.refunded", charge_refunded_data(online_payment)), stripe_on.webhook_secret)
    assert answer.json()["outcome"] == "already reversed"
    assert LedgerEntry.objects.filter(account=account, kind=LedgerEntry.Kind.PAYMENT_REVERSAL).count() == 1
    assert len(stripe_client.v1.refunds.list(params={"payment_intent": online_payment.provider_reference}).data) == 1


@pytest.mark.django_db
def test_staff_without_the_permission_cannot_refund(client, stripe_on, stripe_client):
    _account, online_payment = credited_through_stripe(client, stripe_client, stripe_on.webhook_secret)
    client.force_login(staff(may_refund=False))
    changelist = reverse("admin:core_onlinepayment_changelist")
    assert "online_payments_refund" not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "online_payments_refund", "_selected_action": [online_payment.pk]})
    online_payment.refresh_from_db()
    assert online_payment.state == "succeeded"
    assert not OnlineRefund.objects.exists()


# --- reconciliation ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reconciliation_lists_differences_and_keeps_them(client, stripe_on, stripe_client, settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    secret = stripe_on.webhook_secret
    _account, matched = credited_through_stripe(client, stripe_client, secret, "10.00")
    # Paid at Stripe, the webhook never arrived.
    _user, second = customer_with_arrears(client, "20.00")
    lost = start_payment(client, second)
    stripe_client.v1.payment_intents.update(lost.provider_reference, params={"payment_method": "pm_card_visa"})
    stripe_client.v1.payment_intents.confirm(lost.provider_reference)
    # A charge at Stripe we never created an intent for.
    stranger = stripe_client.v1.payment_intents.create(
        params={"amount": 3000, "currency": "cny", "payment_method": "pm_card_visa", "confirm": True}
    )
    call_command("stripe_reconcile", day=timezone.localdate().isoformat())
    output = capsys.readouterr().out
    kept = json.loads((tmp_path / "reconciliation" / f"stripe-{timezone.localdate().isoformat()}.json").read_text())
    differences = {(item["kind"], item["reference"]) for item in kept["differences"]}
    assert ("not_credited", lost.provider_reference) in differences
    assert any(kind == "unknown_charge" for kind, _reference in differences)
    assert all(reference != matched.provider_reference for _kind, reference in differences)
    assert stranger.latest_charge["id"] in {reference for _kind, reference in differences}
    assert f"not_credited\t{lost.provider_reference}\t20.00 created" in output
    assert "差异" in output
