"""An agent's state change from the console: the presence record through core, then the PBX queue membership.

Core's services validate the transition and record it; only once they have committed is the PBX told (QueueAdd on
sign-in, QueuePause for ready / not ready / after-call work, QueueRemove on sign-out). Agents answering through
Twilio ("twilio:<username>") have no PBX membership: the voice webhook offers calls to READY agents itself.
"""
from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from callcenter.pbx_control import pbx_command_send
from core.errors import DomainError
from core.models import AgentPresence, AgentState
from core.services.calls import agent_sign_in, agent_state_set

CONSOLE_STATES = (AgentState.READY, AgentState.NOT_READY, AgentState.AFTER_CALL_WORK, AgentState.LOGGED_OUT)
TWILIO_INTERFACE_PREFIX = "twilio:"


class AgentStateRefused(DomainError):
    code = "agent_state_refused"


def agent_presence_or_none(*, agent) -> AgentPresence | None:
    return AgentPresence.objects.filter(agent=agent).first()


def agent_state_payload(*, presence: AgentPresence | None) -> dict:
    """The console's "agent_state" message for a presence (logged out when there is none)."""
    if presence is None:
        return {"kind": "agent_state", "state": AgentState.LOGGED_OUT.value,
                "state_label": str(AgentState.LOGGED_OUT.label), "reason": "", "since": None, "interface": "",
                "queue": ""}
    return {
        "kind": "agent_state",
        "state": presence.state,
        "state_label": str(AgentState(presence.state).label),
        "reason": presence.reason,
        "since": presence.since.isoformat(),
        "interface": presence.interface,
        "queue": presence.queue,
    }


def _pbx_send(*, agent, action: str, fields: dict[str, str]) -> str:
    return pbx_command_send(action=action, fields=fields, reply_to_agent_id=agent.pk)


def agent_state_change(*, agent, state: str, reason: str = "") -> tuple[AgentPresence, str | None]:
    """Move the agent to `state` and tell the PBX; returns the presence and the PBX request id (None when no PBX
    command was needed). Raises a DomainError (nothing changed) when the state is unknown or refused."""
    if state not in CONSOLE_STATES:
        raise AgentStateRefused(_("无效的坐席状态"), field="state")
    reason = (reason or "").strip() if state == AgentState.NOT_READY else ""
    presence = agent_presence_or_none(agent=agent)
    if presence is None or not presence.interface:
        raise AgentStateRefused(_("尚未配置坐席分机，请联系班长"), field="interface")
    interface = presence.interface
    queue = presence.queue or settings.CALLCENTER_QUEUE
    signing_in = presence.state == AgentState.LOGGED_OUT and state != AgentState.LOGGED_OUT
    if signing_in:
        presence = agent_sign_in(agent=agent, interface=interface, queue=queue)
    if presence.state != state:
        presence = agent_state_set(agent=agent, state=state, reason=reason)
    if interface.startswith(TWILIO_INTERFACE_PREFIX):
        return presence, None
    paused = "false" if state == AgentState.READY else "true"
    if state == AgentState.LOGGED_OUT:
        return presence, _pbx_send(agent=agent, action="QueueRemove", fields={"Queue": queue, "Interface": interface})
    if signing_in:
        fields = {"Queue": queue, "Interface": interface, "Paused": paused, "MemberName": agent.get_username()}
        if reason:
            fields["Reason"] = reason
        return presence, _pbx_send(agent=agent, action="QueueAdd", fields=fields)
    fields = {"Queue": queue, "Interface": interface, "Paused": paused}
    if reason:
        fields["Reason"] = reason
    return presence, _pbx_send(agent=agent, action="QueuePause", fields=fields)
