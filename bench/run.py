#!/usr/bin/env python
"""Benchmark on PostgreSQL: seed_demo at each size, then the real billing run for the unbilled month.

    python bench/run.py                 sizes 10000,100000,1100000 within --budget-seconds (default 3000)
    python bench/run.py --smoke         2000 customers only

Uses the server of DATABASE_URL (a fresh bench_<pid> database, dropped afterwards) or a throwaway cluster.
Figures are printed and written to bench-results/; the 2,000 accounts/s target is compared, never asserted.
"""
from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


TARGET_ACCOUNTS_PER_SECOND = 2000
DEFAULT_SIZES = "10000,100000,1100000"


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("--sizes takes comma-separated whole numbers") from None
    if not sizes or any(size <= 0 for size in sizes):
        raise argparse.ArgumentTypeError("--sizes takes positive numbers")
    return sizes


def _rss_mb() -> tuple[float, float]:
    """Peak resident memory (MB) of this process and of its waited-for children (Linux reports KB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def django_start(database_url: str) -> None:
    """Django in-process, dev settings, pointed at the benchmark database (set before setup)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    # The dev settings log every query when DEBUG is on; a benchmark measures the work, not the log.
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()


def database_switch(name: str) -> None:
    from django.db import connection

    from bench.harness import connections_release

    connections_release()
    connection.settings_dict["NAME"] = name


def size_run(*, size: int, seed: int) -> dict:
    """Seed `size` customers into the current (fresh) database, then bill the unbilled month everywhere."""
    from django.core.management.base import OutputWrapper
    from django.utils import timezone

    from core.demo.seeding import demo_seed
    from core.management.commands.seed_demo import ProgressBar
    from core.models import Account, Branch
    from core.services.billing import billing_run_execute

    out = OutputWrapper(sys.stdout)
    bars: dict[str, ProgressBar] = {}

    def progress(phase, label, done, total, rows, unit):
        if phase not in bars:
            bars[phase] = ProgressBar(out, label, total, unit)
        bars[phase].update(done, rows)
        if done >= total:
            bars[phase].close()

    print(f"\n== {size:,} customers: seeding")
    started = time.monotonic()
    result = demo_seed(customers=size, seed=seed, today=timezone.localdate(), progress=progress)
    seed_seconds = time.monotonic() - started
    print(f"   seeded {result.customers_added:,} customers, {result.rows_written:,} rows in {seed_seconds:,.1f} s: "
          f"{result.customers_added / seed_seconds:,.0f} customers/s, {result.rows_written / seed_seconds:,.0f} rows/s")

    period = result.months[-1]
    print(f"== {size:,} customers: billing run for {period:%Y-%m} over every branch")
    branches = []
    billing_started = time.monotonic()
    # CPU of this process too: wall time on a shared machine says as much about the neighbours as the run.
    billing_cpu_started = time.process_time()
    for branch in Branch.objects.order_by("code"):
        t0 = time.monotonic()
        run = billing_run_execute(branch=branch, period=period)
        seconds = time.monotonic() - t0
        rate = run.bills_issued / seconds if seconds else 0.0
        branches.append({"branch": branch.name, "code": branch.code, "accounts": run.accounts_total,
                         "bills": run.bills_issued, "held": run.accounts_held, "seconds": round(seconds, 3),
                         "accounts_per_second": round(rate, 1)})
        print(f"   {branch.code} {branch.name}: {run.bills_issued:,} bills ({run.accounts_held} held) in "
              f"{seconds:,.2f} s = {rate:,.0f} accounts/s")
    billing_seconds = time.monotonic() - billing_started
    billing_cpu_seconds = time.process_time() - billing_cpu_started
    bills = sum(b["bills"] for b in branches)
    billing_rate = bills / billing_seconds if billing_seconds else 0.0
    verdict = "PASS" if billing_rate >= TARGET_ACCOUNTS_PER_SECOND else "BELOW TARGET"
    active = Account.objects.filter(status=Account.Status.ACTIVE).count()
    print(f"   billing: {bills:,} of {active:,} active accounts in {billing_seconds:,.1f} s = {billing_rate:,.0f} "
          f"accounts/s (target >= {TARGET_ACCOUNTS_PER_SECOND:,}: {verdict})")
    own, children = _rss_mb()
    if bills:
        print(f"   billing CPU (this process, not the database server): {billing_cpu_seconds:,.2f} s = "
              f"{1000 * billing_cpu_seconds / bills:,.3f} s per 1,000 accounts; load average {os.getloadavg()[0]:.2f}")
    print(f"   peak RSS: this process {own:,.0f} MB, children {children:,.0f} MB")
    return {
        "size": size,
        "seed_seconds": round(seed_seconds, 2),
        "seed_customers_per_second": round(result.customers_added / seed_seconds, 1),
        "seed_rows": result.rows_written,
        "seed_rows_per_second": round(result.rows_written / seed_seconds, 1),
        "table_counts": result.table_counts,
        "billing_period": f"{period:%Y-%m}",
        "billing_seconds": round(billing_seconds, 2),
        "billing_bills": bills,
        "billing_active_accounts": active,
        "billing_accounts_per_second": round(billing_rate, 1),
        "billing_cpu_seconds": round(billing_cpu_seconds, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "billing_verdict": verdict,
        "branches": branches,
        "peak_rss_mb": round(own, 1),
        "peak_rss_children_mb": round(children, 1),
        "total_seconds": round(seed_seconds + billing_seconds, 2),
    }


def table_print(results: list[dict], skipped: list[dict]) -> None:
    print("\n size        seed s   seed customers/s   billing accounts/s        peak RSS MB")
    for r in results:
        print(f" {r['size']:>9,}  {r['seed_seconds']:>8,.1f}   {r['seed_customers_per_second']:>16,.0f}   "
              f"{r['billing_accounts_per_second']:>10,.0f} {r['billing_verdict']:<12}  {r['peak_rss_mb']:>9,.0f}")
    for s in skipped:
        print(f" {s['size']:>9,}  skipped: would take ~{s['estimated_seconds']:,.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_sizes, default=None, help=f"customer counts (default {DEFAULT_SIZES})")
    parser.add_argument("--smoke", action="store_true", help="2000 customers only")
    parser.add_argument("--budget-seconds", type=float, default=3000.0, help="skip sizes that would not fit")
    parser.add_argument("--seed", type=int, default=95598)
    parser.add_argument("--results-dir", default=str(ROOT / "bench-results"))
    args = parser.parse_args(argv)
    sizes = [2000] if args.smoke else (args.sizes or _sizes(DEFAULT_SIZES))

    from bench.pg import server_for_bench

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = time.monotonic()
    server = server_for_bench()
    try:
        settings = server.settings()
        print(f"PostgreSQL: {server.description}")
        print("   " + ", ".join(f"{k}={v}" for k, v in settings.items()))
        if settings.get("fsync") == "off":
            print("   WARNING: fsync=off on this server: the figures flatter what a durable server would do")
        template = f"bench_{os.getpid()}"
        template_url = server.database_create(template)
        django_start(template_url)
        from django.core.management import call_command

        from bench.harness import connections_release

        t0 = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        connections_release()
        print(f"Migrated {template} in {time.monotonic() - t0:,.1f} s (each size starts from a copy of it)")

        results: list[dict] = []
        skipped: list[dict] = []
        for size in sizes:
            if results:
                last = results[-1]
                estimate = last["total_seconds"] * size / last["size"]
                remaining = args.budget_seconds - (time.monotonic() - started)
                if estimate > remaining:
                    print(f"\n== {size:,} customers: skipped: would take ~{estimate:,.0f} s "
                          f"(budget left {max(remaining, 0):,.0f} s)")
                    skipped.append({"size": size, "estimated_seconds": round(estimate, 1)})
                    continue
            name = f"{template}_{size}"
            server.database_create(name, template=template)
            database_switch(name)
            try:
                results.append(size_run(size=size, seed=args.seed))
            finally:
                database_switch(template)
                server.database_drop(name)

        table_print(results, skipped)
        from bench.harness import results_write

        results_write(args.results_dir, "bench", smoke=args.smoke, figures={
            "server": server.description,
            "server_settings": settings,
            "target_accounts_per_second": TARGET_ACCOUNTS_PER_SECOND,
            "budget_seconds": args.budget_seconds,
            "results": results,
            "skipped": skipped,
            "elapsed_seconds": round(time.monotonic() - started, 1),
        })
    finally:
        from bench.harness import server_release

        server_release(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
