"""The busy day benchmark's pure helpers and its beat scheduler (the benchmark itself runs with `make bench`)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery.schedules import crontab, schedule

from bench.busy_day_bench import (
    DAY_PROFILE,
    SLA_TICK_ENV,
    SLA_TICK_TASK,
    STORM_PROFILE,
    BusyDayScheduler,
    Phases,
    agents_assign,
    report_lines,
    spread,
    stream_outcome,
    totals,
    worker_queues,
)
from config.celery import app


def test_spread_gives_each_slot_its_share_evenly_spaced_inside_it():
    moments = spread(10, 40.0, [1, 3, 0, 1])
    assert [round(moment, 2) for moment in moments] == [2.5, 7.5, 10.83, 12.5, 14.17, 15.83, 17.5, 19.17, 32.5,
                                                        37.5]


def test_spread_hands_out_the_remainders_to_the_largest_fractions():
    moments = spread(5, 30.0, [1, 1, 1])
    assert [int(moment // 10) for moment in moments] == [0, 0, 1, 1, 2]
    assert spread(0, 10.0, [1]) == []
    assert spread(1, 10.0, [1]) == [5.0]


def test_spread_of_a_day_keeps_every_payment_and_follows_the_profile():
    moments = spread(70_000, 1200.0, DAY_PROFILE)
    assert len(moments) == 70_000
    assert moments == sorted(moments) and 0 < moments[0] and moments[-1] < 1200
    per_hour = [0] * 24
    for moment in moments:
        per_hour[int(moment // 50)] += 1
    expected = [70_000 * weight / sum(DAY_PROFILE) for weight in DAY_PROFILE]
    assert all(abs(count - share) < 1 for count, share in zip(per_hour, expected))
    storm = spread(1360, 24.0, STORM_PROFILE)
    assert sum(STORM_PROFILE) == 136
    assert sum(1 for moment in storm if 10 <= moment < 11) == 400


@pytest.mark.parametrize("count, seconds, profile", [(-1, 10.0, [1]), (3, 0.0, [1]), (3, 10.0, []),
                                                     (3, 10.0, [1, -1]), (3, 10.0, [0, 0])])
def test_spread_refuses_what_it_cannot_spread(count, seconds, profile):
    with pytest.raises(ValueError):
        spread(count, seconds, profile)


def test_calls_that_overlap_go_to_different_agents_and_a_free_agent_is_reused():
    assert agents_assign([0.0, 1.0, 2.0, 4.5, 5.0, 9.0], 4.0) == [0, 1, 2, 0, 1, 0]
    assert agents_assign([], 4.0) == []
    assert agents_assign([0.0, 4.0], 4.0) == [0, 0]


def test_a_stream_counts_its_losses_and_duplicates():
    assert stream_outcome(offered=100, done=103, distinct=98) == {"offered": 100, "done": 98, "lost": 2,
                                                                  "duplicates": 5}
    streams = {"payments": stream_outcome(offered=10, done=10, distinct=10),
               "calls": stream_outcome(offered=5, done=6, distinct=4)}
    assert totals(streams) == {"work_lost": 1, "duplicates": 2}


def test_the_workers_consume_every_queue_the_settings_name():
    assert worker_queues(SimpleNamespace(CELERY_QUEUES_ALL=("default", "notifications")), "default") == [
        "default", "notifications"]
    assert worker_queues(SimpleNamespace(), "celery") == ["celery"]


def test_the_beat_ticks_the_sla_clock_at_the_compressed_minute_and_keeps_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv(SLA_TICK_ENV, "5")
    scheduler = BusyDayScheduler(app=app, schedule_filename=str(tmp_path / "beat"), lazy=True)
    scheduler.setup_schedule()
    try:
        entries = scheduler.schedule
        assert entries[SLA_TICK_TASK].schedule == schedule(5.0)
        assert entries["notifications.dispatch_due"].schedule == schedule(60.0)
        assert isinstance(entries["core.stripe_reconcile"].schedule, crontab)
        assert app.conf.beat_schedule[SLA_TICK_TASK]["schedule"] == 60.0
    finally:
        scheduler.close()


def test_without_the_setting_the_beat_is_the_projects(tmp_path, monkeypatch):
    monkeypatch.delenv(SLA_TICK_ENV, raising=False)
    scheduler = BusyDayScheduler(app=app, schedule_filename=str(tmp_path / "beat"), lazy=True)
    scheduler.setup_schedule()
    try:
        assert scheduler.schedule[SLA_TICK_TASK].schedule == schedule(60.0)
    finally:
        scheduler.close()


def _result(**overrides) -> dict:
    result = {
        "database": "postgresql", "data_set": {"customers": 10_000}, "window_seconds": 40.0, "celery_workers": 2,
        "load_average_1min": 3.5, "agents": 12,
        "portal": [{"page": "bill_lookup", "mode": "paced", "paced_rate": 5.0, "concurrency": 64, "requests": 200,
                    "requests_per_second": 5.0, "p50_ms": 80.0, "p95_ms": 190.25, "p99_ms": 250.0, "errors": 0}],
        "lookups": {"verified": 201, "refused": 0},
        "screen_pop": {"pops_received": 60, "pops_expected": 60, "p50_ms": 21.0, "p95_ms": 48.0, "max_ms": 70.0},
        "payments_sent": {"deliveries": 900, "seconds": 41.5, "deliveries_per_second": 21.7,
                          "statuses": {200: 900}, "p95_ms": 120.0, "late_p95_ms": 3.0},
        "sms_fan_out": {"customers": 300, "seconds": 12.0, "sms_per_second": 25.0},
        "streams": {"payments": stream_outcome(offered=300, done=300, distinct=300)},
        "work_lost": 0, "duplicates": 0, "drain_seconds": 9.0,
        "phases_seconds": {"services_and_migrate": 30.0, "window": 40.04},
    }
    return result | overrides


def test_the_report_prints_each_figure_and_the_verdict():
    lines = report_lines(_result())
    assert lines[0] == ("busy day on postgresql (10,000 customers), 40 s window, 2 daphne processes, 2 Celery "
                        "worker(s), beat, run_ami; load average 3.5")
    assert lines[1] == ("portal bill_lookup paced 5 req/s on 64 connections: 200 answered, p50 80.0 ms, p95 190.2 ms, "
                        "p99 250.0 ms, errors 0")
    assert lines[2] == "portal guest lookups answered with the bill: 201, refused: 0"
    assert lines[3] == "screen-pop: 60/60 pops, p50 21.0 ms, p95 48.0 ms, max 70.0 ms (12 agents)"
    assert lines[4] == ("payments: 900 webhook deliveries in 41.5 s (21.7/s), HTTP {200: 900}, p95 120.0 ms, "
                        "sent late by p95 3.0 ms")
    assert lines[5] == "SMS fan-out: 300 customers, last sent 12.0 s after the request (25.0 SMS/s)"
    assert lines[6] == "payments     offered      300  done      300  lost     0  duplicates     0"
    assert lines[7] == "phases: services and migrate 30.0 s, window 40.0 s"
    assert lines[8] == "work lost: 0, duplicates: 0 -> none (must be 0 and 0); drained 9.0 s after the window"


def test_the_report_says_so_when_work_was_lost_or_a_stream_failed():
    lines = report_lines(_result(work_lost=2, duplicates=1, portal={"error": "RuntimeError('boom')"}))
    assert lines[1] == "portal: FAILED RuntimeError('boom')"
    assert lines[-1] == "work lost: 2, duplicates: 1 -> SOME (must be 0 and 0); drained 9.0 s after the window"


def test_phases_are_timed_one_after_the_other():
    clock = iter([100.0, 130.5, 131.0, 171.25])
    phases = Phases(clock=lambda: next(clock))
    phases.mark("services_and_migrate")
    phases.mark("processes")
    phases.mark("window")
    assert phases.seconds == {"services_and_migrate": 30.5, "processes": 0.5, "window": 40.2}
