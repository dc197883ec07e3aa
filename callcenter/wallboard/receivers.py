"""The wallboard follows the hotline: every call or agent change (sent by core after commit) asks for a push;
pushes are coalesced to one a second (callcenter.wallboard.tasks)."""
from __future__ import annotations

from django.dispatch import receiver

from core.signals import agent_state_changed, call_changed

from .tasks import wallboard_push_request


@receiver(call_changed, dispatch_uid="callcenter.wallboard.call_changed")
def wallboard_on_call_changed(sender, call_id: int, kind: str, agent_id: int | None, **kwargs) -> None:
    wallboard_push_request()


@receiver(agent_state_changed, dispatch_uid="callcenter.wallboard.agent_state_changed")
def wallboard_on_agent_state_changed(sender, agent_id: int, state: str, reason: str, **kwargs) -> None:
    wallboard_push_request()
