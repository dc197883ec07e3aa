"""core.selectors.call_kpis: the wallboard's figures computed by the database in a fixed number of queries, the
next agent a Twilio call goes to, and an agent's own day."""
import datetime

import pytest

from core.models import AgentState, Call, CallOutcome, CallState, CallTransport
from core.selectors.call_kpis import agent_ready_longest_idle, calls_today_for_agent, wallboard_snapshot
from tests.callcenter.factories import agent_presence, call_agent_user, finished_call
from tests.ticket_factories import local

pytestmark = pytest.mark.django_db

NOW = local(2026, 11, 23, 11, 30)


def waiting_call(*, queued_at: datetime.datetime, state=CallState.QUEUED, key: str, interface: str = "") -> Call:
    return Call.objects.create(
        transport=CallTransport.ASTERISK, call_key=key, caller_number="13900000000", state=state,
        started_at=queued_at - datetime.timedelta(seconds=30), queued_at=queued_at, queue="hotline",
        agent_interface=interface,
    )


@pytest.fixture
def day():
    """A morning at the hotline: three agents signed in (one out), calls at 9, 10 and 11 o'clock, yesterday's."""
    ready, lunch, talking, gone = (call_agent_user(username=name) for name in ("wang", "li", "zhang", "zhao"))
    agent_presence(ready, state=AgentState.READY, since=local(2026, 11, 23, 11, 0))
    agent_presence(lunch, state=AgentState.NOT_READY, reason="午餐", since=local(2026, 11, 23, 11, 10))
    agent_presence(talking, state=AgentState.ON_CALL, since=local(2026, 11, 23, 11, 25))
    agent_presence(gone, state=AgentState.LOGGED_OUT, since=local(2026, 11, 23, 8, 0))
    finished_call(started_at=local(2026, 11, 23, 9, 5), wait=10, talk=120, wrap_up=15, agent=ready)
    finished_call(started_at=local(2026, 11, 23, 9, 20), wait=30, talk=200, wrap_up=40, agent=ready)
    finished_call(started_at=local(2026, 11, 23, 9, 40), outcome=CallOutcome.ABANDONED, wait=50)
    finished_call(started_at=local(2026, 11, 23, 10, 10), wait=20, talk=100, wrap_up=5, agent=lunch)
    finished_call(started_at=local(2026, 11, 23, 10, 30), outcome=CallOutcome.IVR_RESOLVED)
    finished_call(started_at=local(2026, 11, 23, 10, 31), outcome=CallOutcome.STORM_INFORMED, storm_informed=True)
    finished_call(started_at=local(2026, 11, 23, 10, 32), outcome=CallOutcome.IVR_ABANDONED)
    finished_call(started_at=local(2026, 11, 22, 23, 50), wait=5, talk=60, agent=ready)
    waiting_call(queued_at=local(2026, 11, 23, 11, 29), key="w1")
    waiting_call(queued_at=NOW - datetime.timedelta(seconds=30), state=CallState.RINGING, key="w2")
    # Lost its hang-up two days ago: not waiting.
    waiting_call(queued_at=local(2026, 11, 21, 9, 0), key="stale")
    return ready, lunch, talking


def figures(**values):
    base = {
        "calls": 0, "queued": 0, "answered": 0, "abandoned": 0, "answered_within_level": 0, "ivr_answered": 0,
        "storm_informed": 0, "service_level_percent": None, "abandonment_percent": None,
        "average_handle_seconds": None,
    }
    return {**base, **values}


def test_the_wallboard_snapshot_in_four_queries(day, django_assert_num_queries, settings):
    settings.CALLCENTER_SERVICE_LEVEL_SECONDS = 20
    with django_assert_num_queries(4):
        snapshot = wallboard_snapshot(now=NOW)

    assert snapshot["at"] == NOW.isoformat()
    assert (snapshot["day"], snapshot["current_hour"], snapshot["service_level_seconds"]) == ("2026-11-23", 11, 20)
    assert snapshot["queue"] == {"waiting": 2, "longest_wait_seconds": 60}
    assert snapshot["agents_by_state"] == {
        "logged_out": 1, "ready": 1, "not_ready": 1, "on_call": 1, "after_call_work": 0,
    }
    assert [(a["name"], a["state"], a["state_label"], a["reason"], a["seconds_in_state"]) for a in snapshot["agents"]] == [
        ("li", "not_ready", "未就绪", "午餐", 1200),
        ("zhang", "on_call", "通话中", "", 300),
        ("wang", "ready", "就绪", "", 1800),
    ]
    assert snapshot["today"] == figures(
        calls=9, queued=6, answered=3, abandoned=1, answered_within_level=2, ivr_answered=2, storm_informed=1,
        service_level_percent=50.0, abandonment_percent=25.0, average_handle_seconds=160,
    )
    hours = snapshot["hours"]
    assert [hour["hour"] for hour in hours] == list(range(24))
    assert hours[9] == {"hour": 9, **figures(
        calls=3, queued=3, answered=2, abandoned=1, answered_within_level=1, service_level_percent=33.3,
        abandonment_percent=33.3, average_handle_seconds=188,
    )}
    assert hours[10] == {"hour": 10, **figures(
        calls=4, queued=1, answered=1, answered_within_level=1, ivr_answered=2, storm_informed=1,
        service_level_percent=100.0, abandonment_percent=0.0, average_handle_seconds=105,
    )}
    assert hours[11] == {"hour": 11, **figures(calls=2, queued=2)}
    assert hours[8] == {"hour": 8, **figures()}


def test_the_service_level_follows_the_setting(day, settings):
    settings.CALLCENTER_SERVICE_LEVEL_SECONDS = 30
    today = wallboard_snapshot(now=NOW)["today"]
    assert (today["answered_within_level"], today["service_level_percent"]) == (3, 75.0)


def test_an_empty_day_has_no_rates():
    snapshot = wallboard_snapshot(now=NOW)
    assert snapshot["queue"] == {"waiting": 0, "longest_wait_seconds": 0}
    assert snapshot["today"] == figures()
    assert snapshot["agents"] == []


def test_the_day_is_beijings(day):
    # 00:30 Beijing on the 24th is still the 23rd in UTC: the 23rd's calls are not today's.
    snapshot = wallboard_snapshot(now=local(2026, 11, 24, 0, 30))
    assert (snapshot["day"], snapshot["today"]["calls"]) == ("2026-11-24", 0)


def test_a_twilio_call_goes_to_the_ready_agent_idle_longest_who_is_not_being_rung(django_assert_num_queries):
    first, second, third, paused, elsewhere = (call_agent_user() for _ in range(5))
    agent_presence(first, since=NOW - datetime.timedelta(minutes=30), interface="twilio:first")
    agent_presence(second, since=NOW - datetime.timedelta(minutes=20), interface="twilio:second")
    agent_presence(third, since=NOW - datetime.timedelta(minutes=10), interface="twilio:third")
    agent_presence(paused, state=AgentState.NOT_READY, since=NOW - datetime.timedelta(hours=1))
    agent_presence(elsewhere, queue="billing", since=NOW - datetime.timedelta(hours=2))
    waiting_call(queued_at=NOW, state=CallState.RINGING, key="twilio:CA1", interface="twilio:first")

    with django_assert_num_queries(1):
        chosen = agent_ready_longest_idle(queue="hotline")
        assert chosen.agent == second
    assert agent_ready_longest_idle(queue="nobody") is None


def test_an_agents_own_day(day, django_assert_num_queries):
    ready, lunch, _talking = day
    with django_assert_num_queries(2):
        mine = calls_today_for_agent(agent=ready, now=NOW)
    assert {key: mine[key] for key in ("answered", "talk_seconds", "average_talk_seconds", "waiting_wrap_up")} == {
        "answered": 2, "talk_seconds": 320, "average_talk_seconds": 160, "waiting_wrap_up": 2,
    }
    assert [(row["caller_number_masked"], row["talk_seconds"], row["needs_wrap_up"]) for row in mine["recent"]] == [
        ("138****0000", 200, True), ("138****0000", 120, True),
    ]
    assert calls_today_for_agent(agent=lunch, now=NOW)["answered"] == 1
