#!/usr/bin/env python
"""Portal benchmark: a customer's account dashboard and the guest bill lookup under load beside a minimal Django
view, on the seeded demo data set.

    python bench/portal_bench.py                  1,100,000 customers, concurrency 16 and 32, 10 s each
    python bench/portal_bench.py --smoke          2,000 customers, concurrency 16, 2 s

Services (Redis, the scratch database, one daphne process) come from bench/harness.py, the baseline view
(/bench/minimal/) and the load generator (keep-alive threads in this process) from cms_bench. Database: a scratch
database on the server of DATABASE_URL when it is PostgreSQL (created and dropped), else a temporary SQLite file;
seeded by core.demo (the data set of make bench).
The dashboard is requested with a signed-in customer's session cookie; the guest lookup is the real POST (CSRF
cookie and token, account number and holder's name) from many guests: daphne takes each request's address from
X-Forwarded-For, so the per-address lookup limit holds for every request as it would in production, and
afterwards the recorded attempts say how many lookups were answered with the bill (all of them, or the figures
do not count). requests/s and p95 are printed and compared with the targets (at least half the baseline's
requests/s; p95 under 50 ms at 32 connections), never asserted.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_P95_MS = 50.0
TARGET_P95_CONCURRENCY = 32
DEFAULT_CUSTOMERS = 1_100_000
SMOKE_CUSTOMERS = 2_000
BENCH_USERNAME = "bench-portal-customer"
LOOKUP_PATH = "/bill/lookup/"


# --- pure helpers -----------------------------------------------------------------------------------------------


def guest_address(index: int) -> str:
    """The index-th guest's address, 10.0.0.1 upwards: distinct for the first 16 million requests."""
    number = index % (2 ** 24 - 2) + 1
    return f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"


def lookup_body(*, csrf_token: str, account_number: str, holder_name: str) -> bytes:
    return urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf_token, "account_number": account_number, "holder_name": holder_name}
    ).encode()


def p95_verdict(*, p95_ms: float, concurrency: int) -> str:
    """PASS / ABOVE TARGET for the p95 target at TARGET_P95_CONCURRENCY connections; '' at other levels."""
    if concurrency != TARGET_P95_CONCURRENCY:
        return ""
    return "PASS" if p95_ms < TARGET_P95_MS else "ABOVE TARGET"


class GuestHeaders:
    """Per-request headers of the guest lookup: the CSRF cookie and a new guest address each time."""

    def __init__(self, *, csrf_token: str) -> None:
        self._csrf_token = csrf_token
        self._counter = itertools.count()

    def __call__(self) -> dict[str, str]:
        return {
            "Cookie": f"csrftoken={self._csrf_token}",
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Forwarded-For": guest_address(next(self._counter)),
        }


# --- setup ------------------------------------------------------------------------------------------------------


def data_seed(*, customers: int, seed: int) -> None:
    from django.utils import timezone

    from core.demo.seeding import demo_seed

    print(f"== seeding {customers:,} customers")
    started = time.monotonic()
    result = demo_seed(customers=customers, seed=seed, today=timezone.localdate())
    print(f"   {result.customers_added:,} customers, {result.rows_written:,} rows in {time.monotonic() - started:,.1f} s")


def customer_world() -> dict:
    """A billed residential account bound to a signed-in portal user; the requests that measure it."""
    from django.contrib.auth import get_user_model
    from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
    from django.test import Client
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from core.models import Account, AccountBinding, Bill, BindingMethod

    billed = Bill.objects.values("account_id")
    account = (
        Account.objects.filter(pk__in=billed, billing_mode=Account.BillingMode.POSTPAID, status=Account.Status.ACTIVE)
        .select_related("customer").order_by("pk").first()
    )
    if account is None:
        raise RuntimeError("the seeded data has no billed postpaid account")
    user = get_user_model().objects.create_user(username=BENCH_USERNAME, password=get_random_string(24))
    AccountBinding.objects.create(user=user, account=account, method=BindingMethod.ID_DIGITS, bound_at=timezone.now())
    client = Client()
    client.force_login(user)
    # An unmasked secret is a valid form token (Django accepts both forms), so one value serves cookie and form.
    csrf_token = get_random_string(CSRF_SECRET_LENGTH, allowed_chars=CSRF_ALLOWED_CHARS)
    return {
        "account_number": account.number,
        "session_cookie": f"{client.cookies['sessionid'].key}={client.cookies['sessionid'].value}",
        "csrf_token": csrf_token,
        "holder_name": account.name,
    }


def lookups_answered() -> dict[str, int]:
    """Guest lookups recorded during the run, by outcome (a refused one would make the figures meaningless)."""
    from core.models import BindingAttempt

    guest = BindingAttempt.objects.filter(user__isnull=True)
    return {"verified": guest.filter(succeeded=True).count(), "refused": guest.filter(succeeded=False).count()}


def run(args: argparse.Namespace, folder: str) -> dict:
    from bench.cms_bench import MINIMAL_PATH, load
    from bench.harness import bench_services

    with bench_services(folder) as services:
        from django.db import connection

        data_seed(customers=args.customers, seed=args.seed)
        world = customer_world()
        result: dict = {"database": connection.vendor, "cache": services.cache, "customers": args.customers,
                        "account_number": world["account_number"]}
        port = services.daphne_start(proxy_headers=True)
        dashboard_path = f"/portal/{world['account_number']}/"
        requests = {
            "baseline": {"path": MINIMAL_PATH},
            "dashboard": {"path": dashboard_path, "headers": {"Cookie": world["session_cookie"]}},
            "bill_lookup": {
                "path": LOOKUP_PATH, "method": "POST",
                "body": lookup_body(csrf_token=world["csrf_token"], account_number=world["account_number"],
                                    holder_name=world["holder_name"]),
                "headers": GuestHeaders(csrf_token=world["csrf_token"]),
            },
        }
        runs = []
        for concurrency in args.concurrency:
            for name, request in requests.items():
                load(port=port, concurrency=2, seconds=0.3, **request)  # warm: connections, caches, templates
                figures = load(port=port, concurrency=concurrency, seconds=args.seconds, **request)
                runs.append({"name": name, **figures})
        result["runs"] = runs
        result["lookups"] = lookups_answered()
    return result


def main(argv: list[str] | None = None) -> int:
    from bench.cms_bench import TARGET_SHARE_OF_BASELINE, _concurrency, verdict

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--concurrency", type=_concurrency, default=[16, 32])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_CUSTOMERS:,} customers, concurrency 16, 2 s")
    args = parser.parse_args(argv)
    if args.smoke:
        args.customers, args.concurrency, args.seconds = SMOKE_CUSTOMERS, [16], 2.0
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder:
        result = run(args, folder)
    baselines = {run_["concurrency"]: run_ for run_ in result["runs"] if run_["name"] == "baseline"}
    for run_ in result["runs"]:
        base = baselines[run_["concurrency"]]
        line = (f"portal {run_['name']:11} {run_['path']:24} c={run_['concurrency']:<3} "
                f"{run_['requests_per_second']:8.1f} req/s  p95 {run_['p95_ms']:7.1f} ms  errors {run_['errors']}")
        if run_["name"] != "baseline":
            share, outcome = verdict(page_per_second=run_["requests_per_second"],
                                     baseline_per_second=base["requests_per_second"])
            run_["share_of_baseline"] = share
            line += f"  {share:.0%} of baseline -> {outcome} (target >= {TARGET_SHARE_OF_BASELINE:.0%})"
            p95 = p95_verdict(p95_ms=run_["p95_ms"], concurrency=run_["concurrency"])
            if p95:
                run_["p95_verdict"] = p95
                line += f"; p95 {p95} (target < {TARGET_P95_MS:.0f} ms)"
        print(line)
    lookups = result["lookups"]
    print(f"portal guest lookups answered with the bill: {lookups['verified']:,}, refused: {lookups['refused']:,}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
