"""The busy day benchmark's helpers: the day's schedule, its beat, its streams against real sockets and its counts of
work lost and done twice on real rows (the benchmark itself runs with `make bench`)."""
from __future__ import annotations

import datetime
import json
import threading
import time
from collections import Counter
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe
from celery.schedules import crontab, schedule
from django.utils import timezone

from bench.busy_day_bench import (
    DAY_PROFILE,
    FAN_OUT_PREFIX,
    SLA_TICK_ENV,
    SLA_TICK_TASK,
    STORM_PROFILE,
    BusyDayScheduler,
    Phases,
    agents_assign,
    calls_outcome,
    intents_create,
    payments_outcome,
    payments_stream,
    peak_rate,
    portal_pages_load,
    progress_line,
    report_lines,
    sla_outcome,
    sla_steps_create,
    sms_finished,
    sms_outcome,
    spread,
    stream_outcome,
    totals,
)
from bench.portal_bench import DASHBOARD_PATH, LOOKUP_PATH
from bench.webhook_bench import WEBHOOK, WEBHOOK_SECRET, deliveries_plan, signature
from config.celery import app
from core.models import Bill, CallOutcome, TicketEvent, TicketStep
from core.services.ticket_sla import sla_scan
from notifications.models import Message
from tests.callcenter.factories import finished_call
from tests.factories import AccountFactory, BranchFactory, residential_tiered_tariff
from tests.portal.factories import billed_months
from tests.ticket_factories import sample_process


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


def test_the_peak_is_the_most_moments_in_any_second():
    assert peak_rate([0.0, 0.5, 0.9, 1.0, 1.2, 3.0]) == 4
    assert peak_rate([0.0, 1.0, 2.0]) == 1
    assert peak_rate([]) == 0
    assert peak_rate([0.0, 0.1, 0.2], seconds=0.15) == 2


def test_a_stream_counts_its_losses_and_duplicates():
    assert stream_outcome(offered=100, done=103, distinct=98) == {"offered": 100, "done": 98, "lost": 2,
                                                                  "duplicates": 5}
    streams = {"payments": stream_outcome(offered=10, done=10, distinct=10),
               "calls": stream_outcome(offered=5, done=6, distinct=4)}
    assert totals(streams) == {"work_lost": 1, "duplicates": 2}


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
        "screen_pop": {"pops_received": 60, "pops_expected": 60, "p50_ms": 21.0, "p95_ms": 48.0, "max_ms": 70.0,
                       "after_send_p50_ms": 3.1, "after_send_p95_ms": 6.7},
        "payments_sent": {"deliveries": 900, "seconds": 41.5, "deliveries_per_second": 21.7,
                          "statuses": {200: 900}, "p95_ms": 120.0, "late_p95_ms": 3.0},
        "sms_fan_out": {"customers": 300, "seconds": 12.0, "sms_per_second": 25.0},
        "streams": {"payments": stream_outcome(offered=300, done=300, distinct=300)},
        "work_lost": 0, "duplicates": 0, "drain_seconds": 9.0,
        "phases_seconds": {"services_and_migrate": 30.0, "window": 40.04},
        "peak_per_second": {"webhook_deliveries": 44, "calls": 12},
    }
    return result | overrides


def test_the_report_prints_each_figure_and_the_verdict():
    lines = report_lines(_result())
    assert lines[0] == ("busy day on postgresql (10,000 customers), 40 s window, 2 daphne processes, 2 Celery "
                        "worker(s), beat, run_ami; load average 3.5")
    assert lines[1] == ("portal bill_lookup paced 5 req/s on 64 connections: 200 answered, p50 80.0 ms, p95 190.2 ms, "
                        "p99 250.0 ms, errors 0")
    assert lines[2] == "portal guest lookups answered with the bill: 201, refused: 0"
    assert lines[3] == ("screen-pop: 60/60 pops, p50 21.0 ms, p95 48.0 ms, max 70.0 ms (12 agents; from the "
                        "platform's send to the socket p50 3.1 ms, p95 6.7 ms)")
    result = _result()
    short = report_lines(result | {"screen_pop": result["screen_pop"] | {"pops_received": 57}})
    assert short[3] == ("screen-pop: 57/60 pops, p50 21.0 ms, p95 48.0 ms, max 70.0 ms (12 agents; from the "
                        "platform's send to the socket p50 3.1 ms, p95 6.7 ms); "
                        "3 never arrived within 120 s of the last ring")
    assert lines[4] == ("payments: 900 webhook deliveries in 41.5 s (21.7/s), HTTP {200: 900}, p95 120.0 ms, "
                        "sent late by p95 3.0 ms")
    assert lines[5] == "SMS fan-out: 300 customers, last sent 12.0 s after the request (25.0 SMS/s)"
    assert lines[6] == "offered at peak: 44 webhook deliveries and 12 calls in one second"
    assert lines[7] == ("payments     offered      300  done      300  lost     0  duplicates     0      7.5/s over "
                        "the window")
    assert lines[8] == "phases: services and migrate 30.0 s, window 40.0 s"
    assert lines[9] == "work lost: 0, duplicates: 0 -> none (must be 0 and 0); drained 9.0 s after the window"


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


# --- the streams against real sockets ---------------------------------------------------------------------------


class _Recorder:
    """HTTP/1.1 keep-alive servers on loopback that answer 200 and record (port, method, path, headers, body); the
    first `drops` requests get no answer (the connection is closed) and are not recorded."""

    def __init__(self, count: int, *, drops: int = 0) -> None:
        self.requests: list[tuple[int, str, str, dict, bytes]] = []
        self.drops = drops
        lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    if recorder.drops:
                        recorder.drops -= 1
                        self.close_connection = True
                        return
                    recorder.requests.append((self.server.server_address[1], self.command, self.path,
                                              dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = _answer

        self.servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(count)]
        self.ports = [server.server_address[1] for server in self.servers]
        self.threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in self.servers]
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def recorder():
    servers = _Recorder(2)
    yield servers
    servers.close()


def test_payments_are_posted_once_each_signed_as_stripe_signs_over_both_servers(recorder):
    payments = [(f"pi_bench{n:08d}", f"10000000{n:02d}", 1000 + n) for n in range(4)]
    started = time.time() + 0.1
    figures = payments_stream(payments=payments, seed=1, window=0.6, ports=recorder.ports, senders=3, start=started)
    deliveries = deliveries_plan(payments, seed=1)
    assert figures["deliveries"] == len(deliveries) == 12
    assert figures["statuses"] == {200: 12} and figures["transport_errors"] == 0
    assert Counter(json.loads(body)["id"] for _port, _method, _path, _headers, body in recorder.requests) == Counter(
        event_id for event_id, _body in deliveries)
    assert {(method, path) for _port, method, path, _headers, _body in recorder.requests} == {("POST", WEBHOOK)}
    assert Counter(port for port, *_rest in recorder.requests) == {recorder.ports[0]: 6, recorder.ports[1]: 6}
    for _port, _method, _path, headers, body in recorder.requests:
        assert stripe.WebhookSignature.verify_header(body.decode(), headers["Stripe-Signature"], WEBHOOK_SECRET,
                                                     tolerance=60)
    last_moment = spread(12, 0.6, DAY_PROFILE)[-1]
    assert time.time() >= started + last_moment  # the last delivery waited for its moment of the day


def test_a_delivery_that_got_no_answer_is_sent_again_on_a_new_connection():
    servers = _Recorder(1, drops=2)
    try:
        payments = [("pi_bench00000000", "1000000000", 1000), ("pi_bench00000001", "1000000001", 2000)]
        figures = payments_stream(payments=payments, seed=1, window=0.2, ports=servers.ports, senders=1,
                                  start=time.time())
    finally:
        servers.close()
    assert figures["statuses"] == {200: 6} and figures["transport_errors"] == 2
    assert Counter(json.loads(body)["id"] for *_start, body in servers.requests) == {
        "evt_bench00000000a": 2, "evt_bench00000000b": 1, "evt_bench00000001a": 2, "evt_bench00000001b": 1}


def test_the_portal_pages_are_paced_over_both_servers_with_each_guest_from_its_own_address(recorder):
    world = {"session_cookies": ["sessionid=a", "sessionid=b"], "csrf_token": "t" * 32,
             "accounts": [("1000000013", "张三"), ("1000000021", "李四")]}
    figures = portal_pages_load(world=world, ports=recorder.ports, rate=20.0, seconds=0.5, start=time.time())
    assert [(page["page"], page["mode"], page["requests"], page["errors"]) for page in figures] == [
        ("bill_lookup", "paced", 10, 0), ("dashboard", "paced", 10, 0)]
    dashboards = [request for request in recorder.requests if request[1] == "GET"]
    lookups = [request for request in recorder.requests if request[1] == "POST"]
    assert {path for _port, _method, path, _headers, _body in dashboards} == {DASHBOARD_PATH}
    assert Counter(headers["Cookie"] for *_start, headers, _body in dashboards) == {"sessionid=a": 5,
                                                                                   "sessionid=b": 5}
    assert {path for _port, _method, path, _headers, _body in lookups} == {LOOKUP_PATH}
    assert len({headers["X-Forwarded-For"] for *_start, headers, _body in lookups}) == 10
    assert {port for port, *_rest in recorder.requests} == set(recorder.ports)


# --- the counts of work done, on real rows ----------------------------------------------------------------------


@pytest.mark.django_db
def test_sla_marks_due_in_the_window_are_counted_once_each_and_a_second_mark_is_a_duplicate():
    sample_process()
    BranchFactory()
    created = sla_steps_create(4, window_seconds=100.0)
    later = created["last_due"] + datetime.timedelta(seconds=1)
    assert sla_outcome(due_by=later)["overdue"] == {"offered": 4, "done": 0, "lost": 4, "duplicates": 0,
                                                    "steps_marked_twice": 0}
    sla_scan(now=later)
    sla_scan(now=later)
    outcome = sla_outcome(due_by=later)
    assert outcome == {kind: {"offered": 4, "done": 4, "lost": 0, "duplicates": 0, "steps_marked_twice": 0}
                       for kind in ("overdue", "warned")}
    twice = TicketEvent.objects.filter(kind=TicketEvent.Kind.OVERDUE).first()
    twice.pk = None
    twice.save()
    assert sla_outcome(due_by=later)["overdue"] == {"offered": 4, "done": 4, "lost": 0, "duplicates": 1,
                                                    "steps_marked_twice": 1}
    first_due = TicketStep.objects.order_by("due_at").first().due_at
    assert sla_outcome(due_by=first_due)["overdue"]["offered"] == 1


@pytest.mark.django_db
def test_calls_offered_but_not_recorded_ended_are_lost():
    started = timezone.now() - datetime.timedelta(minutes=5)
    finished_call(started_at=started, call_key="1900000001.1")
    finished_call(started_at=started, call_key="1900000002.1", outcome=CallOutcome.ABANDONED)
    outcome = calls_outcome(["1900000001.1", "1900000002.1", "1900000003.1"])
    assert outcome == {"offered": 3, "done": 2, "lost": 1, "duplicates": 0, "answered": 1, "keys_recorded_twice": 0}


@pytest.mark.django_db
def test_sms_not_sent_are_lost_and_requests_beyond_the_sent_ones_are_duplicates():
    def message(key: str, state: str) -> None:
        Message.objects.create(channel="sms", event="outage_planned", to="+8613900000001", language="zh-hans",
                               body="停电通知", idempotency_key=key, state=state)

    message(f"{FAN_OUT_PREFIX}:1", "sent")
    message(f"{FAN_OUT_PREFIX}:2", "delivered")
    message(f"{FAN_OUT_PREFIX}:3", "pending")
    message("payment-receipt:9", "sent")
    assert sms_outcome(due=3, fake_received=4) == {
        "offered": 3, "done": 2, "lost": 1, "duplicates": 1, "states": {"sent": 1, "delivered": 1, "pending": 1},
        "sms_sent_in_run": 3, "fake_twilio_received": 4}
    assert sms_outcome(due=3, fake_received=3)["duplicates"] == 0
    assert sms_finished(3) is False
    assert sms_finished(2) is True


@pytest.mark.django_db
def test_online_payments_posted_through_the_webhook_are_counted_exactly_once(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_SECRET_KEY = "sk_test_bench"
    tariff = residential_tiered_tariff()
    for _ in range(3):
        billed_months(AccountFactory(tariff=tariff), [Decimal("120")], last_period=datetime.date(2026, 10, 1),
                      issued_on=datetime.date(2026, 11, 3))
    with pytest.raises(RuntimeError, match="the data set has 3 accounts with an unpaid bill, 4 payments asked"):
        intents_create(4)
    payments = intents_create(3)
    owed = {bill.account.number: int(bill.total * 100) for bill in Bill.objects.select_related("account")}
    assert {account: fen for _intent, account, fen in payments} == owed
    assert [intent for intent, _account, _fen in payments] == ["pi_bench00000000", "pi_bench00000001",
                                                               "pi_bench00000002"]
    deliveries = deliveries_plan(payments, seed=3)
    assert payments_outcome(payments, 6)["lost"] == 3
    for _event_id, body in deliveries:
        response = client.post(WEBHOOK, data=body, content_type="application/json",
                               HTTP_STRIPE_SIGNATURE=signature(body, WEBHOOK_SECRET, int(time.time())))
        assert response.status_code == 200
    outcome = payments_outcome(payments, 6)
    paid_for = sum(Decimal(fen) / 100 for _intent, _account, fen in payments)
    assert outcome == {"offered": 3, "done": 3, "lost": 0, "duplicates": 0, "amount_posted": str(paid_for),
                       "amount_paid_for": str(paid_for), "problems": []}


@pytest.mark.django_db
def test_the_progress_line_counts_what_the_day_has_done_so_far():
    started = timezone.now() - datetime.timedelta(minutes=5)
    finished_call(started_at=started, call_key="1900000001.1")
    for key, state in ((f"{FAN_OUT_PREFIX}:1", "sent"), (f"{FAN_OUT_PREFIX}:2", "pending"),
                       ("payment-receipt:9", "sent")):
        Message.objects.create(channel="sms", event="outage_planned", to="+8613900000001", language="zh-hans",
                               body="停电通知", idempotency_key=key, state=state)
    assert progress_line(elapsed=120.4, keys=["1900000001.1", "1900000002.1"]) == (
        "       120 s: payments posted 0, calls ended 1, SMS sent 1, SLA marks 0")
