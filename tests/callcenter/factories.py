"""Call-centre test data shared by the helpers' tests: agents, their presence on the queue, and calls in a known
state. Append one function per need."""
from __future__ import annotations

import datetime
import itertools

from django.contrib.auth import get_user_model
from django.utils import timezone

from core.models import AgentPresence, AgentState, Call, CallOutcome, CallState, CallTransport
from core.services.roles import ROLE_AGENT, ROLE_SUPERVISOR, role_group, roles_sync

_usernames = itertools.count(1)
_call_keys = itertools.count(1)


def call_agent_user(*, username: str | None = None, supervisor: bool = False):
    """An active staff user in the 95598 agent role's group (or the supervisor's)."""
    roles_sync()
    user = get_user_model().objects.create_user(
        username=username or f"callagent{next(_usernames)}", password="x", is_staff=True
    )
    user.groups.add(role_group(code=ROLE_SUPERVISOR if supervisor else ROLE_AGENT))
    return user


def agent_presence(
    agent, *, interface: str | None = None, queue: str = "hotline", state: str = AgentState.READY,
    since: datetime.datetime | None = None, reason: str = "",
) -> AgentPresence:
    """The agent's presence row as if they had signed in and moved to `state` at `since`."""
    return AgentPresence.objects.create(
        agent=agent, interface=interface or f"Local/{1000 + agent.pk}@agents/n", queue=queue, state=state,
        reason=reason, since=since or timezone.now(),
    )


def finished_call(
    *, started_at: datetime.datetime, outcome: str = CallOutcome.ANSWERED, wait: int | None = 10,
    talk: int | None = 120, wrap_up: int | None = 15, agent=None, storm_informed: bool = False,
    caller_number: str = "13800000000", call_key: str | None = None,
) -> Call:
    """An ended call written directly with its times (for KPI tests): `wait` seconds in the queue, `talk`
    seconds with the agent when answered, `wrap_up` seconds of after-call work."""
    queued = outcome in (CallOutcome.ANSWERED, CallOutcome.ABANDONED)
    queued_at = started_at + datetime.timedelta(seconds=30) if queued else None
    answered_at = queued_at + datetime.timedelta(seconds=wait) if outcome == CallOutcome.ANSWERED else None
    if answered_at is not None:
        ended_at = answered_at + datetime.timedelta(seconds=talk)
    elif queued_at is not None:
        ended_at = queued_at + datetime.timedelta(seconds=wait)
    else:
        ended_at = started_at + datetime.timedelta(seconds=60)
    return Call.objects.create(
        transport=CallTransport.ASTERISK, call_key=call_key or f"test-{next(_call_keys)}",
        caller_number=caller_number, dialled_number="95598", state=CallState.ENDED, outcome=outcome,
        storm_informed=storm_informed, queue="hotline" if queued else "", agent=agent if answered_at else None,
        started_at=started_at, queued_at=queued_at, answered_at=answered_at, ended_at=ended_at,
        queue_wait_seconds=wait if queued else None, talk_seconds=talk if answered_at else None,
        wrap_up_ended_at=ended_at + datetime.timedelta(seconds=wrap_up) if answered_at and wrap_up is not None
        else None,
    )
