#!/usr/bin/env python
"""Decision-support benchmark on PostgreSQL: the 1.1 M-customer data set built in SQL, the summary refresh (full,
then incremental after a day's payments), and each dashboard's response time.

    python bench/dashboards_bench.py                  1,100,000 customers, 6 billing months
    python bench/dashboards_bench.py --smoke          10,000 customers, 2 billing months, 2 requests a page

The data set is made by INSERT ... SELECT over generate_series (no row passes through Python): customers,
accounts (8 branches, 10 stations each; 90 % residential), a service point each, one bill per account and month
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
BRANCH_NAMES = ("恩施市", "利川市", "建始县", "巴东县", "宣恩县", "咸丰县", "来凤县", "鹤峰县")
STATIONS_PER_BRANCH = 10
FEEDERS_PER_BRANCH = 20
AREAS_PER_FEEDER = 20
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


def _run(cursor, label: str, sql: str, params: dict | None = None) -> float:
    t0 = time.monotonic()
    cursor.execute(sql, params or {})
    seconds = time.monotonic() - t0
    print(f"   {label:<44} {cursor.rowcount:>11,} rows {seconds:8.1f} s", flush=True)
    return seconds


def world_build() -> dict:
    """Through the ORM (a few thousand rows): company, branches, stations, grid, tariffs, a process, a supervisor."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from core.models import (
        Branch,
        Company,
        Feeder,
        ProcessDefinition,
        ServiceStation,
        Substation,
        Tariff,
        TariffVersion,
        TransformerArea,
    )
    from core.models.customers import CustomerCategory
    from core.services.roles import ROLE_SUPERVISOR, role_group
    from tests.factories import residential_tiered_tariff
    from tests.ticket_factories import sample_process

    company = Company.objects.create(code="BENCH", name="基准测试供电公司")
    branches = [Branch.objects.create(company=company, code=f"B{n}", name=name) for n, name in enumerate(BRANCH_NAMES)]
    ServiceStation.objects.bulk_create(
        ServiceStation(branch=branch, code=f"{branch.code}S{k:02d}", name=f"{branch.name}第{k + 1}供电所")
        for branch in branches for k in range(STATIONS_PER_BRANCH)
    )
    substations = Substation.objects.bulk_create(
        Substation(branch=branch, code=f"{branch.code}SUB", name=f"{branch.name}110kV变电站") for branch in branches
    )
    feeders = Feeder.objects.bulk_create(
        Feeder(substation=substation, code=f"{substation.code}F{k:02d}", name=f"{substation.branch.name}10kV{k + 1}号线")
        for substation in substations for k in range(FEEDERS_PER_BRANCH)
    )
    TransformerArea.objects.bulk_create(
        TransformerArea(feeder=feeder, code=f"{feeder.code}T{k:02d}", name=f"{feeder.name}{k + 1}号台区")
        for feeder in feeders for k in range(AREAS_PER_FEEDER)
    )
    residential = residential_tiered_tariff()
    flat = Tariff.objects.create(code="bench-flat", name="一般工商业单一电价", category=CustomerCategory.NON_RESIDENTIAL)
    TariffVersion.objects.create(tariff=flat, effective_from=datetime.date(2000, 1, 1),
                                 structure=TariffVersion.Structure.FLAT, flat_price=Decimal("0.7000"))
    sample_process()
    supervisor = get_user_model().objects.create_user(username="bench-supervisor", password="x", is_staff=True)
    supervisor.groups.add(role_group(code=ROLE_SUPERVISOR))
    return {
        "residential_tariff": residential.pk, "residential_version": residential.versions.get().pk,
        "flat_tariff": flat.pk, "flat_version": flat.versions.get().pk,
        "definition": ProcessDefinition.objects.filter(active=True).values_list("pk", flat=True).first(),
        "supervisor": supervisor, "branch": branches[0].code, "station": f"{branches[0].code}S00",
    }


def data_load(*, world: dict, customers: int, months: int, tickets: int, outages: int, today: datetime.date) -> dict:
    """The data set in SQL, statement by statement with their times."""
    from django.db import DatabaseError, connection

    latest = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    first = latest
    for _ in range(months - 1):
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    params = {"n": customers, "res_tariff": world["residential_tariff"], "flat_tariff": world["flat_tariff"],
              "res_version": world["residential_version"], "flat_version": world["flat_version"],
              "definition": world["definition"], "tickets": tickets, "outages": outages, "today": today,
              "stations": STATIONS_PER_BRANCH * len(BRANCH_NAMES)}
    seconds = {}
    with connection.cursor() as cursor:
        try:
            # Foreign keys hold by construction; skipping the per-row checks (superuser only) speeds the load.
            cursor.execute("SET session_replication_role = replica")
        except DatabaseError:
            print("   (not a superuser: foreign-key checks stay on)")
        seconds["customers"] = _run(cursor, "customers", """
            INSERT INTO core_customer (kind, name, phone, email, id_number_hash, id_number_masked, created_at)
            SELECT 'person', '客户' || i, '139' || lpad(i::text, 8, '0'), '', '', '', now()
            FROM generate_series(1, %(n)s) AS i""", params)
        seconds["accounts"] = _run(cursor, "accounts (90 % residential)", """
            INSERT INTO core_account (number, customer_id, branch_id, station_id, name, address, category, tariff_id,
                                      billing_mode, status, contracted_capacity_kva, opened_on, balance)
            SELECT lpad(c.id::text, 10, '0'), c.id, st.branch_id, st.id, c.name, '湖北省恩施州测试路' || c.id || '号',
                   kind.category,
                   CASE WHEN kind.category = 'residential' THEN %(res_tariff)s ELSE %(flat_tariff)s END,
                   'postpaid', 'active', 0,
                   CASE WHEN c.id %% 100 < 4 THEN %(today)s::date - (c.id * 31 %% 400)::int
                        ELSE DATE '2005-01-01' + (c.id * 7919 %% 7500)::int END,
                   0
            FROM core_customer c
            JOIN (SELECT id, branch_id, row_number() OVER (ORDER BY id) - 1 AS k FROM core_servicestation) st
              ON st.k = c.id %% %(stations)s
            CROSS JOIN LATERAL (SELECT CASE WHEN c.id %% 100 < 90 THEN 'residential'
                                            WHEN c.id %% 100 < 97 THEN 'non_residential'
                                            WHEN c.id %% 100 < 99 THEN 'agricultural'
                                            ELSE 'large_industry' END AS category) kind""", params)
        seconds["service_points"] = _run(cursor, "service points", """
            INSERT INTO core_servicepoint (account_id, transformer_area_id, code, voltage)
            SELECT a.id, ta.id, 'SP' || a.id, '0.4kV'
            FROM core_account a
            JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM core_transformerarea) ta
              ON ta.k = a.id %% (SELECT count(*) FROM core_transformerarea)""")
        seconds["bills"] = 0.0
        seconds["bill_lines"] = 0.0
        period = first
        index = 0
        while period <= latest:
            # Older months are 97 % paid, the latest 60 %; residential prices are DOMAIN.md's tiers.
            paid_share = 60 if period == latest else 97
            state = "issued" if period == latest else "overdue"
            seconds["bills"] += _run(cursor, f"bills {period:%Y-%m}", """
                INSERT INTO core_bill (number, account_id, period, kind, tariff_version_id, issued_on, due_date, kwh,
                                       total, amount_paid, amount_adjusted, state, reason)
                SELECT 'B' || to_char(%(period)s::date, 'YYYYMM') || a.id, a.id, %(period)s, 'regular',
                       CASE WHEN a.category = 'residential' THEN %(res_version)s ELSE %(flat_version)s END,
                       %(issued)s, %(due)s, u.kwh, t.total,
                       CASE WHEN (a.id + %(index)s) %% 100 < %(paid_share)s THEN t.total ELSE 0 END, 0,
                       CASE WHEN (a.id + %(index)s) %% 100 < %(paid_share)s THEN 'paid' ELSE %(state)s END, ''
                FROM core_account a
                CROSS JOIN LATERAL (SELECT CASE WHEN a.category = 'residential'
                                                THEN 30 + (a.id * 37 + %(index)s * 101) %% 470
                                                ELSE 500 + (a.id * 37 + %(index)s * 101) %% 5000 END::numeric AS kwh) u
                CROSS JOIN LATERAL (SELECT CASE WHEN a.category = 'residential'
                    THEN round(least(u.kwh, 180) * 0.558 + greatest(least(u.kwh, 400) - 180, 0) * 0.608
                               + greatest(u.kwh - 400, 0) * 0.858, 2)
                    ELSE round(u.kwh * 0.7, 2) END AS total) t
                WHERE a.opened_on < %(period)s""",
                {**params, "period": period, "index": index, "paid_share": paid_share, "state": state,
                 "issued": period + datetime.timedelta(days=35), "due": period + datetime.timedelta(days=65)})
            seconds["bill_lines"] += _run(cursor, f"tier lines {period:%Y-%m}", """
                INSERT INTO core_billline (bill_id, position, kind, label, quantity, unit_price, amount)
                SELECT b.id, t.n, 'tier', '第' || t.n || '档', q.q, t.price, round(q.q * t.price, 2)
                FROM core_bill b
                JOIN core_account a ON a.id = b.account_id AND a.category = 'residential'
                CROSS JOIN (VALUES (1, 0, 180, 0.5580), (2, 180, 400, 0.6080), (3, 400, NULL, 0.8580))
                    AS t(n, lo, hi, price)
                CROSS JOIN LATERAL (SELECT greatest(least(b.kwh, coalesce(t.hi, b.kwh)) - t.lo, 0) AS q) q
                WHERE b.period = %(period)s AND (t.n = 1 OR q.q > 0)""", {"period": period})
            period = (period + datetime.timedelta(days=32)).replace(day=1)
            index += 1
        seconds["tickets"] = _run(cursor, "tickets (last 12 months)", """
            INSERT INTO core_ticket (number, definition_id, business_type, channel, state, branch_id, account_id,
                                     transformer_area_id, anonymous, contact_name, contact_phone, address, summary,
                                     description, complaint_class, appealed_to_regulator, data, opened_at, due_at,
                                     closed_at, satisfaction_comment, version)
            SELECT 'T' || lpad(i::text, 14, '0'), %(definition)s, k.business_type, 'agent',
                   CASE WHEN i %% 20 = 0 THEN 'cancelled' WHEN i %% 10 < 8 THEN 'closed' ELSE 'open' END,
                   a.branch_id, a.id,
                   CASE WHEN k.business_type = 'fault_repair' THEN sp.transformer_area_id END,
                   false, '', '', '', '工单', '', '', false, '{}', o.opened, o.opened + interval '5 days',
                   CASE WHEN i %% 20 <> 0 AND i %% 10 < 8 THEN o.opened + (i %% 9) * interval '1 day' END, '', 0
            FROM generate_series(1, %(tickets)s) AS i
            JOIN core_account a ON a.id = 1 + (i::bigint * 7919) %% %(n)s
            JOIN core_servicepoint sp ON sp.account_id = a.id
            CROSS JOIN LATERAL (SELECT (ARRAY['fault_repair', 'complaint', 'consultation', 'lv_residential_connection',
                                              'name_change', 'meter_accuracy_check'])[1 + i %% 6] AS business_type) k
            CROSS JOIN LATERAL (SELECT now() - ((i::bigint * 7919) %% 525600) * interval '1 minute' AS opened) o""",
            params)
        seconds["outages"] = _run(cursor, "outages (last 12 months)", """
            INSERT INTO core_outage (branch_id, kind, state, title, reason, streets, starts_at, ends_at, restored_at,
                                     affected_accounts, announced_at, cancelled_reason, updated_at)
            SELECT (SELECT id FROM core_branch ORDER BY id OFFSET i %% 8 LIMIT 1),
                   (ARRAY['planned', 'temporary', 'fault'])[1 + i %% 3],
                   CASE WHEN i %% 20 = 0 THEN 'cancelled' ELSE 'restored' END, '停电' || i, '检修', '', s.at,
                   s.at + interval '4 hours',
                   CASE WHEN i %% 20 <> 0 THEN s.at + (60 + i %% 300) * interval '1 minute' END,
                   0, s.at - interval '1 day', '', now()
            FROM generate_series(1, %(outages)s) AS i
            CROSS JOIN LATERAL (SELECT now() - ((i::bigint * 7919) %% 525600) * interval '1 minute' AS at) s""",
            params)
        seconds["outage_areas"] = _run(cursor, "outage areas (1-3 each)", """
            INSERT INTO core_outagearea (outage_id, transformer_area_id)
            SELECT o.id, ta.id
            FROM core_outage o
            CROSS JOIN generate_series(0, 2) AS j
            JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM core_transformerarea) ta
              ON ta.k = (o.id * 13 + j) %% (SELECT count(*) FROM core_transformerarea)
            WHERE j <= o.id %% 3""")
        cursor.execute("SET session_replication_role = origin")
        t0 = time.monotonic()
        for table in ("core_customer", "core_account", "core_servicepoint", "core_bill", "core_billline",
                      "core_ticket", "core_outage", "core_outagearea"):
            cursor.execute(f"ANALYZE {table}")
        seconds["analyze"] = time.monotonic() - t0
        print(f"   {'analyze':<44} {'':>11}      {seconds['analyze']:8.1f} s", flush=True)
    return {name: round(value, 1) for name, value in seconds.items()} | {"latest_period": latest.isoformat()}


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

    from bench.pg import cluster_start, server_from_env

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = time.monotonic()
    server = server_from_env(os.environ.get("DATABASE_URL"))
    if server is None:
        print("Starting a throwaway PostgreSQL cluster (fsync on, synchronous_commit off)")
        server = cluster_start()
    try:
        settings = server.settings()
        print(f"PostgreSQL: {server.description}")
        print("   " + ", ".join(f"{k}={v}" for k, v in settings.items()))
        django_start(server.database_create(f"bench_dashboards_{os.getpid()}"))
        from django.core.management import call_command
        from django.utils import timezone

        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
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
