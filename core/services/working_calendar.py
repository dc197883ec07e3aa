"""Working time on the Chinese public-holiday calendar (make-up workdays included) and SLA deadlines.

A working day counts whole (00:00-24:00 local time): N working days from Monday 10:00 fall due the N-th
working day after, at 10:00; a request accepted on a holiday starts counting at 00:00 of the next working day.
Weekends are days off and Monday-Friday working days, except where WorkCalendarDay says otherwise.
"""
from __future__ import annotations

import datetime
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from core.models import LimitKind, WorkCalendarDay

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DAY = datetime.timedelta(days=1)
# Deadlines of a few months at most are computed; the window of overrides loaded covers them with room.
_WINDOW_DAYS = 400


def calendar_overrides(*, first: datetime.date, last: datetime.date) -> dict[datetime.date, bool]:
    """The holiday and make-up workday exceptions between two dates, inclusive."""
    return dict(WorkCalendarDay.objects.filter(date__range=(first, last)).values_list("date", "is_workday"))


def is_workday(day: datetime.date, overrides: Mapping[datetime.date, bool]) -> bool:
    if day in overrides:
        return overrides[day]
    return day.weekday() < 5


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=LOCAL_TZ)


def working_time_add(
    *, start: datetime.datetime, seconds: float, overrides: Mapping[datetime.date, bool] | None = None
) -> datetime.datetime:
    """The moment `seconds` of working time after `start` (time on days off does not count)."""
    local = start.astimezone(LOCAL_TZ)
    if overrides is None:
        overrides = calendar_overrides(first=local.date(), last=local.date() + datetime.timedelta(days=_WINDOW_DAYS))
    remaining = datetime.timedelta(seconds=seconds)
    day = local.date()
    cursor = local
    while True:
        if is_workday(day, overrides):
            day_end = _local_midnight(day + DAY)
            available = day_end - cursor
            if remaining <= available:
                return (cursor + remaining).astimezone(datetime.UTC)
            remaining -= available
        day += DAY
        cursor = _local_midnight(day)


def working_seconds_between(
    *, start: datetime.datetime, end: datetime.datetime, overrides: Mapping[datetime.date, bool] | None = None
) -> float:
    """Working time between two moments, in seconds (0 when end is not after start)."""
    if end <= start:
        return 0.0
    local_start, local_end = start.astimezone(LOCAL_TZ), end.astimezone(LOCAL_TZ)
    if overrides is None:
        overrides = calendar_overrides(first=local_start.date(), last=local_end.date())
    total = datetime.timedelta()
    day = local_start.date()
    while day <= local_end.date():
        if is_workday(day, overrides):
            span_start = max(local_start, _local_midnight(day))
            span_end = min(local_end, _local_midnight(day + DAY))
            if span_end > span_start:
                total += span_end - span_start
        day += DAY
    return total.total_seconds()


def deadline_compute(
    *, start: datetime.datetime, limit_kind: str, limit_value: int,
    overrides: Mapping[datetime.date, bool] | None = None,
) -> datetime.datetime:
    """When a step (or a whole ticket) with this limit, started at `start`, falls due."""
    if limit_kind == LimitKind.CALENDAR_MINUTES:
        return start + datetime.timedelta(minutes=limit_value)
    return working_time_add(start=start, seconds=limit_value * 86400, overrides=overrides)


def deadline_extend(
    *, due_at: datetime.datetime, paused_from: datetime.datetime, paused_to: datetime.datetime, limit_kind: str
) -> datetime.datetime:
    """A deadline pushed back by a pause (suspension while the customer is the cause), in the limit's own time."""
    if limit_kind == LimitKind.CALENDAR_MINUTES:
        return due_at + (paused_to - paused_from)
    return working_time_add(start=due_at, seconds=working_seconds_between(start=paused_from, end=paused_to))


def warn_at_compute(
    *,
    arrived_at: datetime.datetime,
    due_at: datetime.datetime,
    minutes_before_due: int | None,
    percent_elapsed: int | None,
    limit_kind: str | None = None,
    overrides: Mapping[datetime.date, bool] | None = None,
) -> datetime.datetime:
    """When to warn about a step: the earlier of `minutes_before_due` before due and `percent_elapsed` of the
    time between arrival and due (each operator sets their own; settings give the defaults). Never before arrival.

    For a limit in working days (`limit_kind`) both are measured in working time, so a step due the morning
    after the National Day week is not warned about in the middle of the holiday; otherwise in calendar time."""
    from django.conf import settings

    if minutes_before_due is None and percent_elapsed is None:
        minutes_before_due = settings.TICKET_WARNING_DEFAULT_MINUTES_BEFORE_DUE
        percent_elapsed = settings.TICKET_WARNING_DEFAULT_PERCENT_ELAPSED
    if limit_kind == LimitKind.WORKING_DAYS:
        if overrides is None:
            overrides = calendar_overrides(
                first=arrived_at.astimezone(LOCAL_TZ).date(), last=due_at.astimezone(LOCAL_TZ).date()
            )
        total = working_seconds_between(start=arrived_at, end=due_at, overrides=overrides)
        offsets = []
        if minutes_before_due is not None:
            offsets.append(total - minutes_before_due * 60)
        if percent_elapsed is not None:
            offsets.append(total * percent_elapsed / 100)
        return max(arrived_at, working_time_add(start=arrived_at, seconds=max(0.0, min(offsets)), overrides=overrides))
    candidates = []
    if minutes_before_due is not None:
        candidates.append(due_at - datetime.timedelta(minutes=minutes_before_due))
    if percent_elapsed is not None:
        candidates.append(arrived_at + (due_at - arrived_at) * (percent_elapsed / 100))
    return max(arrived_at, min(candidates))
