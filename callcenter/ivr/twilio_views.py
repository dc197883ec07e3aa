"""The IVR over Twilio Voice: the incoming-call webhook `/callcenter/twilio/voice/` and its <Gather> action,
<Enqueue> action and status callback. Every request's X-Twilio-Signature is checked first (unsigned or forged:
403, nothing done).

The call's place in the flow is kept in the cache per CallSid between webhooks. Besides the IVR's own facts these
views report what only they see: the call's start (CallStarted, call key "twilio:<CallSid>"), the transfer
(CallQueued, and CallOffered to the longest-idle ready agent on the queue, whose console pops), the queue's outcome
(CallAnswered or CallLeftQueue) and the end of the call (CallEnded).
"""
from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from callcenter.adapters.twilio import VoiceWebhook, signature_valid, twiml_enqueue, twiml_gather, twiml_hangup
from core.call_facts import CallAnswered, CallEnded, CallLeftQueue, CallOffered, CallQueued, CallStarted
from core.models import CallTransport
from core.selectors.call_kpis import agent_ready_longest_idle
from core.selectors.callers import caller_number_normalise
from core.services.calls import call_facts_apply

from .engine import END_TRANSFER, IvrEngine, Turn, prompt_piece
from .speech import ZH

STATE_TIMEOUT_SECONDS = 4 * 3600
_CALL_SID = re.compile(r"^CA[0-9a-zA-Z]{32}$")
# Twilio's final call statuses and the Q.850 cause each stands for.
_END_CAUSES = {
    "completed": (16, "Normal Clearing"),
    "busy": (17, "User busy"),
    "no-answer": (19, "No answer"),
    "canceled": (16, "Caller cancelled"),
    "failed": (41, "Temporary failure"),
}
_XML = "application/xml"


def _state_key(call_sid: str) -> str:
    return f"callcenter:ivr:twilio:{call_sid}"


def _signed(request: HttpRequest) -> bool:
    """Twilio signs the URL it called: the public one behind a proxy, else ours as Django sees it."""
    base = settings.CALLCENTER_TWILIO_PUBLIC_BASE_URL.rstrip("/")
    url = base + request.get_full_path() if base else request.build_absolute_uri()
    return signature_valid(
        auth_token=settings.TWILIO_AUTH_TOKEN, url=url, params=request.POST.dict(),
        signature=request.headers.get("X-Twilio-Signature", ""),
    )


def twilio_webhook(view):
    """CSRF-exempt POST, signature checked, the fields parsed; a missing or malformed CallSid is a 400."""

    @csrf_exempt
    @require_POST
    def checked(request: HttpRequest) -> HttpResponse:
        if not _signed(request):
            return HttpResponse(status=403)
        webhook = VoiceWebhook.from_post(request.POST)
        if not _CALL_SID.match(webhook.call_sid):
            return HttpResponse("CallSid missing or malformed", status=400, content_type="text/plain")
        return view(request, webhook)

    checked.__name__ = view.__name__
    checked.__doc__ = view.__doc__
    return checked


def _render(turn: Turn, state: dict, webhook: VoiceWebhook, now: datetime.datetime) -> HttpResponse:
    texts = [(piece.text, piece.language or turn.language) for piece in turn.pieces]
    if turn.gather is not None:
        body = twiml_gather(
            texts=texts, action_url=reverse("callcenter:twilio_gather"),
            max_digits=turn.gather.max_digits, timeout_seconds=turn.gather.timeout_seconds,
            finish_on_key=turn.gather.finish_on_key,
        )
    elif turn.end == END_TRANSFER:
        body = _transfer(turn, state, texts, now)
    else:
        body = twiml_hangup(texts=texts)
    cache.set(_state_key(webhook.call_sid), state, timeout=STATE_TIMEOUT_SECONDS)
    return HttpResponse(body, content_type=_XML)


def _transfer(turn: Turn, state: dict, texts: list[tuple[str, str]], now: datetime.datetime) -> str:
    queue = settings.CALLCENTER_QUEUE
    facts = [CallQueued(call_key=state["call_key"], queue=queue, at=now)]
    presence = agent_ready_longest_idle(queue=queue)
    if presence is not None:
        facts.append(CallOffered(call_key=state["call_key"], queue=queue, agent_interface=presence.interface, at=now))
        state["offered_interface"] = presence.interface
    state["queued_at"] = now.isoformat()
    call_facts_apply(facts=facts)
    return twiml_enqueue(texts=texts, queue=queue, action_url=reverse("callcenter:twilio_queue"))


@twilio_webhook
def voice(request: HttpRequest, webhook: VoiceWebhook) -> HttpResponse:
    """A call to the hotline arrived: record it and say the first turn of the IVR."""
    now = timezone.now()
    call_key = f"twilio:{webhook.call_sid}"
    call_facts_apply(facts=[CallStarted(
        call_key=call_key, transport=CallTransport.TWILIO,
        caller_number=caller_number_normalise(webhook.from_number)[:32], dialled_number=webhook.to_number[:32], at=now,
    )])
    state, turn = IvrEngine(now=lambda: now).start(
        call_key=call_key, transport=CallTransport.TWILIO, caller_number=webhook.from_number,
    )
    return _render(turn, state, webhook, now)


@twilio_webhook
def gather(request: HttpRequest, webhook: VoiceWebhook) -> HttpResponse:
    """The keys the caller pressed (or none before the timeout) at the question the IVR asked."""
    now = timezone.now()
    state = cache.get(_state_key(webhook.call_sid))
    if state is None:
        # The call's IVR state expired or never existed: nothing to resume.
        return HttpResponse(twiml_hangup(texts=[(prompt_piece("goodbye", ZH).text, ZH)]), content_type=_XML)
    state, turn = IvrEngine(now=lambda: now).resume(state, keys=webhook.digits or "")
    return _render(turn, state, webhook, now)


@twilio_webhook
def queue_result(request: HttpRequest, webhook: VoiceWebhook) -> HttpResponse:
    """<Enqueue>'s action: the caller left the queue, bridged to an agent or not."""
    now = timezone.now()
    state = cache.get(_state_key(webhook.call_sid)) or {}
    call_key = f"twilio:{webhook.call_sid}"
    queue = settings.CALLCENTER_QUEUE
    queued_at = datetime.datetime.fromisoformat(state["queued_at"]) if state.get("queued_at") else None
    if webhook.queue_result == "bridged":
        answered_at = (
            queued_at + datetime.timedelta(seconds=webhook.queue_time)
            if queued_at is not None and webhook.queue_time is not None else now
        )
        fact = CallAnswered(
            call_key=call_key, queue=queue, agent_interface=state.get("offered_interface", ""), at=answered_at,
            hold_seconds=webhook.queue_time,
        )
    else:
        fact = CallLeftQueue(call_key=call_key, queue=queue, at=now)
    call_facts_apply(facts=[fact])
    return HttpResponse(twiml_hangup(), content_type=_XML)


@twilio_webhook
def status(request: HttpRequest, webhook: VoiceWebhook) -> HttpResponse:
    """The status callback: a final status ends the call; its IVR state is dropped."""
    ending = _END_CAUSES.get(webhook.call_status)
    if ending is None:
        return HttpResponse(status=204)
    cause, text = ending
    call_facts_apply(facts=[CallEnded(
        call_key=f"twilio:{webhook.call_sid}", cause=cause, cause_text=text, at=timezone.now(),
    )])
    cache.delete(_state_key(webhook.call_sid))
    return HttpResponse(status=204)
