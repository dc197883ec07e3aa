"""The customer-alert benchmark's helpers, its instruments around the real scan, and bench/dataset.py's alerts_load
run small on its own PostgreSQL (DATABASE_URL's server when it is PostgreSQL, else a throwaway cluster), as
tests/bench/test_dataset.py runs the rest of the data set (the benchmark itself runs with `make bench`)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.alerts_bench import (
    DEFAULT_CUSTOMERS,
    TARGET_SECONDS,
    QueryMeter,
    full_size_estimate,
    per_item,
    per_second,
    query_kind,
    report_lines,
    run_figures,
    verdict,
)

ROOT = Path(__file__).resolve().parents[2]


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _execute(sql, params, many, context):
    return None


def test_rates_and_shares_round_and_survive_nothing_to_divide_by():
    assert per_second(4971, 11.3) == 439.9
    assert per_second(10, 0.0) == 0.0
    assert per_item(15395, 4971) == 3.1
    assert per_item(3, 0) is None


def test_the_target_is_a_quarter_of_an_hour_judged_at_the_full_size():
    assert TARGET_SECONDS == 900
    assert verdict(900.0) == "PASS"
    assert verdict(900.1) == "ABOVE TARGET"
    assert full_size_estimate(seconds=11.3, customers=10_000) == 1243.0
    assert full_size_estimate(seconds=500.0, customers=DEFAULT_CUSTOMERS) == 500.0


@pytest.mark.parametrize(("sql", "kind"), [
    (('SELECT "core_meterreading"."account_id", SUM("core_meterreading"."consumption") AS "kwh" '
      'FROM "core_meterreading" WHERE "core_meterreading"."account_id" IN (1, 2)'), "SELECT core_meterreading"),
    (('SELECT "core_accountbinding"."id" FROM "core_accountbinding" WHERE "core_accountbinding"."id" = 3 '
      "LIMIT 21 FOR UPDATE"), "SELECT FOR UPDATE core_accountbinding"),
    ('DECLARE "_django_curs_1" NO SCROLL CURSOR WITH HOLD FOR SELECT "core_account"."id" FROM "core_account"',
     "SELECT core_account"),
    ('UPDATE "core_account" SET "low_balance_alerted_at" = NULL WHERE "core_account"."id" = 5',
     "UPDATE core_account"),
    ('INSERT INTO "notifications_message" ("channel") VALUES (%s) RETURNING "notifications_message"."id"',
     "INSERT notifications_message"),
    ('DELETE FROM "django_session" WHERE "django_session"."expire_date" < %s', "DELETE django_session"),
    ('SAVEPOINT "s1_x1"', "SAVEPOINT"),
    ("  select 1", "SELECT"),
])
def test_a_query_is_told_by_its_verb_and_first_table(sql, kind):
    assert query_kind(sql) == kind


def test_the_meter_counts_queries_by_pass_and_section_and_times_each_section_on_its_own():
    clock = _Clock()
    meter = QueryMeter(clock=clock)
    meter(_execute, 'SELECT * FROM "core_accountbinding"', None, False, {})
    clock.now = 101.0
    meter.holders_begin()
    meter(_execute, 'SELECT * FROM "core_account"', None, False, {})
    clock.now = 102.0
    with meter.within("notify"):
        meter(_execute, 'INSERT INTO "notifications_message" VALUES (1)', None, False, {})
        clock.now = 103.0
        with meter.within("send"):
            meter(_execute, 'UPDATE "notifications_message" SET state = 1', None, False, {})
            clock.now = 106.0
        clock.now = 106.5
    meter.holders_begin()  # once begun, the holder pass keeps its start
    assert meter.holders_started == 101.0
    assert meter.count() == 4
    assert meter.count(phase="bindings") == 1
    assert meter.count(phase="holders", section="scan") == 1
    assert (meter.count(section="notify"), meter.count(section="send")) == (1, 1)
    assert (meter.section_seconds["notify"], meter.section_seconds["send"]) == (1.5, 3.0)
    assert [kind["kind"] for kind in meter.top_kinds()] == [
        "scan: SELECT core_accountbinding", "scan: SELECT core_account", "notify: INSERT notifications_message",
        "send: UPDATE notifications_message",
    ]


def test_a_failing_query_is_counted_too():
    def failing(sql, params, many, context):
        raise RuntimeError("boom")

    meter = QueryMeter()
    with pytest.raises(RuntimeError):
        meter(failing, 'SELECT 1 FROM "core_bill"', None, False, {})
    assert meter.kinds == {"scan: SELECT core_bill": 1}


def _scan(**figures):
    return {"bindings_checked": 2000, "tier_alerts": 900, "low_balance_alerts": 40, "low_balance_cleared": 0,
            "holders_checked": 3000, "holder_low_balance_alerts": 100} | figures


def test_a_runs_figures_divide_each_pass_by_what_it_checked_and_notifications_by_the_alerts():
    clock = _Clock()
    meter = QueryMeter(clock=clock)
    for _ in range(2000):
        meter(_execute, 'SELECT * FROM "core_accountbinding"', None, False, {})
    meter.holders_begin()
    for _ in range(1500):
        meter(_execute, 'SELECT * FROM "core_meterreading"', None, False, {})
    with meter.within("notify"):
        for _ in range(2080):
            meter(_execute, 'SELECT * FROM "notifications_message"', None, False, {})
        clock.now += 4.0
    clock.now += 2.5
    figures = run_figures(name="first", scan=_scan(), meter=meter, seconds=10.0, cpu_seconds=8.0, ended=clock.now)
    assert figures["alerts_raised"] == 1040
    assert figures["accounts_per_second"] == 500.0
    assert (figures["queries_per_binding"], figures["queries_per_prepaid_account"]) == (1.0, 0.5)
    assert figures["notify_queries_per_alert"] == 2.0 and figures["send_queries_per_alert"] == 0.0
    assert (figures["scan_seconds"], figures["notify_seconds"], figures["holders_seconds"]) == (6.0, 4.0, 6.5)


def test_without_the_holder_pass_marked_the_queries_are_per_account_checked():
    meter = QueryMeter()
    for _ in range(10):
        meter(_execute, 'SELECT * FROM "core_account"', None, False, {})
    figures = run_figures(name="second", scan=_scan(tier_alerts=0, low_balance_alerts=0, holder_low_balance_alerts=0),
                          meter=meter, seconds=2.0, cpu_seconds=1.0, ended=0.0)
    assert figures["queries_per_binding"] is None and figures["queries_per_prepaid_account"] is None
    assert figures["queries_per_checked"] == 0.0 and figures["holders_seconds"] is None
    assert figures["notify_queries_per_alert"] is None


def _result(*, customers=100_000, second_raised=0, requests=1040, split=True):
    def run(name, raised, seconds):
        return {
            "name": name, "seconds": seconds, "scan_seconds": seconds - 1.0, "notify_seconds": 0.6,
            "send_seconds": 0.4, "cpu_seconds": 5.0, "sql_seconds": 2.0, "bindings_checked": 2000,
            "holders_checked": 3000, "accounts_per_second": 500.0, "tier_alerts": raised, "low_balance_alerts": 0,
            "low_balance_cleared": 0, "holder_low_balance_alerts": 0, "alerts_raised": raised, "queries": 5000,
            "queries_per_binding": 1.0 if split else None, "queries_per_prepaid_account": 0.5 if split else None,
            "holders_seconds": 3.0 if split else None, "queries_per_checked": 0.7,
            "notify_queries_per_alert": 5.0 if raised else None, "send_queries_per_alert": 5.0 if raised else None,
            "top_query_kinds": [{"kind": "scan: SELECT core_meterreading", "queries": 1132, "seconds": 0.22}],
        }

    first_seconds = 100.0
    estimate = full_size_estimate(seconds=first_seconds, customers=customers)
    judged = first_seconds if customers >= DEFAULT_CUSTOMERS else estimate
    return {
        "customers": customers, "months": 6, "database": "postgresql", "cache": "redis", "cpus": 2,
        "load_average_1min": 1.5,
        "data_set": {"prepaid_accounts": 3000, "prepaid_under_threshold": 105, "bindings": 2500,
                     "bindings_with_tier_alerts": 2000, "readings": 70000, "seconds": 12.3},
        "runs": [run("first", 1040, first_seconds), run("second", second_raised, 20.0)],
        "notifications": {"requests": requests, "match": "MATCH" if requests == 1040 else "MISMATCH",
                          "channels": {"sms": 1040, "inbox": 100}, "states": {"delivered": 1140},
                          "second_run_requests": second_raised},
        "estimate_full_seconds": estimate, "verdict": verdict(judged),
        "code": {"head": "e9f79b0", "changed": ["core/services/customer_alerts.py"]},
    }


def test_the_report_prints_each_run_the_notifications_and_the_estimate_below_the_full_size():
    lines = report_lines(_result())
    assert lines[0].startswith("alerts data set: 100,000 customers, 6 billing months: 3,000 smart-prepaid accounts "
                               "(105 under 10 yuan), 2,500 bindings (2,000 with tier alerts), 70,000 readings")
    assert "2,000 bindings and 3,000 prepaid accounts checked = 500.0 accounts/s" in lines[1]
    assert "raised: tier 1,040, binding low balance 0 (re-armed 0), holder low balance 0" in lines[1]
    assert lines[2] == ("alerts first  run: 5,000 queries: 1.0 per binding, 0.5 per prepaid account (holder pass "
                        "3.0 s); per alert: 5.0 requesting, 5.0 sending")
    assert lines[3].endswith("1,132  scan: SELECT core_meterreading")
    assert lines[5] == "alerts second run: 5,000 queries: 1.0 per binding, 0.5 per prepaid account (holder pass 3.0 s)"
    assert lines[7].startswith("alerts notifications of the first run: 1,040 requests for 1,040 alerts raised -> "
                               "MATCH; messages by channel: inbox 100, sms 1,040; by state: delivered 1,140")
    assert lines[8] == ("alerts first run at 100,000 customers: 100.0 s; linear estimate at 1,100,000: 1,100 s -> "
                        "ABOVE TARGET (target <= 900 s at 1,100,000)")
    assert lines[10] == "alerts: code at e9f79b0, uncommitted changes to: core/services/customer_alerts.py"


def test_the_report_judges_the_first_run_itself_at_the_full_size():
    lines = report_lines(_result(customers=DEFAULT_CUSTOMERS))
    assert "alerts first run at 1,100,000 customers: 100.0 s -> PASS (target <= 900 s)" in lines


def test_the_report_says_so_when_the_second_run_raised_alerts_or_the_notifications_do_not_match():
    lines = report_lines(_result(second_raised=3, requests=1000, split=False))
    assert "alerts second run raised 3 alerts the same day: expected none" in lines
    assert any("1,000 requests for 1,040 alerts raised -> MISMATCH" in line for line in lines)
    assert any(line.endswith("0.7 per binding or prepaid account (passes not told apart); per alert: 5.0 requesting, "
                             "5.0 sending") for line in lines)


@pytest.mark.django_db
def test_the_instruments_count_the_receivers_queries_apart_and_put_everything_back():
    from bench.alerts_bench import NOTIFY_RECEIVER_UID, scan_instrumented
    from core.services import customer_alerts
    from core.signals import customer_alerts_raised
    from notifications import services as notification_services

    lister, queue_now = customer_alerts._prepaid_accounts_to_scan, notification_services._queue_now
    queue_chunks_now = notification_services._queue_chunks_now
    meter = QueryMeter()
    with scan_instrumented(meter):
        list(customer_alerts._prepaid_accounts_to_scan())
        # A binding that is gone: the receiver looks for it (one query) and sends nothing.
        customer_alerts_raised.send(sender=None, alerts=[{
            "binding_id": 0, "account_id": None, "kind": "tier_threshold_near", "data": {},
            "idempotency_key": "bench-test",
        }])
        notification_services._queue_chunks_now([])
    assert meter.holders_started is not None
    assert meter.count(phase="holders", section="scan") == 1
    assert meter.kinds["notify: SELECT core_accountbinding"] == 1
    assert meter.section_seconds["send"] > 0
    assert customer_alerts._prepaid_accounts_to_scan is lister and notification_services._queue_now is queue_now
    assert notification_services._queue_chunks_now is queue_chunks_now
    # The platform's own receiver is subscribed again, and the bench's gone.
    assert customer_alerts_raised.disconnect(dispatch_uid="bench.alerts_bench.notify") is False
    assert customer_alerts_raised.disconnect(dispatch_uid=NOTIFY_RECEIVER_UID) is True
    from notifications.customer_alerts import customer_alerts_raised_receive

    customer_alerts_raised.connect(customer_alerts_raised_receive, dispatch_uid=NOTIFY_RECEIVER_UID)


def _subprocess_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    if not env.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        env.pop("DATABASE_URL", None)
    return env


def test_the_alerts_additions_hold_together():
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "dataset.py"), "--customers", "400", "--months", "3",
                             "--alerts"], cwd=ROOT, env=_subprocess_env(), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    under = figures.pop("prepaid_under_threshold")
    prepaid = figures["prepaid_accounts"]
    # A third of the 360 residential accounts, 3.5 % of them under 10 yuan (a handful at this size).
    assert 100 <= prepaid <= 140 and 1 <= under <= prepaid * 0.08
    assert figures == {
        "accounts": 400, "invalid_account_numbers": 0, "paid_bills_without_one_payment": 0, "balances_off": 0,
        "bindings": 100, "bound_users": 100, "accounts_to_bind": 100, "bindings_off_pattern": 0,
        "lookups_in_the_future": 0,
        "prepaid_accounts": prepaid, "prepaid_expected": prepaid, "prepaid_without_credit": 0,
        "prepaid_open_bills": 0, "accounts_without_one_meter": 0, "bills_without_their_reading": 0,
        "registers_off": 0, "accounts_without_unbilled_reading": 0,
        "alert_bindings": 100, "bindings_with_tier_alerts": 80, "bindings_with_raised_threshold": 33,
        "binders_without_verified_mobile": 0, "binder_mobiles_on_file": 0,
    }


def test_the_bench_runs_the_scan_twice_and_every_alert_of_the_first_run_is_notified(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "alerts_bench.py"), "--customers", "400",
                             "--months", "2", "--results-dir", str(tmp_path)],
                            cwd=ROOT, env=_subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    [path] = tmp_path.glob("alerts-*.json")
    figures = json.loads(path.read_text())
    first, second = figures["runs"]
    assert first["holders_checked"] == second["holders_checked"] == figures["data_set"]["prepaid_accounts"]
    assert first["alerts_raised"] > 0
    assert figures["notifications"]["requests"] == first["alerts_raised"]
    assert figures["notifications"]["states"] == {"delivered": figures["notifications"]["messages"]}
    assert second["alerts_raised"] == 0 and figures["notifications"]["second_run_requests"] == 0
