"""Found by the worker-kill fault test (bench.chaos celery_kill): a worker killed after Twilio took a chunk's SMS but
before it recorded the receipts left them "sending"; when the lease ran out dispatch_due sent every one again. Now
an expired lease first asks the provider: an SMS it took is recorded as sent with its sid, never sent twice; one it
never got is sent again; one it cannot be asked about waits."""
import datetime

import pytest

from notifications import services
from notifications.models import Message
from notifications.services import messages_dispatch_due, notification_request

pytestmark = pytest.mark.django_db

OUTAGE = {"area": "舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00", "reason": "线路检修"}


class WorkerDied(Exception):
    """Stands for SIGKILL: the worker stops where it is, nothing after runs."""


def _die(*args, **kwargs):
    raise WorkerDied


def queue_sms(customer, key):
    [message] = notification_request(recipient_customer=customer, event="outage_restored", data=OUTAGE,
                                     idempotency_key=key, channels=["sms"], urgency="urgent")
    return message


def send_and_die_at(monkeypatch, message, where: str) -> None:
    """The worker claims the message and dies `where`: after the provider took it, or before calling it."""
    with monkeypatch.context() as patch:
        patch.setattr(services, where, _die)
        with pytest.raises(WorkerDied):
            services.messages_send(message_ids=[message.pk])
    message.refresh_from_db()
    assert message.state == "sending"


def lease_runs_out(frozen) -> None:
    frozen.advance(seconds=services.settings.NOTIFICATIONS_SENDING_LEASE_SECONDS + 1)


def test_an_sms_the_provider_took_before_the_worker_died_is_recorded_not_sent_again(
        customer, twilio, frozen, monkeypatch, django_capture_on_commit_callbacks):
    message = queue_sms(customer, "lease:1")
    send_and_die_at(monkeypatch, message, "_receipts_record")
    [taken] = twilio.received

    lease_runs_out(frozen)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due() == 0
    message.refresh_from_db()
    assert (message.state, message.provider, message.provider_sid) == ("sent", "twilio", taken["sid"])
    assert (message.sent_at, message.next_attempt_at) == (frozen(), None)
    assert len(twilio.received) == 1
    assert twilio.lookups == 1


def test_an_sms_the_provider_never_got_is_sent_again_once(customer, twilio, frozen, monkeypatch,
                                                          django_capture_on_commit_callbacks):
    message = queue_sms(customer, "lease:2")
    send_and_die_at(monkeypatch, message, "_transports_call")
    assert twilio.received == []

    lease_runs_out(frozen)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due() == 1
    message.refresh_from_db()
    [sent] = twilio.received
    assert (message.state, message.provider_sid, message.attempts) == ("sent", sent["sid"], 2)


def test_a_provider_that_cannot_be_asked_leaves_the_sms_sending_until_it_can(
        customer, twilio, frozen, monkeypatch, settings, django_capture_on_commit_callbacks):
    message = queue_sms(customer, "lease:3")
    send_and_die_at(monkeypatch, message, "_receipts_record")
    [taken] = twilio.received
    lease_runs_out(frozen)

    provider = settings.TWILIO_API_BASE
    settings.TWILIO_API_BASE = "http://127.0.0.1:9"  # nothing listens: connection refused
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due() == 0
    message.refresh_from_db()
    assert message.state == "sending"

    settings.TWILIO_API_BASE = provider
    frozen.advance(seconds=60)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due() == 0
    message.refresh_from_db()
    assert (message.state, message.provider_sid) == ("sent", taken["sid"])
    assert len(twilio.received) == 1


def test_an_sms_with_the_same_text_already_recorded_is_not_taken_for_the_lost_one(
        customer, twilio, frozen, monkeypatch, django_capture_on_commit_callbacks):
    """Two reminders of the same text to one phone: the first was sent and recorded; the second's worker died before
    calling the provider. The provider's only matching SMS belongs to the first, so the second is sent."""
    with django_capture_on_commit_callbacks(execute=True):
        first = queue_sms(customer, "lease:4a")
    first.refresh_from_db()
    assert first.state == "sent"
    frozen.advance(seconds=1)
    second = queue_sms(customer, "lease:4b")
    send_and_die_at(monkeypatch, second, "_transports_call")

    lease_runs_out(frozen)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due() == 1
    second.refresh_from_db()
    assert [r["Body"] for r in twilio.received] == [first.body, second.body]
    assert (second.state, second.provider_sid) == ("sent", twilio.received[1]["sid"])
    assert Message.objects.filter(provider_sid=first.provider_sid).count() == 1
    assert second.next_attempt_at is None and second.sent_at == frozen() > first.sent_at - datetime.timedelta(1)
