"""Notification preferences per topic: a channel is used for an event when the channel's own switch and its
switch for the event's topic are both on; codes and outage notices by SMS and inbox go whatever the switches."""
import pytest
from django.core import mail

from notifications.errors import NotificationError
from notifications.models import EVENT_TOPICS, Event, Message, NotificationPreference, NotificationTopic
from notifications.selectors import preference_switches_for, preferences_for
from notifications.services import fan_out_batch_create, notification_request, preference_set, preferences_set
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

BILL = {"account_number": "4200000011", "period": "2026年10月", "amount": "123.45", "due_date": "2026-11-30"}
PAYMENT = {"account_number": "4200000011", "amount": "50.00"}
OUTAGE = {"area": "舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00", "reason": "线路检修"}
SURVEY = {"title": "供电服务满意度调查", "url": "https://95598.example.cn/s/1"}
TOPICS = ["bills", "payments", "tickets", "outages", "surveys"]


def channels(customer, event, data, key) -> list[str]:
    messages = notification_request(recipient_customer=customer, event=event, data=data, idempotency_key=key)
    return [m.channel for m in messages]


def every_topic_off(customer) -> None:
    preferences_set(
        customer=customer,
        switches={(kind, topic): False for kind in ("sms", "email", "inbox") for topic in TOPICS},
    )


# --- the topics --------------------------------------------------------------------------------------------------


def test_every_event_has_a_topic_entry_and_only_codes_staff_alerts_and_caller_requests_have_none():
    assert set(EVENT_TOPICS) == set(Event.values)
    assert set(EVENT_TOPICS.values()) == {"", *NotificationTopic.values}
    assert sorted(event for event, topic in EVENT_TOPICS.items() if not topic) == [
        "agent_message", "binding_code", "login_code", "payment_link", "ticket_arrival", "ticket_overdue",
        "ticket_warning",
    ]
    assert [EVENT_TOPICS[e] for e in ("bill_issued", "arrears_reminder_after", "tier_threshold_near",
                                      "prepaid_balance_low", "payment_received", "ticket_step_progress",
                                      "outage_cancelled", "survey_invitation")] == [
        "bills", "bills", "bills", "bills", "payments", "tickets", "outages", "surveys",
    ]


def test_switches_default_to_every_topic_on_and_paper_bills(customer):
    switches = preference_switches_for(customer_id=customer.pk)

    assert switches == {
        ("sms", ""): True, ("email", ""): True, ("inbox", ""): True, ("paperless_bills", ""): False,
        **{(kind, topic): True for kind in ("sms", "email", "inbox") for topic in TOPICS},
    }


def test_a_topic_switch_is_stored_beside_the_channel_switch(customer):
    preference_set(customer=customer, kind="sms", enabled=False, topic="surveys")
    preference_set(customer=customer, kind="sms", enabled=True, topic="surveys")
    preference_set(customer=customer, kind="email", enabled=False, topic="bills")

    rows = set(NotificationPreference.objects.values_list("kind", "topic", "enabled"))
    assert rows == {("sms", "surveys", True), ("email", "bills", False)}
    switches = preference_switches_for(customer_id=customer.pk)
    assert (switches[("email", "bills")], switches[("email", "")], switches[("email", "payments")]) == (
        False, True, True,
    )
    # The whole-kind view of older callers is untouched by topic rows.
    assert preferences_for(customer_id=customer.pk) == {
        "sms": True, "email": True, "inbox": True, "paperless_bills": False,
    }


def test_an_unknown_topic_is_refused_and_nothing_stored(customer):
    with pytest.raises(NotificationError) as caught:
        preference_set(customer=customer, kind="sms", enabled=False, topic="lottery")

    assert str(caught.value) == "未知的消息类别"
    assert caught.value.field == "topic"
    assert not NotificationPreference.objects.exists()


def test_paperless_bills_has_no_topics(customer):
    with pytest.raises(NotificationError) as caught:
        preference_set(customer=customer, kind="paperless_bills", enabled=True, topic="bills")

    assert str(caught.value) == "“电子账单（不寄纸质账单）”不能按消息类别设置"
    assert not NotificationPreference.objects.exists()


def test_preferences_set_writes_all_or_nothing(customer):
    preference_set(customer=customer, kind="sms", enabled=False)

    written = preferences_set(customer=customer, switches={
        ("sms", ""): True, ("sms", "bills"): False, ("paperless_bills", ""): True,
    })

    assert written == 3
    assert set(NotificationPreference.objects.values_list("kind", "topic", "enabled")) == {
        ("sms", "", True), ("sms", "bills", False), ("paperless_bills", "", True),
    }
    with pytest.raises(NotificationError) as caught:
        preferences_set(customer=customer, switches={("sms", "bills"): True, ("fax", ""): True})
    assert str(caught.value) == "未知的通知偏好类型"
    assert NotificationPreference.objects.get(kind="sms", topic="bills").enabled is False


# --- choosing channels -------------------------------------------------------------------------------------------


def test_a_topic_switched_off_stops_that_channel_for_that_topic_only(customer, frozen):
    preference_set(customer=customer, kind="sms", enabled=False, topic="bills")

    assert channels(customer, "bill_issued", BILL, "bill:1") == ["inbox"]
    assert channels(customer, "payment_received", PAYMENT, "pay:1") == ["sms", "inbox"]


def test_the_channel_switch_off_wins_over_its_topic_switch_on(customer, frozen):
    preferences_set(customer=customer, switches={("inbox", ""): False, ("inbox", "payments"): True})

    assert channels(customer, "payment_received", PAYMENT, "pay:2") == ["sms"]


def test_outage_notices_still_go_by_sms_and_inbox_but_their_email_follows_the_switch(customer, frozen):
    every_topic_off(customer)

    assert channels(customer, "outage_planned", OUTAGE, "out:1") == ["sms", "inbox"]
    assert channels(customer, "survey_invitation", SURVEY, "sv:1") == []
    assert channels(customer, "bill_issued", BILL, "bill:2") == []


def test_codes_have_no_topic_and_go_whatever_the_topic_switches(customer, frozen):
    every_topic_off(customer)

    messages = notification_request(
        recipient_customer=customer, event="binding_code",
        data={"account_number": "4200000011", "code": "482913", "minutes": 10}, idempotency_key="bind:1",
    )

    assert [m.channel for m in messages] == ["sms"]


def test_the_paperless_bill_email_needs_the_email_bills_switch_too(
    customer, frozen, django_capture_on_commit_callbacks
):
    preferences_set(customer=customer, switches={("paperless_bills", ""): True, ("email", "bills"): False})
    assert channels(customer, "bill_issued", BILL, "bill:3") == ["sms", "inbox"]

    preference_set(customer=customer, kind="email", enabled=True, topic="bills")
    with django_capture_on_commit_callbacks(execute=True):
        assert channels(customer, "bill_issued", BILL, "bill:4") == ["sms", "email", "inbox"]
    assert [m.to for m in mail.outbox] == [["zhangsan@example.cn"]]


def test_the_fan_out_honours_each_customers_topic_switches(customer, frozen):
    neighbour = CustomerFactory(phone="13900139000", email="lisi@example.cn")
    preference_set(customer=customer, kind="email", enabled=False, topic="outages")
    queued: list[int] = []

    fan_out_batch_create(
        customer_ids=[customer.pk, neighbour.pk], event="outage_planned", data=OUTAGE, idempotency_prefix="fo:1",
        urgency="normal", queue=queued.extend,
    )

    sent = sorted(Message.objects.values_list("recipient_customer_id", "channel"))
    assert sent == sorted([
        (customer.pk, "sms"), (customer.pk, "inbox"),
        (neighbour.pk, "sms"), (neighbour.pk, "email"), (neighbour.pk, "inbox"),
    ])
    assert len(queued) == 5
