"""The screen-pop message: what the agent's console receives when a call rings on them, and again whenever the
console finds it missed it (a reconnect, a message the channel layer dropped)."""
from __future__ import annotations

import datetime

from django.utils import timezone

from core.models import Call
from core.selectors.caller_profile import caller_profile


def screen_pop_payload(*, call: Call, at: datetime.datetime | None = None) -> dict:
    """`at`: when the call was offered (the PBX's moment); the call's last change when unknown. `sent_at`: when
    the pop left for the agent's socket, so that a late pop tells where it waited (before: the call's recording and
    the profile; after: the channel layer and the ASGI process)."""
    profile = caller_profile(call=call)
    return {"kind": "screen_pop", "call_id": call.pk, "call_key": call.call_key,
            "event_at": (at or call.updated_at).isoformat(), "sent_at": timezone.now().isoformat(), "profile": profile}
