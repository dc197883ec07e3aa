"""The benchmarks' large data set, built in SQL: the 1.1 M-customer utility of DOMAIN.md without a row passing
through Python (INSERT ... SELECT over generate_series).

    world = world_build()                                   company, branches, grid, tariffs, a process (ORM)
    data_load(world=world, customers=..., months=..., tickets=..., outages=..., today=...)
        customers, accounts (8 branches, 10 stations each; 90 % residential), a service point each, one bill per
        account and month with its tier lines for residential bills, tickets over the last year, outages with their
        transformer areas
    portal_load(customers=..., today=...)                   what the portal reads on top (bench/portal_bench.py)
        a payment for every paid bill (with its allocation), the ledger (an entry per bill and per payment, with
        its running balance, and each account's balance), a portal user bound to every USERS_EVERY-th account, and
        a month of guest bill lookups from many addresses

Used by bench/dashboards_bench.py and bench/portal_bench.py; each statement is printed with its rows and time.
"""
from __future__ import annotations

import datetime
import time

BRANCH_NAMES = ("恩施市", "利川市", "建始县", "巴东县", "宣恩县", "咸丰县", "来凤县", "鹤峰县")
STATIONS_PER_BRANCH = 10
FEEDERS_PER_BRANCH = 20
AREAS_PER_FEEDER = 20
USERS_EVERY = 4
PAYMENT_KEY_PREFIX = "ds-"
DATASET_USERNAME_PREFIX = "ds-user-"


def step_run(cursor, label: str, sql: str, params: dict | None = None) -> float:
    """Execute one statement of the load and print its rows and seconds; returns the seconds."""
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
    """The data set in SQL, statement by statement with their times. Account numbers are the customer id in nine
    digits and its Luhn check digit (core.account_numbers), so the IVR and the guest lookup accept them."""
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
        seconds["customers"] = step_run(cursor, "customers", """
            INSERT INTO core_customer (kind, name, phone, email, id_number_hash, id_number_masked, created_at)
            SELECT 'person', '客户' || i, '139' || lpad(i::text, 8, '0'), '', '', '', now()
            FROM generate_series(1, %(n)s) AS i""", params)
        seconds["accounts"] = step_run(cursor, "accounts (90 % residential)", """
            INSERT INTO core_account (number, customer_id, branch_id, station_id, name, address, category, tariff_id,
                                      billing_mode, status, contracted_capacity_kva, opened_on, balance)
            SELECT num.body || num.check_digit, c.id, st.branch_id, st.id, c.name, '湖北省恩施州测试路' || c.id || '号',
                   kind.category,
                   CASE WHEN kind.category = 'residential' THEN %(res_tariff)s ELSE %(flat_tariff)s END,
                   'postpaid', 'active', 0,
                   CASE WHEN c.id %% 100 < 4 THEN %(today)s::date - (c.id * 31 %% 400)::int
                        ELSE DATE '2005-01-01' + (c.id * 7919 %% 7500)::int END,
                   0
            FROM core_customer c
            JOIN (SELECT id, branch_id, row_number() OVER (ORDER BY id) - 1 AS k FROM core_servicestation) st
              ON st.k = c.id %% %(stations)s
            CROSS JOIN LATERAL (SELECT lpad(c.id::text, 9, '0') AS body) b9
            CROSS JOIN LATERAL (SELECT b9.body,
                                       ((10 - SUM(CASE WHEN k %% 2 = 1 THEN d
                                                       WHEN d * 2 > 9 THEN d * 2 - 9 ELSE d * 2 END) %% 10) %% 10)::text
                                       AS check_digit
                                FROM (SELECT substr(b9.body, 9 - k, 1)::int AS d, k FROM generate_series(0, 8) AS k) x
                               ) num
            CROSS JOIN LATERAL (SELECT CASE WHEN c.id %% 100 < 90 THEN 'residential'
                                            WHEN c.id %% 100 < 97 THEN 'non_residential'
                                            WHEN c.id %% 100 < 99 THEN 'agricultural'
                                            ELSE 'large_industry' END AS category) kind""", params)
        seconds["service_points"] = step_run(cursor, "service points", """
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
            seconds["bills"] += step_run(cursor, f"bills {period:%Y-%m}", """
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
            seconds["bill_lines"] += step_run(cursor, f"tier lines {period:%Y-%m}", """
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
        seconds["tickets"] = step_run(cursor, "tickets (last 12 months)", """
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
        seconds["outages"] = step_run(cursor, "outages (last 12 months)", """
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
        seconds["outage_areas"] = step_run(cursor, "outage areas (1-3 each)", """
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


def portal_load(*, customers: int, today: datetime.date) -> dict:
    """What the portal reads on top of data_load's bills, in SQL: a payment (with its allocation) for every paid
    bill, the ledger (an entry per bill and per payment in time order with its running balance; each account's
    balance is the ledger's sum), a portal user bound to every USERS_EVERY-th account (unusable password: the
    benchmark signs its customer in by session), and a month of guest bill lookups (a fifth as many as customers,
    from many addresses) for the lookup limits to read through."""
    from django.db import DatabaseError, connection

    params = {"prefix": PAYMENT_KEY_PREFIX, "users_every": USERS_EVERY, "user_prefix": DATASET_USERNAME_PREFIX,
              "lookups": customers // 5, "n": customers, "today": today}
    seconds = {}
    with connection.cursor() as cursor:
        try:
            cursor.execute("SET session_replication_role = replica")
        except DatabaseError:
            print("   (not a superuser: foreign-key checks stay on)")
        seconds["payments"] = step_run(cursor, "payments (every paid bill)", """
            INSERT INTO core_payment (account_id, amount, channel, idempotency_key, external_reference, received_at,
                                      status, unallocated, reversal_reason)
            SELECT b.account_id, b.total,
                   (ARRAY['counter', 'bank_withholding', 'online', 'mobile', 'bank_collection'])[1 + b.id %% 5],
                   %(prefix)s || b.id, '', b.due_date - (b.id %% 20) * interval '1 day', 'posted', 0, ''
            FROM core_bill b WHERE b.state = 'paid' AND b.total > 0""", params)
        seconds["allocations"] = step_run(cursor, "payment allocations", """
            INSERT INTO core_paymentallocation (payment_id, bill_id, amount, created_at)
            SELECT p.id, substr(p.idempotency_key, length(%(prefix)s) + 1)::bigint, p.amount, p.received_at
            FROM core_payment p WHERE p.idempotency_key LIKE %(prefix)s || '%%'""", params)
        seconds["ledger"] = step_run(cursor, "ledger (bills and payments, running balance)", """
            INSERT INTO core_ledgerentry (account_id, kind, amount, balance_after, bill_id, payment_id, memo,
                                          created_at)
            SELECT e.account_id, e.kind, e.amount,
                   SUM(e.amount) OVER (PARTITION BY e.account_id ORDER BY e.at, e.ord ROWS UNBOUNDED PRECEDING),
                   e.bill_id, e.payment_id, '', e.at
            FROM (SELECT b.account_id, 'bill' AS kind, b.total AS amount, b.id AS bill_id, NULL::bigint AS payment_id,
                         b.issued_on::timestamptz AS at, 0 AS ord
                  FROM core_bill b
                  UNION ALL
                  SELECT p.account_id, 'payment', -p.amount, NULL, p.id, p.received_at, 1
                  FROM core_payment p WHERE p.idempotency_key LIKE %(prefix)s || '%%') e
            ORDER BY e.account_id, e.at, e.ord""", params)
        seconds["balances"] = step_run(cursor, "account balances (the ledger's sum)", """
            UPDATE core_account a SET balance = s.owed
            FROM (SELECT account_id, SUM(total - amount_paid) AS owed FROM core_bill GROUP BY account_id) s
            WHERE s.account_id = a.id AND s.owed <> 0""")
        seconds["users"] = step_run(cursor, f"portal users (every {USERS_EVERY}th account)", """
            INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                                   is_active, date_joined)
            SELECT '!dataset', false, %(user_prefix)s || a.id, '', '', '', false, true, now()
            FROM core_account a WHERE a.id %% %(users_every)s = 0""", params)
        seconds["bindings"] = step_run(cursor, "account bindings", """
            INSERT INTO core_accountbinding (user_id, account_id, label, method, bound_at, low_balance_threshold,
                                             tier_alerts)
            SELECT u.id, substr(u.username, length(%(user_prefix)s) + 1)::bigint, '', 'id_digits', now(), 10.00, true
            FROM auth_user u WHERE u.username LIKE %(user_prefix)s || '%%'""", params)
        seconds["lookups"] = step_run(cursor, "guest bill lookups (last 30 days)", """
            INSERT INTO core_bindingattempt (user_id, ip_address, account_number, succeeded, attempted_at)
            SELECT NULL, ('172.16.0.0'::inet + (i * 7919) %% 1048576), lpad((1 + i * 31 %% %(n)s)::text, 10, '0'),
                   i %% 10 <> 0, now() - ((i * 7919) %% 43200) * interval '1 minute'
            FROM generate_series(1, %(lookups)s) AS i""", params)
        cursor.execute("SET session_replication_role = origin")
        t0 = time.monotonic()
        for table in ("core_payment", "core_paymentallocation", "core_ledgerentry", "core_account", "auth_user",
                      "core_accountbinding", "core_bindingattempt"):
            cursor.execute(f"ANALYZE {table}")
        seconds["analyze"] = time.monotonic() - t0
        print(f"   {'analyze':<44} {'':>11}      {seconds['analyze']:8.1f} s", flush=True)
    return {name: round(value, 1) for name, value in seconds.items()}


def dataset_check() -> dict:
    """What must hold of the data set, as figures (a test compares them): account numbers that pass the check
    digit, a payment and an allocation of the whole amount for every paid bill, each account's balance equal to its
    ledger's last running balance and to what its bills still owe, one bound user per USERS_EVERY-th account, no
    guest lookup dated later than now."""
    from django.db import connection

    from core.account_numbers import account_number_validate
    from core.errors import InvalidAccountNumber
    from core.models import Account

    invalid = 0
    for number in Account.objects.values_list("number", flat=True).iterator(chunk_size=10_000):
        try:
            account_number_validate(number)
        except InvalidAccountNumber:
            invalid += 1
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT count(*) FILTER (WHERE p.n IS DISTINCT FROM 1 OR p.allocated IS DISTINCT FROM b.total)
            FROM core_bill b
            LEFT JOIN (SELECT a.bill_id, count(*) AS n, sum(a.amount) AS allocated
                       FROM core_paymentallocation a GROUP BY a.bill_id) p ON p.bill_id = b.id
            WHERE b.state = 'paid' AND b.total > 0""")
        paid_bills_without_one_payment = cursor.fetchone()[0]
        cursor.execute("""
            SELECT count(*)
            FROM core_account a
            LEFT JOIN LATERAL (SELECT balance_after FROM core_ledgerentry l WHERE l.account_id = a.id
                               ORDER BY l.id DESC LIMIT 1) last ON true
            LEFT JOIN (SELECT account_id, sum(total - amount_paid) AS owed FROM core_bill GROUP BY account_id) o
              ON o.account_id = a.id
            WHERE a.balance <> coalesce(last.balance_after, 0) OR a.balance <> coalesce(o.owed, 0)""")
        balances_off = cursor.fetchone()[0]
        cursor.execute("""
            SELECT count(*), count(*) FILTER (WHERE b.account_id %% %s <> 0), count(DISTINCT b.user_id)
            FROM core_accountbinding b WHERE b.unbound_at IS NULL""", [USERS_EVERY])
        bindings, bindings_off_pattern, bound_users = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM core_account WHERE id %% %s = 0", [USERS_EVERY])
        accounts_to_bind = cursor.fetchone()[0]
        # Guest lookups lie in the past: one dated later would be counted as made during a benchmark run.
        cursor.execute("SELECT count(*) FROM core_bindingattempt WHERE attempted_at > now()")
        lookups_in_the_future = cursor.fetchone()[0]
    return {
        "accounts": Account.objects.count(), "invalid_account_numbers": invalid,
        "paid_bills_without_one_payment": paid_bills_without_one_payment, "balances_off": balances_off,
        "bindings": bindings, "bound_users": bound_users, "accounts_to_bind": accounts_to_bind,
        "bindings_off_pattern": bindings_off_pattern, "lookups_in_the_future": lookups_in_the_future,
    }


def main(argv: list[str] | None = None) -> int:
    """Build the data set alone on a fresh database (DATABASE_URL's server, else a throwaway cluster), print what
    dataset_check finds as JSON, then drop it."""
    import argparse
    import json
    import os
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--months", type=int, default=2)
    args = parser.parse_args(argv)
    if args.customers <= 0 or not 1 <= args.months <= 24:
        parser.error("--customers must be positive and --months between 1 and 24")

    from bench.harness import server_release
    from bench.pg import server_for_bench

    server = server_for_bench()
    try:
        from bench.dashboards_bench import django_start

        django_start(server.database_create(f"bench_dataset_{os.getpid()}"))
        from django.core.management import call_command
        from django.utils import timezone

        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        today = timezone.localdate()
        data_load(world=world_build(), customers=args.customers, months=args.months, tickets=args.customers // 5,
                  outages=max(args.customers // 200, 50), today=today)
        portal_load(customers=args.customers, today=today)
        print(json.dumps(dataset_check()))
    finally:
        server_release(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
