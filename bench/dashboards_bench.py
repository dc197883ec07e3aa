#!/usr/bin/env python
"""Decision-support benchmark on PostgreSQL: the 1.1 M-customer data set built in SQL, the summary refresh (full,
then incremental after a day's payments), and each dashboard's response time.

    python bench/dashboards_bench.py                  1,100,000 customers, 6 billing months
    python bench/dashboards_bench.py --smoke          10,000 customers, 2 billing months, 2 requests a page

The data set is bench/dataset.py's, made by INSERT ... SELECT over generate_series (no row passes through Python):
customers, accounts (8 branches, 10 stations each; 90 % residential), a service point each, one bill per account and month
with its tier lines for residential bills, tickets over the last year (a fifth as many as customers) and outages
with their transformer areas. Then core.services.report_refresh builds the summaries from scratch (timed), a day's
70,000 counter payments are posted in SQL against the latest month's unpaid bills, and the incremental refresh
re-computes what they touched (timed). Every dashboard page is requested in-process through Django's test client
by a supervisor, at company, branch and station scope, 5 times each (2 in --smoke) after one warm-up; the median
and the worst are printed and compared with the 1 s target (never asserted).
Uses the server of DATABASE_URL (a fresh bench_dashboards_<pid> database, dropped afterwards) or a throwaway
cluster (bench/pg.py). Figures are printed and written to bench-results/.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 1.0
PAYMENTS_IN_A_DAY = 70_000
REPEATS = 5
PAGES = ("index", "consumption", "customers", "tiers", "arrears", "tickets", "outages")


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def django_start(database_url: str) -> None:
    """Django in-process on the bench database; no Redis (sessions and cache in the database)."""
    os.environ.pop("REDIS_URL", None)
    os.environ["CELERY_BROKER_URL"] = "memory://"
    from bench.run import django_start as start

    start(database_url)


def payments_post_a_day(*, latest: str) -> dict:
    """A day's counter payments in SQL: each pays one unpaid bill of the latest month in full (payment,
    allocation, bill state), as payment_post would leave them."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        t0 = time.monotonic()
        cursor.execute("""
            CREATE TEMP TABLE bench_picked ON COMMIT DROP AS
            SELECT id, account_id, total FROM core_bill
            WHERE period = %(latest)s AND amount_paid = 0 ORDER BY id LIMIT %(count)s""",
                       {"latest": latest, "count": PAYMENTS_IN_A_DAY})
        cursor.execute("""
            INSERT INTO core_payment (account_id, amount, channel, idempotency_key, external_reference, received_at,
                                      status, unallocated, reversal_reason)
            SELECT account_id, total, 'counter', 'bench-' || id, '', now(), 'posted', 0, '' FROM bench_picked""")
        cursor.execute("""
            INSERT INTO core_paymentallocation (payment_id, bill_id, amount, created_at)
            SELECT p.id, b.id, b.total, now()
            FROM bench_picked b JOIN core_payment p ON p.idempotency_key = 'bench-' || b.id""")
        posted = cursor.rowcount
        cursor.execute("""
            UPDATE core_bill SET amount_paid = total, state = 'paid' WHERE id IN (SELECT id FROM bench_picked)""")
        seconds = time.monotonic() - t0
    print(f"   {posted:,} payments posted in SQL in {seconds:.1f} s")
    return {"payments": posted, "seconds": round(seconds, 1)}


def refresh_time(*, full: bool) -> dict:
    from core.services.report_refresh import reports_refresh

    marks = {"at": time.monotonic()}

    def progress(summary: str, done: int, total: int) -> None:
        if done == total:
            now = time.monotonic()
            print(f"   {summary:<14} {total} period(s) {now - marks['at']:8.2f} s", flush=True)
            marks["at"] = now

    t0 = time.monotonic()
    report = reports_refresh(full=full, progress=progress)
    seconds = time.monotonic() - t0
    print(f"   {'full' if report.full else 'incremental'} refresh: {report.rows:,} summary rows in {seconds:.2f} s; "
          f"periods {json.dumps(report.periods, ensure_ascii=False)}")
    return {"full": report.full, "rows": report.rows, "seconds": round(seconds, 3), "periods": report.periods}


def plans_print(*, latest: str) -> dict[str, str]:
    """EXPLAIN ANALYZE of one month's re-computation, as the incremental refresh runs it for every branch."""
    from core.models import Branch
    from core.services.report_refresh import billing_rows, tier_rows

    period = datetime.date.fromisoformat(latest)
    branches = set(Branch.objects.values_list("pk", flat=True))
    plans = {}
    for name, rows in (("billing", billing_rows), ("tiers", tier_rows)):
        plans[name] = rows(period=period, branches=branches).explain(analyze=True, buffers=True)
        print(f"   plan ({name}, {latest}):")
        for line in plans[name].splitlines():
            print(f"     {line}")
    return plans


def pages_time(*, world: dict, repeats: int) -> list[dict]:
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(world["supervisor"])
    scopes = {"company": "", "branch": f"?branch={world['branch']}",
              "station": f"?branch={world['branch']}&station={world['station']}"}
    figures = []
    for page in PAGES:
        path = "/staff/reports/" if page == "index" else f"/staff/reports/{page}/"
        for scope, query in scopes.items():
            response = client.get(path + query)
            if response.status_code != 200:
                raise RuntimeError(f"{path}{query} answered {response.status_code}")
            times = []
            for _ in range(repeats):
                t0 = time.monotonic()
                client.get(path + query)
                times.append(time.monotonic() - t0)
            median, worst = statistics.median(times), max(times)
            verdict = "PASS" if worst < TARGET_SECONDS else "ABOVE TARGET"
            figures.append({"page": page, "scope": scope, "median_ms": round(median * 1000, 1),
                            "worst_ms": round(worst * 1000, 1), "verdict": verdict})
            print(f"   {page:<12} {scope:<8} median {median * 1000:7.1f} ms  worst {worst * 1000:7.1f} ms "
                  f"(target < {TARGET_SECONDS * 1000:.0f} ms: {verdict})")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=None, help="customers and accounts (default 1,100,000)")
    parser.add_argument("--months", type=int, default=None, help="billing months (default 6)")
    parser.add_argument("--smoke", action="store_true", help="10,000 customers, 2 months, 2 requests a page")
    parser.add_argument("--explain", action="store_true", help="print the plans of one month's re-computation")
    parser.add_argument("--results-dir", default=str(ROOT / "bench-results"))
    args = parser.parse_args(argv)
    customers = args.customers or (10_000 if args.smoke else 1_100_000)
    months = args.months or (2 if args.smoke else 6)
    if customers <= 0 or not 1 <= months <= 24:
        parser.error("--customers must be positive and --months between 1 and 24")
    tickets, outages = customers // 5, max(customers // 200, 50)

    from bench.pg import server_for_bench

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = time.monotonic()
    server = server_for_bench()
    try:
        settings = server.settings()
        print(f"PostgreSQL: {server.description}")
        print("   " + ", ".join(f"{k}={v}" for k, v in settings.items()))
        django_start(server.database_create(f"bench_dashboards_{os.getpid()}"))
        from django.core.management import call_command
        from django.utils import timezone

        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        from bench.dataset import data_load, world_build

        world = world_build()
        today = timezone.localdate()
        print(f"\n== Data set: {customers:,} customers, {months} billing months, {tickets:,} tickets, "
              f"{outages:,} outages (SQL, generate_series)")
        load = data_load(world=world, customers=customers, months=months, tickets=tickets, outages=outages,
                         today=today)
        print("== Summary refresh")
        full = refresh_time(full=True)
        print(f"== A day's {PAYMENTS_IN_A_DAY:,} payments, then the incremental refresh")
        day = payments_post_a_day(latest=load["latest_period"])
        incremental = refresh_time(full=False)
        plans = plans_print(latest=load["latest_period"]) if args.explain else {}
        repeats = 2 if args.smoke else REPEATS
        print(f"== Dashboards (in-process, supervisor, {repeats} requests each after a warm-up)")
        pages = pages_time(world=world, repeats=repeats)
        worst = max(figure["worst_ms"] for figure in pages)
        print(f"   slowest page: {worst:.1f} ms (target < {TARGET_SECONDS * 1000:.0f} ms: "
              f"{'PASS' if worst < TARGET_SECONDS * 1000 else 'ABOVE TARGET'}); "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

        from bench.harness import results_write

        results_write(args.results_dir, "dashboards", smoke=args.smoke, figures={
            "server": server.description, "server_settings": settings, "customers": customers,
            "months": months, "tickets": tickets, "outages": outages, "load_seconds": load,
            "refresh_full": full, "payments": day, "refresh_incremental": incremental, "plans": plans,
            "pages": pages,
            "target_seconds": TARGET_SECONDS, "load_average_1min": round(os.getloadavg()[0], 2),
            "elapsed_seconds": round(time.monotonic() - started, 1),
        })
    finally:
        from bench.harness import server_release

        server_release(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
