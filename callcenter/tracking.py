"""AMI events → call facts (core.call_facts). Pure: no I/O, no ORM; the run_ami worker feeds it events in order and
hands the facts to core.services.calls.call_facts_apply.

One call per Linkedid: every channel (leg) carrying that Linkedid belongs to it, the call ends when its last live
leg hangs up. Queue join / agent rung / agent connected / abandon become CallQueued / CallOffered / CallAnswered /
CallLeftQueue; queue member events become AgentMemberState (only when the member's state changed). After a
reconnect, `resync` compares the PBX's live channels with what the tracker believed: calls it did not know are
started, calls that vanished while disconnected are ended, live ones are re-reported (facts are idempotent).
"""
from __future__ import annotations

import dataclasses
import datetime
from collections import OrderedDict
from collections.abc import Callable, Iterable

from asterisk.ami import Event

from core.call_facts import (
    AgentMemberState, CallAnswered, CallEnded, CallFact, CallLeftQueue, CallLegEnded, CallLegStarted, CallOffered,
    CallQueued, CallStarted,
)

# Hung-up channels remembered so a channel list built just before its hang-up cannot bring it back.
ENDED_REMEMBERED = 10_000
UNKNOWN_NUMBERS = frozenset({"", "<unknown>", "unknown", "anonymous"})
MEMBER_EVENTS = frozenset({"QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause", "QueueMemberPaused",
                           "QueueMember"})


def caller_number_clean(value: str) -> str:
    return "" if value.strip().lower() in UNKNOWN_NUMBERS else value.strip()


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclasses.dataclass
class CallTrack:
    """What the tracker knows of one live call."""

    call_key: str
    dialled_number: str
    caller_number: str = ""
    started: bool = False  # CallStarted emitted
    held: list[CallFact] = dataclasses.field(default_factory=list)  # facts waiting for CallStarted
    legs: set[str] = dataclasses.field(default_factory=set)
    queue: str = ""
    in_queue: bool = False
    answered: bool = False
    left_queue: bool = False


class CallTracker:
    """Feed `event_apply` each AMI event; it returns the facts that event implies (often none)."""

    def __init__(self, *, transport: str = "asterisk", now: Callable[[], datetime.datetime] | None = None) -> None:
        from django.utils import timezone

        self.transport = transport
        self.now = now or timezone.now
        self.calls: dict[str, CallTrack] = {}
        self.leg_calls: dict[str, str] = {}  # Uniqueid -> Linkedid
        self.members: dict[tuple[str, str], tuple[bool, bool, str]] = {}
        self.ended: OrderedDict[str, None] = OrderedDict()
        self._handlers = {
            "Newchannel": self._new_channel,
            "NewCallerid": self._new_caller_id,
            "Hangup": self._hangup,
            "QueueCallerJoin": self._queue_join,
            "Join": self._queue_join,
            "QueueCallerAbandon": self._queue_abandon,
            "AgentCalled": self._agent_called,
            "AgentConnect": self._agent_connect,
            "QueueMemberRemoved": self._member_removed,
            **{name: self._member_state for name in MEMBER_EVENTS},
        }

    # --- entry points -------------------------------------------------------------------------------------------

    def event_apply(self, event: Event) -> list[CallFact]:
        handler = self._handlers.get(event.name)
        if handler is None:
            return []
        return handler(event.keys, self._at(event.keys))

    @property
    def live_calls(self) -> int:
        return len(self.calls)

    def legs_snapshot(self) -> set[str]:
        """The legs believed live now: take it before asking for the channel list, pass it to `resync`."""
        return set(self.leg_calls)

    def resync(self, *, channels: Iterable[Event], queue_status: Iterable[Event] = (),
               known_before: set[str] | None = None) -> list[CallFact]:
        """After a reconnect: CoreShowChannel events (every live channel) and QueueStatus's events. Facts for calls
        the tracker did not know, ends for calls that vanished, queue entries and members re-reported.

        Events keep arriving while the list is built: only legs known before the list was asked for
        (`known_before`) can be found missing, and a leg whose Hangup already came is not brought back."""
        at = self.now()
        facts: list[CallFact] = []
        live: dict[str, dict] = {}
        for channel in channels:
            keys = channel.keys
            if keys.get("Uniqueid") and keys["Uniqueid"] not in self.ended:
                live[keys["Uniqueid"]] = keys
        # Calls that vanished while the connection was down: end their legs and the call.
        for linked_id, track in list(self.calls.items()):
            gone = sorted(unique_id for unique_id in track.legs if unique_id not in live
                          and (known_before is None or unique_id in known_before))
            for unique_id in gone:
                facts.extend(self._leg_end(track, unique_id=unique_id, cause=None, cause_text="", at=at))
        # Live channels, first channels of their calls first so each call starts with its caller's number.
        ordered = sorted(live.values(), key=lambda keys: keys.get("Uniqueid") != keys.get("Linkedid"))
        for keys in ordered:
            facts.extend(self._leg_start(keys, at))
        for entry in queue_status:
            keys = entry.keys
            if entry.name == "QueueEntry":
                linked_id = self.leg_calls.get(keys.get("Uniqueid", ""))
                track = self.calls.get(linked_id) if linked_id else None
                if track is not None:
                    track.queue, track.in_queue = keys.get("Queue", ""), True
                    facts.extend(self._call_fact(track, CallQueued(call_key=track.call_key, queue=track.queue,
                                                                   at=at)))
            elif entry.name == "QueueMember":
                self.members.pop((keys.get("Location", ""), keys.get("Queue", "")), None)
                facts.extend(self._member_state(keys, at))
        return facts

    # --- helpers ------------------------------------------------------------------------------------------------

    def _at(self, keys: dict) -> datetime.datetime:
        """The event's own time when the PBX stamps events (timestampevents=yes), else the time it arrived."""
        stamp = keys.get("Timestamp")
        if stamp:
            try:
                return datetime.datetime.fromtimestamp(float(stamp), tz=datetime.timezone.utc)
            except ValueError:
                pass
        return self.now()

    def _track(self, keys: dict) -> CallTrack | None:
        linked_id = keys.get("Linkedid") or self.leg_calls.get(keys.get("Uniqueid", ""))
        return self.calls.get(linked_id) if linked_id else None

    def _start(self, track: CallTrack, at: datetime.datetime) -> list[CallFact]:
        """CallStarted, then whatever waited for it."""
        if track.started:
            return []
        track.started = True
        facts: list[CallFact] = [CallStarted(call_key=track.call_key, transport=self.transport,
                                             caller_number=track.caller_number,
                                             dialled_number=track.dialled_number, at=at)]
        facts.extend(track.held)
        track.held = []
        return facts

    def _call_fact(self, track: CallTrack, fact: CallFact) -> list[CallFact]:
        """A fact about the call, preceded by CallStarted if it was still waiting for the caller's number."""
        return [*self._start(track, fact.at), fact]

    def _leg_start(self, keys: dict, at: datetime.datetime) -> list[CallFact]:
        unique_id, linked_id = keys.get("Uniqueid", ""), keys.get("Linkedid", "")
        if not unique_id or not linked_id:
            return []
        number = caller_number_clean(keys.get("CallerIDNum", ""))
        track = self.calls.get(linked_id)
        new_call = track is None
        if new_call:
            track = self.calls[linked_id] = CallTrack(call_key=linked_id, dialled_number=keys.get("Exten", ""))
        if unique_id in track.legs:
            return []
        track.legs.add(unique_id)
        self.leg_calls[unique_id] = linked_id
        if not track.caller_number and number and (unique_id == linked_id or new_call):
            track.caller_number = number
        leg = CallLegStarted(call_key=linked_id, unique_id=unique_id, channel=keys.get("Channel", ""),
                             caller_number=number, at=at)
        if track.started:
            return [leg]
        track.held.append(leg)
        # A channel born with the caller's number starts the call at once; an originated one (number not known yet)
        # waits for NewCallerid or the call's next fact.
        return self._start(track, at) if track.caller_number else []

    def _leg_end(self, track: CallTrack, *, unique_id: str, cause: int | None, cause_text: str,
                 at: datetime.datetime) -> list[CallFact]:
        if unique_id not in track.legs:
            return []
        track.legs.discard(unique_id)
        self.leg_calls.pop(unique_id, None)
        self.ended[unique_id] = None
        if len(self.ended) > ENDED_REMEMBERED:
            self.ended.popitem(last=False)
        facts = self._call_fact(track, CallLegEnded(call_key=track.call_key, unique_id=unique_id, cause=cause,
                                                    cause_text=cause_text, at=at))
        if not track.legs:
            if track.in_queue and not track.answered and not track.left_queue:
                facts.append(CallLeftQueue(call_key=track.call_key, queue=track.queue, at=at))
            facts.append(CallEnded(call_key=track.call_key, cause=cause, cause_text=cause_text, at=at))
            del self.calls[track.call_key]
        return facts

    # --- handlers -----------------------------------------------------------------------------------------------

    def _new_channel(self, keys: dict, at: datetime.datetime) -> list[CallFact]:
        return self._leg_start(keys, at)

    def _new_caller_id(self, keys: dict, at: datetime.datetime) -> list[CallFact]:
        track = self._track(keys)
        number = caller_number_clean(keys.get("CallerIDNum", ""))
        if track is None or track.started or not number:
            return []
        track.caller_number = number
        return self._start(track, at)

    def _hangup(self, keys: dict, at: datetime.datetime) -> list[CallFact]:
        track = self._track(keys)
        if track is None:
            return []
        return self._leg_end(track, unique_id=keys.get("Uniqueid", ""), cause=_int_or_none(keys.get("Cause")),
                             cause_text=keys.get("Cause-txt", ""), at=at)

    def _queue_join(self, keys: dict, at: datetime.datetime) -> list[CallFact]:
        track = self._track(keys)
        if track is None:
            return []
        track.queue, track.in_queue, track.left_queue = keys.get("Queue", ""), True, False
        return self._call_fact(track, CallQueued(call_key=track.call_key, queue=track.queue, at=at))

    def _queue_abandon(self, keys: dict, at: datetime.datetime) -> list[CallFact]:
        track = self._track(keys)
        if track is None:
            return []
        track.in_queue, track.left_queue = False, True
        return self._call_fact(track, CallLeftQueue(call_key=track.call_key, queue=keys.get("Queue", track.queue),
                                                    at=at))

    def _agent_called(self, keys: dict, at: datetime.datetime) -> list[CallFact]:
        track = self._track(keys)
        if track is None:
            return []
        return self._call_fact(track, CallOffered(call_key=track.call_key, queue=keys.get("Queue", track.queue),
                                                  agent_interface=keys.get("Interface", ""), at=at))

    def _agent_connect(self, keys: dict, at: datetime.datetime) -> list[CallFact]:
        track = self._track(keys)
        if track is None:
            return []
        track.answered, track.in_queue = True, False
        return self._call_fact(track, CallAnswered(
            call_key=track.call_key, queue=keys.get("Queue", track.queue), agent_interface=keys.get("Interface", ""),
            at=at, hold_seconds=_int_or_none(keys.get("HoldTime")),
        ))

    def _member_state(self, keys: dict, at: datetime.datetime) -> list[CallFact]:
        interface = keys.get("Interface") or keys.get("Location", "")
        queue = keys.get("Queue", "")
        state = (True, keys.get("Paused", "0") == "1", keys.get("PausedReason", ""))
        if not interface or self.members.get((interface, queue)) == state:
            return []
        self.members[(interface, queue)] = state
        return [AgentMemberState(interface=interface, queue=queue, logged_in=True, paused=state[1], reason=state[2],
                                 at=at)]

    def _member_removed(self, keys: dict, at: datetime.datetime) -> list[CallFact]:
        interface, queue = keys.get("Interface", ""), keys.get("Queue", "")
        if not interface:
            return []
        self.members[(interface, queue)] = (False, False, "")
        return [AgentMemberState(interface=interface, queue=queue, logged_in=False, paused=False, reason="", at=at)]
