"""Call records and agent presence (呼叫记录与坐席状态): the one place the hotline's facts become rows.

The call-centre transports (the AMI call tracker, the Twilio webhooks, the IVR engine) report what happened as
core.call_facts dataclasses; call_facts_apply writes them, one transaction per call, idempotently (a resync after
an AMI reconnect re-reports live calls, and nothing changes the second time). Agents sign in to a queue and change
state here; a call an agent answered puts them ON_CALL, its end puts them in AFTER_CALL_WORK until they wrap up,
say they are ready, or settings.CALLCENTER_WRAP_UP_SECONDS pass (agents_wrap_up_expire, run by beat).

Every change that the console or the wallboard shows leaves after commit as core.signals.call_changed or
core.signals.agent_state_changed.
"""
from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.call_facts import (
    AgentMemberState,
    CallAnswered,
    CallEnded,
    CallFact,
    CallIdentified,
    CallLeftQueue,
    CallLegEnded,
    CallLegStarted,
    CallOffered,
    CallQueued,
    CallStarted,
    IvrStep,
    StormInformed,
)
from core.errors import DomainError
from core.models import (
    Account,
    AgentPresence,
    AgentState,
    AgentStateChange,
    Call,
    CallLeg,
    CallOutcome,
    CallState,
    CallTicket,
    CallTicketRelation,
    CallTransport,
    IdentifiedBy,
    Outage,
    Ticket,
)
from core.signals import agent_state_changed, call_changed

logger = logging.getLogger(__name__)

_REASON_LIMIT = 80
_NOTE_LIMIT = 500
_INTERFACE_LIMIT = 80
_QUEUE_LIMIT = 40


class WrapUpCode(models.TextChoices):
    """What the agent records about a call once it is over (小结)."""

    RESOLVED = "resolved", _("已解决")
    TICKET_OPENED = "ticket_opened", _("已建工单")
    TRANSFERRED = "transferred", _("已转接")
    CALLBACK = "callback", _("需回呼")
    INFORMATION = "information", _("咨询")
    COMPLAINT = "complaint", _("投诉")
    NUISANCE = "nuisance", _("骚扰/误拨")


class CallError(DomainError):
    code = "call_error"


class CallNotFound(CallError):
    code = "call_not_found"


class CallNotYours(CallError):
    code = "call_not_yours"


class CallNotAnswered(CallError):
    code = "call_not_answered"


class WrapUpInvalid(CallError):
    code = "wrap_up_invalid"


class CallTicketRelationInvalid(CallError):
    code = "call_ticket_relation_invalid"


class AgentPresenceError(DomainError):
    code = "agent_presence_error"


class AgentNotSignedIn(AgentPresenceError):
    code = "agent_not_signed_in"


class AgentStateInvalid(AgentPresenceError):
    code = "agent_state_invalid"


class AgentOnCall(AgentPresenceError):
    code = "agent_on_call"


class AgentInterfaceInvalid(AgentPresenceError):
    code = "agent_interface_invalid"


class AgentInterfaceTaken(AgentPresenceError):
    code = "agent_interface_taken"


# The states an agent may choose; ON_CALL is only ever set by a call the PBX reports answered.
AGENT_CHOSEN_STATES = (AgentState.READY, AgentState.NOT_READY, AgentState.AFTER_CALL_WORK, AgentState.LOGGED_OUT)
# Where an agent may go from each state by their own choice (signing in from LOGGED_OUT is agent_sign_in).
AGENT_TRANSITIONS: dict[str, frozenset[str]] = {
    AgentState.LOGGED_OUT: frozenset({AgentState.LOGGED_OUT}),
    AgentState.READY: frozenset(AGENT_CHOSEN_STATES),
    AgentState.NOT_READY: frozenset(AGENT_CHOSEN_STATES),
    AgentState.AFTER_CALL_WORK: frozenset(AGENT_CHOSEN_STATES),
    AgentState.ON_CALL: frozenset(),
}
# Call states a later fact may still move the call out of, in the order a call lives them.
_CALL_STATE_ORDER = {
    CallState.IVR: 0,
    CallState.QUEUED: 1,
    CallState.RINGING: 2,
    CallState.TALKING: 3,
    CallState.ENDED: 4,
}


def wrap_up_seconds() -> int:
    """How long after-call work lasts when the agent says nothing (settings.CALLCENTER_WRAP_UP_SECONDS)."""
    return settings.CALLCENTER_WRAP_UP_SECONDS


def _seconds_between(start: datetime.datetime | None, end: datetime.datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def _call_changed_on_commit(*, call_id: int, kind: str, agent_id: int | None, at: datetime.datetime) -> None:
    """`at` is when it happened at the PBX (the fact's time) or the service's moment: the screen-pop's event time."""
    transaction.on_commit(
        partial(call_changed.send_robust, sender=Call, call_id=call_id, kind=kind, agent_id=agent_id, at=at),
        robust=True,
    )


def _agent_state_changed_on_commit(*, agent_id: int, state: str, reason: str) -> None:
    transaction.on_commit(
        partial(agent_state_changed.send_robust, sender=AgentPresence, agent_id=agent_id, state=state, reason=reason),
        robust=True,
    )


def _presence_move(
    presence: AgentPresence, *, state: str, at: datetime.datetime, reason: str = "", current_call: Call | None = None
) -> None:
    """Record a state change of a locked presence row, its history line, and the signal after commit."""
    presence.state = state
    presence.reason = reason
    presence.since = at
    presence.current_call = current_call
    presence.save(update_fields=["state", "reason", "since", "current_call"])
    AgentStateChange.objects.create(agent_id=presence.agent_id, state=state, reason=reason, at=at)
    _agent_state_changed_on_commit(agent_id=presence.agent_id, state=state, reason=reason)


def _wrap_up_finish(*, presence: AgentPresence, at: datetime.datetime, state: str, reason: str = "") -> None:
    """The agent leaves after-call work: the call it was about records when its wrap-up ended."""
    if presence.current_call_id is not None:
        Call.objects.filter(pk=presence.current_call_id, wrap_up_ended_at__isnull=True).update(
            wrap_up_ended_at=max(at, presence.since)
        )
    _presence_move(presence, state=state, at=at, reason=reason)


# --- call facts ------------------------------------------------------------------------------------------------


@dataclass
class _CallWork:
    """The facts of one call in a batch, in the order they came."""

    call_key: str
    facts: list[CallFact] = field(default_factory=list)


def call_facts_apply(*, facts: Sequence[CallFact]) -> None:
    """Write a batch of facts from a transport: one transaction per call (its row locked with select_for_update
    for the whole batch of its facts), and one per agent member state. Idempotent; unknown agent interfaces and
    accounts are logged and skipped, never an error, so one odd event cannot stop the worker."""
    calls: dict[str, _CallWork] = {}
    members: list[AgentMemberState] = []
    for fact in facts:
        if isinstance(fact, AgentMemberState):
            members.append(fact)
        else:
            calls.setdefault(fact.call_key, _CallWork(fact.call_key)).facts.append(fact)
    for work in calls.values():
        with transaction.atomic():
            _call_facts_apply_one(work)
    for member in members:
        with transaction.atomic():
            _agent_member_state_apply(member)


def _call_locked(work: _CallWork) -> tuple[Call, bool]:
    """The call's row, locked; created from the first fact when it is new (whatever fact that is)."""
    call = Call.objects.select_for_update().filter(call_key=work.call_key).first()
    if call is not None:
        return call, False
    first = work.facts[0]
    started = next((fact for fact in work.facts if isinstance(fact, CallStarted)), None)
    transport = started.transport if started else (
        CallTransport.TWILIO if work.call_key.startswith("twilio:") else CallTransport.ASTERISK
    )
    # INSERT ... ON CONFLICT DO NOTHING: two writers of a new call both go on to lock the one row.
    Call.objects.bulk_create(
        [
            Call(
                call_key=work.call_key,
                transport=transport,
                caller_number=started.caller_number if started else "",
                dialled_number=started.dialled_number if started else "",
                started_at=started.at if started else first.at,
            )
        ],
        ignore_conflicts=True,
    )
    call = Call.objects.select_for_update().get(call_key=work.call_key)
    return call, True


class _Changes:
    """What applying the facts changed: fields to save, legs to write, signals to send."""

    def __init__(self) -> None:
        self.fields: set[str] = set()
        self.kinds: dict[tuple[str, int | None], datetime.datetime] = {}

    def set(self, call: Call, name: str, value) -> None:
        if getattr(call, name) != value:
            setattr(call, name, value)
            self.fields.add(name)

    def emit(self, kind: str, at: datetime.datetime, agent_id: int | None = None) -> None:
        self.kinds.setdefault((kind, agent_id), at)


def _call_facts_apply_one(work: _CallWork) -> None:
    call, created = _call_locked(work)
    changes = _Changes()
    if created:
        changes.emit("started", call.started_at)
    _legs_apply(call, [fact for fact in work.facts if isinstance(fact, CallLegStarted | CallLegEnded)])
    for fact in work.facts:
        apply = _CALL_FACT_APPLIERS.get(type(fact))
        if apply is not None:
            apply(call, fact, changes)
    if changes.fields:
        call.save(update_fields=sorted(changes.fields | {"updated_at"}))
    for (kind, agent_id), at in changes.kinds.items():
        _call_changed_on_commit(call_id=call.pk, kind=kind, agent_id=agent_id, at=at)


def _legs_apply(call: Call, facts: list[CallLegStarted | CallLegEnded]) -> None:
    """Channels of the call: new ones created (once per unique id), hung-up ones closed once."""
    if not facts:
        return
    unique_ids = {fact.unique_id for fact in facts}
    legs = {leg.unique_id: leg for leg in CallLeg.objects.filter(unique_id__in=unique_ids)}
    new: dict[str, CallLeg] = {}
    ended: dict[str, CallLeg] = {}
    for fact in facts:
        leg = legs.get(fact.unique_id) or new.get(fact.unique_id)
        if isinstance(fact, CallLegStarted):
            if leg is None:
                new[fact.unique_id] = CallLeg(
                    call=call, unique_id=fact.unique_id, channel=fact.channel[:120],
                    caller_number=fact.caller_number[:32], started_at=fact.at,
                )
            elif not leg.channel:
                # A hang-up reported before the start (a resync) left the leg without its channel.
                leg.channel, leg.caller_number, leg.started_at = fact.channel[:120], fact.caller_number[:32], fact.at
                ended.setdefault(fact.unique_id, leg)
            continue
        if leg is None:
            leg = new[fact.unique_id] = CallLeg(call=call, unique_id=fact.unique_id, channel="", started_at=fact.at)
        if leg.ended_at is None:
            leg.ended_at, leg.hangup_cause, leg.hangup_cause_text = fact.at, fact.cause, fact.cause_text[:80]
            if leg.pk is not None:
                ended[fact.unique_id] = leg
    if new:
        CallLeg.objects.bulk_create(new.values(), ignore_conflicts=True)
    if ended:
        CallLeg.objects.bulk_update(
            ended.values(), ["channel", "caller_number", "started_at", "ended_at", "hangup_cause", "hangup_cause_text"]
        )


def _started(call: Call, fact: CallStarted, changes: _Changes) -> None:
    if not call.caller_number and fact.caller_number:
        changes.set(call, "caller_number", fact.caller_number[:32])
    if not call.dialled_number and fact.dialled_number:
        changes.set(call, "dialled_number", fact.dialled_number[:32])
    if fact.at < call.started_at:
        changes.set(call, "started_at", fact.at)


def _ivr_step(call: Call, fact: IvrStep, changes: _Changes) -> None:
    step = {"node": fact.node, "input": fact.input, "at": fact.at.isoformat()}
    if step not in call.ivr_path:
        changes.set(call, "ivr_path", [*call.ivr_path, step])
    if fact.data:
        merged = {**call.ivr_data, **fact.data}
        if merged != call.ivr_data:
            changes.set(call, "ivr_data", merged)
        language = fact.data.get("language")
        if isinstance(language, str) and language:
            changes.set(call, "language", language[:10])


# The stronger identification is kept: an agent's confirmation over a keyed account over the calling number.
_IDENTIFIED_RANK = {IdentifiedBy.NONE: 0, IdentifiedBy.CALLER_ID: 1, IdentifiedBy.IVR_ENTRY: 2, IdentifiedBy.AGENT: 3}


def _identified(call: Call, fact: CallIdentified, changes: _Changes) -> None:
    if _IDENTIFIED_RANK.get(fact.by, 0) < _IDENTIFIED_RANK.get(call.identified_by, 0):
        return
    account = Account.objects.filter(number=fact.account_number).only("pk", "customer_id").first()
    if account is None:
        logger.warning("call %s identified by unknown account %s", call.call_key, fact.account_number)
        return
    if call.account_id == account.pk and call.identified_by == fact.by:
        return
    changes.set(call, "account_id", account.pk)
    changes.set(call, "customer_id", account.customer_id)
    changes.set(call, "identified_by", fact.by)
    changes.emit("identified", fact.at)


def _storm_informed(call: Call, fact: StormInformed, changes: _Changes) -> None:
    if call.storm_informed and call.outage_id == fact.outage_id:
        return
    if not Outage.objects.filter(pk=fact.outage_id).exists():
        logger.warning("call %s told of unknown outage %s", call.call_key, fact.outage_id)
        return
    changes.set(call, "outage_id", fact.outage_id)
    changes.set(call, "storm_informed", True)


def _advance(call: Call, state: str, changes: _Changes) -> bool:
    """Move the call forward to `state`; a fact arriving late never moves it back."""
    if _CALL_STATE_ORDER[state] <= _CALL_STATE_ORDER[call.state]:
        return False
    changes.set(call, "state", state)
    return True


def _queued(call: Call, fact: CallQueued, changes: _Changes) -> None:
    if call.queued_at is not None:
        return
    changes.set(call, "queued_at", fact.at)
    changes.set(call, "queue", fact.queue[:40])
    _advance(call, CallState.QUEUED, changes)
    changes.emit("queued", fact.at)


def _presence_for(interface: str, *, lock: bool = False) -> AgentPresence | None:
    if not interface:
        return None
    presences = AgentPresence.objects.filter(interface=interface)
    if lock:
        presences = presences.select_for_update()
    return presences.first()


def _offered(call: Call, fact: CallOffered, changes: _Changes) -> None:
    if call.answered_at is not None or call.ended_at is not None:
        return
    if call.state == CallState.RINGING and call.agent_interface == fact.agent_interface:
        return
    presence = _presence_for(fact.agent_interface)
    if presence is None:
        logger.warning("call %s offered to unknown interface %s", call.call_key, fact.agent_interface)
    if call.queued_at is None:
        changes.set(call, "queued_at", fact.at)
        changes.set(call, "queue", fact.queue[:40])
    changes.set(call, "agent_interface", fact.agent_interface[:80])
    changes.set(call, "state", CallState.RINGING)
    changes.emit("offered", fact.at, presence.agent_id if presence else None)


def _answered(call: Call, fact: CallAnswered, changes: _Changes) -> None:
    if call.answered_at is not None or call.ended_at is not None:
        return
    presence = _presence_for(fact.agent_interface, lock=True)
    if presence is None:
        logger.warning("call %s answered on unknown interface %s", call.call_key, fact.agent_interface)
    queued_at = call.queued_at or fact.at
    changes.set(call, "queued_at", queued_at)
    if fact.queue:
        changes.set(call, "queue", fact.queue[:40])
    changes.set(call, "answered_at", fact.at)
    changes.set(call, "agent_interface", fact.agent_interface[:80])
    changes.set(call, "agent_id", presence.agent_id if presence else None)
    wait = fact.hold_seconds if fact.hold_seconds is not None else _seconds_between(queued_at, fact.at)
    changes.set(call, "queue_wait_seconds", max(0, wait))
    changes.set(call, "state", CallState.TALKING)
    if presence is not None:
        _presence_move(presence, state=AgentState.ON_CALL, at=fact.at, current_call=call)
    changes.emit("answered", fact.at, presence.agent_id if presence else None)


def _left_queue(call: Call, fact: CallLeftQueue, changes: _Changes) -> None:
    if call.answered_at is not None or call.queue_wait_seconds is not None:
        return
    queued_at = call.queued_at or fact.at
    changes.set(call, "queued_at", queued_at)
    changes.set(call, "queue_wait_seconds", _seconds_between(queued_at, fact.at))
    if call.state in (CallState.QUEUED, CallState.RINGING):
        # Out of the queue; the hang-up that usually follows ends it.
        changes.set(call, "state", CallState.IVR)
        changes.set(call, "agent_interface", "")
    changes.emit("left_queue", fact.at)


def _outcome(call: Call) -> str:
    if call.answered_at is not None:
        return CallOutcome.ANSWERED
    if call.queued_at is not None:
        return CallOutcome.ABANDONED
    if call.storm_informed:
        return CallOutcome.STORM_INFORMED
    if call.ivr_data.get("self_served") is True:
        return CallOutcome.IVR_RESOLVED
    return CallOutcome.IVR_ABANDONED


def _ended(call: Call, fact: CallEnded, changes: _Changes) -> None:
    if call.ended_at is not None:
        return
    ended_at = max(fact.at, call.started_at)
    changes.set(call, "ended_at", ended_at)
    changes.set(call, "hangup_cause", fact.cause)
    changes.set(call, "hangup_cause_text", fact.cause_text[:80])
    if call.answered_at is not None:
        changes.set(call, "talk_seconds", _seconds_between(call.answered_at, ended_at))
    elif call.queued_at is not None and call.queue_wait_seconds is None:
        changes.set(call, "queue_wait_seconds", _seconds_between(call.queued_at, ended_at))
    changes.set(call, "outcome", _outcome(call))
    changes.set(call, "state", CallState.ENDED)
    agent_id = call.agent_id
    if agent_id is not None:
        presence = AgentPresence.objects.select_for_update().filter(agent_id=agent_id).first()
        if presence is not None and presence.current_call_id == call.pk and presence.state == AgentState.ON_CALL:
            if call.wrap_up_code:
                # Wrapped up while talking: nothing left to do after the call.
                changes.set(call, "wrap_up_ended_at", ended_at)
                _presence_move(presence, state=AgentState.READY, at=ended_at)
            else:
                _presence_move(presence, state=AgentState.AFTER_CALL_WORK, at=ended_at, current_call=call)
    changes.emit("ended", ended_at, agent_id)


# What each fact about a call does to it (legs are applied together first; agent facts go to presence).
_CALL_FACT_APPLIERS = {
    CallStarted: _started,
    IvrStep: _ivr_step,
    CallIdentified: _identified,
    StormInformed: _storm_informed,
    CallQueued: _queued,
    CallOffered: _offered,
    CallAnswered: _answered,
    CallLeftQueue: _left_queue,
    CallEnded: _ended,
}


def _agent_member_state_apply(fact: AgentMemberState) -> None:
    """The PBX's view of a queue member keeps the presence honest: removed is logged out, paused is not ready,
    an unpaused member of a signed-out or not-ready agent is ready. Calls in progress and after-call work are ours
    to end, and a report older than the presence's last change is stale."""
    presence = _presence_for(fact.interface, lock=True)
    if presence is None:
        logger.info("queue member %s is not a signed-in agent", fact.interface)
        return
    if fact.at < presence.since:
        return
    if fact.queue and not presence.queue:
        presence.queue = fact.queue[:_QUEUE_LIMIT]
        presence.save(update_fields=["queue"])
    if not fact.logged_in:
        if presence.state != AgentState.LOGGED_OUT:
            _presence_move(presence, state=AgentState.LOGGED_OUT, at=fact.at)
    elif fact.paused:
        if presence.state in (AgentState.READY, AgentState.LOGGED_OUT):
            reason = (fact.reason or str(_("话务系统暂停")))[:_REASON_LIMIT]
            _presence_move(presence, state=AgentState.NOT_READY, at=fact.at, reason=reason)
    elif presence.state in (AgentState.LOGGED_OUT, AgentState.NOT_READY):
        _presence_move(presence, state=AgentState.READY, at=fact.at)


# --- agent presence --------------------------------------------------------------------------------------------


def _checked_text(value: str, *, limit: int, field: str, label) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise AgentStateInvalid(
            _("%(label)s不能超过%(limit)d个字") % {"label": label, "limit": limit}, field=field
        )
    return text


def agent_sign_in(*, agent, interface: str, queue: str, at: datetime.datetime | None = None) -> AgentPresence:
    """The agent signs in to `queue` on the PBX member `interface` and is ready for calls. Signing in again with
    the same interface and queue changes nothing. An interface held by another signed-in agent is refused; one
    left behind by a signed-out agent is taken over. Locks the agent's presence row and any holder's."""
    at = at or timezone.now()
    interface = (interface or "").strip()
    queue = (queue or "").strip()
    if not interface or len(interface) > _INTERFACE_LIMIT or any(ch.isspace() for ch in interface):
        raise AgentInterfaceInvalid(_("坐席分机无效"), field="interface")
    if not queue or len(queue) > _QUEUE_LIMIT:
        raise AgentInterfaceInvalid(_("队列名称无效"), field="queue")
    with transaction.atomic():
        holders = list(
            AgentPresence.objects.select_for_update().filter(interface=interface).exclude(agent_id=agent.pk)
        )
        for holder in holders:
            if holder.state != AgentState.LOGGED_OUT:
                raise AgentInterfaceTaken(
                    _("分机%(interface)s已由其他坐席签入") % {"interface": interface}, field="interface"
                )
            holder.interface = ""
            holder.save(update_fields=["interface"])
        presence = AgentPresence.objects.select_for_update().filter(agent_id=agent.pk).first()
        if presence is None:
            presence = AgentPresence.objects.create(
                agent=agent, interface=interface, queue=queue, state=AgentState.LOGGED_OUT, since=at
            )
        if presence.state == AgentState.ON_CALL and presence.interface != interface:
            raise AgentOnCall(_("通话中不能更换分机"), field="interface")
        if presence.interface != interface or presence.queue != queue:
            presence.interface, presence.queue = interface, queue
            presence.save(update_fields=["interface", "queue"])
        if presence.state == AgentState.LOGGED_OUT:
            _presence_move(presence, state=AgentState.READY, at=at)
    return presence


def agent_state_set(*, agent, state: str, reason: str = "", at: datetime.datetime | None = None) -> AgentPresence:
    """The agent chooses a state: ready, not ready (with a reason), after-call work, or signed out. Refused while
    on a call and before signing in; choosing the state one is in only updates the reason. Leaving after-call work
    records when the wrap-up of the last call ended. Locks the presence row."""
    at = at or timezone.now()
    if state not in AGENT_CHOSEN_STATES:
        raise AgentStateInvalid(_("坐席状态无效"), field="state")
    reason = _checked_text(reason, limit=_REASON_LIMIT, field="reason", label=_("未就绪原因"))
    if state != AgentState.NOT_READY:
        reason = ""
    with transaction.atomic():
        presence = AgentPresence.objects.select_for_update().filter(agent_id=agent.pk).first()
        if presence is None or (presence.state == AgentState.LOGGED_OUT and state != AgentState.LOGGED_OUT):
            raise AgentNotSignedIn(_("请先签入队列"), field="state")
        if presence.state == AgentState.ON_CALL:
            raise AgentOnCall(_("通话中不能更改状态，请在通话结束后操作"), field="state")
        if state not in AGENT_TRANSITIONS[presence.state]:
            raise AgentStateInvalid(_("坐席状态无效"), field="state")
        if state == presence.state:
            if reason != presence.reason:
                presence.reason = reason
                presence.save(update_fields=["reason"])
                _agent_state_changed_on_commit(agent_id=agent.pk, state=state, reason=reason)
            return presence
        if presence.state == AgentState.AFTER_CALL_WORK:
            _wrap_up_finish(presence=presence, at=at, state=state, reason=reason)
        else:
            _presence_move(presence, state=state, at=at, reason=reason)
    return presence


def agents_wrap_up_expire(*, now: datetime.datetime | None = None) -> int:
    """Agents whose after-call work has lasted settings.CALLCENTER_WRAP_UP_SECONDS go back to ready; returns how
    many. Each row is locked and checked again, so an agent who chose a state meanwhile keeps it."""
    now = now or timezone.now()
    deadline = now - datetime.timedelta(seconds=wrap_up_seconds())
    expired = list(
        AgentPresence.objects.filter(state=AgentState.AFTER_CALL_WORK, since__lte=deadline).values_list(
            "pk", flat=True
        )
    )
    moved = 0
    for pk in expired:
        with transaction.atomic():
            presence = AgentPresence.objects.select_for_update().get(pk=pk)
            if presence.state != AgentState.AFTER_CALL_WORK or presence.since > deadline:
                continue
            _wrap_up_finish(
                presence=presence, at=presence.since + datetime.timedelta(seconds=wrap_up_seconds()),
                state=AgentState.READY,
            )
            moved += 1
    return moved


# --- what the agent does with a call ---------------------------------------------------------------------------


def _call_for_agent(*, call_id: int, agent) -> Call:
    call = Call.objects.select_for_update().filter(pk=call_id).first()
    if call is None:
        raise CallNotFound(_("呼叫记录不存在"))
    if call.agent_id != agent.pk:
        raise CallNotYours(_("这通电话不是您接听的"))
    return call


def call_wrap_up(*, call_id: int, agent, code: str, note: str = "", at: datetime.datetime | None = None) -> Call:
    """The agent who answered the call records its wrap-up code and note (again, to correct them). Once the call
    is over, this ends the agent's after-call work for it: they are ready for the next call. Locks the call, then
    the agent's presence."""
    at = at or timezone.now()
    if code not in WrapUpCode.values:
        raise WrapUpInvalid(_("请选择小结代码"), field="code")
    note = (note or "").strip()
    if len(note) > _NOTE_LIMIT:
        raise WrapUpInvalid(_("小结备注不能超过%(limit)d个字") % {"limit": _NOTE_LIMIT}, field="note")
    with transaction.atomic():
        call = _call_for_agent(call_id=call_id, agent=agent)
        if call.answered_at is None:
            raise CallNotAnswered(_("这通电话尚未接通"))
        if call.wrap_up_code == code and call.wrap_up_note == note:
            return call
        call.wrap_up_code, call.wrap_up_note = code, note
        call.save(update_fields=["wrap_up_code", "wrap_up_note", "updated_at"])
        presence = AgentPresence.objects.select_for_update().filter(agent_id=agent.pk).first()
        if (
            presence is not None
            and presence.state == AgentState.AFTER_CALL_WORK
            and presence.current_call_id == call.pk
        ):
            _wrap_up_finish(presence=presence, at=at, state=AgentState.READY)
            call.refresh_from_db(fields=["wrap_up_ended_at"])
        _call_changed_on_commit(call_id=call.pk, kind="wrapped_up", agent_id=agent.pk, at=at)
    return call


def call_ticket_link(
    *, call_id: int, ticket: Ticket, relation: str, by=None, at: datetime.datetime | None = None
) -> CallTicket:
    """Record that the call opened, added to or asked about the ticket (once per relation)."""
    at = at or timezone.now()
    if relation not in CallTicketRelation.values:
        raise CallTicketRelationInvalid(_("呼叫与工单的关系无效"), field="relation")
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(pk=call_id).first()
        if call is None:
            raise CallNotFound(_("呼叫记录不存在"))
        link, created = CallTicket.objects.get_or_create(
            call=call, ticket=ticket, relation=relation, defaults={"at": at, "by": by}
        )
        if created:
            _call_changed_on_commit(call_id=call.pk, kind="ticket_linked", agent_id=call.agent_id, at=at)
    return link


def call_identify(*, call_id: int, account: Account, agent, at: datetime.datetime | None = None) -> Call:
    """The agent who answered confirms who is calling: the call is the account holder's from now on, whatever
    the calling number or the IVR suggested. `at` goes with the call_changed signal. Locks the call."""
    at = at or timezone.now()
    with transaction.atomic():
        call = _call_for_agent(call_id=call_id, agent=agent)
        if call.account_id == account.pk and call.identified_by == IdentifiedBy.AGENT:
            return call
        call.account_id, call.customer_id, call.identified_by = account.pk, account.customer_id, IdentifiedBy.AGENT
        call.save(update_fields=["account", "customer", "identified_by", "updated_at"])
        _call_changed_on_commit(call_id=call.pk, kind="identified", agent_id=agent.pk, at=at)
    return call
