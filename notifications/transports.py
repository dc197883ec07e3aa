"""Channel transports: each takes plain values, sends, and reports a receipt or a typed transport error.

Twilio is used when TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER are set; otherwise the
database backend records the SMS (the body stays on the Message row and is logged) so demos and tests can
read login codes from it.
"""
from __future__ import annotations

import datetime
import html
import logging
import threading
import uuid
from dataclasses import dataclass

import requests
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.html import strip_tags
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

logger = logging.getLogger(__name__)


class TransportError(Exception):
    """The transport may work later (5xx, 429, timeout, connection refused): retry with backoff."""


class TransportRejected(Exception):
    """The provider refused this message for good (4xx): retrying would fail the same way."""


@dataclass(frozen=True)
class Receipt:
    provider: str
    sid: str
    delivered: bool  # the channel confirms delivery itself (inbox, database SMS), no callback will come


def twilio_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER)


_clients = threading.local()


def twilio_client() -> Client:
    """A Twilio client with a bounded timeout, aimed at TWILIO_API_BASE when a test double stands in.

    One per thread and configuration, so its HTTP session keeps connections open between messages.
    """
    key = (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_API_BASE,
           settings.NOTIFICATIONS_TWILIO_TIMEOUT_SECONDS)
    cached = getattr(_clients, "cached", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    client = Client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        http_client=TwilioHttpClient(timeout=settings.NOTIFICATIONS_TWILIO_TIMEOUT_SECONDS),
    )
    if settings.TWILIO_API_BASE:
        client.api.base_url = settings.TWILIO_API_BASE.rstrip("/")
    _clients.cached = (key, client)
    return client


def phone_e164(phone: str) -> str:
    """Mainland numbers are stored nationally (13800138000); Twilio wants E.164 (+8613800138000)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.strip().startswith("+"):
        return "+" + digits
    return f"+{settings.NOTIFICATIONS_SMS_COUNTRY_CODE}{digits}"


def phone_national(phone: str) -> str:
    """The stored (national) form of a phone number Twilio reports in E.164."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    code = settings.NOTIFICATIONS_SMS_COUNTRY_CODE
    if phone.strip().startswith("+") and digits.startswith(code):
        return digits[len(code):]
    return digits


def sms_send(*, to: str, body: str, status_callback: str) -> Receipt:
    if not twilio_configured():
        sid = "DB" + uuid.uuid4().hex
        logger.info("SMS (database backend, not sent) to=%s sid=%s body=%s", to, sid, body)
        return Receipt(provider="database", sid=sid, delivered=True)
    try:
        created = twilio_client().messages.create(
            to=phone_e164(to),
            from_=settings.TWILIO_FROM_NUMBER,
            body=body,
            status_callback=status_callback or None,
        )
    except TwilioRestException as exc:
        detail = f"Twilio {exc.status} {exc.code or ''} {exc.msg}".strip()
        if exc.status >= 500 or exc.status == 429:
            raise TransportError(detail) from exc
        raise TransportRejected(detail) from exc
    except requests.RequestException as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
    return Receipt(provider="twilio", sid=created.sid, delivered=False)


def sms_sent_find(*, to: str, body: str, since: datetime.datetime) -> list[str]:
    """The sids of the SMS the provider took for this number with this text since `since`: how a send whose receipt
    was never recorded (its worker died after the provider took it) is recognised. Empty without Twilio (the
    database backend takes nothing from outside); TransportError when the provider cannot say now."""
    if not twilio_configured():
        return []
    try:
        found = twilio_client().messages.list(
            to=phone_e164(to), from_=settings.TWILIO_FROM_NUMBER, date_sent_after=since, limit=100,
        )
    except TwilioRestException as exc:
        raise TransportError(f"Twilio {exc.status} {exc.code or ''} {exc.msg}".strip()) from exc
    except requests.RequestException as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
    return [m.sid for m in found if m.body == body and (m.date_created is None or m.date_created >= since)]


def email_send(*, to: str, subject: str, html_body: str) -> Receipt:
    mail = EmailMultiAlternatives(subject=subject, body=html.unescape(strip_tags(html_body)), to=[to])
    mail.attach_alternative(html_body, "text/html")
    try:
        mail.send()
    except OSError as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
    return Receipt(provider="email", sid="", delivered=False)


def staff_group_name(user_id: int) -> str:
    return f"staff.{user_id}"


def staff_alert_send(*, user_id: int, message_id: int, event: str, subject: str, body: str) -> Receipt:
    """Push a live alert to every open staff console of this user (the group staff.<user_id>)."""
    layer = get_channel_layer()
    try:
        async_to_sync(layer.group_send)(
            staff_group_name(user_id),
            {"type": "notifications.alert", "message_id": message_id, "event": event, "subject": subject,
             "body": body},
        )
    except OSError as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
    return Receipt(provider="channels", sid="", delivered=False)
