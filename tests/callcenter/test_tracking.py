"""The call tracker: the events recorded from Asterisk become call facts (one call per Linkedid), and written
through core's call_facts_apply they make the call record; a resync after a reconnect neither loses nor
duplicates a call."""
from __future__ import annotations

import datetime

import pytest

from callcenter.adapters.ami import event_parse
from callcenter.tracking import CallTracker
from core.call_facts import (
    AgentMemberState, CallAnswered, CallEnded, CallLeftQueue, CallLegEnded, CallLegStarted, CallOffered, CallQueued,
    CallStarted,
)
from core.models import AgentState, Call, CallLeg, CallOutcome, CallState
from tests.callcenter.factories import agent_presence, call_agent_user
from tests.callcenter.fake_ami import CallTemplate, message_encode, transcript_load

BASE = datetime.datetime(2026, 11, 23, 7, 15, tzinfo=datetime.timezone.utc)


class Clock:
    """The tracker's clock: the recording's own time of each event."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> datetime.datetime:
        return BASE + datetime.timedelta(seconds=self.seconds)


def replay(name: str, tracker: CallTracker | None = None, clock: Clock | None = None, *, stop_at: str = ""):
    """The facts the tracker draws from a transcript's server events (up to the first `stop_at` event)."""
    clock = clock or Clock()
    tracker = tracker or CallTracker(now=clock)
    facts = []
    for entry in transcript_load(name):
        if entry.kind != "server" or not entry.payload.startswith(b"Event: "):
            continue
        event = event_parse(entry.payload.decode().removesuffix("\r\n\r\n"))
        if event.name == stop_at:
            break
        clock.seconds = entry.at
        facts.extend(tracker.event_apply(event))
    return tracker, facts


def shape(facts) -> list[tuple]:
    out = []
    for fact in facts:
        values = {key: value for key, value in vars(fact).items() if key != "at"}
        out.append((type(fact).__name__, *values.values()))
    return out


def events(*payloads: bytes):
    return [event_parse(payload.decode().removesuffix("\r\n\r\n")) for payload in payloads]


def test_ivr_then_queue_then_agent_is_one_call_with_its_legs_queue_agent_and_hang_up():
    tracker, facts = replay("04_ivr_asyncagi_then_queue_agent")
    key = "1795418147.6"
    assert shape(facts) == [
        ("CallStarted", key, "asterisk", "13900139000", "95598"),
        ("CallLegStarted", key, "1795418147.6", "Local/95598@ivr-95598-00000003;1", ""),
        ("CallLegStarted", key, "1795418147.7", "Local/95598@ivr-95598-00000003;2", ""),
        ("CallQueued", key, "hotline"),
        ("CallLegStarted", key, "1795418149.8", "Local/1001@agents-00000004;1", ""),
        ("CallLegStarted", key, "1795418149.9", "Local/1001@agents-00000004;2", ""),
        ("CallOffered", key, "hotline", "Local/1001@agents/n"),
        ("AgentMemberState", "Local/1001@agents/n", "hotline", True, False, ""),
        ("CallAnswered", key, "hotline", "Local/1001@agents/n", 1),
        ("CallLegEnded", key, "1795418149.9", 16, "Normal Clearing"),
        ("CallLegEnded", key, "1795418149.8", 16, "Normal Clearing"),
        ("CallLegEnded", key, "1795418147.7", 16, "Normal Clearing"),
        ("CallLegEnded", key, "1795418147.6", 16, "Normal Clearing"),
        ("CallEnded", key, 16, "Normal Clearing"),
    ]
    # Times are the events' own: offered when AgentCalled arrived (+2.021 s), answered at AgentConnect (+3.025 s).
    offered = next(fact for fact in facts if isinstance(fact, CallOffered))
    answered = next(fact for fact in facts if isinstance(fact, CallAnswered))
    assert offered.at == BASE + datetime.timedelta(seconds=2.021)
    assert answered.at == BASE + datetime.timedelta(seconds=3.025)
    assert tracker.live_calls == 0


def test_queue_member_events_report_only_changes():
    _tracker, facts = replay("07_queue_member_management")
    members = [fact for fact in facts if isinstance(fact, AgentMemberState)]
    assert shape(members) == [
        ("AgentMemberState", "Local/1003@agents/n", "hotline", True, False, ""),
        ("AgentMemberState", "Local/1003@agents/n", "hotline", True, True, "lunch"),
        ("AgentMemberState", "Local/1003@agents/n", "hotline", True, False, ""),
        ("AgentMemberState", "Local/1003@agents/n", "hotline", False, False, ""),
    ]
    _tracker, facts = replay("05_queue_call_direct")
    # Two QueueMemberStatus events for agent 1001 (ringing, then back) with the same membership: one fact.
    assert [fact.interface for fact in facts if isinstance(fact, AgentMemberState)] == [
        "Local/1001@agents/n", "Local/1002@agents/n"]


def test_abandon_and_hang_up_while_waiting_leave_the_queue_once():
    template = CallTemplate("05_queue_call_direct", caller_number="13700137000")
    rendered = template.render(index=1, caller_number="13700000001", interface="Local/1001@agents/n")
    until_join = rendered[:rendered.index(next(p for p in rendered if p.startswith(b"Event: QueueCallerJoin"))) + 1]
    key = template.call_key(index=1)
    channels = [event for event in events(*until_join) if event.name == "Newchannel"]
    hangups = [message_encode(("Event", "Hangup"), {
        "Channel": channel.keys["Channel"], "Uniqueid": channel.keys["Uniqueid"], "Linkedid": key,
        "Cause": "16", "Cause-txt": "Normal Clearing"}) for channel in channels]
    abandon = message_encode(("Event", "QueueCallerAbandon"), {
        "Channel": channels[1].keys["Channel"], "Uniqueid": channels[1].keys["Uniqueid"], "Linkedid": key,
        "Queue": "hotline", "Position": "1", "OriginalPosition": "1", "HoldTime": "7"})

    tracker = CallTracker()
    facts = [fact for event in events(*until_join, abandon, *hangups) for fact in tracker.event_apply(event)]
    assert [type(fact).__name__ for fact in facts if not isinstance(fact, CallLegStarted | CallLegEnded)] == [
        "CallStarted", "CallQueued", "CallLeftQueue", "CallEnded"]

    tracker = CallTracker()
    facts = [fact for event in events(*until_join, *hangups) for fact in tracker.event_apply(event)]
    assert [type(fact).__name__ for fact in facts if not isinstance(fact, CallLegStarted | CallLegEnded)] == [
        "CallStarted", "CallQueued", "CallLeftQueue", "CallEnded"]


def test_a_pbx_stamp_is_the_fact_time():
    tracker = CallTracker(now=lambda: BASE)
    [started, _leg] = tracker.event_apply(events(message_encode(("Event", "Newchannel"), {
        "Channel": "PJSIP/trunk-00000001", "CallerIDNum": "13800138000", "Exten": "95598",
        "Uniqueid": "1.1", "Linkedid": "1.1", "Timestamp": "1795418147.250000"}))[0])
    assert started.at == datetime.datetime.fromtimestamp(1795418147.25, tz=datetime.timezone.utc)
    assert isinstance(started, CallStarted) and started.caller_number == "13800138000"


def test_resync_starts_unknown_calls_ends_vanished_ones_and_repeats_nothing_known():
    script = transcript_load("06_coreshowchannels_status_getvar_hangup")
    listed = [entry.payload for entry in script
              if entry.kind == "server" and entry.payload.startswith(b"Event: CoreShowChannel\r\n")]
    channels = events(*listed)
    assert len(channels) == 2

    # The worker (re)started while the call was up: the call is started from the PBX's list.
    fresh = CallTracker(now=lambda: BASE)
    assert shape(fresh.resync(channels=channels)) == [
        ("CallStarted", "1795418168.14", "asterisk", "13600136000", "caller"),
        ("CallLegStarted", "1795418168.14", "1795418168.14", "Local/echo@agents-00000007;1", "13600136000"),
        ("CallLegStarted", "1795418168.14", "1795418168.15", "Local/echo@agents-00000007;2", "13600136000"),
    ]
    # Reconnected with the call still up: nothing new to say.
    assert fresh.resync(channels=channels) == []
    # Reconnected after the call ended while we were away: its legs and the call end.
    assert shape(fresh.resync(channels=[])) == [
        ("CallLegEnded", "1795418168.14", "1795418168.14", None, ""),
        ("CallLegEnded", "1795418168.14", "1795418168.15", None, ""),
        ("CallEnded", "1795418168.14", None, ""),
    ]
    assert fresh.live_calls == 0


def test_resync_reports_queue_entries_and_members():
    tracker, _facts = replay("05_queue_call_direct", stop_at="AgentCalled")
    status = [entry.payload for entry in transcript_load("05_queue_call_direct")
              if entry.kind == "server" and entry.payload.startswith((b"Event: QueueEntry", b"Event: QueueMember\r\n",
                                                                       b"Event: QueueParams"))]
    live = [message_encode(("Event", "CoreShowChannel"), {"Uniqueid": unique_id, "Linkedid": "1795418158.10",
                                                          "Channel": f"Local/x-{unique_id}"})
            for unique_id in sorted(tracker.leg_calls)]
    facts = tracker.resync(channels=events(*live), queue_status=events(*status))
    assert shape(facts) == [
        ("AgentMemberState", "Local/1001@agents/n", "hotline", True, False, ""),
        ("AgentMemberState", "Local/1002@agents/n", "hotline", True, False, ""),
        ("CallQueued", "1795418158.10", "hotline"),
    ]


@pytest.mark.django_db
def test_the_recorded_call_written_through_core_is_one_complete_call_record_and_replays_change_nothing():
    from core.services.calls import call_facts_apply

    agent = call_agent_user()
    agent_presence(agent, interface="Local/1001@agents/n", state=AgentState.READY, since=BASE)
    _tracker, facts = replay("04_ivr_asyncagi_then_queue_agent")
    call_facts_apply(facts=facts)
    call = Call.objects.get()
    assert (call.call_key, call.caller_number, call.dialled_number, call.queue) == (
        "1795418147.6", "13900139000", "95598", "hotline")
    assert (call.state, call.outcome, call.agent_id, call.agent_interface) == (
        CallState.ENDED, CallOutcome.ANSWERED, agent.pk, "Local/1001@agents/n")
    assert (call.queue_wait_seconds, call.talk_seconds, call.hangup_cause, call.hangup_cause_text) == (
        1, 4, 16, "Normal Clearing")
    assert call.answered_at == BASE + datetime.timedelta(seconds=3.025)
    assert CallLeg.objects.filter(call=call, ended_at__isnull=False).count() == 4
    agent.agent_presence.refresh_from_db()
    assert agent.agent_presence.state == AgentState.AFTER_CALL_WORK

    before = list(Call.objects.values())
    call_facts_apply(facts=facts)
    assert list(Call.objects.values()) == before
    assert CallLeg.objects.count() == 4


def test_facts_are_in_a_stable_order_per_call():
    """Everything about a call comes after its CallStarted, whatever event came first."""
    _tracker, facts = replay("06_coreshowchannels_status_getvar_hangup")
    assert isinstance(facts[0], CallStarted)
    assert all(not isinstance(fact, CallStarted) for fact in facts[1:])
    assert isinstance(facts[-1], CallEnded)
    assert [fact for fact in facts if isinstance(fact, CallQueued | CallLeftQueue | AgentMemberState)] == []
    assert sum(isinstance(fact, CallLegEnded) for fact in facts) == 2


def test_events_arriving_while_the_channel_list_is_built_are_neither_ended_nor_revived():
    script = transcript_load("06_coreshowchannels_status_getvar_hangup")
    listed = events(*[entry.payload for entry in script
                      if entry.kind == "server" and entry.payload.startswith(b"Event: CoreShowChannel\r\n")])
    # The list was asked for before the call began; its Newchannel events came before the (empty) list did.
    tracker = CallTracker(now=lambda: BASE)
    known_before = tracker.legs_snapshot()
    tracker, _facts = replay("06_coreshowchannels_status_getvar_hangup", tracker, stop_at="Hangup")
    assert tracker.resync(channels=[], known_before=known_before) == []
    assert tracker.live_calls == 1
    # The list showed both channels, but their hang-ups came before the list was complete: not revived.
    tracker, _facts = replay("06_coreshowchannels_status_getvar_hangup")
    assert tracker.live_calls == 0
    assert tracker.resync(channels=listed, known_before=tracker.legs_snapshot()) == []
    assert tracker.live_calls == 0


def test_a_batch_splits_into_lanes_keeping_each_call_in_order_and_offered_calls_first():
    from callcenter.worker import facts_split

    _tracker, first = replay("04_ivr_asyncagi_then_queue_agent")
    _tracker, second = replay("06_coreshowchannels_status_getvar_hangup")
    batch = [*second, *first]
    for lanes in (1, 2, 4):
        split = facts_split(batch, lanes=lanes)
        assert len(split) == lanes and sum(map(len, split)) == len(batch)
        for lane in split:
            for key in {getattr(fact, "call_key", None) for fact in lane}:
                assert [fact for fact in lane if getattr(fact, "call_key", None) == key] == [
                    fact for fact in batch if getattr(fact, "call_key", None) == key]
    [lane] = facts_split(batch, lanes=1)
    # The call being offered (scenario 04) is written before the other call, which came first.
    keys = [fact.call_key for fact in lane if not isinstance(fact, AgentMemberState)]
    assert keys == ["1795418147.6"] * 13 + ["1795418168.14"] * 6
