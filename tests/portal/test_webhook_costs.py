"""The Stripe webhook's cost per delivery (issue 6: 200 events/s exactly once) and what its leaner path must keep:
the statements each kind of delivery takes, an event a rule refuses recorded with nothing else kept, a delivery
racing another of the same event, and the signature's age and body checked as Stripe's library does."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal as D

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from core.models import LedgerEntry, OnlinePayment, OnlineRefund, Payment, ProviderEvent
from core.models.online_payments import OnlinePaymentState
from core.services.payments import payment_reverse
from tests.portal.factories import AccountBindingFactory

WEBHOOK = "/payments/stripe/webhook/"
SECRET = "whsec_costs"


@pytest.fixture(autouse=True)
def stripe_settings(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_costs"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_costs"
    settings.STRIPE_WEBHOOK_SECRET = SECRET


def online_payment_awaiting(reference: str = "pi_costs1", amount: str = "88.20") -> OnlinePayment:
    binding = AccountBindingFactory()
    return OnlinePayment.objects.create(provider="stripe", provider_reference=reference, account=binding.account,
                                        user=binding.user, purpose="arrears", amount=D(amount), currency="cny",
                                        created_at=timezone.now())


def event_body(kind: str, data: dict, event_id: str) -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": kind, "created": int(time.time()),
                       "data": {"object": data}}).encode()


def succeeded(online_payment: OnlinePayment, event_id: str) -> bytes:
    return event_body("payment_intent.succeeded", {
        "id": online_payment.provider_reference, "object": "payment_intent",
        "amount": int(online_payment.amount * 100), "currency": "cny",
        "metadata": {"account": online_payment.account.number}}, event_id)


def refunded(online_payment: OnlinePayment, event_id: str) -> bytes:
    amount = int(online_payment.amount * 100)
    return event_body("charge.refunded", {
        "id": "ch_costs1", "object": "charge", "payment_intent": online_payment.provider_reference,
        "amount": amount, "amount_refunded": amount, "currency": "cny",
        "refunds": {"data": [{"id": "re_costs1", "amount": amount, "status": "succeeded",
                              "created": int(time.time())}]}}, event_id)


def signature(body: bytes, *, stamp: int | None = None, secret: str = SECRET) -> str:
    stamp = int(time.time()) if stamp is None else stamp
    return f"t={stamp},v1={hmac.new(secret.encode(), f'{stamp}.'.encode() + body, hashlib.sha256).hexdigest()}"


def deliver(client, body: bytes, header: str | None = None):
    return client.post(WEBHOOK, data=body, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=signature(body) if header is None else header)


@pytest.mark.django_db
def test_each_kind_of_delivery_takes_its_few_statements(client, django_assert_num_queries):
    online_payment = online_payment_awaiting()
    first = succeeded(online_payment, "evt_costs_a")
    # In production the outer savepoint and its release are BEGIN and COMMIT.
    with django_assert_num_queries(23):
        answer = deliver(client, first).json()
    assert answer == {"event": "evt_costs_a", "duplicate": False, "outcome": "credited 88.20"}
    # The same event again (Stripe's retry): one read.
    with django_assert_num_queries(1):
        assert deliver(client, first).json() == {"event": "evt_costs_a", "duplicate": True, "outcome": "duplicate"}
    # Another event about the settled intent: the check, the locked read and the record, in one transaction.
    with django_assert_num_queries(5):
        answer = deliver(client, succeeded(online_payment, "evt_costs_b")).json()
    assert answer == {"event": "evt_costs_b", "duplicate": False, "outcome": "already credited"}
    # An event for no payment of ours: recorded, nothing locked.
    with django_assert_num_queries(5):
        answer = deliver(client, event_body("payment_intent.succeeded", {"id": "pi_nobody"}, "evt_costs_c")).json()
    assert answer["outcome"] == "anomaly: unknown payment intent pi_nobody"
    online_payment.refresh_from_db()
    assert online_payment.state == OnlinePaymentState.SUCCEEDED
    assert Payment.objects.filter(account=online_payment.account).count() == 1
    assert LedgerEntry.objects.filter(account=online_payment.account, kind=LedgerEntry.Kind.PAYMENT).count() == 1
    assert sorted(ProviderEvent.objects.values_list("event_id", "outcome")) == [
        ("evt_costs_a", "credited 88.20"), ("evt_costs_b", "already credited"),
        ("evt_costs_c", "anomaly: unknown payment intent pi_nobody"),
    ]
    recorded = ProviderEvent.objects.get(event_id="evt_costs_a")
    assert recorded.processed_at is not None and recorded.object_reference == "pi_costs1"
    assert recorded.type == "payment_intent.succeeded"


@pytest.mark.django_db
def test_an_event_a_rule_refuses_is_recorded_and_everything_it_did_undone(client, admin_user):
    online_payment = online_payment_awaiting()
    assert deliver(client, succeeded(online_payment, "evt_costs_a")).json()["outcome"] == "credited 88.20"
    online_payment.refresh_from_db()
    # Reversed at a counter meanwhile: Stripe's refund then reaches a payment the ledger already took back.
    payment_reverse(payment=online_payment.payment, user=admin_user, reason="柜台冲正")
    entries = list(LedgerEntry.objects.filter(account=online_payment.account).values_list("pk", flat=True))
    body = refunded(online_payment, "evt_costs_r")
    answer = deliver(client, body).json()
    assert answer["duplicate"] is False
    assert answer["outcome"].startswith("anomaly: ")
    assert ProviderEvent.objects.get(event_id="evt_costs_r").outcome == answer["outcome"]
    # The refund row the event would have written went with the refused transaction; the ledger is as it was.
    assert not OnlineRefund.objects.exists()
    assert list(LedgerEntry.objects.filter(account=online_payment.account).values_list("pk", flat=True)) == entries
    online_payment.refresh_from_db()
    assert online_payment.state == OnlinePaymentState.SUCCEEDED
    assert deliver(client, body).json() == {"event": "evt_costs_r", "duplicate": True, "outcome": "duplicate"}


@pytest.mark.django_db
def test_a_delivery_that_lost_the_race_changes_nothing_and_answers_duplicate(client, monkeypatch):
    """Both deliveries read "not recorded"; the other one committed first: ours waits on the payment's lock, finds
    it credited, and its record is refused by the unique row; the answer is 200 duplicate and nothing is posted
    twice."""
    online_payment = online_payment_awaiting()
    body = succeeded(online_payment, "evt_costs_a")
    assert deliver(client, body).json()["duplicate"] is False
    real_exists = QuerySet.exists
    reads = []

    def exists_missing_the_first_read(queryset):
        reads.append(queryset.model)
        if queryset.model is ProviderEvent and len(reads) == 1:
            return False
        return real_exists(queryset)

    monkeypatch.setattr(QuerySet, "exists", exists_missing_the_first_read)
    response = deliver(client, body)
    assert response.status_code == 200
    assert response.json() == {"event": "evt_costs_a", "duplicate": True, "outcome": "duplicate"}
    assert reads == [ProviderEvent, ProviderEvent]
    assert ProviderEvent.objects.get(event_id="evt_costs_a").outcome == "credited 88.20"
    assert Payment.objects.filter(account=online_payment.account).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["stale", "tampered", "other secret", "not utf-8", "no signature"])
def test_bad_signatures_are_refused_and_nothing_recorded(client, case):
    online_payment = online_payment_awaiting()
    body = succeeded(online_payment, "evt_costs_a")
    header = {
        "stale": signature(body, stamp=int(time.time()) - 301),
        "tampered": signature(body),
        "other secret": signature(body, secret="whsec_other"),
        "not utf-8": signature(b"\xff\xfe" + body),
        "no signature": "",
    }[case]
    sent = {"tampered": body.replace(b"8820", b"9820"), "not utf-8": b"\xff\xfe" + body}.get(case, body)
    response = deliver(client, sent, header)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid signature"}
    assert not ProviderEvent.objects.exists()
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_a_signature_within_stripes_tolerance_is_accepted(client):
    online_payment = online_payment_awaiting()
    body = succeeded(online_payment, "evt_costs_a")
    response = deliver(client, body, signature(body, stamp=int(time.time()) - 250))
    assert response.status_code == 200
    assert response.json()["outcome"] == "credited 88.20"
