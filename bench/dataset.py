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
    alerts_load(today=...)                                  what the daily customer-alert scan reads on top
        a meter per service point and its valid readings (one per billed month, of the bill's kWh, and one of this
        month so far, not yet billed), a third of the residential accounts smart-prepaid (PREPAID_EVERY) with a
        top-up leaving each some credit (LOW_BALANCE_PER_MILLE of them under 10 yuan), and the bound users' alert
        settings and verified mobiles (bench/alerts_bench.py)

Used by bench/dashboards_bench.py, bench/portal_bench.py and bench/alerts_bench.py; each statement is printed with
its rows and time.
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
# alerts_load: every PREPAID_EVERY-th residential account (by id) is smart-prepaid, a third of them; of those,
# LOW_BALANCE_PER_MILLE in a thousand are left under the holder's 10 yuan, the rest well above it (15 to 400 yuan).
PREPAID_EVERY = 3
LOW_BALANCE_PER_MILLE = 35
HOLDER_THRESHOLD_YUAN = 10
TOPUP_KEY_PREFIX = "topup-"
# Of the bindings (by id), every TIER_ALERTS_OFF_EVERY-th has switched tier alerts off and every
# RAISED_THRESHOLD_EVERY-th asks to be told under RAISED_THRESHOLD yuan instead of the default 10.
TIER_ALERTS_OFF_EVERY = 5
RAISED_THRESHOLD_EVERY = 3
RAISED_THRESHOLD = "30.00"


def step_run(cursor, label: str, sql: str, params: dict | None = None) -> float:
    """Execute one statement of the load and print its rows and seconds; returns the seconds."""
    t0 = time.monotonic()
    cursor.execute(sql, params or {})
    seconds = time.monotonic() - t0
    print(f"   {label:<44} {cursor.rowcount:>11,} rows {seconds:8.1f} s", flush=True)
    return seconds


def foreign_key_checks_off(cursor) -> None:
    """For this connection's load: foreign keys hold by construction, and skipping the per-row checks (superuser
    only) speeds it. `SET session_replication_role = origin` turns them back on."""
    from django.db import DatabaseError

    try:
        cursor.execute("SET session_replication_role = replica")
    except DatabaseError:
        print("   (not a superuser: foreign-key checks stay on)")


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
    from django.db import connection

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
        foreign_key_checks_off(cursor)
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


def portal_data_load(*, customers: int, months: int, today: datetime.date) -> dict:
    """The world, then data_load with a ticket per five customers and an outage per 200 (at least 50), then
    portal_load: what bench/portal_bench.py and bench/alerts_bench.py build on. Their steps, as "data" and "portal"."""
    world = world_build()
    tickets, outages = customers // 5, max(customers // 200, 50)
    print(f"== Data set: {customers:,} customers, {months} billing months, {tickets:,} tickets, {outages:,} outages")
    data = data_load(world=world, customers=customers, months=months, tickets=tickets, outages=outages, today=today)
    return {"data": data, "portal": portal_load(customers=customers, today=today)}


def portal_load(*, customers: int, today: datetime.date) -> dict:
    """What the portal reads on top of data_load's bills, in SQL: a payment (with its allocation) for every paid
    bill, the ledger (an entry per bill and per payment in time order with its running balance; each account's
    balance is the ledger's sum), a portal user bound to every USERS_EVERY-th account (unusable password: the
    benchmark signs its customer in by session), and a month of guest bill lookups (a fifth as many as customers,
    from many addresses) for the lookup limits to read through."""
    from django.db import connection

    params = {"prefix": PAYMENT_KEY_PREFIX, "users_every": USERS_EVERY, "user_prefix": DATASET_USERNAME_PREFIX,
              "lookups": customers // 5, "n": customers, "today": today}
    seconds = {}
    with connection.cursor() as cursor:
        foreign_key_checks_off(cursor)
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


def alerts_load(*, today: datetime.date) -> dict:
    """What the daily customer-alert scan (core.services.customer_alerts) reads on top of portal_load, in SQL:
    - a meter per service point, and its valid readings: one per bill, of the bill's kWh, read at the end of the
      billed month, and one read yesterday in this month (not yet billed: period after the latest bill) of the
      energy used so far this month, each with the register's running total;
    - every PREPAID_EVERY-th residential account (a third of them) smart-prepaid, with a top-up (预存, a payment of
      TOPUP_KEY_PREFIX) settling its open bills and leaving a credit of this month's unbilled energy at its tier
      price plus a margin: under HOLDER_THRESHOLD_YUAN for LOW_BALANCE_PER_MILLE in a thousand of them, 15 to 400
      yuan for the rest; the payment's allocations, its ledger entry (running balance) and the account's balance
      follow the model of portal_load (the balance is the ledger's last running balance: what the bills still owe
      less the payments' unallocated credit);
    - the bound users' alert settings: every TIER_ALERTS_OFF_EVERY-th binding has tier alerts off, every
      RAISED_THRESHOLD_EVERY-th a RAISED_THRESHOLD yuan threshold, the rest portal_load's default (tier alerts on,
      10 yuan); and each bound user a verified sign-in mobile (138..., never the holder's 139... on file), so the
      binders' alerts go by SMS as the holders' do.
    Readings are monthly, not daily: usage_pace's 30-day window holds last month's reading as well as this month's
    so far, so paces run high and more bound accounts look near a tier than daily AMI readings would show (a heavy
    first morning for the scan)."""
    import calendar

    from django.db import connection

    month = today.replace(day=1)
    read_on = max(today - datetime.timedelta(days=1), month)
    params = {"month": month, "read_on": read_on, "elapsed": read_on.day,
              "days": calendar.monthrange(month.year, month.month)[1], "prepaid_every": PREPAID_EVERY,
              "low_per_mille": LOW_BALANCE_PER_MILLE, "topup": TOPUP_KEY_PREFIX, "user_prefix": DATASET_USERNAME_PREFIX,
              "tier_off_every": TIER_ALERTS_OFF_EVERY, "raised_every": RAISED_THRESHOLD_EVERY,
              "raised": RAISED_THRESHOLD}
    seconds = {}
    with connection.cursor() as cursor:
        foreign_key_checks_off(cursor)
        seconds["meters"] = step_run(cursor, "meters (one per service point)", """
            INSERT INTO core_meter (service_point_id, asset_number, multiplier, tou_capable, installed_on,
                                    initial_reading)
            SELECT sp.id, 'DSM' || lpad(sp.id::text, 10, '0'), 1, false, a.opened_on, (a.id * 7919 %% 50000) / 10.0
            FROM core_servicepoint sp JOIN core_account a ON a.id = sp.account_id""")
        seconds["billed_readings"] = step_run(cursor, "readings (one per bill, its kWh)", """
            INSERT INTO core_meterreading (meter_id, account_id, read_on, period, total, consumption, source, status,
                                           status_reason, recorded_at)
            SELECT m.id, b.account_id, (b.period + interval '1 month' - interval '1 day')::date, b.period,
                   m.initial_reading + SUM(b.kwh) OVER (PARTITION BY m.id ORDER BY b.period ROWS UNBOUNDED PRECEDING),
                   b.kwh, 'ami', 'valid', '', b.period + interval '1 month 2 hours'
            FROM core_bill b
            JOIN core_servicepoint sp ON sp.account_id = b.account_id
            JOIN core_meter m ON m.service_point_id = sp.id
            WHERE b.kind = 'regular'""")
        seconds["unbilled_readings"] = step_run(cursor, f"readings of {month:%Y-%m} so far (unbilled)", """
            INSERT INTO core_meterreading (meter_id, account_id, read_on, period, total, consumption, source, status,
                                           status_reason, recorded_at)
            SELECT m.id, a.id, %(read_on)s, %(month)s, coalesce(last.total, m.initial_reading) + u.kwh, u.kwh, 'ami',
                   'valid', '', least(now(), %(read_on)s::date + interval '1 day 2 hours')
            FROM core_account a
            JOIN core_servicepoint sp ON sp.account_id = a.id
            JOIN core_meter m ON m.service_point_id = sp.id
            LEFT JOIN LATERAL (SELECT r.total FROM core_meterreading r WHERE r.meter_id = m.id
                               ORDER BY r.read_on DESC LIMIT 1) last ON true
            CROSS JOIN LATERAL (SELECT round(CASE WHEN a.category = 'residential'
                                                  THEN 30 + (a.id * 37 + 977) %% 470
                                                  ELSE 500 + (a.id * 37 + 977) %% 5000 END
                                             * %(elapsed)s / %(days)s::numeric, 2) AS kwh) u
            WHERE a.status <> 'closed' AND a.opened_on < %(read_on)s""", params)
        seconds["prepaid"] = step_run(cursor, f"smart-prepaid accounts (1 in {PREPAID_EVERY} residential)", """
            UPDATE core_account SET billing_mode = 'prepaid'
            WHERE category = 'residential' AND status <> 'closed' AND id %% %(prepaid_every)s = 0""", params)
        # The credit: this month's unbilled energy at the price of the tier it stands in (DOMAIN.md's monthly
        # tiers, as data_load bills them) plus the margin the holder keeps above or below 10 yuan.
        seconds["topups"] = step_run(cursor, "top-ups (settle the bills, leave a credit)", """
            INSERT INTO core_payment (account_id, amount, channel, idempotency_key, external_reference, received_at,
                                      status, unallocated, reversal_reason)
            SELECT a.id, a.balance + c.credit, 'mobile', %(topup)s || a.id, '',
                   greatest(last.created_at, now() - interval '1 day') + interval '1 minute', 'posted', c.credit, ''
            FROM core_account a
            LEFT JOIN core_meterreading r ON r.account_id = a.id AND r.period = %(month)s
            LEFT JOIN LATERAL (SELECT l.created_at FROM core_ledgerentry l WHERE l.account_id = a.id
                               ORDER BY l.id DESC LIMIT 1) last ON true
            CROSS JOIN LATERAL (SELECT coalesce(r.consumption, 0) AS kwh) u
            CROSS JOIN LATERAL (SELECT round(u.kwh * CASE WHEN u.kwh < 180 THEN 0.5580 WHEN u.kwh < 400 THEN 0.6080
                                                          ELSE 0.8580 END, 2)
                                       + CASE WHEN (a.id * 7919) %% 1000 < %(low_per_mille)s
                                              THEN 1 + (a.id * 31 %% 899) / 100.0
                                              ELSE 15 + (a.id * 37 %% 38500) / 100.0 END AS credit) c
            WHERE a.billing_mode = 'prepaid'""", params)
        seconds["topup_allocations"] = step_run(cursor, "top-up allocations (open bills)", """
            INSERT INTO core_paymentallocation (payment_id, bill_id, amount, created_at)
            SELECT p.id, b.id, b.total - b.amount_paid, p.received_at
            FROM core_account a
            JOIN core_payment p ON p.idempotency_key = %(topup)s || a.id
            JOIN core_bill b ON b.account_id = a.id AND b.state IN ('issued', 'partly_paid', 'overdue')
                            AND b.total > b.amount_paid
            WHERE a.billing_mode = 'prepaid'""", params)
        seconds["topup_bills"] = step_run(cursor, "bills settled by the top-ups", """
            UPDATE core_bill b SET amount_paid = b.amount_paid + al.amount, state = 'paid'
            FROM core_account a
            JOIN core_payment p ON p.idempotency_key = %(topup)s || a.id
            JOIN core_paymentallocation al ON al.payment_id = p.id
            WHERE a.billing_mode = 'prepaid' AND al.bill_id = b.id""", params)
        seconds["topup_ledger"] = step_run(cursor, "ledger (top-ups, running balance)", """
            INSERT INTO core_ledgerentry (account_id, kind, amount, balance_after, bill_id, payment_id, memo,
                                          created_at)
            SELECT a.id, 'payment', -p.amount, a.balance - p.amount, NULL, p.id, '', p.received_at
            FROM core_account a JOIN core_payment p ON p.idempotency_key = %(topup)s || a.id
            WHERE a.billing_mode = 'prepaid'""", params)
        seconds["topup_balances"] = step_run(cursor, "prepaid balances (credit: negative)", """
            UPDATE core_account a SET balance = a.balance - p.amount
            FROM core_payment p
            WHERE a.billing_mode = 'prepaid' AND p.idempotency_key = %(topup)s || a.id""", params)
        seconds["binding_settings"] = step_run(cursor, "binding alert settings", """
            UPDATE core_accountbinding b
            SET tier_alerts = b.id %% %(tier_off_every)s <> 0,
                low_balance_threshold = CASE WHEN b.id %% %(raised_every)s = 0 THEN %(raised)s::numeric
                                             ELSE 10.00 END
            FROM auth_user u WHERE u.id = b.user_id AND u.username LIKE %(user_prefix)s || '%%'""", params)
        seconds["binder_phones"] = step_run(cursor, "bound users' verified mobiles", """
            INSERT INTO portal_userphone (user_id, phone, verified_at)
            SELECT u.id, '138' || lpad(u.id::text, 8, '0'), u.date_joined
            FROM auth_user u WHERE u.username LIKE %(user_prefix)s || '%%'""", params)
        cursor.execute("SET session_replication_role = origin")
        t0 = time.monotonic()
        for table in ("core_meter", "core_meterreading", "core_account", "core_payment", "core_paymentallocation",
                      "core_bill", "core_ledgerentry", "core_accountbinding", "portal_userphone"):
            cursor.execute(f"ANALYZE {table}")
        seconds["analyze"] = time.monotonic() - t0
        print(f"   {'analyze':<44} {'':>11}      {seconds['analyze']:8.1f} s", flush=True)
    return {name: round(value, 1) for name, value in seconds.items()} | {"unbilled_month": month.isoformat(),
                                                                         "unbilled_read_on": read_on.isoformat()}


def dataset_check() -> dict:
    """What must hold of the data set, as figures (a test compares them): account numbers that pass the check
    digit, a payment and an allocation of the whole amount for every paid bill, each account's balance equal to its
    ledger's last running balance and to what its bills still owe less its payments' unallocated credit (alerts_load's
    prepaid top-ups), one bound user per USERS_EVERY-th account, no guest lookup dated later than now."""
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
            LEFT JOIN (SELECT account_id, sum(unallocated) AS credit FROM core_payment WHERE status = 'posted'
                       GROUP BY account_id) c ON c.account_id = a.id
            WHERE a.balance <> coalesce(last.balance_after, 0)
               OR a.balance <> coalesce(o.owed, 0) - coalesce(c.credit, 0)""")
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


def prepaid_low_balance_count(*, today: datetime.date) -> int:
    """The prepaid accounts alerts_load left under HOLDER_THRESHOLD_YUAN, estimated in SQL as
    core.selectors.portal_bills.prepaid_estimate does for the data set's tariff: the ledger credit less the valid
    readings after the latest bill at the price of the monthly tier this month's readings stand in."""
    import calendar

    from django.db import connection

    month = today.replace(day=1)
    params = {"month": month, "month_end": month.replace(day=calendar.monthrange(month.year, month.month)[1]),
              "threshold": HOLDER_THRESHOLD_YUAN}
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT count(*) FILTER (WHERE -a.balance - round(coalesce(unbilled.kwh, 0) * p.price, 2) < %(threshold)s)
            FROM core_account a
            LEFT JOIN LATERAL (SELECT max(b.period) AS period FROM core_bill b WHERE b.account_id = a.id) billed ON true
            LEFT JOIN LATERAL (SELECT sum(r.consumption) AS kwh FROM core_meterreading r
                               WHERE r.account_id = a.id AND r.status = 'valid'
                                 AND (billed.period IS NULL OR r.period > billed.period)) unbilled ON true
            LEFT JOIN LATERAL (SELECT coalesce(sum(r.consumption), 0) AS kwh FROM core_meterreading r
                               WHERE r.account_id = a.id AND r.status = 'valid'
                                 AND r.period BETWEEN %(month)s AND %(month_end)s) used ON true
            CROSS JOIN LATERAL (SELECT CASE WHEN used.kwh < 180 THEN 0.5580 WHEN used.kwh < 400 THEN 0.6080
                                            ELSE 0.8580 END AS price) p
            WHERE a.billing_mode = 'prepaid' AND a.status <> 'closed'""", params)
        return cursor.fetchone()[0]


def alerts_check(*, today: datetime.date) -> dict:
    """What must hold of alerts_load's additions, as figures (a test compares them): every PREPAID_EVERY-th
    residential account prepaid with a credit and no bill left open, how many are under the holder's 10 yuan
    (prepaid_low_balance_count), one meter per account, one valid reading of each bill's kWh, registers that add
    up, a reading of this month for every account open before it was read, and the bindings' alert settings and
    mobiles."""
    from django.db import connection

    month = today.replace(day=1)
    read_on = max(today - datetime.timedelta(days=1), month)
    params = {"month": month, "read_on": read_on, "prepaid_every": PREPAID_EVERY,
              "user_prefix": DATASET_USERNAME_PREFIX, "raised": RAISED_THRESHOLD}
    prepaid_under_threshold = prepaid_low_balance_count(today=today)
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT count(*) FILTER (WHERE a.billing_mode = 'prepaid'),
                   count(*) FILTER (WHERE a.category = 'residential' AND a.id %% %(prepaid_every)s = 0),
                   count(*) FILTER (WHERE a.billing_mode = 'prepaid' AND a.balance >= 0)
            FROM core_account a WHERE a.status <> 'closed'""", params)
        prepaid, prepaid_expected, prepaid_without_credit = cursor.fetchone()
        cursor.execute("""
            SELECT count(*) FROM core_bill b JOIN core_account a ON a.id = b.account_id
            WHERE a.billing_mode = 'prepaid' AND b.state NOT IN ('paid', 'credited', 'written_off')""")
        prepaid_open_bills = cursor.fetchone()[0]
        cursor.execute("""
            SELECT count(*) FROM core_account a
            WHERE (SELECT count(*) FROM core_meter m JOIN core_servicepoint sp ON sp.id = m.service_point_id
                   WHERE sp.account_id = a.id) <> 1""")
        accounts_without_one_meter = cursor.fetchone()[0]
        cursor.execute("""
            SELECT count(*) FROM core_bill b
            WHERE b.kind = 'regular'
              AND (SELECT count(*) FROM core_meterreading r WHERE r.account_id = b.account_id AND r.period = b.period
                   AND r.status = 'valid' AND r.consumption = b.kwh) <> 1""")
        bills_without_their_reading = cursor.fetchone()[0]
        cursor.execute("""
            SELECT count(*) FROM (
                SELECT r.total, r.consumption,
                       coalesce(lag(r.total) OVER (PARTITION BY r.meter_id ORDER BY r.read_on), m.initial_reading)
                           AS before
                FROM core_meterreading r JOIN core_meter m ON m.id = r.meter_id) x
            WHERE x.total <> x.before + x.consumption""")
        registers_off = cursor.fetchone()[0]
        cursor.execute("""
            SELECT count(*) FROM core_account a
            WHERE a.status <> 'closed' AND a.opened_on < %(read_on)s
              AND NOT EXISTS (SELECT 1 FROM core_meterreading r WHERE r.account_id = a.id AND r.period = %(month)s
                              AND r.read_on <= %(read_on)s)""", params)
        accounts_without_unbilled_reading = cursor.fetchone()[0]
        cursor.execute("""
            SELECT count(*), count(*) FILTER (WHERE b.tier_alerts),
                   count(*) FILTER (WHERE b.low_balance_threshold = %(raised)s::numeric),
                   count(*) FILTER (WHERE p.verified_at IS NULL),
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM core_customer c WHERE c.phone = p.phone))
            FROM core_accountbinding b
            JOIN auth_user u ON u.id = b.user_id AND u.username LIKE %(user_prefix)s || '%%'
            LEFT JOIN portal_userphone p ON p.user_id = u.id
            WHERE b.unbound_at IS NULL""", params)
        bindings, tier_alerts_on, raised_threshold, binders_without_verified_mobile, binder_mobiles_on_file = (
            cursor.fetchone())
    return {
        "prepaid_accounts": prepaid, "prepaid_expected": prepaid_expected,
        "prepaid_without_credit": prepaid_without_credit, "prepaid_under_threshold": prepaid_under_threshold,
        "prepaid_open_bills": prepaid_open_bills, "accounts_without_one_meter": accounts_without_one_meter,
        "bills_without_their_reading": bills_without_their_reading, "registers_off": registers_off,
        "accounts_without_unbilled_reading": accounts_without_unbilled_reading,
        "alert_bindings": bindings, "bindings_with_tier_alerts": tier_alerts_on,
        "bindings_with_raised_threshold": raised_threshold,
        "binders_without_verified_mobile": binders_without_verified_mobile,
        "binder_mobiles_on_file": binder_mobiles_on_file,
    }


def main(argv: list[str] | None = None) -> int:
    """Build the data set alone on a fresh database (DATABASE_URL's server, else a throwaway cluster), print what
    dataset_check finds as JSON, then drop it. With --alerts, alerts_load's additions too, and alerts_check's
    figures in the same JSON."""
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
    parser.add_argument("--alerts", action="store_true", help="add what the customer-alert scan reads (alerts_load)")
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
        if args.alerts:
            alerts_load(today=today)
            print(json.dumps(dataset_check() | alerts_check(today=today)))
        else:
            print(json.dumps(dataset_check()))
    finally:
        server_release(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
