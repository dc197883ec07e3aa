"""Many customers' notifications requested at once (customer_notices_request), each with its own data and key: the
same channels notification_request would choose, written in one INSERT, sent in chunks, nothing twice; and the
customer-alert receiver built on it, which loses no alert to a neighbour's bad one."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.customer_alerts import customer_alerts_notify
from notifications.errors import NotificationError
from notifications.models import Channel, InboxMessage, Message, SmsOptOut
from notifications.services import (
    CustomerNotice,
    _receipts_record,
    customer_notices_request,
    fan_out_batch_create,
    notification_request,
    preference_set,
)
from notifications.transports import Receipt
from portal.models import UserPhone
from tests.factories import AccountFactory, CustomerFactory
from tests.portal.factories import AccountBindingFactory

pytestmark = pytest.mark.django_db


OUTAGE = {"area": "舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00", "reason": "线路检修"}


def low_balance(number: str, balance: str = "6.52") -> dict:
    return {"account_number": number, "balance": balance, "threshold": "10.00", "days_left": 5}


def sent() -> list[tuple]:
    return sorted(Message.objects.values_list("recipient_customer_id", "channel", "to", "state", "account_id"))


def test_a_batch_chooses_each_customers_channels_as_one_request_would(customer, frozen):
    """The holder's default channels less their switches; a number asked for gets SMS only, unless it replied STOP;
    an inbox-only notice stays in the inbox; each message names its account. (SMS leave through the database
    backend here, which reports them delivered.)"""
    account = AccountFactory(customer=customer)
    inbox_off = CustomerFactory(phone="13900000002")
    preference_set(customer=inbox_off, kind="inbox", enabled=False)
    binder_customer = CustomerFactory(phone="13900000003")
    stopped = CustomerFactory(phone="13900000004")
    SmsOptOut.objects.create(phone="13700000004", keyword="TD")
    no_phone = CustomerFactory(phone="")

    queued = customer_notices_request(notices=[
        CustomerNotice(customer=customer, event="prepaid_balance_low", data=low_balance("1"), idempotency_key="k1",
                       account_id=account.pk),
        CustomerNotice(customer=inbox_off, event="prepaid_balance_low", data=low_balance("2"), idempotency_key="k2"),
        CustomerNotice(customer=binder_customer, event="prepaid_balance_low", data=low_balance("3"),
                       idempotency_key="k3", to_phone="13700000003"),
        CustomerNotice(customer=stopped, event="prepaid_balance_low", data=low_balance("4"), idempotency_key="k4",
                       to_phone="13700000004"),
        CustomerNotice(customer=no_phone, event="prepaid_balance_low", data=low_balance("5"), idempotency_key="k5",
                       channels=(Channel.INBOX,)),
    ])

    assert queued == 5
    assert sent() == sorted([
        (customer.pk, "sms", "13800138000", "delivered", account.pk),
        (customer.pk, "inbox", str(customer.pk), "delivered", account.pk),
        (inbox_off.pk, "sms", "13900000002", "delivered", None),
        (binder_customer.pk, "sms", "13700000003", "delivered", None),
        (no_phone.pk, "inbox", str(no_phone.pk), "delivered", None),
    ])
    # Each notice its own text.
    assert Message.objects.get(idempotency_key="k3").body.startswith("【国网95598】户号3预付费余额6.52元")
    assert InboxMessage.objects.get(customer=customer).account_id == account.pk


def test_a_batch_matches_one_request_per_customer(customer, frozen):
    """The bulk path and notification_request give the same messages (channel, addressee, texts)."""
    data = low_balance("4200000011")
    one_by_one = notification_request(recipient_customer=customer, event="prepaid_balance_low", data=data,
                                      idempotency_key="single")
    customer_notices_request(notices=[CustomerNotice(customer=customer, event="prepaid_balance_low", data=data,
                                                     idempotency_key="bulk")])
    def fields(key):
        return sorted(Message.objects.filter(idempotency_key=key).values_list(
            "channel", "to", "language", "subject", "body", "sms_segments", "urgency"))
    assert [m.channel for m in one_by_one] and fields("bulk") == fields("single")


def test_a_batch_run_again_sends_nothing_twice(customer, frozen):
    notices = [CustomerNotice(customer=customer, event="prepaid_balance_low", data=low_balance("1"),
                              idempotency_key="again")]
    assert customer_notices_request(notices=notices) == 2
    assert customer_notices_request(notices=notices) == 0
    assert Message.objects.count() == 2 and InboxMessage.objects.count() == 1


def test_an_invalid_notice_refuses_the_batch_before_anything_is_written(customer, frozen):
    with pytest.raises(NotificationError):
        customer_notices_request(notices=[
            CustomerNotice(customer=customer, event="prepaid_balance_low", data=low_balance("1"), idempotency_key="ok"),
            CustomerNotice(customer=customer, event="prepaid_balance_low", data=low_balance("2"), idempotency_key=""),
        ])
    with pytest.raises(NotificationError):
        customer_notices_request(notices=[CustomerNotice(customer=customer, event="prepaid_balance_low",
                                                         data=low_balance("1"), idempotency_key="staff",
                                                         channels=(Channel.STAFF,))])
    assert not Message.objects.exists()


def test_a_batch_costs_the_same_queries_however_many_customers(frozen):
    """Requested and sent (tests run Celery eager): a handful of queries per batch, not per customer."""
    def queries_for(count: int, prefix: str) -> int:
        notices = [
            CustomerNotice(customer=CustomerFactory(phone=f"139{prefix}{n:05d}"), event="prepaid_balance_low",
                           data=low_balance(str(n)), idempotency_key=f"{prefix}:{n}")
            for n in range(count)
        ]
        with CaptureQueriesContext(connection) as queries:
            assert customer_notices_request(notices=notices) == 2 * count
        return len(queries.captured_queries)

    assert queries_for(3, "111") == queries_for(30, "222")
    assert Message.objects.filter(state__in=["sent", "delivered"]).count() == 66


def test_receipts_leave_alone_a_message_a_lease_recovery_took_back(customer, frozen):
    """Recorded in one UPDATE, and only on rows still SENDING."""
    first, second = (
        Message.objects.create(channel="sms", event="prepaid_balance_low", recipient_customer=customer, to=phone,
                               body="x", idempotency_key=f"lease:{phone}", state=Message.State.SENDING)
        for phone in ("13800138000", "13800138001")
    )
    Message.objects.filter(pk=second.pk).update(state=Message.State.PENDING)
    with CaptureQueriesContext(connection) as queries:
        outcomes = _receipts_record([(first, Receipt(provider="twilio", sid="SM1", delivered=False)),
                                     (second, Receipt(provider="twilio", sid="SM2", delivered=False))])
    assert len(queries.captured_queries) <= 3  # the UPDATE, in a savepoint
    assert {pk: outcome.state for pk, outcome in outcomes.items()} == {first.pk: "sent", second.pk: "sent"}
    assert Message.objects.filter(pk=first.pk).values_list("state", "provider_sid").get() == ("sent", "SM1")
    assert Message.objects.filter(pk=second.pk).values_list("state", "provider_sid").get() == ("pending", "")


def test_one_bad_alert_does_not_cost_its_neighbours_theirs(frozen):
    binding = AccountBindingFactory()
    UserPhone.objects.create(user=binding.user, phone="13900000001", verified_at=timezone.now())
    holder_account = AccountFactory(customer=CustomerFactory(phone="13900000009"))
    good = {"binding_id": binding.pk, "account_id": None, "kind": "prepaid_balance_low",
            "data": low_balance(binding.account.number), "idempotency_key": "prepaid-low:good"}
    holder = {"binding_id": None, "account_id": holder_account.pk, "kind": "prepaid_balance_low",
              "data": low_balance(holder_account.number), "idempotency_key": "prepaid-low:account:good"}
    too_long = {**good, "idempotency_key": "x" * 200}
    unknown = {**good, "kind": "meteor_shower", "idempotency_key": "prepaid-low:unknown"}

    assert customer_alerts_notify(alerts=[good, too_long, unknown, holder]) == 3

    assert sorted(Message.objects.values_list("idempotency_key", "channel", "to")) == [
        ("prepaid-low:account:good", "inbox", str(holder_account.customer_id)),
        ("prepaid-low:account:good", "sms", "13900000009"),
        ("prepaid-low:good", "sms", "13900000001"),
    ]


def test_a_fan_out_prefix_of_the_longest_allowed_still_makes_its_keys(customer, frozen):
    """A fan-out prefix may take 108 of the key's 120 characters; ":<customer id>" fills the rest, not refused."""
    prefix = "o" * 108
    fan_out_batch_create(customer_ids=[customer.pk], event="outage_planned", data=OUTAGE, idempotency_prefix=prefix,
                         urgency="normal", queue=lambda ids: None)
    assert set(Message.objects.values_list("idempotency_key", flat=True)) == {f"{prefix}:{customer.pk}"}
    with pytest.raises(NotificationError, match="120"):
        customer_notices_request(notices=[CustomerNotice(customer=customer, event="outage_planned", data=OUTAGE,
                                                         idempotency_key="k" * 121)])
