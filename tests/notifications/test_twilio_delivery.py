"""SMS through the official Twilio client against the fake Twilio server: fields, auth, retries, dead letters."""
import pytest
from celery.exceptions import Retry

from notifications import services, tasks
from notifications.models import Message
from notifications.services import message_send, messages_dispatch_due, notification_request

from .conftest import local

pytestmark = pytest.mark.django_db

OUTAGE = {"area": "舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00", "reason": "线路检修"}
SMS_500 = "Twilio 500 20500 Unable to create record: Internal Server Error"


def queue_sms(customer, key="out:1"):
    [message] = notification_request(
        recipient_customer=customer, event="outage_restored", data=OUTAGE, idempotency_key=key, channels=["sms"]
    )
    return message


def test_twilio_receives_the_expected_request(customer, twilio, frozen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(customer)

    [received] = twilio.received
    assert twilio.rejected == []
    assert received["To"] == "+8613800138000"
    assert received["From"] == "+8610955980000"
    assert received["Body"] == "【国网95598】舞阳坝街道已恢复送电，感谢您的理解。"
    assert received["StatusCallback"] == "https://95598.example.cn/notifications/twilio/status/"
    message.refresh_from_db()
    assert (message.state, message.provider, message.provider_sid) == ("sent", "twilio", received["sid"])
    assert (message.attempts, message.sent_at, message.delivered_at) == (1, local(2026, 11, 23, 10), None)


def test_server_errors_are_retried_with_exponential_backoff(customer, twilio, frozen,
                                                            django_capture_on_commit_callbacks):
    twilio.fail_next("500", 2)
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(customer)

    message.refresh_from_db()
    assert (message.state, message.attempts, message.last_error) == ("pending", 1, SMS_500)
    assert message.next_attempt_at == local(2026, 11, 23, 10, 0, 30)

    frozen.advance(seconds=30)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due() == 1
    message.refresh_from_db()
    assert (message.state, message.attempts) == ("pending", 2)
    assert message.next_attempt_at == local(2026, 11, 23, 10, 1, 30)

    frozen.advance(seconds=60)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due() == 1
    message.refresh_from_db()
    assert (message.state, message.attempts, message.last_error) == ("sent", 3, "")
    assert len(twilio.received) == 1


def test_timeouts_are_transport_errors(customer, twilio, frozen):
    twilio.fail_next("timeout")
    message = queue_sms(customer)

    outcome = message_send(message_id=message.pk)

    message.refresh_from_db()
    assert (outcome.state, outcome.retry_in) == ("pending", 30)
    assert message.last_error.startswith("ReadTimeout: ")


def test_connection_refused_is_a_transport_error(customer, twilio, frozen, settings):
    settings.TWILIO_API_BASE = "http://127.0.0.1:9"
    message = queue_sms(customer)

    outcome = message_send(message_id=message.pk)

    message.refresh_from_db()
    assert (outcome.state, outcome.retry_in) == ("pending", 30)
    assert message.last_error.startswith("ConnectionError: ")


def test_client_errors_fail_without_retry(customer, twilio, frozen):
    twilio.fail_next("400")
    message = queue_sms(customer)

    outcome = message_send(message_id=message.pk)

    message.refresh_from_db()
    assert (outcome.state, outcome.retry_in) == ("failed", None)
    assert (message.attempts, message.next_attempt_at) == (1, None)
    assert message.last_error == "Twilio 400 21211 Unable to create record: Invalid 'To' Phone Number"


def test_dead_letter_after_the_last_retry(customer, twilio, frozen):
    twilio.fail_next("500", 10)
    message = queue_sms(customer)

    backoffs = []
    for _attempt in range(6):
        outcome = message_send(message_id=message.pk)
        backoffs.append(outcome.retry_in)
        frozen.advance(seconds=outcome.retry_in or 0)

    message.refresh_from_db()
    assert backoffs == [30, 60, 120, 240, 480, None]
    assert (message.state, message.attempts, message.last_error) == ("dead", 6, SMS_500)
    assert message_send(message_id=message.pk).state == "dead"
    assert twilio.received == []


def test_task_asks_celery_to_retry_with_the_backoff(customer, twilio, frozen, monkeypatch):
    twilio.fail_next("500")
    message = queue_sms(customer)
    countdowns = []

    def fake_retry(*, countdown):
        countdowns.append(countdown)
        return Retry("retry", when=countdown)

    monkeypatch.setattr(tasks.message_send_task, "retry", fake_retry)
    tasks.message_send_task.push_request(is_eager=False, retries=0)
    try:
        with pytest.raises(Retry):
            tasks.message_send_task.run(message_id=message.pk)
    finally:
        tasks.message_send_task.pop_request()

    assert countdowns == [30]


def test_nothing_is_lost_while_the_broker_is_down(customer, twilio, frozen, monkeypatch,
                                                  django_capture_on_commit_callbacks):
    from kombu.exceptions import OperationalError

    def broker_down(**kwargs):
        raise OperationalError("connection refused")

    # Only the broker is restored afterwards: undoing every patch would also unfreeze the clock (and put an
    # evening run of this test into quiet hours).
    with monkeypatch.context() as patch:
        patch.setattr(tasks.message_send_task, "delay", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            message = queue_sms(customer)
    message.refresh_from_db()
    assert (message.state, message.next_attempt_at) == ("pending", local(2026, 11, 23, 10, 5))

    frozen.advance(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due() == 1

    message.refresh_from_db()
    assert message.state == "sent"
    assert len(twilio.received) == 1


def test_a_send_interrupted_mid_flight_is_recovered_after_its_lease(customer, twilio, frozen,
                                                                    django_capture_on_commit_callbacks):
    message = queue_sms(customer)
    Message.objects.filter(pk=message.pk).update(
        state="sending", attempts=1, next_attempt_at=local(2026, 11, 23, 10, 5)
    )

    frozen.at = local(2026, 11, 23, 10, 4)
    assert messages_dispatch_due() == 0
    frozen.at = local(2026, 11, 23, 10, 5)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due() == 1

    message.refresh_from_db()
    assert (message.state, message.attempts) == ("sent", 2)


def test_a_message_already_claimed_is_not_sent_twice(customer, twilio, frozen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue_sms(customer)

    assert message_send(message_id=message.pk) == services.SendOutcome("sent")
    assert len(twilio.received) == 1


def _customers(count):
    from tests.factories import CustomerFactory

    return [CustomerFactory(phone=f"139{n:08d}") for n in range(count)]


def test_a_chunk_is_sent_several_at_once_and_recorded_with_one_receipt_each(twilio, frozen, settings):
    settings.NOTIFICATIONS_SEND_CONCURRENCY = 3
    messages = [queue_sms(c, key=f"chunk:{n}") for n, c in enumerate(_customers(5))]

    outcomes = services.messages_send(message_ids=[m.pk for m in messages])

    assert {o.state for o in outcomes.values()} == {"sent"}
    assert sorted(r["To"] for r in twilio.received) == [f"+86139{n:08d}" for n in range(5)]
    rows = Message.objects.filter(pk__in=[m.pk for m in messages]).order_by("pk")
    assert [(m.state, m.attempts, m.provider) for m in rows] == [("sent", 1, "twilio")] * 5
    assert {m.provider_sid for m in rows} == {r["sid"] for r in twilio.received}


def test_an_outage_of_the_provider_costs_one_attempt_per_chunk_not_one_per_message(twilio, frozen, settings):
    settings.NOTIFICATIONS_SEND_CONCURRENCY = 1
    messages = [queue_sms(c, key=f"down:{n}") for n, c in enumerate(_customers(4))]
    twilio.fail_next("500", 10)

    outcomes = services.messages_send(message_ids=[m.pk for m in messages])

    assert {(o.state, o.retry_in) for o in outcomes.values()} == {("pending", 30)}
    rows = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert {(m.state, m.attempts, m.last_error) for m in rows} == {("pending", 1, SMS_500)}
    # Only the first message reached the failing provider; the rest waited for the retry.
    assert twilio.received == []
    assert twilio.failures_served == 1


def test_two_messages_to_one_phone_in_a_chunk_share_the_hourly_limit(customer, twilio, frozen, settings):
    settings.NOTIFICATIONS_SMS_PER_PHONE_PER_HOUR = 1
    first, second = queue_sms(customer, key="same:1"), queue_sms(customer, key="same:2")

    outcomes = services.messages_send(message_ids=[first.pk, second.pk])

    assert outcomes[first.pk].state == "sent"
    second.refresh_from_db()
    assert (second.state, second.last_error) == ("pending", "per-phone hourly SMS limit")
    assert second.next_attempt_at == local(2026, 11, 23, 11)
    assert len(twilio.received) == 1
