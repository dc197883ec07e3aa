#!/usr/bin/env python
"""Reading import benchmark on PostgreSQL: a daily acquisition file of 1.1 million readings through
`manage.py readings_import` (the set-based import behind POST /api/v1/readings/), rows per second printed.

    python bench/readings_bench.py            110,000 meters x 10 days = 1,100,000 readings
    python bench/readings_bench.py --smoke    2,000 meters x 5 days = 10,000 readings

The meters (one account, service point and meter each, in 100-meter transformer areas) are made first and not
timed. The file is sorted by day then meter, as the acquisition system pushes it, so each chunk meets meters with
history; about 0.5% of the rows repeat a row already sent (duplicates) and 0.5% go below the previous reading
(rejected). The import is timed end to end (the file read twice: checked whole, then imported), then checked:
every accepted row stored once, and the stored consumption adds up to what the file says.
Uses the server of DATABASE_URL (a fresh bench_readings_<pid> database, dropped afterwards) or a throwaway cluster.
The target (1.1 M readings in under 5 minutes) is compared, never asserted.
"""
from __future__ import annotations

import argparse
import datetime
import io
import os
import random
import signal
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_READINGS = 1_100_000
TARGET_SECONDS = 300.0
AREA_SIZE = 100
FIRST_DAY = datetime.date(2026, 11, 1)


def verdict(*, rows: int, seconds: float) -> str:
    """Whether the rate would import the target's 1.1 M readings within its 5 minutes."""
    rate = rows / seconds if seconds else 0.0
    return "PASS" if rate >= TARGET_READINGS / TARGET_SECONDS else "BELOW TARGET"


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def meters_create(count: int) -> list[tuple[str, Decimal, Decimal]]:
    """`count` meters on their own accounts; returns (asset number, initial reading, multiplier) of each."""
    from core.account_numbers import account_number_from_body
    from core.models import (
        Account,
        Branch,
        Company,
        Customer,
        Feeder,
        Meter,
        ServicePoint,
        ServiceStation,
        Substation,
        Tariff,
        TransformerArea,
    )

    company, _ = Company.objects.get_or_create(code="ES", defaults={"name": "恩施供电公司"})
    branch = Branch.objects.create(company=company, code="BENCH", name="基准县公司")
    station = ServiceStation.objects.create(branch=branch, code="BENCH-S", name="基准供电所")
    feeder = Feeder.objects.create(
        substation=Substation.objects.create(branch=branch, code="BENCH-SUB", name="基准变电站"),
        code="BENCH-F", name="基准线路",
    )
    tariff = Tariff.objects.order_by("pk").first()
    areas = TransformerArea.objects.bulk_create(
        TransformerArea(feeder=feeder, code=f"BA{n:06d}", name=f"基准台区{n}")
        for n in range((count + AREA_SIZE - 1) // AREA_SIZE)
    )
    generator = random.Random(11)
    meters = []
    for start in range(0, count, 10_000):
        numbers = range(start, min(count, start + 10_000))
        customers = Customer.objects.bulk_create(Customer(name=f"基准客户{n}") for n in numbers)
        accounts = Account.objects.bulk_create(
            Account(number=account_number_from_body(f"{900000000 + n:09d}"), customer=customer, branch=branch,
                    station=station, name=customer.name, address="基准地址", tariff=tariff,
                    opened_on=datetime.date(2020, 1, 1))
            for n, customer in zip(numbers, customers)
        )
        points = ServicePoint.objects.bulk_create(
            ServicePoint(account=account, transformer_area=areas[n // AREA_SIZE], code=f"BSP{n:09d}")
            for n, account in zip(numbers, accounts)
        )
        batch = [
            Meter(service_point=point, asset_number=f"BM{n:010d}", installed_on=datetime.date(2020, 1, 1),
                  initial_reading=Decimal(generator.randrange(100000)), multiplier=Decimal(1 + (n % 50 == 0) * 39))
            for n, point in zip(numbers, points)
        ]
        Meter.objects.bulk_create(batch)
        meters.extend((meter.asset_number, meter.initial_reading, meter.multiplier) for meter in batch)
    return meters


def file_write(path: Path, meters: list[tuple[str, Decimal, Decimal]], days: int) -> dict:
    """The readings file, day by day; returns what a correct import must give."""
    generator = random.Random(95598)
    totals = {asset: initial for asset, initial, _multiplier in meters}
    accepted = duplicates = rejected = 0
    consumption = Decimal("0")
    last_rows: list[str] = []
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("meter,read_on,total\n")
        for day in range(days):
            read_on = (FIRST_DAY + datetime.timedelta(days=day)).isoformat()
            for asset, _initial, multiplier in meters:
                draw = generator.random()
                if draw < 0.005 and last_rows:
                    handle.write(generator.choice(last_rows))  # an earlier row sent again
                    duplicates += 1
                elif draw < 0.010 and totals[asset] > 1:
                    handle.write(f"{asset},{read_on},{totals[asset] - 1}\n")  # below the previous reading
                    rejected += 1
                else:
                    step = Decimal(generator.randrange(100, 1500)) / 100
                    totals[asset] += step
                    line = f"{asset},{read_on},{totals[asset]}\n"
                    handle.write(line)
                    accepted += 1
                    consumption += step * multiplier
                    if len(last_rows) < 1000:
                        last_rows.append(line)
                    else:
                        last_rows[generator.randrange(1000)] = line
                rows += 1
    return {"rows": rows, "accepted": accepted, "duplicates": duplicates, "rejected": rejected,
            "consumption": consumption}


class QueryClock:
    """Time spent waiting for the database, by kind of statement (the first words of its SQL)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            words = sql.split()
            kind = " ".join(words[:1] + [w for w in words if w in ("UPDATE", "FOR")][:1] + (
                ["window"] if "ROW_NUMBER()" in sql else []))
            self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - started
            self.counts[kind] = self.counts.get(kind, 0) + 1


def import_run(path: Path, chunk_size: int) -> tuple[float, str, QueryClock]:
    from django.core.management import call_command
    from django.db import connection

    out = io.StringIO()
    clock = QueryClock()
    started = time.perf_counter()
    with connection.execute_wrapper(clock):
        call_command("readings_import", str(path), "--chunk-size", str(chunk_size), "--show", "0", stdout=out)
    seconds = time.perf_counter() - started
    return seconds, out.getvalue().strip().splitlines()[-1], clock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=110_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--chunk-size", type=int, default=None, help="rows per chunk (default the service's)")
    parser.add_argument("--smoke", action="store_true", help="2,000 meters x 5 days")
    parser.add_argument("--results-dir", default=str(ROOT / "bench-results"))
    args = parser.parse_args(argv)
    if args.smoke:
        args.meters, args.days = 2_000, 5
    if args.meters < 1 or args.days < 1:
        parser.error("--meters and --days must be positive")

    from bench.pg import server_for_bench
    from bench.run import django_start

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    server = server_for_bench()
    folder = tempfile.mkdtemp(prefix="readings-bench-")
    try:
        settings = server.settings()
        print(f"PostgreSQL: {server.description}")
        print("   " + ", ".join(f"{k}={v}" for k, v in settings.items()))
        django_start(server.database_create(f"bench_readings_{os.getpid()}"))
        from django.core.management import call_command
        from django.db import connection
        from django.db.models import Count, Sum

        from core.models import MeterReading
        from core.services.readings_batch import CHUNK_SIZE

        chunk_size = args.chunk_size or CHUNK_SIZE
        t0 = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        print(f"Migrated in {time.monotonic() - t0:,.1f} s")
        t0 = time.monotonic()
        meters = meters_create(args.meters)
        print(f"{len(meters):,} meters (accounts, service points) made in {time.monotonic() - t0:,.1f} s")
        path = Path(folder) / "readings.csv"
        t0 = time.monotonic()
        expected = file_write(path, meters, args.days)
        print(f"File of {expected['rows']:,} readings ({path.stat().st_size / 1e6:,.1f} MB) written in "
              f"{time.monotonic() - t0:,.1f} s: {expected['accepted']:,} new, {expected['duplicates']:,} sent again, "
              f"{expected['rejected']:,} below the previous reading")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        cpu = time.process_time()
        seconds, summary, clock = import_run(path, chunk_size)
        cpu = time.process_time() - cpu
        rate = expected["rows"] / seconds
        print(f"   {summary}")
        waits = ", ".join(f"{kind} {clock.counts[kind]:,}x {spent:,.1f} s" for kind, spent in
                          sorted(clock.seconds.items(), key=lambda item: -item[1]))
        print(f"   waiting for the database: {waits}")
        print(f"Imported {expected['rows']:,} readings in {seconds:,.1f} s = {rate:,.0f} rows/s "
              f"(chunks of {chunk_size:,}; target {TARGET_READINGS:,} in {TARGET_SECONDS:,.0f} s = "
              f"{TARGET_READINGS / TARGET_SECONDS:,.0f} rows/s: {verdict(rows=expected['rows'], seconds=seconds)})")
        print(f"   CPU of this process (not the database server): {cpu:,.1f} s; load average "
              f"{os.getloadavg()[0]:.2f}")

        stored = MeterReading.objects.aggregate(rows=Count("pk"), consumption=Sum("consumption"))
        correct = stored["rows"] == expected["accepted"] and stored["consumption"] == expected["consumption"]
        print(f"Check: {stored['rows']:,} readings stored (expected {expected['accepted']:,}), consumption "
              f"{stored['consumption']:,} kWh (expected {expected['consumption']:,}): {'OK' if correct else 'WRONG'}")

        from bench.harness import results_write

        results_write(args.results_dir, "readings", smoke=args.smoke, figures={
            "server": server.description, "server_settings": settings, "meters": len(meters),
            "days": args.days, "rows": expected["rows"], "accepted": expected["accepted"],
            "duplicates": expected["duplicates"], "rejected": expected["rejected"], "chunk_size": chunk_size,
            "seconds": round(seconds, 2), "rows_per_second": round(rate, 1), "cpu_seconds": round(cpu, 2),
            "verdict": verdict(rows=expected["rows"], seconds=seconds), "check": "OK" if correct else "WRONG",
        })
        return 0 if correct else 1
    finally:
        from bench.harness import server_release

        server_release(server)
        for leftover in Path(folder).glob("*"):
            leftover.unlink()
        os.rmdir(folder)


if __name__ == "__main__":
    sys.exit(main())
