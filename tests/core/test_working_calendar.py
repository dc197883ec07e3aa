"""Working-day arithmetic on the State Council holiday calendar (make-up Saturdays and Sundays included), the
calendar migration's data, and the warning moment of a step."""
from __future__ import annotations

import datetime
import importlib
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps

from core.models import LimitKind, WorkCalendarDay
from core.services.working_calendar import (
    calendar_overrides,
    deadline_compute,
    deadline_extend,
    is_workday,
    warn_at_compute,
    working_seconds_between,
    working_time_add,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 3600
DAY = 86400
calendar_migration = importlib.import_module("core.migrations.0004_work_calendar")


def local(year, month, day, hour=0, minute=0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def holiday_calendar():
    """The migration's rows (a transactional test elsewhere may have flushed them)."""
    if not WorkCalendarDay.objects.exists():
        calendar_migration.calendar_load(apps, None)


def working_days_due(start: datetime.datetime, days: int) -> datetime.datetime:
    return deadline_compute(start=start, limit_kind=LimitKind.WORKING_DAYS, limit_value=days)


# --- the calendar data ---------------------------------------------------------------------------------------


def test_national_day_2025_is_eight_days_off_with_two_make_up_days():
    overrides = calendar_overrides(first=datetime.date(2025, 9, 26), last=datetime.date(2025, 10, 12))
    days = [datetime.date(2025, 9, 26) + datetime.timedelta(days=n) for n in range(17)]
    assert [d.day for d in days if is_workday(d, overrides)] == [26, 28, 29, 30, 9, 10, 11]


def test_spring_festival_2025_make_up_sunday_and_saturday():
    overrides = calendar_overrides(first=datetime.date(2025, 1, 25), last=datetime.date(2025, 2, 9))
    off = [d for d in (datetime.date(2025, 1, 25) + datetime.timedelta(days=n) for n in range(16))
           if not is_workday(d, overrides)]
    assert off == [datetime.date(2025, 1, 25)] + [datetime.date(2025, 1, 28) + datetime.timedelta(days=n)
                                                   for n in range(8)] + [datetime.date(2025, 2, 9)]
    assert WorkCalendarDay.objects.get(date=datetime.date(2025, 1, 26)).is_workday is True
    assert WorkCalendarDay.objects.get(date=datetime.date(2025, 2, 8)).is_workday is True


@pytest.mark.parametrize(
    ("day", "is_work", "name"),
    [
        (datetime.date(2024, 1, 1), False, "元旦"),
        (datetime.date(2024, 2, 4), True, "春节调休上班"),
        (datetime.date(2024, 2, 16), False, "春节"),
        (datetime.date(2024, 2, 18), True, "春节调休上班"),
        (datetime.date(2024, 5, 11), True, "劳动节调休上班"),
        (datetime.date(2024, 6, 10), False, "端午节"),
        (datetime.date(2024, 9, 14), True, "中秋节调休上班"),
        (datetime.date(2024, 10, 7), False, "国庆节"),
        (datetime.date(2024, 10, 12), True, "国庆节调休上班"),
        (datetime.date(2025, 5, 2), False, "劳动节"),
        (datetime.date(2025, 6, 2), False, "端午节"),
        (datetime.date(2025, 10, 8), False, "国庆节、中秋节"),
        (datetime.date(2025, 10, 11), True, "国庆节、中秋节调休上班"),
        (datetime.date(2026, 1, 4), True, "元旦调休上班"),
        (datetime.date(2026, 2, 23), False, "春节"),
        (datetime.date(2026, 2, 28), True, "春节调休上班"),
        (datetime.date(2026, 9, 20), True, "国庆节调休上班"),
        (datetime.date(2026, 10, 7), False, "国庆节"),
        (datetime.date(2026, 10, 10), True, "国庆节调休上班"),
        (datetime.date(2027, 10, 9), True, "国庆节调休上班"),
    ],
)
def test_published_holidays_and_make_up_days(day, is_work, name):
    row = WorkCalendarDay.objects.get(date=day)
    assert (row.is_workday, row.name) == (is_work, name)


def test_only_exceptions_to_monday_to_friday_are_stored():
    rows = list(WorkCalendarDay.objects.filter(date__year__in=[2024, 2025, 2026, 2027]))
    assert all((row.date.weekday() < 5) != row.is_workday for row in rows)
    off = {year: sum(1 for row in rows if row.date.year == year and not row.is_workday)
           for year in (2024, 2025, 2026, 2027)}
    make_up = {year: sum(1 for row in rows if row.date.year == year and row.is_workday)
               for year in (2024, 2025, 2026, 2027)}
    assert off == {2024: 19, 2025: 18, 2026: 19, 2027: 18}
    assert make_up == {2024: 8, 2025: 5, 2026: 6, 2027: 5}
    # Weekdays off less make-up days = the statutory holidays (a holiday on a weekend is given back on a
    # weekday): 11 days until 2024, 13 from 2025 (New Year's Eve and 2 May added).
    assert {year: off[year] - make_up[year] for year in off} == {2024: 11, 2025: 13, 2026: 13, 2027: 13}


def test_migration_reverses_and_reloads_without_duplicates():
    total = WorkCalendarDay.objects.count()
    calendar_migration.calendar_unload(apps, None)
    assert not WorkCalendarDay.objects.filter(date__year=2025).exists()
    calendar_migration.calendar_load(apps, None)
    calendar_migration.calendar_load(apps, None)
    assert WorkCalendarDay.objects.count() == total == len(calendar_migration.calendar_rows())


def test_a_make_up_day_on_a_weekday_is_refused():
    bad = [("测试", datetime.date(2025, 3, 3), datetime.date(2025, 3, 3), [datetime.date(2025, 3, 4)])]
    original = calendar_migration.HOLIDAYS
    calendar_migration.HOLIDAYS = bad
    try:
        with pytest.raises(ValueError, match="2025-03-04"):
            calendar_migration.calendar_rows()
    finally:
        calendar_migration.HOLIDAYS = original


# --- deadlines ------------------------------------------------------------------------------------------------


def test_one_working_day_over_a_plain_weekend():
    assert working_days_due(local(2025, 3, 7, 10), 1) == local(2025, 3, 10, 10)


def test_step_due_over_the_national_day_week_2025():
    # Accepted the afternoon before the 8-day break: the clock stops from 1 to 8 October.
    assert working_days_due(local(2025, 9, 30, 15), 1) == local(2025, 10, 9, 15)
    assert working_days_due(local(2025, 9, 30, 15), 2) == local(2025, 10, 10, 15)
    # The third working day after is the make-up Saturday.
    assert working_days_due(local(2025, 9, 30, 15), 3) == local(2025, 10, 11, 15)


def test_step_due_over_the_national_day_week_2024_and_2026():
    assert working_days_due(local(2024, 9, 30, 9, 30), 1) == local(2024, 10, 8, 9, 30)
    assert working_days_due(local(2026, 9, 30, 9, 30), 1) == local(2026, 10, 8, 9, 30)
    assert working_days_due(local(2026, 9, 30, 9, 30), 3) == local(2026, 10, 10, 9, 30)


def test_step_due_on_a_make_up_saturday():
    # Friday before Spring Festival 2025's second make-up day: Saturday 8 February is a working day.
    assert working_days_due(local(2025, 2, 7, 10), 1) == local(2025, 2, 8, 10)
    # A make-up Sunday before National Day 2025: Saturday off, Sunday 28 September worked.
    assert working_days_due(local(2025, 9, 26, 16), 1) == local(2025, 9, 28, 16)


def test_work_started_on_a_make_up_saturday_counts_that_day():
    assert working_days_due(local(2026, 2, 14, 9), 1) == local(2026, 2, 24, 9)


def test_step_started_on_a_holiday_counts_from_the_next_working_day():
    # 3 October 2025 is inside the break: counting starts at 00:00 on Thursday 9 October.
    assert working_days_due(local(2025, 10, 3, 14), 1) == local(2025, 10, 10, 0)
    assert working_days_due(local(2025, 10, 3, 14), 2) == local(2025, 10, 11, 0)
    # On a plain Sunday too.
    assert working_days_due(local(2025, 3, 9, 20), 1) == local(2025, 3, 11, 0)


def test_calendar_minutes_run_across_midnight_and_holidays():
    start = local(2025, 10, 1, 23, 30)
    due = deadline_compute(start=start, limit_kind=LimitKind.CALENDAR_MINUTES, limit_value=120)
    assert due == local(2025, 10, 2, 1, 30)
    assert due.tzinfo is not None


def test_deadline_is_returned_in_utc():
    due = working_days_due(local(2025, 3, 7, 10), 1)
    assert due.utcoffset() == datetime.timedelta(0)
    assert due == datetime.datetime(2025, 3, 10, 2, tzinfo=datetime.UTC)


def test_working_seconds_skip_the_weekend_and_the_holiday():
    assert working_seconds_between(start=local(2025, 3, 7, 16), end=local(2025, 3, 10, 9)) == 17 * HOUR
    assert working_seconds_between(start=local(2025, 9, 30, 12), end=local(2025, 10, 9, 12)) == DAY
    assert working_seconds_between(start=local(2025, 10, 9, 12), end=local(2025, 9, 30, 12)) == 0.0


def test_working_time_add_and_between_agree():
    start = local(2025, 9, 25, 13, 17)
    for seconds in (0, 1, 5 * HOUR, DAY, 3 * DAY + 7, 10 * DAY):
        end = working_time_add(start=start, seconds=seconds)
        assert working_seconds_between(start=start, end=end) == seconds


# --- suspension --------------------------------------------------------------------------------------------


def test_suspension_over_a_weekend_moves_a_working_day_deadline_by_the_working_time_paused():
    due = local(2025, 3, 10, 10)
    extended = deadline_extend(due_at=due, paused_from=local(2025, 3, 7, 16), paused_to=local(2025, 3, 10, 9),
                               limit_kind=LimitKind.WORKING_DAYS)
    # Friday 16:00-24:00 and Monday 00:00-09:00 count; the weekend does not.
    assert extended == local(2025, 3, 11, 3)


def test_suspension_entirely_inside_a_weekend_moves_nothing():
    due = local(2025, 3, 10, 10)
    extended = deadline_extend(due_at=due, paused_from=local(2025, 3, 8, 9), paused_to=local(2025, 3, 9, 18),
                               limit_kind=LimitKind.WORKING_DAYS)
    assert extended == due


def test_suspension_over_a_weekend_moves_a_calendar_deadline_by_the_whole_pause():
    due = local(2025, 3, 8, 12)
    extended = deadline_extend(due_at=due, paused_from=local(2025, 3, 7, 16), paused_to=local(2025, 3, 10, 9),
                               limit_kind=LimitKind.CALENDAR_MINUTES)
    assert extended == local(2025, 3, 11, 5)


def test_suspension_resumed_into_the_holiday_extends_past_it():
    # Due Tuesday 30 September 2025 18:00, suspended at 12:00 with 6 h left, resumed on 3 October (holiday):
    # the 6 h left are worked on Thursday 9 October.
    extended = deadline_extend(due_at=local(2025, 9, 30, 18), paused_from=local(2025, 9, 30, 12),
                               paused_to=local(2025, 10, 3, 10), limit_kind=LimitKind.WORKING_DAYS)
    assert extended == local(2025, 10, 9, 6)


# --- warnings --------------------------------------------------------------------------------------------------


def test_warning_minutes_before_due():
    arrived, due = local(2025, 3, 10, 8), local(2025, 3, 10, 18)
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=30,
                           percent_elapsed=None) == local(2025, 3, 10, 17, 30)


def test_warning_at_a_share_of_the_limit():
    arrived, due = local(2025, 3, 10, 8), local(2025, 3, 10, 18)
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=None,
                           percent_elapsed=50) == local(2025, 3, 10, 13)


def test_warning_takes_the_earlier_of_both():
    arrived, due = local(2025, 3, 10, 8), local(2025, 3, 10, 18)
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=60,
                           percent_elapsed=50) == local(2025, 3, 10, 13)
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=360,
                           percent_elapsed=90) == local(2025, 3, 10, 12)


def test_warning_defaults_come_from_settings(settings):
    arrived, due = local(2025, 3, 10, 8), local(2025, 3, 10, 18)
    # Defaults 120 min / 80%: 16:00 either way.
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=None,
                           percent_elapsed=None) == local(2025, 3, 10, 16)
    settings.TICKET_WARNING_DEFAULT_MINUTES_BEFORE_DUE = 30
    settings.TICKET_WARNING_DEFAULT_PERCENT_ELAPSED = 90
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=None,
                           percent_elapsed=None) == local(2025, 3, 10, 17)


def test_warning_never_before_arrival():
    arrived, due = local(2025, 3, 10, 8), local(2025, 3, 10, 9)
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=600,
                           percent_elapsed=None) == arrived


def test_working_day_warning_is_not_raised_inside_the_holiday():
    arrived = local(2025, 9, 30, 10)
    due = working_days_due(arrived, 1)
    assert due == local(2025, 10, 9, 10)
    # 80% of one working day (19.2 h): 14 h on 30 September, 5 h 12 min on 9 October; 120 min before due: 08:00.
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=None, percent_elapsed=None,
                           limit_kind=LimitKind.WORKING_DAYS) == local(2025, 10, 9, 5, 12)
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=120, percent_elapsed=None,
                           limit_kind=LimitKind.WORKING_DAYS) == local(2025, 10, 9, 8)
    # Measured in calendar time the same thresholds would fall on 7 October, in the middle of the break.
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=None, percent_elapsed=None
                           ).date() == datetime.date(2025, 10, 7)


def test_working_day_warning_over_a_make_up_saturday():
    arrived = local(2025, 2, 7, 10)
    due = working_days_due(arrived, 1)
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=None, percent_elapsed=50,
                           limit_kind=LimitKind.WORKING_DAYS) == local(2025, 2, 7, 22)
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=240, percent_elapsed=None,
                           limit_kind=LimitKind.WORKING_DAYS) == local(2025, 2, 8, 6)


def test_calendar_minute_warning_ignores_the_calendar():
    arrived = local(2025, 10, 1, 23)
    due = arrived + datetime.timedelta(minutes=240)
    assert warn_at_compute(arrived_at=arrived, due_at=due, minutes_before_due=None, percent_elapsed=None,
                           limit_kind=LimitKind.CALENDAR_MINUTES) == local(2025, 10, 2, 1)
