"""Twilio Voice, protocol only: the webhook's signature check, its form fields as dataclasses, and TwiML built
with the twilio package (no ORM, no flow logic).

Twilio signs each webhook with HMAC-SHA1 of the URL it called plus the sorted POST fields, keyed by the account's
auth token (X-Twilio-Signature); twilio.request_validator.RequestValidator checks it. Behind a proxy the URL Twilio
called is the public one, so the caller passes the URL to check.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse

# <Say> languages Twilio supports for the IVR's two languages.
SAY_LANGUAGES = {"zh-hans": "zh-CN", "en": "en-US"}


def signature_valid(*, auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """True when `signature` is Twilio's for this URL and these POST fields; never for an empty token or
    signature (an unconfigured account accepts nothing)."""
    if not auth_token or not signature:
        return False
    return RequestValidator(auth_token).validate(url, dict(params), signature)


@dataclass(frozen=True)
class VoiceWebhook:
    """The fields of a voice webhook the IVR uses (incoming call, <Gather> action, status callback)."""

    call_sid: str
    from_number: str
    to_number: str
    call_status: str
    digits: str | None  # None: not a <Gather> result; "": the gather timed out
    queue_result: str
    queue_time: int | None
    call_duration: int | None

    @classmethod
    def from_post(cls, post: Mapping[str, str]) -> VoiceWebhook:
        def whole(name: str) -> int | None:
            value = (post.get(name) or "").strip()
            return int(value) if value.isdigit() else None

        return cls(
            call_sid=(post.get("CallSid") or "").strip(),
            from_number=(post.get("From") or "").strip(),
            to_number=(post.get("To") or "").strip(),
            call_status=(post.get("CallStatus") or "").strip(),
            digits=post.get("Digits"),
            queue_result=(post.get("QueueResult") or "").strip(),
            queue_time=whole("QueueTime"),
            call_duration=whole("CallDuration"),
        )


def _say_all(target, texts: Sequence[tuple[str, str]]) -> None:
    """One <Say> per run of texts in one language ((text, language) pairs, language an IVR language code)."""
    runs: list[tuple[str, list[str]]] = []
    for text, language in texts:
        if runs and runs[-1][0] == language:
            runs[-1][1].append(text)
        else:
            runs.append((language, [text]))
    for language, parts in runs:
        text = ("".join(parts) if language == "zh-hans" else " ".join(parts)).strip()
        if text:
            target.say(text, language=SAY_LANGUAGES.get(language, "zh-CN"))


def twiml_gather(
    *, texts: Sequence[tuple[str, str]], action_url: str, max_digits: int, timeout_seconds: int,
    finish_on_key: str = "",
) -> str:
    """Say the texts ((text, language) pairs) inside a <Gather> (the caller may key in while it speaks); Twilio
    posts the keys, or an empty Digits after the timeout, to `action_url`."""
    response = VoiceResponse()
    gather = Gather(
        input="dtmf", action=action_url, method="POST", timeout=timeout_seconds, num_digits=max_digits,
        finish_on_key=finish_on_key or None, action_on_empty_result=True,
    )
    _say_all(gather, texts)
    response.append(gather)
    return str(response)


def twiml_enqueue(*, texts: Sequence[tuple[str, str]], queue: str, action_url: str) -> str:
    """Say the texts, then put the caller in the named queue; Twilio posts the outcome to `action_url`."""
    response = VoiceResponse()
    _say_all(response, texts)
    response.enqueue(queue, action=action_url, method="POST")
    return str(response)


def twiml_hangup(*, texts: Sequence[tuple[str, str]] = ()) -> str:
    """Say the texts, then hang up."""
    response = VoiceResponse()
    _say_all(response, texts)
    response.hangup()
    return str(response)
