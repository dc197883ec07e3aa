"""The hotline's figures (话务指标): the supervisors' wallboard, the next agent to offer a Twilio call to, and an
agent's own day. Every figure is an aggregate computed by the database; only the 24 hourly rows, the per-state
counts and the signed-in agents come back to Python.

Definitions (DOMAIN.md's call-centre targets): of the calls that reached the queue and left it (answered or
abandoned), the service level is the share answered within settings.CALLCENTER_SERVICE_LEVEL_SECONDS and the
abandonment rate the share abandoned; the average handle time is talk time plus after-call work over the answered
calls that ended; "answered by the IVR" counts the calls that ended without queueing because the IVR served them,
storm-mode callers included. Days and hours are Beijing time, by when the call came in.
"""
from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, DurationField, Exists, ExpressionWrapper, F, Min, OuterRef, Q, Sum
from django.db.models.functions import ExtractHour
from django.utils import timezone

from core.models import AgentPresence, AgentState, Call, CallOutcome, CallState
from core.selectors.caller_profile import phone_mask

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A call still marked waiting after this long lost its hang-up (a PBX restart); it is not waiting any more.
WAITING_HORIZON = datetime.timedelta(hours=12)
# How long an offer keeps an agent busy for the next Twilio call: longer than any queue ring timeout.
OFFER_HOLDS_AGENT = datetime.timedelta(minutes=2)
RECENT_CALLS_LIMIT = 10
AGENTS_SHOWN_LIMIT = 200
IVR_OUTCOMES = (CallOutcome.IVR_RESOLVED, CallOutcome.STORM_INFORMED)


def _percent(part: int, whole: int) -> float | None:
    """A rate for display (not money): one decimal, None when nothing was counted."""
    if not whole:
        return None
    return round(100 * part / whole, 1)


def _day_bounds(now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    day = timezone.localtime(now, SHANGHAI).date()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=SHANGHAI)
    return start, start + datetime.timedelta(days=1)


def _wrap_up_duration() -> ExpressionWrapper:
    return ExpressionWrapper(F("wrap_up_ended_at") - F("ended_at"), output_field=DurationField())


def _hourly_rows(*, start: datetime.datetime, end: datetime.datetime) -> dict[int, dict]:
    """One aggregate query: today's calls counted per Beijing hour of arrival."""
    level = settings.CALLCENTER_SERVICE_LEVEL_SECONDS
    answered = Q(answered_at__isnull=False)
    handled = Q(talk_seconds__isnull=False)
    rows = (
        Call.objects.filter(started_at__gte=start, started_at__lt=end)
        .annotate(hour=ExtractHour("started_at", tzinfo=SHANGHAI))
        .values("hour")
        .annotate(
            calls=Count("id"),
            queued=Count("id", filter=Q(queued_at__isnull=False)),
            answered=Count("id", filter=answered),
            answered_in_level=Count("id", filter=answered & Q(queue_wait_seconds__lte=level)),
            abandoned=Count("id", filter=Q(outcome=CallOutcome.ABANDONED)),
            ivr_answered=Count("id", filter=Q(outcome__in=IVR_OUTCOMES)),
            storm_count=Count("id", filter=Q(storm_informed=True)),
            handled=Count("id", filter=handled),
            talk_total=Sum("talk_seconds", filter=handled),
            wrap_up_total=Sum(_wrap_up_duration(), filter=handled & Q(wrap_up_ended_at__isnull=False)),
        )
        .order_by("hour")
    )
    return {row["hour"]: row for row in rows}


_COUNTED = ("calls", "queued", "answered", "answered_in_level", "abandoned", "ivr_answered", "storm_count", "handled")


def _figures(counts: dict) -> dict:
    """The wallboard's figures from summed counts."""
    finished_in_queue = counts["answered"] + counts["abandoned"]
    handle_total = counts["talk_seconds"] + counts["wrap_up_seconds"]
    return {
        "calls": counts["calls"],
        "queued": counts["queued"],
        "answered": counts["answered"],
        "abandoned": counts["abandoned"],
        "answered_within_level": counts["answered_in_level"],
        "ivr_answered": counts["ivr_answered"],
        "storm_informed": counts["storm_count"],
        "service_level_percent": _percent(counts["answered_in_level"], finished_in_queue),
        "abandonment_percent": _percent(counts["abandoned"], finished_in_queue),
        "average_handle_seconds": round(handle_total / counts["handled"]) if counts["handled"] else None,
    }


def _counts(row: dict | None) -> dict:
    counts = {name: (row or {}).get(name) or 0 for name in _COUNTED}
    counts["talk_seconds"] = (row or {}).get("talk_total") or 0
    wrap_up = (row or {}).get("wrap_up_total")
    counts["wrap_up_seconds"] = int(wrap_up.total_seconds()) if wrap_up else 0
    return counts


def wallboard_snapshot(*, now: datetime.datetime) -> dict:
    """The supervisors' wallboard as JSON-ready values: the queue now, agents by state, today's figures and the
    same per hour for the charts. Four queries."""
    level = settings.CALLCENTER_SERVICE_LEVEL_SECONDS
    waiting = Call.objects.filter(
        state__in=(CallState.QUEUED, CallState.RINGING), queued_at__gte=now - WAITING_HORIZON
    ).aggregate(count=Count("id"), oldest=Min("queued_at"))
    by_state = dict(AgentPresence.objects.values_list("state").annotate(count=Count("id")).order_by())
    agents = [
        {
            "name": presence.agent.get_full_name() or presence.agent.get_username(),
            "state": presence.state,
            "state_label": str(AgentState(presence.state).label),
            "reason": presence.reason,
            "since": presence.since.isoformat(),
            "seconds_in_state": max(0, int((now - presence.since).total_seconds())),
        }
        for presence in AgentPresence.objects.exclude(state=AgentState.LOGGED_OUT)
        .select_related("agent")
        .order_by("state", "since")[:AGENTS_SHOWN_LIMIT]
    ]
    start, end = _day_bounds(now)
    hourly = _hourly_rows(start=start, end=end)
    totals = {name: 0 for name in (*_COUNTED, "talk_seconds", "wrap_up_seconds")}
    hours = []
    for hour in range(24):
        counts = _counts(hourly.get(hour))
        for name, value in counts.items():
            totals[name] += value
        hours.append({"hour": hour, **_figures(counts)})
    oldest = waiting["oldest"]
    return {
        "at": now.isoformat(),
        "day": start.date().isoformat(),
        "current_hour": timezone.localtime(now, SHANGHAI).hour,
        "service_level_seconds": level,
        "queue": {
            "waiting": waiting["count"],
            "longest_wait_seconds": max(0, int((now - oldest).total_seconds())) if oldest else 0,
        },
        "agents_by_state": {state: by_state.get(state, 0) for state in AgentState.values},
        "agents": agents,
        "today": _figures(totals),
        "hours": hours,
    }


def agent_ready_longest_idle(*, queue: str) -> AgentPresence | None:
    """The ready agent on `queue` who has waited longest for a call and is not being rung for another: who a
    Twilio call is offered to. One query."""
    ringing = Call.objects.filter(
        state=CallState.RINGING, agent_interface=OuterRef("interface"),
        updated_at__gte=timezone.now() - OFFER_HOLDS_AGENT,
    )
    return (
        AgentPresence.objects.filter(queue=queue, state=AgentState.READY)
        .exclude(interface="")
        .exclude(Exists(ringing))
        .select_related("agent")
        .order_by("since", "pk")
        .first()
    )


def calls_today_for_agent(*, agent, now: datetime.datetime) -> dict:
    """The agent's own day for the console: calls answered, talk time, and the latest calls (the caller's number
    masked) with their wrap-up. Two queries."""
    start, end = _day_bounds(now)
    mine = Call.objects.filter(agent=agent, started_at__gte=start, started_at__lt=end)
    totals = mine.aggregate(
        answered=Count("id", filter=Q(answered_at__isnull=False)),
        talk_total=Sum("talk_seconds"),
        ended=Count("id", filter=Q(talk_seconds__isnull=False)),
        waiting_wrap_up=Count("id", filter=Q(ended_at__isnull=False, wrap_up_code="")),
    )
    talk = totals["talk_total"] or 0
    recent = [
        {
            "call_id": call.pk,
            "started_at": call.started_at.isoformat(),
            "caller_number_masked": phone_mask(call.caller_number),
            "state": call.state,
            "talk_seconds": call.talk_seconds,
            "wrap_up_code": call.wrap_up_code,
            "needs_wrap_up": call.ended_at is not None and not call.wrap_up_code,
        }
        for call in mine.order_by("-started_at", "-pk").only(
            "pk", "started_at", "caller_number", "state", "talk_seconds", "wrap_up_code", "ended_at"
        )[:RECENT_CALLS_LIMIT]
    ]
    return {
        "answered": totals["answered"],
        "talk_seconds": talk,
        "average_talk_seconds": round(talk / totals["ended"]) if totals["ended"] else None,
        "waiting_wrap_up": totals["waiting_wrap_up"],
        "recent": recent,
    }
