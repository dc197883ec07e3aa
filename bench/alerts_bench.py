#!/usr/bin/env python
"""Customer-alert benchmark: the daily 09:30 scan (core.services.customer_alerts.customer_alerts_scan) on PostgreSQL
with the 1.1 M-customer data set, twice the same day.

    python bench/alerts_bench.py                  1,100,000 customers, 6 billing months
    python bench/alerts_bench.py --smoke          10,000 customers, 2 billing months

Database: a fresh database on the server of DATABASE_URL when it is PostgreSQL, else a throwaway cluster
(bench/pg.py), filled by bench/dataset.py: data_load and portal_load (customers, accounts, bills, payments, the
ledger, a portal user bound to every fourth account), then alerts_load (a meter and its readings per account, one
per billed month and one of this month so far; a third of the residential accounts smart-prepaid with a credit,
3.5 % of them under the holder's 10 yuan; bindings' alert settings and the binders' verified mobiles). Redis and
Django come from bench/harness.py, in this process, with Celery tasks eager: each alert's notification is requested
and its SMS sent (the embedded database backend: nothing leaves the machine) inside the run, as the texts must be
out for the run to count as done. The scan runs at 09:30, outside the SMS quiet hours (22:00-08:00): the bench,
started at any hour, lifts them (QUIET_HOURS_LIFTED) so its texts go out as they would then, not held till morning.

- first run: the scan as on the first morning; every binding and prepaid account due an alert gets one (with the
  data set's monthly readings paces run high: on the 25th about 45 % of the tier-alert bindings are told).
- second run: the same day again, the steady state: everything was told, nothing new must be raised.
For each: seconds (and this process's CPU seconds, and the time spent in SQL), what AlertScanResult says was checked
and raised, accounts checked per second, and SQL queries per binding (the binding pass) and per prepaid account (the
holder pass, which starts where the scan first lists the prepaid accounts), counted with
django.db.connection.execute_wrapper; the queries the notifications receiver makes (customer_alerts_raised, after
commit) are counted apart, per alert. The notification requests the first run made (Message rows of the alert
events, one request a distinct idempotency key) must match the alerts raised, or the figures do not count (exit 1).
The first run's seconds are compared with TARGET_SECONDS at the full size (below it, a linear estimate at the full
size is compared instead), printed as PASS / ABOVE TARGET, never asserted.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The scan starts at 09:30; its texts should all be out within a quarter of an hour.
TARGET_SECONDS = 15 * 60
DEFAULT_CUSTOMERS = 1_100_000
DEFAULT_MONTHS = 6
SMOKE_CUSTOMERS = 10_000
SMOKE_MONTHS = 2
SCAN_FIELDS = ("bindings_checked", "tier_alerts", "low_balance_alerts", "low_balance_cleared", "holders_checked",
               "holder_low_balance_alerts")
ALERT_FIELDS = ("tier_alerts", "low_balance_alerts", "holder_low_balance_alerts")
# notifications.models.Event values of the two alerts (core's KIND_TIER and KIND_LOW_BALANCE).
ALERT_EVENTS = ("tier_threshold_near", "prepaid_balance_low")
NOTIFY_RECEIVER_UID = "notifications.customer_alerts"
TOP_QUERY_KINDS = 8
PASSES = ("bindings", "holders")
# No hour is quiet: notifications.services.quiet_hours_end holds an SMS from START o'clock and before END o'clock.
QUIET_HOURS_LIFTED = {"NOTIFICATIONS_QUIET_HOURS_START": "24", "NOTIFICATIONS_QUIET_HOURS_END": "0"}


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


# --- pure helpers -----------------------------------------------------------------------------------------------


def per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def per_item(count: int, items: int) -> float | None:
    """count / items to 2 places; None when there were no items."""
    return round(count / items, 2) if items else None


def verdict(seconds: float) -> str:
    return "PASS" if seconds <= TARGET_SECONDS else "ABOVE TARGET"


def full_size_estimate(*, seconds: float, customers: int) -> float:
    """The run's seconds scaled linearly to DEFAULT_CUSTOMERS: the scan's work is per binding and per prepaid account,
    both a fixed share of the customers."""
    return round(seconds * DEFAULT_CUSTOMERS / customers, 1) if customers else 0.0


_TABLE = r'"?([a-z_][a-z0-9_]*)"?'


def query_kind(sql: str) -> str:
    """A query's kind for the tally: its verb and first table ("SELECT core_meterreading", "SELECT FOR UPDATE
    core_accountbinding", "UPDATE core_account", "INSERT notifications_message"), or its first word."""
    text = " ".join(sql.split())
    upper = text.upper()
    verb = upper.split(" ", 1)[0] if upper else ""
    if verb in ("SELECT", "DECLARE", "WITH"):
        match = re.search(r"\bFROM " + _TABLE, text, re.IGNORECASE)
        locking = " FOR UPDATE" if re.search(r"\bFOR (NO KEY )?UPDATE\b", upper) else ""
        return f"SELECT{locking} {match.group(1)}" if match else "SELECT"
    if verb == "UPDATE":
        match = re.match(r"UPDATE " + _TABLE, text, re.IGNORECASE)
        return f"UPDATE {match.group(1)}" if match else verb
    if verb == "INSERT":
        match = re.match(r"INSERT INTO " + _TABLE, text, re.IGNORECASE)
        return f"INSERT {match.group(1)}" if match else verb
    if verb == "DELETE":
        match = re.match(r"DELETE FROM " + _TABLE, text, re.IGNORECASE)
        return f"DELETE {match.group(1)}" if match else verb
    return verb


class QueryMeter:
    """An execute_wrapper counting and timing every query: by pass of the scan (bindings, then holders from the
    moment holders_begin is called), by section (the scan itself, or inside `within(name)`: "notify" for the
    notifications receiver, "send" for the sending it queues), and by kind (query_kind, per section). Each section's
    wall time is its own, a section's inner sections left out."""

    def __init__(self, clock=time.perf_counter) -> None:
        self.clock = clock
        self.phase = PASSES[0]
        self.section = "scan"
        self.queries: Counter = Counter()
        self.sql_seconds: Counter = Counter()
        self.kinds: Counter = Counter()
        self.kind_seconds: Counter = Counter()
        self.section_seconds: Counter = Counter()
        self.holders_started: float | None = None
        self._mark = clock()

    def __call__(self, execute, sql, params, many, context):
        started = self.clock()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = self.clock() - started
            self.queries[(self.phase, self.section)] += 1
            self.sql_seconds[(self.phase, self.section)] += elapsed
            kind = f"{self.section}: {query_kind(sql)}"
            self.kinds[kind] += 1
            self.kind_seconds[kind] += elapsed

    def holders_begin(self) -> None:
        if self.phase != "holders":
            self.phase = "holders"
            self.holders_started = self.clock()

    @contextlib.contextmanager
    def within(self, name: str) -> Iterator[None]:
        now = self.clock()
        self.section_seconds[self.section] += now - self._mark
        outer, self.section, self._mark = self.section, name, now
        try:
            yield
        finally:
            now = self.clock()
            self.section_seconds[name] += now - self._mark
            self.section, self._mark = outer, now

    def count(self, *, phase: str | None = None, section: str | None = None) -> int:
        return sum(n for (p, s), n in self.queries.items() if phase in (None, p) and section in (None, s))

    def seconds_in_sql(self, *, section: str | None = None) -> float:
        return sum(t for (_p, s), t in self.sql_seconds.items() if section in (None, s))

    def top_kinds(self, limit: int = TOP_QUERY_KINDS) -> list[dict]:
        """The kinds that took the most time in SQL, most first."""
        ordered = sorted(self.kind_seconds.items(), key=lambda item: item[1], reverse=True)[:limit]
        return [{"kind": kind, "queries": self.kinds[kind], "seconds": round(seconds, 2)} for kind, seconds in ordered]


def run_figures(*, name: str, scan: dict, meter: QueryMeter, seconds: float, cpu_seconds: float,
                ended: float) -> dict:
    """One run's figures: what the scan says (AlertScanResult's fields) plus the meter's counts and times; `ended`
    is the meter's clock when the scan returned. The per-pass figures are None when the holder pass was not told
    apart."""
    raised = sum(scan[field] for field in ALERT_FIELDS)
    checked = scan["bindings_checked"] + scan["holders_checked"]
    split = meter.holders_started is not None
    notify, send = meter.section_seconds["notify"], meter.section_seconds["send"]
    return {
        "name": name, "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2),
        "scan_seconds": round(max(seconds - notify - send, 0.0), 2), "notify_seconds": round(notify, 2),
        "send_seconds": round(send, 2), "sql_seconds": round(meter.seconds_in_sql(), 2),
        "holders_seconds": round(ended - meter.holders_started, 2) if split else None,
        **scan, "alerts_raised": raised,
        "accounts_per_second": per_second(checked, seconds),
        "queries": meter.count(),
        "scan_queries": meter.count(section="scan"),
        "notify_queries": meter.count(section="notify") + meter.count(section="send"),
        "queries_per_binding": per_item(meter.count(phase="bindings", section="scan"), scan["bindings_checked"])
        if split else None,
        "queries_per_prepaid_account": per_item(meter.count(phase="holders", section="scan"), scan["holders_checked"])
        if split else None,
        "queries_per_checked": per_item(meter.count(section="scan"), checked),
        "notify_queries_per_alert": per_item(meter.count(section="notify"), raised),
        "send_queries_per_alert": per_item(meter.count(section="send"), raised),
        "top_query_kinds": meter.top_kinds(),
    }


def report_lines(result: dict) -> list[str]:
    """The printed summary: the data set, each run, the notifications, what dominated, and the target."""
    data = result["data_set"]
    lines = [(
        f"alerts data set: {result['customers']:,} customers, {result['months']} billing months: "
        f"{data['prepaid_accounts']:,} smart-prepaid accounts ({data['prepaid_under_threshold']:,} under 10 yuan), "
        f"{data['bindings']:,} bindings ({data['bindings_with_tier_alerts']:,} with tier alerts), "
        f"{data['readings']:,} readings; built in {data['seconds']:,.1f} s"
    )]
    for run in result["runs"]:
        line = (f"alerts {run['name']:6} run: {run['seconds']:9,.1f} s (scan {run['scan_seconds']:,.1f} s, "
                f"requesting notifications {run['notify_seconds']:,.1f} s, sending {run['send_seconds']:,.1f} s; "
                f"CPU {run['cpu_seconds']:,.1f} s, in SQL {run['sql_seconds']:,.1f} s); "
                f"{run['bindings_checked']:,} bindings and {run['holders_checked']:,} prepaid accounts checked = "
                f"{run['accounts_per_second']:,.1f} accounts/s; raised: tier {run['tier_alerts']:,}, binding low "
                f"balance {run['low_balance_alerts']:,} (re-armed {run['low_balance_cleared']:,}), holder low balance "
                f"{run['holder_low_balance_alerts']:,}")
        lines.append(line)
        if run["queries_per_prepaid_account"] is not None:
            queries = (f"{run['queries_per_binding']} per binding, {run['queries_per_prepaid_account']} per prepaid "
                       f"account (holder pass {run['holders_seconds']:,.1f} s)")
        else:
            queries = f"{run['queries_per_checked']} per binding or prepaid account (passes not told apart)"
        notify = (f"; per alert: {run['notify_queries_per_alert']} requesting, {run['send_queries_per_alert']} "
                  f"sending" if run["notify_queries_per_alert"] is not None else "")
        lines.append(f"alerts {run['name']:6} run: {run['queries']:,} queries: {queries}{notify}")
        for kind in run["top_query_kinds"]:
            lines.append(f"    {kind['seconds']:9,.2f} s {kind['queries']:>10,}  {kind['kind']}")
    second = result["runs"][1]
    if second["alerts_raised"]:
        lines.append(f"alerts second run raised {second['alerts_raised']:,} alerts the same day: expected none")
    notes = result["notifications"]
    states = ", ".join(f"{state} {count:,}" for state, count in sorted(notes["states"].items())) or "none"
    channels = ", ".join(f"{channel} {count:,}" for channel, count in sorted(notes["channels"].items())) or "none"
    lines.append(f"alerts notifications of the first run: {notes['requests']:,} requests for "
                 f"{result['runs'][0]['alerts_raised']:,} alerts raised -> {notes['match']}; messages by channel: "
                 f"{channels}; by state: {states}; second run: {notes['second_run_requests']:,} requests")
    first = result["runs"][0]
    if result["customers"] >= DEFAULT_CUSTOMERS:
        lines.append(f"alerts first run at {result['customers']:,} customers: {first['seconds']:,.1f} s -> "
                     f"{result['verdict']} (target <= {TARGET_SECONDS:,} s)")
    else:
        lines.append(f"alerts first run at {result['customers']:,} customers: {first['seconds']:,.1f} s; linear "
                     f"estimate at {DEFAULT_CUSTOMERS:,}: {result['estimate_full_seconds']:,.0f} s -> "
                     f"{result['verdict']} (target <= {TARGET_SECONDS:,} s at {DEFAULT_CUSTOMERS:,})")
    lines.append(f"alerts: {result['customers']:,} customers on {result['database']}, cache {result['cache']}, "
                 f"{result['cpus']} CPUs, load average {result['load_average_1min']}")
    code = result.get("code") or {}
    if code:
        changed = ", ".join(code["changed"]) or "none"
        lines.append(f"alerts: code at {code['head']}, uncommitted changes to: {changed}")
    return lines


# --- setup ------------------------------------------------------------------------------------------------------


def data_build(*, customers: int, months: int) -> dict:
    """bench/dataset.py's data set with what the portal reads and what the alert scan reads, and its figures."""
    from django.db import connection
    from django.utils import timezone

    from bench.dataset import alerts_load, portal_data_load, prepaid_low_balance_count

    today = timezone.localdate()
    started = time.monotonic()
    steps = portal_data_load(customers=customers, months=months, today=today)
    steps["alerts"] = alerts_load(today=today)
    seconds = time.monotonic() - started
    print(f"   data set built in {seconds:,.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT (SELECT count(*) FROM core_account WHERE billing_mode = 'prepaid' AND status <> 'closed'),
                   (SELECT count(*) FROM core_accountbinding WHERE unbound_at IS NULL),
                   (SELECT count(*) FROM core_accountbinding WHERE unbound_at IS NULL AND tier_alerts),
                   (SELECT count(*) FROM core_meterreading)""")
        prepaid, bindings, tier_alerts_on, readings = cursor.fetchone()
    return {"seconds": round(seconds, 1), "as_of": today.isoformat(), "steps": steps, "prepaid_accounts": prepaid,
            "prepaid_under_threshold": prepaid_low_balance_count(today=today), "bindings": bindings,
            "bindings_with_tier_alerts": tier_alerts_on, "readings": readings}


@contextlib.contextmanager
def scan_instrumented(meter: QueryMeter) -> Iterator[None]:
    """The meter on the default connection; the notifications receiver of customer_alerts_raised inside the meter's
    "notify" section (the same receiver, connected again around a wrapper) and the sending it queues inside "send"
    (notifications.services._queue_now and _queue_chunks_now, where it has them); the holder pass marked where the scan first lists the
    prepaid accounts (customer_alerts._prepaid_accounts_to_scan, when it has one). All put back on exit."""
    from django.db import connection

    from core.services import customer_alerts
    from core.signals import customer_alerts_raised
    from notifications import services as notification_services
    from notifications.customer_alerts import customer_alerts_raised_receive

    def notify(sender, **kwargs):
        with meter.within("notify"):
            customer_alerts_raised_receive(sender=sender, **kwargs)

    def marking_holders(original):
        def call(*args, **kwargs):
            meter.holders_begin()
            return original(*args, **kwargs)
        return call

    def sending(original):
        def call(*args, **kwargs):
            with meter.within("send"):
                return original(*args, **kwargs)
        return call

    # Only where notifications subscribed: the bench must not send what the platform would not.
    subscribed = customer_alerts_raised.disconnect(dispatch_uid=NOTIFY_RECEIVER_UID)
    if subscribed:
        customer_alerts_raised.connect(notify, weak=False, dispatch_uid="bench.alerts_bench.notify")
    originals = []
    for module, name, wrap in ((customer_alerts, "_prepaid_accounts_to_scan", marking_holders),
                               (notification_services, "_queue_now", sending),
                               (notification_services, "_queue_chunks_now", sending)):
        original = getattr(module, name, None)
        if original is not None:
            setattr(module, name, wrap(original))
            originals.append((module, name, original))
    try:
        with connection.execute_wrapper(meter):
            yield
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
        customer_alerts_raised.disconnect(dispatch_uid="bench.alerts_bench.notify")
        if subscribed:
            customer_alerts_raised.connect(customer_alerts_raised_receive, dispatch_uid=NOTIFY_RECEIVER_UID)


def scan_run(*, name: str, as_of) -> dict:
    from core.services.customer_alerts import customer_alerts_scan

    meter = QueryMeter()
    print(f"== {name} run of customer_alerts_scan(as_of={as_of})", flush=True)
    with scan_instrumented(meter):
        started, cpu_started = time.monotonic(), time.process_time()
        outcome = customer_alerts_scan(as_of=as_of)
        seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu_started
        ended = meter.clock()
    scan = {field: getattr(outcome, field) for field in SCAN_FIELDS}
    print(f"   {seconds:,.1f} s: {scan}", flush=True)
    return run_figures(name=name, scan=scan, meter=meter, seconds=seconds, cpu_seconds=cpu_seconds, ended=ended)


def code_version() -> dict:
    """The commit measured and the files under core/, notifications/ and portal/ changed from it (the scan is being
    made faster: a result says which code it measured); empty outside a git checkout."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--", "core", "notifications", "portal"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"head": head, "changed": sorted(line[3:] for line in status.splitlines() if line.endswith(".py"))}


def notifications_of(*, since, until=None) -> dict:
    """The alert events' Message rows created in the window: requests (distinct idempotency keys), by channel, by
    state."""
    from django.db.models import Count

    from notifications.models import Message

    rows = Message.objects.filter(event__in=ALERT_EVENTS, created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return {
        "requests": rows.values("idempotency_key").distinct().count(),
        "messages": rows.count(),
        "channels": dict(rows.order_by().values_list("channel").annotate(n=Count("id"))),
        "states": dict(rows.order_by().values_list("state").annotate(n=Count("id"))),
    }


def run(args: argparse.Namespace, folder: str) -> dict:
    from django.utils import timezone

    from bench.harness import bench_services

    with bench_services(folder) as services:
        from django.db import connection

        data = data_build(customers=args.customers, months=args.months)
        as_of = timezone.localdate()
        # The code as the scan is about to import it (it may be changing under a long data load).
        code = code_version()
        first_started = timezone.now()
        first = scan_run(name="first", as_of=as_of)
        second_started = timezone.now()
        second = scan_run(name="second", as_of=as_of)
        notes = notifications_of(since=first_started, until=second_started)
        notes["second_run_requests"] = notifications_of(since=second_started)["requests"]
        notes["match"] = "MATCH" if notes["requests"] == first["alerts_raised"] else "MISMATCH"
        result: dict = {"database": connection.vendor, "cache": services.cache, "customers": args.customers,
                        "months": args.months, "as_of": as_of.isoformat(), "cpus": os.cpu_count(), "data_set": data,
                        "runs": [first, second], "notifications": notes, "code": code,
                        "target_seconds": TARGET_SECONDS,
                        "load_average_1min": round(os.getloadavg()[0], 2)}
    result["estimate_full_seconds"] = full_size_estimate(seconds=first["seconds"], customers=args.customers)
    judged = first["seconds"] if args.customers >= DEFAULT_CUSTOMERS else result["estimate_full_seconds"]
    result["verdict"] = verdict(judged)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=None, help=f"default {DEFAULT_CUSTOMERS:,}")
    parser.add_argument("--months", type=int, default=None, help=f"billing months (default {DEFAULT_MONTHS})")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_CUSTOMERS:,} customers, {SMOKE_MONTHS} months")
    parser.add_argument("--results-dir", default=str(ROOT / "bench-results"))
    args = parser.parse_args(argv)
    args.customers = args.customers or (SMOKE_CUSTOMERS if args.smoke else DEFAULT_CUSTOMERS)
    args.months = args.months or (SMOKE_MONTHS if args.smoke else DEFAULT_MONTHS)
    if args.customers <= 0 or not 1 <= args.months <= 24:
        parser.error("--customers must be positive and --months between 1 and 24")

    from bench.harness import results_write, server_release
    from bench.pg import server_for_bench

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    server = server_for_bench()
    try:
        print(f"PostgreSQL: {server.description}")
        # bench_services makes its scratch database on this server, and drops it at the end.
        os.environ["DATABASE_URL"] = server.admin_url
        os.environ.update(QUIET_HOURS_LIFTED)
        with tempfile.TemporaryDirectory(prefix="alerts-bench-") as folder:
            result = run(args, folder)
        result["server"] = server.description
    finally:
        server_release(server)
    for line in report_lines(result):
        print(line)
    results_write(args.results_dir, "alerts", smoke=args.smoke, figures=result)
    return 0 if result["notifications"]["match"] == "MATCH" else 1


if __name__ == "__main__":
    raise SystemExit(main())
