#!/usr/bin/env python
"""Benchmark of the ticket engine on PostgreSQL: the SLA scan over a million open tickets, then step
submissions per second from concurrent processes.

    python bench/tickets_bench.py                   1,000,000 open tickets
    python bench/tickets_bench.py --smoke           20,000

Loads the open tickets and their active steps with COPY (progress printed), most due days from now and a few
thousand due for a warning or an overdue mark; times sla_scan with that burst, then idle (nothing due, the
usual minute); then N processes each submit steps of their own tickets through ticket_step_submit.
Uses the server of DATABASE_URL (a fresh bench_tickets_<pid> database, dropped afterwards) or a throwaway
cluster (bench/pg.py). Figures are printed and written to bench-results/; the 5 s target is compared, never asserted.
"""
from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import random
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


TARGET_SCAN_SECONDS = 5.0
COPY_CHUNK = 50_000
TICKET_DAYS = 30
# The first wave of the burst falls due this long before the second.
WAVE_GAP = datetime.timedelta(minutes=40)


def per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def scan_verdict(seconds: float) -> str:
    return "PASS" if seconds < TARGET_SCAN_SECONDS else "ABOVE TARGET"


def due_plan(*, tickets: int, warn: int, overdue: int, skippable: int) -> dict[str, range]:
    """Which ticket numbers (1-based) fall in each group: a burst due for warning, due for an overdue mark,
    overdue low-priority follow-ups the scan skips, and the rest (days from due)."""
    if warn + overdue + skippable > tickets:
        raise ValueError("more tickets due than tickets")
    return {
        "warn": range(1, warn + 1),
        "overdue": range(warn + 1, warn + overdue + 1),
        "skippable": range(warn + overdue + 1, warn + overdue + skippable + 1),
        "later": range(warn + overdue + skippable + 1, tickets + 1),
    }


def ticket_number(day: datetime.date, sequence: int) -> str:
    """YYMMDD + 5-digit day sequence, as ticket_number_next issues them."""
    return f"{day:%y%m%d}{sequence:05d}"


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def django_start(database_url: str) -> None:
    """Django in-process on the bench database; Celery publishes to an in-memory broker (the notifications the
    engine's signals queue are not delivered here: bench/notifications_bench.py measures delivery)."""
    os.environ.pop("REDIS_URL", None)
    os.environ["CELERY_BROKER_URL"] = "memory://"
    from bench.run import django_start as start

    start(database_url)


def world_build() -> dict:
    """A company, 10 branches, the sample 4-step process and one agent/counter clerk for every branch."""
    from core.models import Branch, Company
    from tests.ticket_factories import sample_process, staff_user

    company = Company.objects.create(code="BENCH", name="基准测试供电公司")
    branches = [Branch.objects.create(company=company, code=f"BB{n:02d}", name=f"基准县公司{n}") for n in range(10)]
    process = sample_process()
    return {
        "branches": branches,
        "process": process,
        "agent": staff_user("agent", None, username="bench-agent"),
        "clerk": staff_user("counter_clerk", None, username="bench-clerk"),
    }


def _copy_rows(cursor, model, columns: list[str], rows) -> None:
    table = model._meta.db_table
    with cursor.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


def tickets_load(*, world: dict, count: int, plan: dict[str, range], now: datetime.datetime, seed: int) -> dict:
    """COPY `count` open tickets, each with one active step (ids 1..count for both), in chunks with progress."""
    import psycopg
    from django.db import connection

    from core.models import Ticket, TicketStep

    rng = random.Random(seed)
    process = world["process"]
    accept, follow_up = process.accept, process.follow_up
    branches = world["branches"]
    first_day = (now - datetime.timedelta(days=TICKET_DAYS)).date()
    day_sequences: dict[datetime.date, int] = {}
    minute = datetime.timedelta(minutes=1)

    ticket_columns = ["id", "number", "definition_id", "business_type", "channel", "state", "branch_id",
                      "anonymous", "contact_name", "contact_phone", "address", "summary", "description",
                      "complaint_class", "appealed_to_regulator", "data", "current_step_id", "opened_at", "due_at",
                      "satisfaction_comment", "version"]
    step_columns = ["id", "ticket_id", "step_definition_id", "sequence", "state", "post_id", "branch_id",
                    "arrived_at", "due_at", "warn_at", "warned_at", "data", "note"]

    def timing(number: int) -> tuple[datetime.datetime, datetime.datetime, datetime.datetime, datetime.datetime | None]:
        """(arrived, due, warn, warned) of ticket `number`'s step. The burst comes in two equal waves, the odd
        tickets due by `now - WAVE_GAP`, the even ones by `now`, so it can be scanned twice (see scans_time)."""
        base = now - WAVE_GAP if number % 2 else now
        if number in plan["warn"]:
            due = now + rng.randint(60, 170) * minute
            return due - datetime.timedelta(days=1), due, base - rng.randint(0, 30) * minute, None
        if number in plan["overdue"] or number in plan["skippable"]:
            due = base - rng.randint(0, 30) * minute
            warn = due - 120 * minute
            return due - datetime.timedelta(days=1), due, warn, warn
        due = now + rng.randint(3 * 60, 5 * 24 * 60) * minute
        return due - datetime.timedelta(days=1), due, due - 120 * minute, None

    def chunk_rows(start: int, stop: int):
        tickets, steps = [], []
        for number in range(start, stop):
            arrived, due, warn, warned = timing(number)
            opened = min(arrived, now - rng.randint(1, TICKET_DAYS * 24 * 60 - 1) * minute)
            day = max(opened.date(), first_day)
            day_sequences[day] = day_sequences.get(day, 0) + 1
            branch = branches[number % len(branches)]
            definition = follow_up if number in plan["skippable"] else accept
            tickets.append((number, ticket_number(day, day_sequences[day]), process.definition.pk,
                            process.definition.business_type, "agent", Ticket.State.OPEN, branch.pk, False, "", "", "",
                            "电能表计量异常", "", "", False, "{}", number, opened, None, "", 0))
            steps.append((number, number, definition.pk, 1, TicketStep.State.ACTIVE, definition.post_id, branch.pk,
                           arrived, due, warn, warned, "{}", ""))
        return tickets, steps

    started = time.monotonic()
    triggers_off = False
    with connection.cursor() as cursor:
        raw = cursor.cursor
        try:
            # Foreign keys hold by construction; skipping the per-row checks (superuser only) halves the load.
            raw.execute("SET session_replication_role = replica")
            triggers_off = True
        except psycopg.Error:
            connection.connection.rollback()
        for start in range(1, count + 1, COPY_CHUNK):
            stop = min(start + COPY_CHUNK, count + 1)
            tickets, steps = chunk_rows(start, stop)
            with connection.connection.transaction():
                _copy_rows(raw, Ticket, ticket_columns, tickets)
                _copy_rows(raw, TicketStep, step_columns, steps)
            elapsed = time.monotonic() - started
            done = stop - 1
            print(f"\r   loaded {done:>9,} / {count:,} tickets ({done / elapsed:,.0f} tickets/s)", end="",
                  flush=True)
        if triggers_off:
            raw.execute("SET session_replication_role = origin")
        for table in (Ticket._meta.db_table, TicketStep._meta.db_table):
            raw.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), {count})")
            raw.execute(f'ANALYZE "{table}"')
    seconds = time.monotonic() - started
    print(f"\n   {count:,} tickets and {count:,} active steps in {seconds:,.1f} s "
          f"({'foreign-key triggers off' if triggers_off else 'foreign-key triggers on'}), analyzed")
    return {"tickets": count, "seconds": round(seconds, 1), "tickets_per_second": per_second(count, seconds),
            "fk_triggers_off": triggers_off}


def plans_print(now: datetime.datetime) -> dict[str, str]:
    """EXPLAIN of the scan's two candidate queries: they should read the partial indexes."""
    from core.models import TicketStep

    queries = {
        "warn": TicketStep.objects.filter(state="active", warned_at__isnull=True, warn_at__lte=now)
        .order_by("warn_at").values_list("id", "ticket_id")[:500],
        "overdue": TicketStep.objects.filter(state="active", overdue_at__isnull=True, due_at__lte=now)
        .order_by("due_at").values_list("id", "ticket_id", "step_definition__priority",
                                        "step_definition__auto_skip_when_overdue")[:500],
    }
    plans = {}
    for name, query in queries.items():
        plans[name] = query.explain()
        print(f"   plan ({name} candidates):")
        for line in plans[name].splitlines():
            print(f"     {line}")
    return plans


def scans_time(*, now: datetime.datetime) -> list[dict]:
    """The first wave of the burst scanned with ticket_changed's receivers disconnected (the scan's own work),
    the second with them (as deployed: the notifications subscriber runs inline after each batch commits),
    then two idle scans, the usual minute."""
    from core.services.ticket_sla import sla_scan
    from core.signals import ticket_changed

    figures = []
    runs = [("burst, wave 1, scan only", now - WAVE_GAP, False), ("burst, wave 2, subscribers", now, True),
            ("idle", now, True), ("idle +1 min", now + datetime.timedelta(minutes=1), True)]
    for label, at, subscribers in runs:
        saved = ticket_changed.receivers
        if not subscribers:
            ticket_changed.receivers = []
            ticket_changed.sender_receivers_cache.clear()
        try:
            t0 = time.monotonic()
            cpu0 = time.process_time()
            result = sla_scan(now=at)
            seconds = time.monotonic() - t0
            cpu = time.process_time() - cpu0
        finally:
            ticket_changed.receivers = saved
            ticket_changed.sender_receivers_cache.clear()
        figure = {"scan": label, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                  "warned": len(result.warned), "overdue": len(result.overdue), "skipped": len(result.skipped),
                  "evaluations": result.evaluations, "verdict": scan_verdict(seconds)}
        figures.append(figure)
        print(f"   scan {label:<28} {seconds:8.3f} s (CPU here {cpu:6.3f} s): {figure['warned']:,} warned, "
              f"{figure['overdue']:,} overdue, {figure['skipped']:,} skipped, {figure['evaluations']:,} evaluations"
              f" (target < {TARGET_SCAN_SECONDS:.0f} s: {figure['verdict']})")
    return figures


def _child_start() -> None:
    """A pool worker dies on SIGTERM, as the pool's terminate() expects: the parent's handler (SystemExit) would
    leave it waiting on its own threads."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _submit_worker(args: tuple[list[int], int]) -> tuple[int, int, float]:
    """In a child process: submit each accept step (its own tickets only); (done, refused, seconds)."""
    from django.contrib.auth import get_user_model

    from bench.harness import connections_release
    from core.errors import DomainError
    from core.services.tickets import ticket_step_submit

    step_ids, user_id = args
    user = get_user_model().objects.get(pk=user_id)
    done = refused = 0
    t0 = time.monotonic()
    for step_id in step_ids:
        try:
            ticket_step_submit(step_id=step_id, user=user, data={"needs_survey": False, "category": "fast"})
            done += 1
        except DomainError:
            refused += 1
    seconds = time.monotonic() - t0
    connections_release()  # the child's own pool and its threads go before the child is told to stop
    return done, refused, seconds


def submissions_time(*, world: dict, plan: dict[str, range], processes: int, per_process: int) -> list[dict]:
    """Step submissions per second with 1 process, then `processes` at once, each on distinct tickets; then
    `processes` again with ticket_changed's receivers disconnected (the engine's own work)."""
    from django.db import connections

    from core.signals import ticket_changed

    later = plan["later"]
    figures = []
    offset = later.start
    runs = [(workers, True) for workers in sorted({1, processes})] + [(processes, False)]
    for workers, subscribers in runs:
        batches = []
        for _n in range(workers):
            batches.append((list(range(offset, offset + per_process)), world["agent"].pk))
            offset += per_process
        if offset > later.stop:
            print(f"   submissions with {workers} processes: skipped, not enough tickets")
            continue
        from bench.harness import connections_release

        # A forked child must share neither the parent's sockets nor its connection pool (whose threads stay behind).
        connections_release()
        saved = ticket_changed.receivers
        if not subscribers:
            ticket_changed.receivers = []
            ticket_changed.sender_receivers_cache.clear()
        try:
            context = multiprocessing.get_context("fork")
            t0 = time.monotonic()
            with context.Pool(workers, initializer=_child_start) as pool:
                results = pool.map(_submit_worker, batches)
            seconds = time.monotonic() - t0
        finally:
            ticket_changed.receivers = saved
            ticket_changed.sender_receivers_cache.clear()
        done = sum(r[0] for r in results)
        refused = sum(r[1] for r in results)
        figure = {"processes": workers, "subscribers": subscribers, "submissions": done, "refused": refused,
                  "seconds": round(seconds, 2), "per_second": per_second(done, seconds)}
        figures.append(figure)
        print(f"   {workers} process(es), {'with' if subscribers else 'without'} subscribers: {done:,} submissions "
              f"({refused} refused) in {seconds:,.2f} s = {figure['per_second']:,.1f} submissions/s")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--smoke", action="store_true", help="20,000 tickets, fewer submissions")
    parser.add_argument("--warn", type=int, default=None, help="steps due for a warning (default 3,000)")
    parser.add_argument("--overdue", type=int, default=None, help="steps due for an overdue mark (default 2,000)")
    parser.add_argument("--skippable", type=int, default=None, help="overdue auto-skip steps (default 100)")
    parser.add_argument("--processes", type=int, default=4, help="concurrent submitting processes")
    parser.add_argument("--submissions", type=int, default=None, help="submissions per process (default 500)")
    parser.add_argument("--seed", type=int, default=95598)
    parser.add_argument("--results-dir", default=str(ROOT / "bench-results"))
    args = parser.parse_args(argv)
    if args.smoke:
        count, warn, overdue, skippable, per_process = 20_000, 300, 200, 20, 100
    else:
        count, warn, overdue, skippable, per_process = args.tickets, 3000, 2000, 100, 500
    warn = args.warn if args.warn is not None else warn
    overdue = args.overdue if args.overdue is not None else overdue
    skippable = args.skippable if args.skippable is not None else skippable
    per_process = args.submissions if args.submissions is not None else per_process
    plan = due_plan(tickets=count, warn=warn, overdue=overdue, skippable=skippable)

    from bench.pg import server_for_bench

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = time.monotonic()
    server = server_for_bench()
    try:
        settings = server.settings()
        print(f"PostgreSQL: {server.description}")
        print("   " + ", ".join(f"{k}={v}" for k, v in settings.items()))
        name = f"bench_tickets_{os.getpid()}"
        django_start(server.database_create(name))
        from django.core.management import call_command
        from django.utils import timezone

        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        world = world_build()
        now = timezone.now()

        print(f"\n== {count:,} open tickets: loading ({warn:,} due for a warning, {overdue:,} for an overdue mark, "
              f"{skippable:,} overdue auto-skip follow-ups, the rest due in 3 h to 5 days)")
        load = tickets_load(world=world, count=count, plan=plan, now=now, seed=args.seed)
        print("== SLA scan")
        plans = plans_print(now - WAVE_GAP)
        scans = scans_time(now=now)
        print(f"== Step submissions (ticket_step_submit, {per_process} distinct tickets per process)")
        submissions = submissions_time(world=world, plan=plan, processes=args.processes, per_process=per_process)
        print(f"   load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

        from bench.harness import results_write

        results_write(args.results_dir, "tickets", smoke=args.smoke, figures={
            "server": server.description, "server_settings": settings, "tickets": count,
            "target_scan_seconds": TARGET_SCAN_SECONDS, "load": load, "plans": plans, "scans": scans,
            "submissions": submissions, "load_average_1min": round(os.getloadavg()[0], 2),
            "elapsed_seconds": round(time.monotonic() - started, 1),
        })
    finally:
        from bench.harness import server_release

        server_release(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
