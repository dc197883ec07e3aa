"""The screen-pop message: what the agent's console receives when a call rings on them, and again whenever the
console finds it missed it (a reconnect, a message the channel layer dropped)."""
from __future__ import annotations

import datetime

from core.models import Call
from core.selectors.caller_profile import caller_profile


def screen_pop_payload(*, call: Call, at: datetime.datetime | None = None) -> dict:
    """`at`: when the call was offered (the PBX's moment); the call's last change when unknown."""
    return {"kind": "screen_pop", "call_id": call.pk, "call_key": call.call_key,
            "event_at": (at or call.updated_at).isoformat(), "profile": caller_profile(call=call)}
