#!/usr/bin/env python
"""Stripe webhook benchmark: signed events through the real webhook view, with exactly-once posting checked.

    python bench/webhook_bench.py              5,000 payments, 4 processes x 2 threads
    python bench/webhook_bench.py --smoke      500 payments, 2 processes x 2 threads

Database: a fresh bench_webhook_<pid> database on the server of DATABASE_URL, or a throwaway PostgreSQL cluster
(bench/pg.py). Every online payment gets three deliveries: its payment_intent.succeeded event twice (Stripe's
retry) and a second, distinct succeeded event for the same intent (Stripe may send several), all shuffled and
posted concurrently by forked processes (as web workers take them; one Python process is held to one core) of a
few threads each, every thread with its own Django test client and database connection, through
/payments/stripe/webhook/ (signature verified with the official stripe library, ProviderEvent recorded once,
payment_post). Afterwards the ledger must hold exactly one payment per intent and ProviderEvent exactly the
distinct events. Events/s (distinct events applied or recognised) and deliveries/s are printed against the target
(200 events/s), never asserted.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import multiprocessing
import os
import random
import signal
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_EVENTS_PER_SECOND = 200
WEBHOOK_SECRET = "whsec_bench"
WEBHOOK = "/payments/stripe/webhook/"


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def signature(body: bytes, secret: str, stamp: int) -> str:
    """The Stripe-Signature header Stripe sends: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>">."""
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def deliveries_plan(payments: list[tuple[str, str, int]], *, seed: int) -> list[tuple[str, bytes]]:
    """(event id, body) for each delivery: per intent its success event twice and a second event once, shuffled."""
    deliveries = []
    now = int(time.time())
    for intent_id, account_number, amount in payments:
        data = {"id": intent_id, "object": "payment_intent", "amount": amount, "currency": "cny",
                "metadata": {"account": account_number}, "status": "succeeded"}
        for suffix, copies in (("a", 2), ("b", 1)):
            event_id = f"evt_{intent_id[3:]}{suffix}"
            body = json.dumps({"id": event_id, "object": "event", "type": "payment_intent.succeeded",
                               "created": now, "data": {"object": data}}).encode()
            deliveries += [(event_id, body)] * copies
    random.Random(seed).shuffle(deliveries)
    return deliveries


def world_build(*, payments: int, accounts: int) -> list[tuple[str, str, int]]:
    """Accounts and online payments awaiting Stripe's word: (intent id, account number, amount in fen)."""
    from django.db import transaction
    from django.utils import timezone

    from core.models import OnlinePayment, Tariff
    from tests.factories import AccountFactory, residential_tiered_tariff

    with transaction.atomic():
        # The migrations' tariffs when they exist (their rows carry explicit ids the sequences do not know of).
        tariff = Tariff.objects.order_by("pk").first() or residential_tiered_tariff()
        account_rows = AccountFactory.create_batch(accounts, tariff=tariff)
    now = timezone.now()
    rows = [
        OnlinePayment(
            provider="stripe", provider_reference=f"pi_bench{number:08d}", account=account_rows[number % accounts],
            purpose="arrears", amount=Decimal(1000 + number % 9000) / 100, currency="cny", created_at=now,
        )
        for number in range(payments)
    ]
    OnlinePayment.objects.bulk_create(rows, batch_size=1000)
    return [(row.provider_reference, row.account.number, int(row.amount * 100)) for row in rows]


def deliveries_share(share: list[tuple[str, bytes]], threads: int) -> tuple[float, float, dict[int, int]]:
    """Post `share` through the webhook view from `threads` threads of this process, each with its own test client
    and database connection: (wall-clock start, end, status counts)."""
    from django.db import connection
    from django.test import Client

    queue = list(share)
    lock = threading.Lock()
    statuses: dict[int, int] = {}

    clients = [Client(HTTP_HOST="127.0.0.1") for _ in range(threads)]
    for client in clients:
        # Each handler builds its middleware here, one after another: django-prometheus registers its metrics
        # once per process from the first handler built, and two threads building at once both register them.
        client.handler.load_middleware()

    def worker(client) -> None:
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    _event_id, body = queue.pop()
                response = client.post(WEBHOOK, data=body, content_type="application/json",
                                       HTTP_STRIPE_SIGNATURE=signature(body, WEBHOOK_SECRET, int(time.time())))
                with lock:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        finally:
            connection.close()

    started = time.time()
    workers = [threading.Thread(target=worker, args=(client,)) for client in clients]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return started, time.time(), statuses


def _child_start() -> None:
    """A pool worker dies on SIGTERM, as the pool's terminate() expects: the parent's handler (SystemExit) would
    leave it waiting on its own threads."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _share_run(arguments: tuple[list[tuple[str, bytes]], int]) -> tuple[float, float, dict[int, int]]:
    from bench.harness import connections_release

    share, threads = arguments
    try:
        return deliveries_share(share, threads)
    finally:
        connections_release()  # the child's own pool and its threads go before the child is told to stop


def deliveries_run(deliveries: list[tuple[str, bytes]], *, processes: int, threads: int) -> tuple[float, dict[int, int]]:
    """Post every delivery from `processes` forked processes of `threads` threads each (as web workers would take
    them; one Python process is held to one core by its interpreter lock); dealt round-robin, so copies of one
    event often land in different processes at nearly the same moment. Seconds from the first post to the last,
    and status counts."""
    from bench.harness import connections_release

    # A forked child must share neither the parent's sockets nor its connection pool (whose threads stay behind).
    connections_release()
    shares = [(deliveries[index::processes], threads) for index in range(processes)]
    with multiprocessing.get_context("fork").Pool(processes, initializer=_child_start) as pool:
        results = pool.map(_share_run, shares)
    statuses: dict[int, int] = {}
    for _start, _end, counts in results:
        for status, count in counts.items():
            statuses[status] = statuses.get(status, 0) + count
    return max(end for _s, end, _c in results) - min(start for start, _e, _c in results), statuses


def exactly_once_check(payments: list[tuple[str, str, int]], distinct_events: int) -> list[str]:
    """What is wrong with the ledger after the run ([] when each intent was posted exactly once)."""
    from django.db.models import Count

    from core.models import OnlinePayment, Payment, ProviderEvent

    problems = []
    posted = Payment.objects.filter(idempotency_key__startswith="stripe:pi_bench").count()
    if posted != len(payments):
        problems.append(f"{posted} ledger payments for {len(payments)} intents")
    doubled = (Payment.objects.filter(idempotency_key__startswith="stripe:pi_bench").values("external_reference")
               .annotate(n=Count("id")).filter(n__gt=1).count())
    if doubled:
        problems.append(f"{doubled} intents posted more than once")
    uncredited = OnlinePayment.objects.filter(provider_reference__startswith="pi_bench", payment__isnull=True).count()
    if uncredited:
        problems.append(f"{uncredited} intents not credited")
    recorded = ProviderEvent.objects.filter(event_id__startswith="evt_bench").count()
    if recorded != distinct_events:
        problems.append(f"{recorded} provider events recorded for {distinct_events} distinct events")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=5000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="threads per process")
    parser.add_argument("--smoke", action="store_true", help="500 payments on 100 accounts, 2 processes x 2 threads")
    parser.add_argument("--seed", type=int, default=95598)
    args = parser.parse_args(argv)
    payments_count, accounts, processes, threads = (
        (500, 100, 2, 2) if args.smoke else (args.payments, args.accounts, args.processes, args.threads)
    )

    from bench.pg import server_for_bench

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    server = server_for_bench()
    try:
        print(f"PostgreSQL: {server.description}")
        database_url = server.database_create(f"bench_webhook_{os.getpid()}")
        os.environ.pop("REDIS_URL", None)
        os.environ["CELERY_BROKER_URL"] = "memory://"
        os.environ.update(STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_SECRET_KEY="sk_test_bench",
                          STRIPE_PUBLISHABLE_KEY="pk_test_bench")
        from bench.run import django_start

        django_start(database_url)
        import logging

        from django.core.management import call_command

        # Every anomaly and request would be logged; the benchmark measures the work.
        logging.disable(logging.ERROR)
        call_command("migrate", interactive=False, verbosity=0)
        print(f"== {payments_count:,} online payments on {accounts:,} accounts awaiting Stripe")
        payments = world_build(payments=payments_count, accounts=accounts)
        deliveries = deliveries_plan(payments, seed=args.seed)
        distinct = len({event_id for event_id, _body in deliveries})
        print(f"== {len(deliveries):,} deliveries ({distinct:,} distinct events, each success event twice), "
              f"{processes} processes x {threads} threads through {WEBHOOK}")
        seconds, statuses = deliveries_run(deliveries, processes=processes, threads=threads)
        problems = exactly_once_check(payments, distinct)
        events_per_second = distinct / seconds
        print(f"   {seconds:,.2f} s: {events_per_second:,.1f} events/s, {len(deliveries) / seconds:,.1f} deliveries/s, "
              f"HTTP {dict(sorted(statuses.items()))}")
        print(f"   exactly once: {'yes' if not problems else 'NO: ' + '; '.join(problems)}")
        verdict = "meets" if events_per_second >= TARGET_EVENTS_PER_SECOND else "below"
        print(f"   target {TARGET_EVENTS_PER_SECOND} events/s: {verdict}")
        from bench.harness import connections_release

        connections_release()
        return 0 if not problems else 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
