"""Notification writes: request (the one entry point every other app uses), send, resend, beat dispatch,
delivery receipts, STOP/START, preferences and the bulk outage fan-out.

A request renders the templates and stores one Message per channel under (idempotency_key, channel); the
send itself happens in a Celery task queued after commit. The Message row is the source of truth, so a lost
task (broker down, worker killed) is re-queued by the beat task messages_dispatch_due.
"""
from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from kombu.exceptions import OperationalError

from core.models import Account, Customer

from . import clock, transports
from .errors import MessageNotResendable, NotificationConflict, NotificationError, TemplateMissing
from .models import (
    CHANNEL_KINDS,
    ESSENTIAL_EVENTS,
    EVENT_TOPICS,
    Channel,
    Event,
    InboxMessage,
    Message,
    MessageTemplate,
    NotificationPreference,
    NotificationTopic,
    PreferenceKind,
    SmsOptOut,
    Urgency,
)
from .rendering import sms_segments, template_render
from .selectors import (
    PreferenceSwitches,
    preference_switches_for,
    preference_switches_for_customers,
    sms_opted_out_phones,
)

logger = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MESSAGE_SEND_MAX_RETRIES = 5
FAN_OUT_BATCH_SIZE = 2000
# Fan-out sends are published 100 ids per task: one broker message per SMS made queueing the bottleneck.
FAN_OUT_SEND_CHUNK = 100
SMS_RATE_WINDOW = datetime.timedelta(hours=1)
_KEY_LENGTH = Message._meta.get_field("idempotency_key").max_length
CUSTOMER_CHANNELS = (Channel.SMS, Channel.EMAIL, Channel.INBOX)
STAFF_CHANNELS = (Channel.STAFF, Channel.EMAIL)
STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "TD", "T", "退订"})
START_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})


# --- time rules ---------------------------------------------------------------------------------------------


def quiet_hours_end(*, at: datetime.datetime) -> datetime.datetime | None:
    """When the quiet hours containing `at` end (local 08:00), or None outside quiet hours."""
    local = at.astimezone(LOCAL_TZ)
    start, end = settings.NOTIFICATIONS_QUIET_HOURS_START, settings.NOTIFICATIONS_QUIET_HOURS_END
    morning = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if local.hour >= start:
        return morning + datetime.timedelta(days=1)
    if local.hour < end:
        return morning
    return None


def retry_backoff_seconds(*, attempts: int) -> int:
    """Exponential backoff after the n-th failed attempt: base, 2x base, 4x base..."""
    return settings.NOTIFICATIONS_RETRY_BASE_SECONDS * 2 ** (attempts - 1)


# How far before a claim the provider's clock may put an SMS the claim sent.
LEASE_PROVIDER_CLOCK_SKEW = datetime.timedelta(seconds=60)


def _redispatch_at(now: datetime.datetime) -> datetime.datetime:
    return now + datetime.timedelta(seconds=settings.NOTIFICATIONS_REDISPATCH_AFTER_SECONDS)


# --- queueing -------------------------------------------------------------------------------------------------


def _queue_now(message_ids: list[int]) -> None:
    from .tasks import message_send_task

    for message_id in message_ids:
        try:
            message_send_task.delay(message_id=message_id)
        except OperationalError:
            # Broker unreachable: the row stays pending and the beat re-queues it when it is due.
            logger.warning("broker unavailable; message %s left for messages_dispatch_due", message_id)


def _queue_chunks_now(message_ids: list[int]) -> None:
    from .tasks import message_send_many_task

    for start in range(0, len(message_ids), FAN_OUT_SEND_CHUNK):
        chunk = message_ids[start:start + FAN_OUT_SEND_CHUNK]
        try:
            message_send_many_task.delay(message_ids=chunk)
        except OperationalError:
            logger.warning("broker unavailable; %s fan-out messages left for messages_dispatch_due", len(chunk))


def _queue_after_commit(message_ids: list[int]) -> None:
    if message_ids:
        transaction.on_commit(lambda: _queue_now(message_ids), robust=True)


# --- building messages ----------------------------------------------------------------------------------------


class _TemplateBook:
    """Templates and rendered texts for one event and data, memoised: a fan-out renders each text once."""

    def __init__(self, *, event: str, data: dict, templates: Iterable[MessageTemplate] | None = None):
        """`templates`: the event's templates when already read (a bulk request reads every event's at once)."""
        self.event = event
        self.data = data
        if templates is None:
            templates = MessageTemplate.objects.filter(event=event)
        self._templates = {(t.channel, t.language): t for t in templates}
        self._rendered: dict[tuple[str, str], tuple[str, str, str, int]] = {}

    def channels(self) -> set[str]:
        return {channel for channel, _language in self._templates}

    def render(self, *, channel: str, language: str) -> tuple[str, str, str, int]:
        """(language actually used, subject, body, SMS segments); falls back to the default language."""
        key = (channel, language)
        if key not in self._rendered:
            template = self._templates.get(key) or self._templates.get((channel, settings.LANGUAGE_CODE))
            if template is None:
                raise TemplateMissing(
                    _("事件“%(event)s”没有“%(channel)s”渠道的消息模板")
                    % {"event": self.event, "channel": Channel(channel).label}
                )
            autoescape = channel in (Channel.EMAIL, Channel.INBOX)
            subject = template_render(source=template.subject, data=self.data, autoescape=False)
            body = template_render(source=template.body, data=self.data, autoescape=autoescape)
            segments = sms_segments(body).segments if channel == Channel.SMS else 0
            self._rendered[key] = (template.language, subject[:200], body, segments)
        return self._rendered[key]


def _customer_channels(
    *, customer: Customer | _Recipient, event: str, wanted: Iterable[str], switches: PreferenceSwitches,
    opted_out: bool,
) -> list[str]:
    """The wanted channels the customer's switches allow: a channel needs its own switch and its switch for the
    event's topic (events without a topic need only the first); essential events override SMS and inbox."""
    essential = event in ESSENTIAL_EVENTS
    topic = EVENT_TOPICS.get(event, "")

    def switched_on(kind: str) -> bool:
        return switches[(kind, "")] and (not topic or switches[(kind, topic)])

    chosen = []
    for channel in wanted:
        if channel == Channel.SMS:
            ok = bool(customer.phone) and (essential or (switched_on(PreferenceKind.SMS) and not opted_out))
        elif channel == Channel.EMAIL:
            ok = bool(customer.email) and switched_on(PreferenceKind.EMAIL)
            if event == Event.BILL_ISSUED:
                # The e-mailed bill is the paperless bill; paper-bill customers get SMS and inbox only.
                ok = ok and switches[(PreferenceKind.PAPERLESS_BILLS, "")]
        elif channel == Channel.INBOX:
            ok = essential or switched_on(PreferenceKind.INBOX)
        else:
            ok = False
        if ok:
            chosen.append(channel)
    return chosen


def _draft_fields(
    *, book: _TemplateBook, channel: str, language: str, urgency: str, key: str, now: datetime.datetime,
    customer=None, user=None, to_phone: str = "", account_id: int | None = None,
) -> dict:
    """The column values of one new message (state held when quiet hours apply to it)."""
    used_language, subject, body, segments = book.render(channel=channel, language=language)
    if channel == Channel.SMS:
        to = to_phone or customer.phone
    elif channel == Channel.EMAIL:
        to = customer.email if customer is not None else user.email
    elif channel == Channel.INBOX:
        to = str(customer.pk)
    else:
        to = str(user.pk)
    state, next_attempt_at = Message.State.PENDING, _redispatch_at(now)
    if channel == Channel.SMS and urgency == Urgency.NORMAL:
        held_until = quiet_hours_end(at=now)
        if held_until is not None:
            state, next_attempt_at = Message.State.HELD, held_until
    return {
        "channel": channel, "event": book.event, "urgency": urgency,
        "recipient_customer_id": customer.pk if customer is not None else None,
        "recipient_user_id": user.pk if user is not None else None,
        "account_id": account_id if customer is not None else None,
        "to": to, "language": used_language, "subject": subject, "body": body, "sms_segments": segments,
        "idempotency_key": key, "state": state, "next_attempt_at": next_attempt_at,
    }


def _validate_request(*, event: str, data: dict, urgency: str, idempotency_key: str, room: int = 12) -> str:
    """The request's key, stripped, once event, data and urgency are known good. `room`: characters the key must
    leave free in the column (a fan-out's prefix leaves room for ":<customer id>"; a bulk request's keys are whole)."""
    if event not in Event.values:
        raise NotificationError(_("未知的通知事件：%(event)s") % {"event": event}, field="event")
    if not isinstance(data, dict):
        raise NotificationError(_("通知数据必须是字典"), field="data")
    if urgency not in Urgency.values:
        raise NotificationError(_("紧急程度无效"), field="urgency")
    key = (idempotency_key or "").strip()
    if not key or len(key) > _KEY_LENGTH - room:
        raise NotificationError(_("幂等键不能为空且不超过%(most)s个字符") % {"most": _KEY_LENGTH - room},
                                field="idempotency_key")
    return key


def _staff_or_caller_channels(*, book: _TemplateBook, event: str, user, to_phone: str,
                              channels: Iterable[str] | None) -> list[str]:
    """notification_request's channels for a staff user, or for a caller known only by the phone (user None)."""
    if user is None:
        allowed: tuple[str, ...] = (Channel.SMS,)
    elif to_phone and event in ESSENTIAL_EVENTS:
        allowed = (*STAFF_CHANNELS, Channel.SMS)
    else:
        allowed = STAFF_CHANNELS
    wanted = _wanted_channels(allowed=allowed, book=book, channels=channels)
    if user is None:
        return [c for c in wanted if c == Channel.SMS]
    return [c for c in wanted if (c != Channel.EMAIL or user.email) and (c != Channel.SMS or to_phone)]


def _wanted_channels(*, allowed: tuple[str, ...], book: _TemplateBook, channels: Iterable[str] | None) -> list[str]:
    """The channels asked for (each once), refused if any is not allowed; or, none asked for, every allowed channel
    the event has a template for."""
    if channels is None:
        return [c for c in allowed if c in book.channels()]
    wanted = list(dict.fromkeys(channels))
    unknown = [c for c in wanted if c not in allowed]
    if unknown:
        raise NotificationError(_("该接收人不支持渠道：%(channels)s") % {"channels": ", ".join(unknown)},
                                field="channels")
    return wanted


def notification_request(
    *,
    recipient_customer: Customer | None = None,
    recipient_user=None,
    event: str,
    data: dict,
    urgency: str = Urgency.NORMAL,
    idempotency_key: str,
    channels: Iterable[str] | None = None,
    language: str | None = None,
    to_phone: str = "",
    account: Account | None = None,
) -> list[Message]:
    """Ask for a customer or a staff user to be told about an event; returns one Message per channel.

    A user (a portal login, not yet a customer) may be texted an essential event (a login code) at `to_phone`.
    A caller with neither (no recipient, only `to_phone`) may be texted an essential event they asked for on the
    phone (a payment link, an agent's message, a restoration notice); for a customer, `to_phone` names the number
    the caller asked to be texted at instead of the one on file (SMS only; the STOP list still applies).
    `account` names the customer's electricity account the message is about, if one: the portal inbox shows it only
    to users who have bound that account.

    The same idempotency key returns the messages of the first request and sends nothing more. Channels
    default to every channel the event has a template for, less what the customer's preferences and STOP
    reply exclude. Sending is queued after the caller's transaction commits. Locks nothing: the unique
    (idempotency_key, channel) constraint settles concurrent duplicates.
    """
    key = _validate_request(event=event, data=data, urgency=urgency, idempotency_key=idempotency_key)
    phone_only = recipient_customer is None and recipient_user is None and bool(to_phone)
    if phone_only and event not in ESSENTIAL_EVENTS:
        raise NotificationError(_("仅凭手机号只能发送来电客户要求的通知"), field="recipient")
    if not phone_only and (recipient_customer is None) == (recipient_user is None):
        raise NotificationError(_("必须且只能指定一个接收人（客户或员工）"), field="recipient")
    language = language or settings.LANGUAGE_CODE
    if language not in dict(settings.LANGUAGES):
        raise NotificationError(_("不支持的语言：%(language)s") % {"language": language}, field="language")
    existing = list(Message.objects.filter(idempotency_key=key).order_by("id"))
    if existing:
        return _same_request(existing, event=event, customer=recipient_customer, user=recipient_user)

    book = _TemplateBook(event=event, data=data)
    if recipient_customer is not None:
        # A customer's channels as in a bulk request (_notice_channels); the switches do not apply to a number asked for.
        notice = CustomerNotice(customer=recipient_customer, event=event, data=data, idempotency_key=key,
                                to_phone=to_phone, channels=tuple(channels) if channels is not None else None)
        switches = {} if to_phone else preference_switches_for(customer_id=recipient_customer.pk)
        opted_out = sms_opted_out_phones(phones=[to_phone or recipient_customer.phone])
        wanted = _notice_channels(notice=notice, book=book, switches=switches, opted_out=opted_out)
    else:
        wanted = _staff_or_caller_channels(book=book, event=event, user=recipient_user, to_phone=to_phone,
                                           channels=channels)

    now = clock.now()
    drafts = [
        Message(**_draft_fields(book=book, channel=channel, language=language, urgency=urgency, key=key, now=now,
                                customer=recipient_customer, user=recipient_user, to_phone=to_phone,
                                account_id=account.pk if account is not None else None))
        for channel in wanted
    ]
    try:
        with transaction.atomic():
            for message in drafts:
                message.save()
    except IntegrityError:
        # A concurrent twin of this request won the race: answer with its messages.
        existing = list(Message.objects.filter(idempotency_key=key).order_by("id"))
        return _same_request(existing, event=event, customer=recipient_customer, user=recipient_user)
    _queue_after_commit([m.pk for m in drafts if m.state == Message.State.PENDING])
    return drafts


def _same_request(existing: list[Message], *, event: str, customer, user) -> list[Message]:
    first = existing[0]
    if (
        first.event != event
        or first.recipient_customer_id != (customer.pk if customer is not None else None)
        or first.recipient_user_id != (user.pk if user is not None else None)
    ):
        raise NotificationConflict(_("该幂等键已用于另一条通知"), field="idempotency_key")
    return existing


# --- sending --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendOutcome:
    state: str
    retry_in: int | None = None  # seconds until the task should try again, None when it should not


def _recent_sms_times(*, phones: list[str], now: datetime.datetime) -> dict[str, list[datetime.datetime]]:
    """SMS sent to each phone in the last hour, newest first (one query for a whole chunk)."""
    recent: dict[str, list[datetime.datetime]] = {}
    rows = Message.objects.filter(
        channel=Channel.SMS, to__in=phones, sent_at__gt=now - SMS_RATE_WINDOW
    ).values_list("to", "sent_at")
    for phone, sent_at in rows:
        recent.setdefault(phone, []).append(sent_at)
    for times in recent.values():
        times.sort(reverse=True)
    return recent


def _status_callback_url() -> str:
    base = settings.NOTIFICATIONS_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{reverse('notifications:twilio_status')}" if base else ""


def _messages_claim(
    messages: list[Message], *, now: datetime.datetime
) -> tuple[list[Message], dict[int, SendOutcome]]:
    """Apply the pre-send rules to locked pending messages and write the results, one UPDATE per outcome.

    Returns the messages to hand to a transport (now SENDING, with a lease) and the outcome of every other one:
    non-urgent SMS held for quiet hours, SMS to a phone that replied STOP failed, SMS over the per-phone hourly
    limit left pending until the limit allows, inbox messages delivered on the spot.
    """
    outcomes: dict[int, SendOutcome] = {}
    to_send: list[Message] = []
    held: list[int] = []
    opted_out_ids: list[int] = []
    limited: list[Message] = []
    inbox: list[Message] = []
    sms = [m for m in messages if m.channel == Channel.SMS]
    quiet_until = quiet_hours_end(at=now) if sms else None
    opted_out = sms_opted_out_phones(phones=[m.to for m in sms if m.event not in ESSENTIAL_EVENTS]) if sms else set()
    recent = _recent_sms_times(phones=list({m.to for m in sms}), now=now) if sms else {}
    limit = settings.NOTIFICATIONS_SMS_PER_PHONE_PER_HOUR
    for message in messages:
        if message.channel == Channel.SMS:
            if quiet_until is not None and message.urgency == Urgency.NORMAL:
                held.append(message.pk)
                outcomes[message.pk] = SendOutcome(Message.State.HELD)
                continue
            if message.event not in ESSENTIAL_EVENTS and message.to in opted_out:
                opted_out_ids.append(message.pk)
                outcomes[message.pk] = SendOutcome(Message.State.FAILED)
                continue
            sent_times = recent.setdefault(message.to, [])
            if len(sent_times) >= limit:
                message.next_attempt_at = sent_times[limit - 1] + SMS_RATE_WINDOW
                limited.append(message)
                outcomes[message.pk] = SendOutcome(message.state)
                continue
            # Counted at once, so two messages to one phone in the same chunk share the limit.
            sent_times.insert(0, now)
        message.attempts += 1
        if message.channel == Channel.INBOX:
            inbox.append(message)
            outcomes[message.pk] = SendOutcome(Message.State.DELIVERED)
        else:
            message.state = Message.State.SENDING
            to_send.append(message)

    pending = Message.objects.filter(state=Message.State.PENDING)
    if held:
        pending.filter(pk__in=held).update(state=Message.State.HELD, next_attempt_at=quiet_until)
    if opted_out_ids:
        pending.filter(pk__in=opted_out_ids).update(state=Message.State.FAILED, last_error="recipient replied STOP")
    for message in limited:
        pending.filter(pk=message.pk).update(
            next_attempt_at=message.next_attempt_at, last_error="per-phone hourly SMS limit"
        )
    if inbox:
        # The inbox is our own table: delivered in the same transaction that claimed it.
        pending.filter(pk__in=[m.pk for m in inbox]).update(
            state=Message.State.DELIVERED, attempts=F("attempts") + 1, sent_at=now, delivered_at=now,
            next_attempt_at=None, provider="inbox",
        )
        InboxMessage.objects.bulk_create(
            InboxMessage(customer_id=m.recipient_customer_id, account_id=m.account_id, message=m, subject=m.subject,
                         body=m.body)
            for m in inbox
        )
    if to_send:
        # A lease: if this worker dies mid-send the beat puts the message back to pending after it.
        pending.filter(pk__in=[m.pk for m in to_send]).update(
            state=Message.State.SENDING, attempts=F("attempts") + 1,
            next_attempt_at=now + datetime.timedelta(seconds=settings.NOTIFICATIONS_SENDING_LEASE_SECONDS),
        )
    return to_send, outcomes


def messages_send(*, message_ids: list[int]) -> dict[int, SendOutcome]:
    """Send a chunk of pending messages once each; returns the outcome per message id that was pending.

    Claims the chunk (pending -> sending) in one transaction under row locks, calls the transports outside
    any transaction, then records every receipt in one more transaction: two commits per chunk, not per
    message. After a transport error (provider down) the rest of the chunk is not tried: those messages go
    back to pending with the same backoff, so an outage costs a few timeouts per chunk, not one per message.
    """
    now = clock.now()
    with transaction.atomic():
        messages = list(
            Message.objects.select_for_update().filter(pk__in=message_ids, state=Message.State.PENDING).order_by("pk")
        )
        to_send, outcomes = _messages_claim(messages, now=now)

    results = _transports_call(to_send)
    receipts: list[tuple[Message, transports.Receipt]] = []
    for message, result in zip(to_send, results, strict=True):
        if isinstance(result, transports.Receipt):
            receipts.append((message, result))
        elif isinstance(result, transports.TransportRejected):
            Message.objects.filter(pk=message.pk).update(
                state=Message.State.FAILED, last_error=str(result)[:500], next_attempt_at=None
            )
            outcomes[message.pk] = SendOutcome(Message.State.FAILED)
        else:
            outcomes[message.pk] = _attempt_failed(message=message, error=str(result), now=clock.now())
    outcomes.update(_receipts_record(receipts))
    return outcomes


def _transports_call(messages: list[Message]) -> list[transports.Receipt | Exception]:
    """Call each message's transport, several at once (providers answer in 100-300 ms; one at a time would
    make their latency the limit). After the first transport error the calls not yet started are not made."""
    provider_down = threading.Event()
    first_error: list[transports.TransportError] = []

    def call(message: Message) -> transports.Receipt | Exception:
        if provider_down.is_set():
            return first_error[0]
        try:
            return _transport_send(message)
        except transports.TransportError as exc:
            if not provider_down.is_set():
                first_error.append(exc)
                provider_down.set()
            return exc
        except transports.TransportRejected as exc:
            return exc

    # Staff alerts go through this process's channel layer, which belongs to one event loop: sent in order here.
    external = [m for m in messages if m.channel in (Channel.SMS, Channel.EMAIL)]
    results: dict[int, transports.Receipt | Exception] = {}
    workers = min(settings.NOTIFICATIONS_SEND_CONCURRENCY, len(external))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notifications-send") as pool:
            results.update(zip((m.pk for m in external), pool.map(call, external), strict=True))
    return [results[m.pk] if m.pk in results else call(m) for m in messages]


def _receipts_record(receipts: list[tuple[Message, transports.Receipt]]) -> dict[int, SendOutcome]:
    """Mark sent (or delivered) the messages still SENDING, in one UPDATE; one a lease recovery already took back is
    left alone."""
    sent_at = clock.now()
    outcomes: dict[int, SendOutcome] = {}
    for message, receipt in receipts:
        message.state = Message.State.DELIVERED if receipt.delivered else Message.State.SENT
        message.provider, message.provider_sid = receipt.provider, receipt.sid
        message.sent_at, message.delivered_at = sent_at, sent_at if receipt.delivered else None
        message.last_error, message.next_attempt_at = "", None
        outcomes[message.pk] = SendOutcome(message.state)
    if receipts:
        Message.objects.filter(state=Message.State.SENDING).bulk_update(
            [message for message, _receipt in receipts],
            ["state", "provider", "provider_sid", "sent_at", "delivered_at", "last_error", "next_attempt_at"],
        )
    return outcomes


def message_send(*, message_id: int) -> SendOutcome:
    """Send one pending message once (see messages_send); a message not pending reports its current state."""
    outcome = messages_send(message_ids=[message_id]).get(message_id)
    if outcome is not None:
        return outcome
    state = Message.objects.filter(pk=message_id).values_list("state", flat=True).first()
    return SendOutcome(state or "")


def _transport_send(message: Message) -> transports.Receipt:
    if message.channel == Channel.SMS:
        return transports.sms_send(to=message.to, body=message.body, status_callback=_status_callback_url())
    if message.channel == Channel.EMAIL:
        return transports.email_send(to=message.to, subject=message.subject, html_body=message.body)
    return transports.staff_alert_send(
        user_id=message.recipient_user_id, message_id=message.pk, event=message.event,
        subject=message.subject, body=message.body,
    )


def _attempt_failed(*, message: Message, error: str, now: datetime.datetime) -> SendOutcome:
    if message.attempts > MESSAGE_SEND_MAX_RETRIES:
        Message.objects.filter(pk=message.pk).update(
            state=Message.State.DEAD, last_error=error[:500], next_attempt_at=None
        )
        logger.error("message %s dead after %s attempts: %s", message.pk, message.attempts, error)
        return SendOutcome(Message.State.DEAD)
    backoff = retry_backoff_seconds(attempts=message.attempts)
    Message.objects.filter(pk=message.pk).update(
        state=Message.State.PENDING, last_error=error[:500],
        next_attempt_at=now + datetime.timedelta(seconds=backoff),
    )
    return SendOutcome(Message.State.PENDING, retry_in=backoff)


def message_resend(*, message_id: int, user=None) -> Message:
    """Staff resend of a failed or dead message: back to pending with a fresh attempt count.

    Locks the message row.
    """
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.state not in (Message.State.FAILED, Message.State.DEAD):
            raise MessageNotResendable(_("只有发送失败的消息可以重发"))
        message.state, message.attempts, message.last_error = Message.State.PENDING, 0, ""
        message.next_attempt_at = _redispatch_at(clock.now())
        message.save(update_fields=["state", "attempts", "last_error", "next_attempt_at"])
        logger.info("message %s resent by user %s", message.pk, getattr(user, "pk", None))
        _queue_after_commit([message.pk])
    return message


def messages_dispatch_due(*, limit: int = 5000) -> int:
    """Beat task body: release quiet-hours holds that ended, recover expired sending leases (an SMS the provider
    already took is recorded as sent, not sent again), and re-queue pending messages whose time has come. Returns
    how many were queued.

    Locks nothing: message_send's claim under a row lock makes a doubly queued message send once.
    """
    now = clock.now()
    sent_found = _leases_expired_sent(now=now)
    with transaction.atomic():
        Message.objects.filter(state=Message.State.HELD, next_attempt_at__lte=now).update(
            state=Message.State.PENDING, next_attempt_at=now
        )
        _leases_expired_release(now=now, sent=sent_found)
        due = list(
            Message.objects.filter(state=Message.State.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        Message.objects.filter(pk__in=due).update(next_attempt_at=_redispatch_at(now))
        _queue_after_commit(due)
    return len(due)


def _leases_expired_sent(*, now: datetime.datetime) -> dict[int, str | None]:
    """Of the SMS whose sending lease ran out (their worker died or stalled mid-send, maybe after the provider took
    them), those the provider has: same number and text since the claim, under a sid no other message holds.
    Returns {message id: sid} for them, and {message id: None} for those the provider could not be asked about
    (they stay sending until the next run rather than risk a second SMS). Asks outside any transaction."""
    expired = list(
        Message.objects.filter(state=Message.State.SENDING, next_attempt_at__lte=now, channel=Channel.SMS)
        .order_by("pk").only("pk", "to", "body", "next_attempt_at")
    )
    found: dict[int, str | None] = {}
    claimed: set[str] = set()
    lease = datetime.timedelta(seconds=settings.NOTIFICATIONS_SENDING_LEASE_SECONDS)
    for message in expired:
        # The claim set next_attempt_at to claim time + lease; a minute earlier covers the provider's clock.
        since = message.next_attempt_at - lease - LEASE_PROVIDER_CLOCK_SKEW
        try:
            sids = transports.sms_sent_find(to=message.to, body=message.body, since=since)
        except transports.TransportError as error:
            logger.warning("message %s: lease expired, provider cannot say whether it was sent: %s", message.pk, error)
            found[message.pk] = None
            continue
        recorded = set(Message.objects.filter(provider_sid__in=sids).values_list("provider_sid", flat=True))
        free = [sid for sid in sids if sid not in recorded and sid not in claimed]
        if free:
            found[message.pk] = free[-1]
            claimed.add(free[-1])
    return found


def _leases_expired_release(*, now: datetime.datetime, sent: dict[int, str | None]) -> None:
    """Inside dispatch_due's transaction: SMS found at the provider marked sent, those it could not be asked about
    left sending, every other expired lease back to pending (its message is sent again)."""
    for message_id, sid in sent.items():
        if sid is not None:
            Message.objects.filter(pk=message_id, state=Message.State.SENDING).update(
                state=Message.State.SENT, provider="twilio", provider_sid=sid, sent_at=now, last_error="",
                next_attempt_at=None,
            )
            logger.info("message %s: lease expired after the provider took it (sid %s): recorded, not resent",
                        message_id, sid)
    Message.objects.filter(state=Message.State.SENDING, next_attempt_at__lte=now).exclude(pk__in=list(sent)).update(
        state=Message.State.PENDING, next_attempt_at=now
    )


# --- delivery receipts and inbound SMS ------------------------------------------------------------------------


def sms_status_record(*, provider_sid: str, status: str, error_code: str = "") -> Message | None:
    """Apply a Twilio status callback; unknown SIDs and statuses are ignored (Twilio sends many)."""
    now = clock.now()
    updates: dict = {}
    if status == "delivered":
        updates = {"state": Message.State.DELIVERED, "delivered_at": now}
    elif status in ("undelivered", "failed"):
        updates = {"state": Message.State.FAILED, "last_error": f"Twilio {status} {error_code}".strip()}
    if not provider_sid or not updates:
        return None
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(provider_sid=provider_sid).first()
        if message is None or message.state not in (Message.State.SENDING, Message.State.SENT):
            return message
        for field, value in updates.items():
            setattr(message, field, value)
        message.save(update_fields=list(updates))
    return message


def sms_inbound_handle(*, from_phone: str, body: str) -> str:
    """STOP/TD/退订 opts the phone out of non-essential SMS, START opts it back in; returns the reply text."""
    phone = transports.phone_national(from_phone)
    keyword = body.strip().upper()
    if not phone:
        return ""
    if keyword in STOP_KEYWORDS:
        SmsOptOut.objects.get_or_create(phone=phone, defaults={"keyword": keyword})
        return str(_("【国网95598】您已退订通知短信，验证码和停电通知仍会发送。回复START可恢复。"))
    if keyword in START_KEYWORDS:
        SmsOptOut.objects.filter(phone=phone).delete()
        return str(_("【国网95598】您已恢复接收通知短信。回复TD可退订。"))
    return ""


# --- preferences and inbox ------------------------------------------------------------------------------------


def _preference_validate(*, kind: str, topic: str) -> None:
    if kind not in PreferenceKind.values:
        raise NotificationError(_("未知的通知偏好类型"), field="kind")
    if topic and topic not in NotificationTopic.values:
        raise NotificationError(_("未知的消息类别"), field="topic")
    if topic and kind not in CHANNEL_KINDS:
        raise NotificationError(
            _("“%(kind)s”不能按消息类别设置") % {"kind": PreferenceKind(kind).label}, field="topic"
        )


def preference_set(*, customer: Customer, kind: str, enabled: bool, topic: str = "") -> NotificationPreference:
    """Record a customer's choice for one kind of notification as a whole (topic "") or for one topic of a
    channel. Locks nothing (upsert on a unique triple)."""
    _preference_validate(kind=kind, topic=topic)
    preference, _created = NotificationPreference.objects.update_or_create(
        customer=customer, kind=kind, topic=topic, defaults={"enabled": bool(enabled)}
    )
    return preference


def preferences_set(*, customer: Customer, switches: dict[tuple[str, str], bool]) -> int:
    """Record several (kind, topic) choices of one customer at once: all of them or, on any unknown kind or
    topic, none. Returns how many were written. Locks nothing (one upsert on the unique triple)."""
    for kind, topic in switches:
        _preference_validate(kind=kind, topic=topic)
    rows = [
        NotificationPreference(customer=customer, kind=kind, topic=topic, enabled=bool(enabled))
        for (kind, topic), enabled in switches.items()
    ]
    NotificationPreference.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["customer", "kind", "topic"],
        update_fields=["enabled", "updated_at"],
    )
    return len(rows)


def inbox_message_mark_read(*, inbox_message_id: int, customer: Customer) -> InboxMessage:
    """Mark one of the customer's inbox messages read; another customer's message is not found."""
    message = InboxMessage.objects.filter(pk=inbox_message_id, customer=customer).first()
    if message is None:
        raise NotificationError(_("站内信不存在"))
    if message.read_at is None:
        message.read_at = clock.now()
        message.save(update_fields=["read_at"])
    return message


# --- bulk fan-out ---------------------------------------------------------------------------------------------


def outage_notice_fan_out(
    *,
    customer_ids: Iterable[int] | None = None,
    accounts: QuerySet[Account] | None = None,
    event: str = Event.OUTAGE_PLANNED,
    data: dict,
    idempotency_prefix: str,
    urgency: str = Urgency.NORMAL,
) -> int:
    """Queue one notification per affected customer without doing the work in the caller's request.

    Resolves the customers (one query), then after commit a Celery task splits them into batches of
    FAN_OUT_BATCH_SIZE, each its own task. Returns the number of customers. Locks nothing.
    """
    prefix = _validate_request(event=event, data=data, urgency=urgency, idempotency_key=idempotency_prefix)
    if (customer_ids is None) == (accounts is None):
        raise NotificationError(_("必须且只能指定客户编号或用电户之一"), field="customer_ids")
    if not MessageTemplate.objects.filter(event=event).exists():
        raise TemplateMissing(_("事件“%(event)s”没有消息模板") % {"event": event})
    if accounts is not None:
        ids = sorted(set(accounts.values_list("customer_id", flat=True)))
    else:
        ids = sorted(set(customer_ids))
    if ids:
        from .tasks import fan_out_plan_task

        transaction.on_commit(
            lambda: fan_out_plan_task.delay(
                customer_ids=ids, event=event, data=data, idempotency_prefix=prefix, urgency=urgency
            ),
            robust=True,
        )
    return len(ids)


def fan_out_batches(*, customer_ids: list[int], size: int | None = None) -> list[list[int]]:
    size = size or FAN_OUT_BATCH_SIZE
    return [customer_ids[i:i + size] for i in range(0, len(customer_ids), size)]


@dataclass(frozen=True)
class _Recipient:
    pk: int
    phone: str
    email: str


# Every column of a fan-out message row; the ones _draft_fields leaves out take their model defaults.
_INSERT_FIELDS = [
    Message._meta.get_field(name)
    for name in (
        "channel", "event", "urgency", "recipient_customer", "recipient_user", "account", "to", "language", "subject",
        "body", "sms_segments", "idempotency_key", "state", "next_attempt_at", "attempts", "last_error", "provider",
        "provider_sid", "created_at",
    )
]
_INSERT_DEFAULTS = {"attempts": 0, "last_error": "", "provider": "", "provider_sid": ""}


def _messages_insert_ignoring_duplicates(*, rows: list[dict], now: datetime.datetime) -> None:
    """One executemany INSERT ... ON CONFLICT DO NOTHING (SQLite >= 3.24 and PostgreSQL).

    bulk_create spent most of a 2,000-customer batch preparing model fields one by one; the fan-out has
    its values ready, so it hands them to the driver directly.
    """
    ops = connection.ops
    columns = ", ".join(ops.quote_name(field.column) for field in _INSERT_FIELDS)
    placeholders = ", ".join(["%s"] * len(_INSERT_FIELDS))
    sql = (
        f"INSERT INTO {ops.quote_name(Message._meta.db_table)} ({columns}) VALUES ({placeholders}) "
        "ON CONFLICT DO NOTHING"
    )
    defaults = {**_INSERT_DEFAULTS, "created_at": now}
    values = [
        tuple(
            ops.adapt_datetimefield_value(value) if isinstance(value, datetime.datetime) else value
            for value in (row.get(field.attname, defaults.get(field.attname)) for field in _INSERT_FIELDS)
        )
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


@dataclass(frozen=True)
class CustomerNotice:
    """One customer's notification in a bulk request (customer_notices_request). `customer` needs pk, phone and
    email (a Customer or a _Recipient). `to_phone`, when given, is the number asked for instead of the one on file
    (SMS only, the STOP list still applies); `channels` None means every customer channel the event has a template
    for, less what the customer's switches exclude. Notices sharing one `data` object share its rendered texts."""

    customer: Customer | _Recipient
    event: str
    data: dict
    idempotency_key: str
    account_id: int | None = None
    to_phone: str = ""
    channels: tuple[str, ...] | None = None


def _notice_channels(*, notice: CustomerNotice, book: _TemplateBook, switches: PreferenceSwitches,
                     opted_out: set[str]) -> list[str]:
    """A customer's channels, for notification_request and each notice of a bulk request: those allowed and asked for
    (by default every customer channel with a template), less what the customer's switches and the STOP list exclude;
    a number asked for gets SMS only, its STOP reply honoured unless the event is essential, the switches left out."""
    allowed = (Channel.SMS,) if notice.to_phone else CUSTOMER_CHANNELS
    wanted = _wanted_channels(allowed=allowed, book=book, channels=notice.channels)
    if notice.to_phone:
        return [] if notice.to_phone in opted_out and notice.event not in ESSENTIAL_EVENTS else wanted
    return _customer_channels(customer=notice.customer, event=notice.event, wanted=wanted, switches=switches,
                              opted_out=notice.customer.phone in opted_out)


def customer_notices_request(
    *, notices: list[CustomerNotice], urgency: str = Urgency.NORMAL,
    queue: Callable[[list[int]], None] | None = None,
) -> int:
    """notification_request for many customers at once, each notice its own event data and idempotency key: the
    templates, switches and STOP list read once for the batch, the messages written in one INSERT, their sends
    queued FAN_OUT_SEND_CHUNK at a time (or handed to `queue`) once they are written: a task's or an after-commit
    receiver's work, not to be called inside a transaction whose rows the workers cannot see yet. Returns how many
    were queued.

    A key already used creates nothing more (the (idempotency_key, channel) constraint, ON CONFLICT DO NOTHING), so a
    batch run again sends nothing twice; unlike notification_request, a key reused for a different request is not
    reported, only ignored. An invalid notice (unknown event or channel, bad key, a missing template) raises
    NotificationError before anything is written. Locks nothing."""
    if not notices:
        return 0
    keys = [
        _validate_request(event=notice.event, data=notice.data, urgency=urgency, idempotency_key=notice.idempotency_key,
                          room=0)
        for notice in notices
    ]
    templates: dict[str, list[MessageTemplate]] = {}
    for template in MessageTemplate.objects.filter(event__in={notice.event for notice in notices}):
        templates.setdefault(template.event, []).append(template)
    switches = preference_switches_for_customers(customer_ids=list({notice.customer.pk for notice in notices}))
    opted_out = sms_opted_out_phones(phones=list({notice.to_phone or notice.customer.phone for notice in notices}))
    books: dict[tuple[str, int], _TemplateBook] = {}
    now = clock.now()
    rows = []
    for notice, key in zip(notices, keys, strict=True):
        book_key = (notice.event, id(notice.data))
        if book_key not in books:
            books[book_key] = _TemplateBook(event=notice.event, data=notice.data, templates=templates.get(notice.event, ()))
        book = books[book_key]
        for channel in _notice_channels(notice=notice, book=book, switches=switches[notice.customer.pk],
                                        opted_out=opted_out):
            rows.append(_draft_fields(book=book, channel=channel, language=settings.LANGUAGE_CODE, urgency=urgency,
                                      key=key, now=now, customer=notice.customer, to_phone=notice.to_phone,
                                      account_id=notice.account_id))
    with transaction.atomic():
        _messages_insert_ignoring_duplicates(rows=rows, now=now)
        pending = list(
            Message.objects.filter(idempotency_key__in=keys, state=Message.State.PENDING, attempts=0)
            .values_list("id", flat=True)
        )
    (queue or _queue_chunks_now)(pending)
    return len(pending)


def fan_out_batch_create(
    *, customer_ids: list[int], event: str, data: dict, idempotency_prefix: str, urgency: str,
    queue: Callable[[list[int]], None] | None = None,
) -> int:
    """Create the messages of one fan-out batch in one INSERT and queue their sends; returns how many were
    queued. Re-running a batch creates nothing twice (the idempotency constraint ignores the duplicates).
    Every customer's notice shares `data`, so each text is rendered once.
    """
    customers = [
        _Recipient(*row) for row in Customer.objects.filter(pk__in=customer_ids).values_list("id", "phone", "email")
    ]
    return customer_notices_request(
        notices=[
            CustomerNotice(customer=customer, event=event, data=data, idempotency_key=f"{idempotency_prefix}:{customer.pk}")
            for customer in customers
        ],
        urgency=urgency, queue=queue,
    )
