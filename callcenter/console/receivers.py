"""Screen-pops and call updates to the agent's console, sent once core has committed the change.

call_changed "offered" pops the caller's profile on the agent the call rings; later changes of that call
(answered, ended, wrapped up, ticket linked, identified) update it; agent_state_changed keeps the state buttons
honest when core moves the agent (on a call, after-call work, back to ready)."""
from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.dispatch import receiver

from callcenter.consumers import agent_group_name
from callcenter.console.agent_state import agent_presence_or_none, agent_state_payload
from callcenter.console.pop import screen_pop_payload
from core.models import AgentPresence, Call
from core.selectors.caller_profile import caller_profile, call_summary
from core.signals import agent_state_changed, call_changed

logger = logging.getLogger(__name__)

UPDATE_KINDS = ("answered", "left_queue", "ended", "wrapped_up", "ticket_linked", "identified")
# Changes that alter what the pop shows of the caller (who they are, which tickets the call touched).
PROFILE_KINDS = ("ticket_linked", "identified")


def _group_send(agent_id: int, payload: dict) -> None:
    async_to_sync(get_channel_layer().group_send)(
        agent_group_name(agent_id), {"type": "callcenter.message", "payload": payload}
    )


def _agent_of(call: Call, agent_id: int | None) -> int | None:
    """The agent the call is with: the one named by core, the one who answered, or the one it was ringing."""
    if agent_id:
        return agent_id
    if call.agent_id:
        return call.agent_id
    if call.agent_interface:
        return AgentPresence.objects.filter(interface=call.agent_interface).values_list("agent_id", flat=True).first()
    return None


def _event_at(call: Call, at) -> str:
    return (at or call.updated_at).isoformat()


@receiver(call_changed, dispatch_uid="callcenter.console.call_changed")
def call_changed_to_console(sender, call_id: int, kind: str, agent_id: int | None = None, at=None, **kwargs) -> None:
    if kind != "offered" and kind not in UPDATE_KINDS:
        return
    call = Call.objects.filter(pk=call_id).first()
    if call is None:
        return
    target = _agent_of(call, agent_id)
    if target is None:
        return
    if kind == "offered":
        payload = screen_pop_payload(call=call, at=at)
    else:
        payload = {"kind": "call_update", "change": kind, "call_id": call.pk, "call_key": call.call_key,
                   "event_at": _event_at(call, at), "call": call_summary(call=call)}
        if kind in PROFILE_KINDS:
            payload["profile"] = caller_profile(call=call)
    _group_send(target, payload)


@receiver(agent_state_changed, dispatch_uid="callcenter.console.agent_state_changed")
def agent_state_to_console(sender, agent_id: int, state: str, reason: str = "", **kwargs) -> None:
    presence = agent_presence_or_none(agent=agent_id)
    _group_send(agent_id, agent_state_payload(presence=presence))
