"""What the call-centre transports tell core about a call, as plain values: the AMI call tracker and the Twilio
webhooks turn their protocol's events into these, and core.services.calls.call_facts_apply writes them.

Every fact names its call by `call_key` (Asterisk's Linkedid, or "twilio:<CallSid>") and carries the moment it
happened at the PBX. Facts are idempotent and may arrive more than once (a resync after a reconnect re-reports live
calls): applying one twice changes nothing the second time.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CallStarted:
    call_key: str
    transport: str  # core.models.CallTransport value
    caller_number: str
    dialled_number: str
    at: datetime.datetime


@dataclass(frozen=True)
class CallLegStarted:
    call_key: str
    unique_id: str
    channel: str
    caller_number: str
    at: datetime.datetime


@dataclass(frozen=True)
class CallLegEnded:
    call_key: str
    unique_id: str
    cause: int | None
    cause_text: str
    at: datetime.datetime


@dataclass(frozen=True)
class IvrStep:
    """The caller reached an IVR node (and keyed `input` there, "" for none/timeout)."""

    call_key: str
    node: str
    input: str
    at: datetime.datetime
    # What the IVR learned so far, merged into Call.ivr_data: {"account_number": ..., "intent": ..., "language": ...}.
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CallIdentified:
    call_key: str
    account_number: str
    by: str  # core.models.IdentifiedBy value
    at: datetime.datetime


@dataclass(frozen=True)
class StormInformed:
    """The IVR told the caller about a known outage before the menu."""

    call_key: str
    outage_id: int
    at: datetime.datetime


@dataclass(frozen=True)
class CallQueued:
    call_key: str
    queue: str
    at: datetime.datetime


@dataclass(frozen=True)
class CallOffered:
    """The queue rang an agent (AgentCalled): the moment of the screen-pop."""

    call_key: str
    queue: str
    agent_interface: str
    at: datetime.datetime


@dataclass(frozen=True)
class CallAnswered:
    call_key: str
    queue: str
    agent_interface: str
    at: datetime.datetime
    hold_seconds: int | None = None


@dataclass(frozen=True)
class CallLeftQueue:
    """The caller left the queue without an agent (QueueCallerAbandon, or a hang-up while waiting)."""

    call_key: str
    queue: str
    at: datetime.datetime


@dataclass(frozen=True)
class CallEnded:
    """The last leg of the call hung up."""

    call_key: str
    cause: int | None
    cause_text: str
    at: datetime.datetime


@dataclass(frozen=True)
class AgentMemberState:
    """The PBX's view of a queue member (QueueMemberAdded/Removed/Pause/Status): keeps AgentPresence honest."""

    interface: str
    queue: str
    logged_in: bool
    paused: bool
    reason: str
    at: datetime.datetime


CallFact = (
    CallStarted | CallLegStarted | CallLegEnded | IvrStep | CallIdentified | StormInformed | CallQueued
    | CallOffered | CallAnswered | CallLeftQueue | CallEnded | AgentMemberState
)
