#!/usr/bin/env python
"""The busy day: a day's payments, an outage call storm, the SLA clock and an SMS fan-out at once, on PostgreSQL with
the 1.1 M-customer data set, while the portal's dashboard and guest bill lookup are measured.

    python bench/busy_day_bench.py             1,100,000 customers; 70,000 payments and 2,000 calls over 20 minutes
    python bench/busy_day_bench.py --smoke     10,000 customers; 300 payments and 60 calls over 40 seconds

The production layout on loopback: PostgreSQL (the server of DATABASE_URL, else a throwaway cluster, bench/pg.py),
redis-server (broker, cache, channel layer), two daphne processes, --workers Celery workers consuming every queue,
Celery beat (the project's schedule; the SLA tick every --sla-tick seconds, the day being compressed), run_ami
connected to the fake PBX of the tests (tests/callcenter/fake_ami.py), and the fake Twilio server
(tests/notifications/fake_twilio.py). The data set is bench/dataset.py's SQL generator (as the dashboards benchmark).
Over the window, at once:
- payments: Stripe's signed webhook deliveries (bench/webhook_bench.py: each payment's succeeded event twice and a
  second distinct event once) posted over HTTP to both daphne processes at the times a day's profile gives them;
  each pays an unpaid bill of its own account of the data set through online_payment_event_apply (the webhook view).
  No counter or bank postings.
- calls: an outage call storm replayed by the fake PBX (the recorded Asterisk call of bench/ami_bench.py, stamped
  out per call: queued, the agent rung, answered, hung up), agents signed in by websocket on both daphne processes;
  screen-pop latency is the websocket's receipt minus the fake's send of AgentCalled (one clock, this process);
- the SLA beat on open tickets whose steps fall due during the window (warning and overdue marks);
- a planned-outage SMS fan-out (outage_notice_fan_out) through the workers to the fake Twilio server;
- the portal pages (bench/portal_bench.py's requests: signed-in customers' dashboards, guest lookups each from a new
  address) paced at --portal-rate requests/s each over both processes for the whole window (open loop, latency
  from each request's scheduled moment; every lookup must be answered with the bill).
Payments and portal load are sent from spawned processes, the calls and websockets from this one. Afterwards every
stream is counted: payments posted vs paid for, calls recorded vs offered, SMS sent vs due, SLA marks vs due, and
duplicates of each (the fake Twilio's requests beyond the SMS the ledger says were sent). Figures are printed and
written to bench-results/; the run exits 1 when any work was lost or done twice.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import http.client
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from celery.beat import PersistentScheduler

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# A day's payments by hour (Shanghai): quiet nights, the morning at the business halls' opening, the evening online.
DAY_PROFILE = (1, 1, 1, 1, 1, 2, 4, 7, 10, 11, 10, 8, 6, 6, 7, 7, 7, 8, 10, 11, 10, 7, 4, 2)
# Calls through the day: the usual trickle, then a storm in the hours after a feeder trips at mid-morning.
STORM_PROFILE = (1, 1, 1, 1, 1, 1, 1, 1, 2, 25, 40, 25, 12, 6, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1)
SLA_TICK_TASK = "core.sla_tick"
SLA_TICK_ENV = "BUSY_DAY_SLA_TICK_SECONDS"
SCHEDULER = "bench.busy_day_bench:BusyDayScheduler"
# Where in the window the fan-out is requested and the SLA steps fall due (shares of the window).
FAN_OUT_AT = 0.35
SLA_DUE_FROM, SLA_DUE_TO = 0.05, 0.8
SLA_WARN_BEFORE = 0.1
# A call's life after it queues: the agent is rung RING seconds later and hangs up TALK seconds after that.
RING_SECONDS, TALK_SECONDS = 0.5, 2.5
# How long after the storm's last ring a screen-pop may still arrive and count (late, with its latency) before it
# counts as never delivered: long enough that an overloaded run tells late pops from lost ones.
POP_WAIT_SECONDS = 120.0
PAYMENT_SENDERS = 32
SEND_ATTEMPTS = 3
FAN_OUT_PREFIX = "busyday:outage"
SLA_NUMBER_PREFIX = "BD"
SMS_FINISHED = ("sent", "delivered", "failed", "dead")
SMS_SENT = ("sent", "delivered")

FULL = {"customers": 1_100_000, "months": 6, "payments": 70_000, "calls": 2_000, "sms": 20_000, "sla": 5_000,
        "minutes": 20.0, "portal_rate": 20.0, "signed_in": 64}
SMOKE = {"customers": 10_000, "months": 2, "payments": 300, "calls": 60, "sms": 300, "sla": 100,
         "minutes": 40 / 60, "portal_rate": 5.0, "signed_in": 16}


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


# --- pure helpers -----------------------------------------------------------------------------------------------


def spread(count: int, seconds: float, profile: Sequence[float]) -> list[float]:
    """`count` moments in [0, seconds), ascending: the window cut into len(profile) equal slots ("hours"), each given
    its share of `count` by weight (largest remainders first), its moments evenly spaced inside the slot."""
    if count < 0 or seconds <= 0 or not profile or min(profile) < 0 or sum(profile) <= 0:
        raise ValueError("spread needs a non-negative count, a positive window and non-negative weights")
    total = sum(profile)
    exact = [count * weight / total for weight in profile]
    shares = [int(value) for value in exact]
    by_remainder = sorted(range(len(profile)), key=lambda slot: (shares[slot] - exact[slot], slot))
    for slot in by_remainder[:count - sum(shares)]:
        shares[slot] += 1
    width = seconds / len(profile)
    moments = []
    for slot, share in enumerate(shares):
        moments.extend(width * (slot + (k + 0.5) / share) for k in range(share))
    return moments


def agents_assign(offsets: Sequence[float], hold_seconds: float) -> list[int]:
    """For calls starting at `offsets` (ascending) that each hold an agent `hold_seconds`: the agent each is put
    through to, the lowest-numbered one free at the time. max()+1 is how many agents the storm needs."""
    free_at: list[float] = []
    chosen = []
    for at in offsets:
        agent = next((index for index, until in enumerate(free_at) if until <= at), len(free_at))
        if agent == len(free_at):
            free_at.append(0.0)
        free_at[agent] = at + hold_seconds
        chosen.append(agent)
    return chosen


def peak_rate(moments: Sequence[float], seconds: float = 1.0) -> int:
    """The most moments (ascending) falling in any `seconds`-long stretch: the peak the stream offers."""
    peak, first = 0, 0
    for last, moment in enumerate(moments):
        while moment - moments[first] >= seconds:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def stream_outcome(*, offered: int, done: int, distinct: int) -> dict[str, int]:
    """A stream's loss and duplicates: `offered` pieces of work, `done` effects seen, `distinct` of them different."""
    return {"offered": offered, "done": distinct, "lost": offered - distinct, "duplicates": done - distinct}


def totals(streams: dict[str, dict]) -> dict[str, int]:
    return {"work_lost": sum(stream["lost"] for stream in streams.values()),
            "duplicates": sum(stream["duplicates"] for stream in streams.values())}


def per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


class BusyDayScheduler(PersistentScheduler):
    """Celery beat with the project's schedule, the SLA tick every BUSY_DAY_SLA_TICK_SECONDS instead of every
    minute: the day is compressed into minutes, so is the minute the SLA clock ticks at."""

    def merge_inplace(self, b):
        seconds = float(os.environ.get(SLA_TICK_ENV, "0") or 0)
        if seconds > 0:
            b = {**b, SLA_TICK_TASK: {**b[SLA_TICK_TASK], "schedule": seconds}}
        super().merge_inplace(b)


# --- processes --------------------------------------------------------------------------------------------------


def beat_start(folder: str, tick_seconds: float) -> subprocess.Popen:
    """Celery beat with BusyDayScheduler; its log goes to beat.log in the folder."""
    from bench.notifications_bench import process_start

    return process_start(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "-S", SCHEDULER,
         "-s", str(Path(folder) / "celerybeat-schedule"), "--loglevel", "INFO"],
        env={**os.environ, SLA_TICK_ENV: str(tick_seconds)}, stdout=subprocess.DEVNULL,
        stderr=open(Path(folder) / "beat.log", "w"))


def asgi_start(folder: str, index: int) -> tuple[int, subprocess.Popen]:
    """One daphne process serving the project (HTTP and websockets, config.asgi) with X-Forwarded-For trusted (each
    guest lookup from its own address); returns (port, process) once it answers. Its log: daphne<index>.log."""
    from bench.cms_bench import wait_for
    from bench.harness import connections_release
    from bench.notifications_bench import free_port, process_start

    connections_release()  # the parent's connections are not the server's
    port = free_port()
    server = process_start([sys.executable, "-m", "daphne", "--proxy-headers", "-b", "127.0.0.1", "-p", str(port),
                            "config.asgi:application"],
                           stdout=subprocess.DEVNULL, stderr=open(Path(folder) / f"daphne{index}.log", "w"))
    wait_for(port, server, timeout=60)
    return port, server


def run_ami_start(folder: str, ami_port: int) -> subprocess.Popen:
    from bench.ami_bench import FAKE_SECRET, FAKE_USER
    from bench.notifications_bench import process_start

    env = {**os.environ, "AMI_HOST": "127.0.0.1", "AMI_PORT": str(ami_port), "AMI_USERNAME": FAKE_USER,
           "AMI_SECRET": FAKE_SECRET, "AMI_PING_SECONDS": "5"}
    return process_start([sys.executable, "manage.py", "run_ami"], env=env,
                         stdout=open(Path(folder) / "run_ami.log", "w"), stderr=subprocess.STDOUT)


# --- the world --------------------------------------------------------------------------------------------------


def intents_create(count: int) -> list[tuple[str, str, int]]:
    """Online payments awaiting Stripe, each for an unpaid bill of a different account of the data set: (intent
    id, account number, amount in fen), the shape bench/webhook_bench.py plans deliveries for."""
    from django.db.models import OuterRef, Subquery
    from django.utils import timezone

    from core.models import Account, Bill, OnlinePayment

    unpaid = Bill.objects.filter(account=OuterRef("pk"), amount_paid=0, total__gt=0).order_by("-period")
    accounts = list(Account.objects.filter(status=Account.Status.ACTIVE)
                    .annotate(owed=Subquery(unpaid.values("total")[:1])).filter(owed__isnull=False)
                    .order_by("pk").values_list("pk", "number", "owed")[:count])
    if len(accounts) < count:
        raise RuntimeError(f"the data set has {len(accounts):,} accounts with an unpaid bill, {count:,} payments asked")
    now = timezone.now()
    rows = [OnlinePayment(provider="stripe", provider_reference=f"pi_bench{number:08d}", account_id=account_id,
                          purpose="arrears", amount=owed, currency="cny", created_at=now)
            for number, (account_id, _account_number, owed) in enumerate(accounts)]
    OnlinePayment.objects.bulk_create(rows, batch_size=2000)
    return [(row.provider_reference, account_number, int(owed * 100))
            for row, (_id, account_number, owed) in zip(rows, accounts)]


def sla_steps_create(count: int, *, window_seconds: float) -> dict:
    """Open tickets whose one active step (the first step of an active process) falls due during the window
    (SLA_DUE_FROM..SLA_DUE_TO of it) and is to be warned SLA_WARN_BEFORE of the window earlier; the window starts
    now."""
    from django.utils import timezone

    from core.models import Branch, StepDefinition, Ticket, TicketStep

    step_definition = (StepDefinition.objects.filter(definition__active=True).select_related("definition")
                       .order_by("definition_id", "order").first())
    branch = Branch.objects.order_by("pk").first()
    start = timezone.now()
    dues = [start + datetime.timedelta(seconds=window_seconds * SLA_DUE_FROM + offset)
            for offset in spread(count, window_seconds * (SLA_DUE_TO - SLA_DUE_FROM), [1])]
    warn_before = datetime.timedelta(seconds=window_seconds * SLA_WARN_BEFORE)
    tickets = Ticket.objects.bulk_create(
        Ticket(number=f"{SLA_NUMBER_PREFIX}{n:012d}", definition_id=step_definition.definition_id,
               business_type=step_definition.definition.business_type, channel="agent", state=Ticket.State.OPEN,
               branch=branch, summary="停电报修", opened_at=start - datetime.timedelta(days=1))
        for n in range(count))
    steps = TicketStep.objects.bulk_create(
        TicketStep(ticket=ticket, step_definition=step_definition, sequence=1, state=TicketStep.State.ACTIVE,
                   post_id=step_definition.post_id, branch=branch, arrived_at=start - datetime.timedelta(days=1),
                   due_at=due, warn_at=due - warn_before)
        for ticket, due in zip(tickets, dues))
    for ticket, step in zip(tickets, steps):
        ticket.current_step = step
    Ticket.objects.bulk_update(tickets, ["current_step"], batch_size=2000)
    return {"tickets": count, "last_due": max(dues)}


def callers(count: int) -> list[str]:
    """Customers' phone numbers to call from (the screen-pop finds the customer by it)."""
    from core.models import Customer

    return list(Customer.objects.exclude(phone="").order_by("pk").values_list("phone", flat=True)[:count])


def fan_out_customers(count: int) -> list[int]:
    from core.models import Customer

    return list(Customer.objects.exclude(phone="").order_by("pk").values_list("pk", flat=True)[:count])


# --- the streams ------------------------------------------------------------------------------------------------


def payments_send(*, deliveries: list[tuple[str, bytes]], offsets: list[float], ports: list[int],
                  start: float, senders: int) -> dict:
    """Post each delivery, signed as Stripe signs it, at start + its offset (at once when late) from `senders`
    threads on keep-alive connections to the daphne processes in turn; one that got no answer is sent again on a
    new connection, up to SEND_ATTEMPTS times (transport_errors counts the failed attempts)."""
    from bench.cms_bench import percentile
    from bench.webhook_bench import WEBHOOK, WEBHOOK_SECRET, signature

    lock = threading.Lock()
    position = iter(range(len(deliveries)))
    latencies: list[float] = []
    lateness: list[float] = []
    statuses: dict[int, int] = {}
    errors = [0]

    def sender() -> None:
        connections = {port: http.client.HTTPConnection("127.0.0.1", port, timeout=60) for port in ports}
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                break
            planned = start + offsets[index]
            time.sleep(max(0.0, planned - time.time()))
            _event_id, body = deliveries[index]
            port = ports[index % len(ports)]
            began = time.time()
            status = None
            for _attempt in range(SEND_ATTEMPTS):  # as Stripe retries a delivery that got no answer
                try:
                    connections[port].request("POST", WEBHOOK, body=body, headers={
                        "Content-Type": "application/json",
                        "Stripe-Signature": signature(body, WEBHOOK_SECRET, int(time.time()))})
                    response = connections[port].getresponse()
                    response.read()
                    status = response.status
                    break
                except (OSError, http.client.HTTPException):
                    connections[port].close()
                    connections[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    with lock:
                        errors[0] += 1
            if status is None:
                continue
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(time.time() - began)
                lateness.append(began - planned)
        for connection in connections.values():
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.time() - start
    return {"deliveries": len(deliveries), "statuses": statuses, "transport_errors": errors[0],
            "seconds": round(seconds, 1), "deliveries_per_second": per_second(len(latencies), seconds),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
            "late_p95_ms": round(percentile(lateness, 0.95) * 1000, 1)}


def payments_stream(*, payments: list[tuple[str, str, int]], seed: int, window: float, ports: list[int],
                    senders: int, start: float) -> dict:
    """The day's webhook deliveries of these payments (bench/webhook_bench.py's plan), at the moments DAY_PROFILE
    gives them over the window."""
    from bench.webhook_bench import deliveries_plan

    deliveries = deliveries_plan(payments, seed=seed)
    return payments_send(deliveries=deliveries, offsets=spread(len(deliveries), window, DAY_PROFILE), ports=ports,
                         start=start, senders=senders)


def portal_pages_load(*, world: dict, ports: list[int], rate: float, seconds: float, start: float) -> list[dict]:
    """The dashboard (signed-in customers in turn) and the guest lookup (a new guest address each time), each paced
    at `rate` requests/s over the daphne processes for the whole window: bench/portal_bench.py's open loop, latency
    counted from each request's scheduled moment."""
    from bench.portal_bench import paced

    pages = portal_requests(world)
    time.sleep(max(0.0, start - time.time()))
    results: list[dict] = []
    lock = threading.Lock()

    def run(name: str) -> None:
        figures = paced(ports=ports, requests=pages[name], rate=rate, seconds=seconds).figures()
        with lock:
            results.append({"page": name, **figures})

    threads = [threading.Thread(target=run, args=(name,)) for name in pages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results, key=lambda figures: figures["page"])


def portal_requests(world: dict) -> dict:
    """The portal pages' request makers (bench/portal_bench.py's)."""
    from bench.portal_bench import DASHBOARD_PATH, GuestLookups, RequestPool, request_bytes

    return {
        "dashboard": RequestPool([request_bytes(method="GET", path=DASHBOARD_PATH, headers={"Cookie": cookie})
                                  for cookie in world["session_cookies"]]),
        "bill_lookup": GuestLookups(csrf_token=world["csrf_token"], accounts=world["accounts"]),
    }


def _child_run(queue, name: str, go, start_at, function, kwargs: dict) -> None:
    """A stream's process: dies on SIGTERM, waits for the start, reports its figures."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    go.wait()
    try:
        queue.put((name, function(start=start_at.value, **kwargs)))
    except Exception as error:  # the parent reports a stream that failed instead of waiting for it
        queue.put((name, {"error": repr(error)}))


async def calls_storm(*, server, calls: list[tuple[str, list[bytes]]], offsets: list[float], start: float,
                      received: dict[str, float], delivered: dict[str, float] | None = None) -> dict:
    """Each call queues at start + its offset, rings its agent RING_SECONDS later and hangs up TALK_SECONDS after
    that; `received` fills with the moment each call's screen-pop reached its agent's websocket, `delivered` with
    the part of its latency after the platform sent it (bench/ami_bench.py's sockets_open)."""
    sent: dict[str, float] = {}

    async def call(key: str, events: list[bytes], at: float) -> None:
        ring = next(index for index, payload in enumerate(events) if payload.startswith(b"Event: AgentCalled"))
        await asyncio.sleep(max(0.0, start + at - time.time()))
        await asyncio.wrap_future(server.emit_soon(events[:ring]))
        await asyncio.sleep(RING_SECONDS)
        sent[key] = await asyncio.wrap_future(server.emit_soon([events[ring]]))
        await asyncio.sleep(TALK_SECONDS)
        await asyncio.wrap_future(server.emit_soon(events[ring + 1:]))

    await asyncio.gather(*(call(key, events, at) for (key, events), at in zip(calls, offsets)))
    deadline = time.perf_counter() + POP_WAIT_SECONDS
    while any(key not in received for key in sent) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    latencies = [(received[key] - sent[key]) * 1000 for key in sent if key in received]
    deliveries = [seconds * 1000 for key, seconds in (delivered or {}).items() if key in sent]
    return {"offered": len(calls), "pops_expected": len(sent), "pops_received": len(latencies),
            "latencies_ms": latencies, "delivery_ms": deliveries, "seconds": round(time.time() - start, 1)}


def fan_out_request(customer_ids: list[int]) -> float:
    """The planned-outage announcement, as the outage service requests it; returns when it was committed."""
    from django.db import connection, transaction

    from bench.notifications_bench import OUTAGE
    from notifications.services import outage_notice_fan_out

    try:
        with transaction.atomic():
            outage_notice_fan_out(customer_ids=customer_ids, data=OUTAGE, idempotency_prefix=FAN_OUT_PREFIX,
                                  urgency="urgent")
        return time.time()
    finally:
        connection.close()


async def _window_here(*, server, port_agents: dict[int, list[dict]], calls, call_offsets, fan_out_ids,
                       window_seconds, begin) -> dict:
    """This process's share of the window: the agents' websockets opened (split over the daphne processes), then
    `begin()` starts the window; the call storm, and the fan-out requested at FAN_OUT_AT of it."""
    from bench.ami_bench import sockets_open

    received: dict[str, float] = {}
    delivered: dict[str, float] = {}
    opened = [await sockets_open(port, agents, received, delivered) for port, agents in port_agents.items()]
    start = begin()

    async def fan_out() -> float:
        await asyncio.sleep(max(0.0, start + window_seconds * FAN_OUT_AT - time.time()))
        return await asyncio.to_thread(fan_out_request, fan_out_ids)

    try:
        storm, committed = await asyncio.gather(
            calls_storm(server=server, calls=calls, offsets=call_offsets, start=start, received=received,
                        delivered=delivered),
            fan_out())
    finally:
        for session, sockets, readers in opened:
            for reader in readers:
                reader.cancel()
            for socket in sockets:
                await socket.close()
            await session.close()
    return {"start": start, "calls": storm, "fan_out_committed": committed}


# --- afterwards -------------------------------------------------------------------------------------------------


def wait_until(condition, *, timeout: float, every: float = 0.5) -> bool:
    from django.db import connection

    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return True
        finally:
            connection.close()
        if time.monotonic() > deadline:
            return False
        time.sleep(every)


def calls_outcome(keys: list[str]) -> dict:
    from django.db.models import Count

    from core.models import Call, CallState

    recorded = Call.objects.filter(call_key__in=keys, state=CallState.ENDED)
    rows = recorded.count()
    distinct = recorded.values("call_key").distinct().count()
    return stream_outcome(offered=len(keys), done=rows, distinct=distinct) | {
        "answered": recorded.filter(outcome="answered").count(),
        "keys_recorded_twice": (Call.objects.filter(call_key__in=keys).values("call_key")
                                .annotate(n=Count("id")).filter(n__gt=1).count())}


def payments_outcome(payments: list[tuple[str, str, int]], distinct_events: int) -> dict:
    from django.db.models import Sum

    from bench.webhook_bench import exactly_once_check
    from core.models import Payment

    posted = Payment.objects.filter(idempotency_key__startswith="stripe:pi_bench")
    rows = posted.count()
    distinct = posted.values("external_reference").distinct().count()
    amount = (posted.aggregate(total=Sum("amount"))["total"] or Decimal("0")).quantize(Decimal("0.01"))
    expected = sum(Decimal(fen) / 100 for _intent, _account, fen in payments)
    return stream_outcome(offered=len(payments), done=rows, distinct=distinct) | {
        "amount_posted": str(amount), "amount_paid_for": str(expected),
        "problems": exactly_once_check(payments, distinct_events)}


def sla_outcome(*, due_by: datetime.datetime) -> dict:
    from django.db.models import Count

    from core.models import TicketEvent, TicketStep

    steps = TicketStep.objects.filter(ticket__number__startswith=SLA_NUMBER_PREFIX)
    result = {}
    for kind, moment in (("overdue", "due_at"), ("warned", "warn_at")):
        due = steps.filter(**{f"{moment}__lte": due_by}).count()
        events = TicketEvent.objects.filter(step__in=steps, kind=kind)
        result[kind] = stream_outcome(offered=due, done=events.count(),
                                      distinct=events.values("step").distinct().count())
        result[kind]["steps_marked_twice"] = (events.values("step").annotate(n=Count("id")).filter(n__gt=1).count())
    return result


def sms_outcome(*, due: int, fake_received: int) -> dict:
    """SMS of the fan-out sent vs due; duplicates: requests the fake Twilio received beyond every SMS of the run
    that the database says was sent (receipts and other notices included)."""
    from django.db.models import Count

    from notifications.models import Message

    sms = Message.objects.filter(channel="sms")
    states = dict(sms.filter(idempotency_key__startswith=f"{FAN_OUT_PREFIX}:").values_list("state")
                  .annotate(n=Count("id")))
    sent_fan_out = sum(states.get(state, 0) for state in SMS_SENT)
    sent_all = sms.filter(state__in=SMS_SENT).count()
    outcome = stream_outcome(offered=due, done=sent_fan_out, distinct=sent_fan_out)
    outcome["duplicates"] = max(0, fake_received - sent_all)
    return outcome | {"states": states, "sms_sent_in_run": sent_all, "fake_twilio_received": fake_received}


def sms_finished(due: int) -> bool:
    from notifications.models import Message

    return Message.objects.filter(channel="sms", idempotency_key__startswith=f"{FAN_OUT_PREFIX}:",
                                  state__in=SMS_FINISHED).count() >= due


# --- main -------------------------------------------------------------------------------------------------------


def day_plan(args: argparse.Namespace, window: float) -> dict:
    """Everything the window will send, made before it starts: the data set, the portal customer, the online
    payments and their deliveries, the calls and the agents to take them, the fan-out's customers."""
    from bench.ami_bench import agents_create, calls_render
    from bench.portal_bench import customers_world, data_build
    from bench.webhook_bench import deliveries_plan

    data = data_build(customers=args.customers, months=args.months)
    print(f"== the day: {args.payments:,} payments, {args.calls:,} calls, {args.sms:,} SMS, "
          f"{args.sla:,} SLA steps over {window:,.0f} s")
    portal_world = customers_world(signed_in=args.signed_in)
    payments = intents_create(args.payments)
    deliveries = deliveries_plan(payments, seed=args.seed)  # as the payments process will make them
    call_offsets = spread(args.calls, window, STORM_PROFILE)
    assignment = agents_assign(call_offsets, RING_SECONDS + TALK_SECONDS + 1.0)
    agents = agents_create(max(assignment, default=0) + 1, prefix="busyday-agent-", first=0)
    return {
        "data": data, "portal_world": portal_world, "portal_pages": portal_requests(portal_world),
        "payments": payments, "deliveries": len(deliveries),
        "distinct_events": len({event_id for event_id, _body in deliveries}),
        "agents": agents, "call_offsets": call_offsets,
        "calls": calls_render(count=args.calls, first_index=0, phones=callers(args.calls),
                              interfaces=[agents[agent]["interface"] for agent in assignment]),
        "fan_out_ids": fan_out_customers(args.sms),
    }


def window_run(*, plan: dict, pbx, ports: list[int], args: argparse.Namespace, window: float) -> dict:
    """The busy window: payments and portal load from processes of their own, the call storm and the fan-out from here;
    returns once every stream has finished sending."""
    # Spawned, not forked: a child must inherit none of this process's connections (PostgreSQL, Redis, the broker)
    # nor the locks of its threads (the fake PBX's); it is given plain data and builds its requests itself.
    context = multiprocessing.get_context("spawn")
    queue, go, start_at = context.Queue(), context.Event(), context.Value("d", 0.0)
    streams = {
        "payments": (payments_stream, {"payments": plan["payments"], "seed": args.seed, "window": window,
                                       "ports": ports, "senders": PAYMENT_SENDERS}),
        "portal": (portal_pages_load, {"world": plan["portal_world"], "ports": ports, "rate": args.portal_rate,
                                       "seconds": window}),
    }
    children = [context.Process(target=_child_run, args=(queue, name, go, start_at, function, kwargs))
                for name, (function, kwargs) in streams.items()]
    for child in children:
        child.start()
    def begin() -> float:
        start_at.value = time.time() + 1.0
        go.set()
        print(f"== busy window: {window:,.0f} s from {datetime.datetime.fromtimestamp(start_at.value):%H:%M:%S}")
        return start_at.value

    try:
        agents = plan["agents"]
        own = asyncio.run(_window_here(
            server=pbx, port_agents={port: agents[index::len(ports)] for index, port in enumerate(ports)},
            calls=plan["calls"], call_offsets=plan["call_offsets"], fan_out_ids=plan["fan_out_ids"],
            window_seconds=window, begin=begin))
        reported = {}
        for _child in children:
            name, figures = queue.get(timeout=window + 600)
            reported[name] = figures
        for child in children:
            child.join()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join()
    return {"end": time.time(), **own, **reported}


def drain(*, keys: list[str], sms_due: int, args: argparse.Namespace) -> datetime.datetime:
    """Wait for the work the window left behind: calls ended, SMS out, SLA steps due by now marked; returns the
    moment SLA marks are counted against."""
    from django.utils import timezone

    from core.models import Call, CallState, TicketStep

    wait_until(lambda: Call.objects.filter(call_key__in=keys, state=CallState.ENDED).count() >= len(keys),
               timeout=120)
    wait_until(lambda: sms_finished(sms_due), timeout=args.drain_timeout)
    due_by = timezone.now()
    wait_until(lambda: not TicketStep.objects.filter(
        ticket__number__startswith=SLA_NUMBER_PREFIX, state=TicketStep.State.ACTIVE, overdue_at__isnull=True,
        due_at__lte=due_by).exists(), timeout=args.sla_tick * 3 + 60)
    return due_by


def progress_line(*, elapsed: float, keys: list[str]) -> str:
    """Where the day stands: payments posted, calls ended, fan-out SMS out, SLA marks made so far."""
    from core.models import Call, CallState, Payment, TicketEvent
    from notifications.models import Message

    posted = Payment.objects.filter(idempotency_key__startswith="stripe:pi_bench").count()
    ended = Call.objects.filter(call_key__in=keys, state=CallState.ENDED).count()
    sms = Message.objects.filter(channel="sms", idempotency_key__startswith=f"{FAN_OUT_PREFIX}:",
                                 state__in=SMS_SENT).count()
    marks = TicketEvent.objects.filter(step__ticket__number__startswith=SLA_NUMBER_PREFIX,
                                       kind__in=("overdue", "warned")).count()
    return (f"   {elapsed:7,.0f} s: payments posted {posted:,}, calls ended {ended:,}, SMS sent {sms:,}, "
            f"SLA marks {marks:,}")


class ProgressPrinter:
    """A progress line every `every` seconds from a thread of its own (its own database connection), until stopped."""

    def __init__(self, *, keys: list[str], every: float = 60.0) -> None:
        self._keys, self._every = keys, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="busy-day-progress", daemon=True)

    def _run(self) -> None:
        from django.db import connection

        started = time.monotonic()
        try:
            while not self._stop.wait(self._every):
                print(progress_line(elapsed=time.monotonic() - started, keys=self._keys), flush=True)
        finally:
            connection.close()

    def __enter__(self) -> ProgressPrinter:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class Phases:
    """Seconds spent in each phase of the run, in order."""

    def __init__(self, clock=time.monotonic) -> None:
        self.seconds: dict[str, float] = {}
        self._clock = clock
        self._at = clock()

    def mark(self, name: str) -> None:
        now = self._clock()
        self.seconds[name] = round(now - self._at, 1)
        self._at = now


def run(args: argparse.Namespace, folder: str) -> dict:
    from bench.ami_bench import FAKE_SECRET, FAKE_USER
    from bench.cms_bench import percentile
    from bench.harness import bench_services, connections_release, server_release
    from bench.notifications_bench import (
        FAKE_ACCOUNT_SID,
        FAKE_AUTH_TOKEN,
        FAKE_FROM_NUMBER,
        fake_twilio_start,
        fake_twilio_stop,
        process_stop,
        workers_start,
    )
    from bench.pg import server_for_bench
    from bench.portal_bench import lookups_answered, pages_check
    from bench.webhook_bench import WEBHOOK_SECRET
    from tests.callcenter.fake_ami import FakeAmiServer

    window = args.minutes * 60
    phases = Phases()
    server = server_for_bench()
    os.environ["DATABASE_URL"] = server.admin_url
    fake_twilio = None
    result: dict = {"server": server.description, "server_settings": server.settings(),
                    "window_seconds": round(window, 1)}
    try:
        twilio_url, fake_twilio = fake_twilio_start()
        os.environ.update({
            "TWILIO_ACCOUNT_SID": FAKE_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": FAKE_AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": FAKE_FROM_NUMBER, "TWILIO_API_BASE": twilio_url, "NOTIFICATIONS_PUBLIC_BASE_URL": "",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_SECRET_KEY": "sk_test_bench",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_bench",
        })
        with bench_services(folder, eager_tasks=False) as services:
            if not services.redis_url:
                raise RuntimeError("the busy day needs Redis: set REDIS_URL or install redis-server")
            from django.conf import settings
            from django.db import connection
            from django.utils import timezone

            phases.mark("services_and_migrate")
            plan = day_plan(args, window)
            phases.mark("data_set_and_plan")
            queues = list(settings.CELERY_QUEUES_ALL)
            connections_release()
            servers = dict(asgi_start(folder, index) for index in range(2))
            services.processes.extend(servers.values())
            ports = list(servers)
            pages_check(ports=ports, pages=plan["portal_pages"])
            # Stopped before counting (nothing may change under the count); bench_services stops them on failure.
            background = workers_start(args.workers, folder)  # each on every queue
            services.processes.extend(background)
            background.append(beat_start(folder, args.sla_tick))
            services.processes.append(background[-1])
            print(f"   2 daphne processes (ports {ports}), {args.workers} Celery worker(s) on {','.join(queues)}, "
                  f"beat (SLA tick {args.sla_tick:g} s), run_ami, Redis {services.redis_url}")
            with FakeAmiServer(username=FAKE_USER, secret=FAKE_SECRET) as pbx:
                background.append(run_ami_start(folder, pbx.port))
                services.processes.append(background[-1])
                if not pbx.wait_for_login(timeout=60):
                    raise RuntimeError("run_ami did not log in to the fake PBX")
                sla = sla_steps_create(args.sla, window_seconds=window)
                phases.mark("processes")
                since = timezone.now()
                keys = [key for key, _events in plan["calls"]]
                with ProgressPrinter(keys=keys, every=10.0 if args.smoke else 60.0):
                    sent = window_run(plan=plan, pbx=pbx, ports=ports, args=args, window=window)
                    phases.mark("window")
                    print(f"== window over after {sent['end'] - sent['start']:,.1f} s; waiting for the work to finish")
                    sla_due_by = drain(keys=keys, sms_due=len(plan["fan_out_ids"]), args=args)
                drained = time.time()
                phases.mark("drain")
                for process in reversed(background):
                    process_stop(process)
            fake_received = fake_twilio_stop(fake_twilio).get("received", 0)
            fake_twilio = None
            streams = {
                "payments": payments_outcome(plan["payments"], plan["distinct_events"]),
                "calls": calls_outcome(keys),
                "sms": sms_outcome(due=len(plan["fan_out_ids"]), fake_received=fake_received),
                **{f"sla_{kind}": figures for kind, figures in sla_outcome(due_by=sla_due_by).items()},
            }
            storm = sent["calls"]
            latencies = storm.pop("latencies_ms")
            deliveries = storm.pop("delivery_ms")
            result.update({
                "database": connection.vendor, "daphne_processes": 2, "celery_workers": args.workers,
                "queues": queues, "sla_tick_seconds": args.sla_tick, "sla_tickets": sla["tickets"],
                "agents": len(plan["agents"]),
                "data_set": {"customers": args.customers, "months": args.months,
                             **plan["data"]},
                "sizes": {"payments": args.payments, "webhook_deliveries": plan["deliveries"],
                          "calls": args.calls, "sms": args.sms, "sla_steps": args.sla},
                "peak_per_second": {"webhook_deliveries": peak_rate(spread(plan["deliveries"], window, DAY_PROFILE)),
                                    "calls": peak_rate(plan["call_offsets"])},
                "drain_seconds": round(drained - sent["end"], 1),
                "portal": sent.get("portal"), "portal_rate": args.portal_rate,
                "lookups": lookups_answered(since=since), "payments_sent": sent.get("payments"),
                "screen_pop": storm | {"p50_ms": round(percentile(latencies, 0.5), 1),
                                       "p95_ms": round(percentile(latencies, 0.95), 1),
                                       "max_ms": round(max(latencies, default=0.0), 1),
                                       "after_send_p50_ms": round(percentile(deliveries, 0.5), 1),
                                       "after_send_p95_ms": round(percentile(deliveries, 0.95), 1)},
                "sms_fan_out": {"customers": len(plan["fan_out_ids"]), **_sms_seconds(sent["fan_out_committed"])},
                "streams": streams, **totals(streams),
                "load_average_1min": round(os.getloadavg()[0], 2), "phases_seconds": phases.seconds,
            })
    finally:
        if fake_twilio is not None:
            fake_twilio_stop(fake_twilio)
        server_release(server)
    return result


def _sms_seconds(committed: float) -> dict:
    """From the fan-out's commit to its last SMS sent: seconds and SMS per second."""
    from django.db.models import Max

    from notifications.models import Message

    sent = Message.objects.filter(channel="sms", idempotency_key__startswith=f"{FAN_OUT_PREFIX}:",
                                  state__in=SMS_SENT)
    last = sent.aggregate(last=Max("sent_at"))["last"]
    seconds = last.timestamp() - committed if last else 0.0
    return {"seconds": round(seconds, 1), "sms_per_second": per_second(sent.count(), seconds)}


def report_lines(result: dict) -> list[str]:
    """The figures as the lines printed at the end."""
    lines = [f"busy day on {result['database']} ({result['data_set']['customers']:,} customers), "
             f"{result['window_seconds']:,.0f} s window, 2 daphne processes, {result['celery_workers']} Celery "
             f"worker(s), beat, run_ami; load average {result['load_average_1min']}"]
    portal = result.get("portal") or []
    if isinstance(portal, dict):
        lines.append(f"portal: FAILED {portal.get('error')}")
        portal = []
    for figures in portal:
        lines.append(f"portal {figures['page']:11} paced {figures['paced_rate']:g} req/s on {figures['concurrency']} "
                     f"connections: {figures['requests']:,} answered, p50 {figures['p50_ms']:.1f} ms, "
                     f"p95 {figures['p95_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, errors {figures['errors']}")
    lookups = result.get("lookups") or {}
    if lookups:
        lines.append(f"portal guest lookups answered with the bill: {lookups['verified']:,}, "
                     f"refused: {lookups['refused']:,}")
    pop = result["screen_pop"]
    never = pop["pops_expected"] - pop["pops_received"]
    lines.append(f"screen-pop: {pop['pops_received']}/{pop['pops_expected']} pops, p50 {pop['p50_ms']:.1f} ms, "
                 f"p95 {pop['p95_ms']:.1f} ms, max {pop['max_ms']:.1f} ms ({result['agents']} agents; from the "
                 f"platform's send to the socket p50 {pop.get('after_send_p50_ms', 0.0):.1f} ms, "
                 f"p95 {pop.get('after_send_p95_ms', 0.0):.1f} ms)"
                 + (f"; {never} never arrived within {POP_WAIT_SECONDS:g} s of the last ring" if never else ""))
    sent = result.get("payments_sent") or {}
    if "error" in sent:
        lines.append(f"payments: sender FAILED {sent['error']}")
    elif sent:
        lines.append(f"payments: {sent['deliveries']:,} webhook deliveries in {sent['seconds']:,.1f} s "
                     f"({sent['deliveries_per_second']:,.1f}/s), HTTP {dict(sorted(sent['statuses'].items()))}, "
                     f"p95 {sent['p95_ms']:.1f} ms, sent late by p95 {sent['late_p95_ms']:.1f} ms")
    sms = result["sms_fan_out"]
    lines.append(f"SMS fan-out: {sms['customers']:,} customers, last sent {sms['seconds']:,.1f} s after the request "
                 f"({sms['sms_per_second']:,.1f} SMS/s)")
    peaks = result.get("peak_per_second") or {}
    if peaks:
        lines.append(f"offered at peak: {peaks['webhook_deliveries']:,} webhook deliveries and {peaks['calls']:,} "
                     f"calls in one second")
    for name, stream in result["streams"].items():
        lines.append(f"{name:12} offered {stream['offered']:>8,}  done {stream['done']:>8,}  lost {stream['lost']:>5,}"
                     f"  duplicates {stream['duplicates']:>5,}  "
                     f"{per_second(stream['done'], result['window_seconds']):>7,.1f}/s over the window")
    verdict = "none" if not result["work_lost"] and not result["duplicates"] else "SOME"
    if result.get("phases_seconds"):
        lines.append("phases: " + ", ".join(f"{name.replace('_', ' ')} {seconds:,.1f} s"
                                            for name, seconds in result["phases_seconds"].items()))
    lines.append(f"work lost: {result['work_lost']:,}, duplicates: {result['duplicates']:,} -> {verdict} "
                 f"(must be 0 and 0); drained {result['drain_seconds']:,.1f} s after the window")
    return lines


def logs_print(folder: str, lines: int = 15) -> None:
    """The end of each process's log, before the folder goes (a failed run says why)."""
    for log in sorted(Path(folder).glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        if tail:
            print(f"--- {log.name}", *tail, sep="\n", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="small sizes, a 40 s window (about 2 minutes in all)")
    for name, default in FULL.items():
        kind = float if isinstance(default, float) else int
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None,
                            help=f"default {default:,} ({SMOKE[name]:,.4g} with --smoke)")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (solo pool)")
    parser.add_argument("--sla-tick", type=float, default=None, help="seconds between SLA ticks (60 / 5 smoke)")
    parser.add_argument("--drain-timeout", type=float, default=600.0, help="seconds to wait for SMS afterwards")
    parser.add_argument("--seed", type=int, default=95598)
    parser.add_argument("--results-dir", default=str(ROOT / "bench-results"))
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    for name, default in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.sla_tick is None:
        args.sla_tick = 5.0 if args.smoke else 60.0
    if min(args.customers, args.payments, args.calls, args.sms, args.sla, args.workers) < 1 or args.minutes <= 0:
        parser.error("sizes, workers and minutes must be positive")

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="busy-day-bench-") as folder:
        try:
            result = run(args, folder)
        except BaseException:
            logs_print(folder)
            raise
    result["elapsed_seconds"] = round(time.monotonic() - started, 1)
    print()
    for line in report_lines(result):
        print(line)
    from bench.harness import results_write

    results_write(args.results_dir, "busy_day", smoke=args.smoke, figures=result)
    return 0 if not result["work_lost"] and not result["duplicates"] else 1


if __name__ == "__main__":
    sys.exit(main())
