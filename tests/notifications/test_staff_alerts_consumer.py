"""Live staff alerts over a real websocket through the ASGI application (session auth, origin check)."""
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from config.asgi import application
from notifications.models import Message
from notifications.services import notification_request

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _session_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    session_id = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_id}".encode()),
        (b"origin", b"http://127.0.0.1"),
        (b"host", b"127.0.0.1"),
    ]


def _overdue_alert(user):
    # Inside no transaction: the request is sent at once, as after a commit.
    return notification_request(
        recipient_user=user,
        event="ticket_overdue",
        data={"ticket_number": "T9", "step": "勘查"},
        idempotency_key="overdue:T9:勘查",
    )


def test_a_signed_in_staff_member_receives_the_alert_live():
    async_to_sync(_staff_member_receives_the_alert_live)()


async def _staff_member_receives_the_alert_live():
    user = await sync_to_async(get_user_model().objects.create_user)("agent1", is_staff=True)
    headers = await sync_to_async(_session_headers)(user)
    communicator = WebsocketCommunicator(application, "/ws/staff/alerts/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected

    [message] = await sync_to_async(_overdue_alert)(user)

    received = await communicator.receive_json_from(timeout=5)
    assert received == {
        "type": "alert",
        "message_id": message.pk,
        "event": "ticket_overdue",
        "subject": "工单已超时",
        "body": "工单T9的“勘查”环节已超时。",
    }
    assert await sync_to_async(lambda: Message.objects.get().state)() == "sent"
    await communicator.disconnect()


def test_a_customer_and_an_anonymous_visitor_are_refused():
    async_to_sync(_customer_and_anonymous_refused)()


async def _customer_and_anonymous_refused():
    customer = await sync_to_async(get_user_model().objects.create_user)("customer1")
    headers = await sync_to_async(_session_headers)(customer)
    for connect_headers in (headers, [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]):
        communicator = WebsocketCommunicator(application, "/ws/staff/alerts/", headers=connect_headers)
        connected, code = await communicator.connect()
        assert (connected, code) == (False, 4403)
