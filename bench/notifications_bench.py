#!/usr/bin/env python
"""Notifications benchmark: queue a planned-outage fan-out, then deliver SMS to a fake Twilio server with Celery.

    python bench/notifications_bench.py                       50,000 customers, 2,000 deliveries, 2 workers
    python bench/notifications_bench.py --customers 2000 --deliver 200

Services: Redis (REDIS_URL, or a redis-server started on a free 127.0.0.1 port), the fake Twilio server
(tests/notifications/fake_twilio.py, in its own process) and N real Celery worker processes (solo pool, one
task at a time each). Database: a scratch database on the server of DATABASE_URL when it is PostgreSQL
(created and dropped), else a temporary SQLite file; the workers use the same one.

"Queue" is the caller's fan-out request plus every batch task creating its Message rows and publishing send
tasks (100 message ids each) to Redis while no worker consumes; those tasks are purged afterwards, so the
queued rows stay pending and unsent (no beat runs). "Deliver" is a second outage fan-out over --deliver
customers made through outage_notice_fan_out: plan, batch and send tasks all go through Redis to the workers,
which send through the official Twilio client. Its rate is compared with the fake's direct rate (the same
client from 2 threads, no Celery, no database): a pipeline reaching half of it or more is not the bottleneck.
Figures are printed and compared with the targets, never asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_QUEUE_SECONDS = 30.0
# The delivery pipeline is "not the bottleneck" when it reaches this share of what the fake answers directly.
BOTTLENECK_SHARE = 0.5
FAKE_ACCOUNT_SID = "AC" + "0" * 31 + "1"
FAKE_AUTH_TOKEN = "bench-token"
FAKE_FROM_NUMBER = "+8610955980000"
OUTAGE = {"area": "舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00", "reason": "线路检修"}
QUEUE_PREFIX = "bench:outage"
DELIVER_PREFIX = "bench:deliver"


# --- pure helpers ---------------------------------------------------------------------------------------------


def per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def delivery_verdict(*, pipeline_per_second: float, fake_per_second: float) -> tuple[float, str]:
    """(share of the fake's direct rate the Celery pipeline reached, verdict line)."""
    share = round(pipeline_per_second / fake_per_second, 2) if fake_per_second > 0 else 0.0
    if share >= BOTTLENECK_SHARE:
        return share, "delivery not the bottleneck"
    return share, "delivery IS the bottleneck"


def worker_command(*, python: str, index: int, logfile: str, queues: tuple[str, ...] | None = None) -> list[str]:
    """One Celery worker running one task at a time, on every queue unless told which (CELERY_QUEUES_ALL);
    gossip/mingle/heartbeat off since nothing else joins."""
    from django.conf import settings

    return [
        python, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-c", "1", "-n", f"bench{index}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO", "--logfile", logfile,
        "--queues", ",".join(queues or settings.CELERY_QUEUES_ALL),
    ]


def redis_command(*, port: int, folder: str) -> list[str]:
    return ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
            "--dir", folder, "--logfile", f"{folder}/redis.log"]


def scratch_database_name(pid: int) -> str:
    return f"bench_notifications_{pid}"


# --- processes ------------------------------------------------------------------------------------------------


def process_start(command: list[str], **kwargs) -> subprocess.Popen:
    # Its own process group, so stopping it also stops whatever it forked (prefork children, redis threads).
    return subprocess.Popen(command, cwd=ROOT, start_new_session=True, **kwargs)


def process_stop(process: subprocess.Popen, *, grace: float = 15.0) -> None:
    """SIGTERM the process group (Celery's warm shutdown), SIGKILL it if still alive after `grace`."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=5)


def free_port() -> int:
    from bench.pg import free_port as pg_free_port

    return pg_free_port()


def redis_start(folder: str) -> tuple[str, subprocess.Popen]:
    import redis

    port = free_port()
    process = process_start(redis_command(port=port, folder=folder), stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
            return url, process
        except redis.exceptions.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process_stop(process)
                raise RuntimeError(f"redis-server did not start on port {port}") from None
            time.sleep(0.05)


def fake_twilio_serve() -> int:
    """--serve-fake: run the fake until stdin closes, then print what it received (one JSON line)."""
    from tests.notifications.fake_twilio import FakeTwilioServer

    with FakeTwilioServer(account_sid=FAKE_ACCOUNT_SID, auth_token=FAKE_AUTH_TOKEN) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()
        stats = {"received": len(server.fake.received), "rejected": server.fake.rejected[:5],
                 "rejected_count": len(server.fake.rejected)}
    print(json.dumps(stats), flush=True)
    return 0


def fake_twilio_start() -> tuple[str, subprocess.Popen]:
    process = process_start([sys.executable, str(Path(__file__).resolve()), "--serve-fake"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    base_url = process.stdout.readline().strip()
    if not base_url.startswith("http://"):
        process_stop(process)
        raise RuntimeError("the fake Twilio server did not start")
    return base_url, process


def fake_twilio_stop(process: subprocess.Popen) -> dict:
    """Close its stdin so it reports and exits; a fake that does not is killed and reports nothing."""
    try:
        output, _ = process.communicate(timeout=10)
        return json.loads(output.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        process_stop(process)
        return {}


def workers_start(count: int, folder: str) -> list[subprocess.Popen]:
    workers, logs = [], []
    for index in range(1, count + 1):
        log = f"{folder}/worker{index}.log"
        workers.append(process_start(worker_command(python=sys.executable, index=index, logfile=log),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        logs.append(Path(log))
    deadline = time.monotonic() + 90
    waiting = list(zip(workers, logs))
    while waiting:
        for worker, log in list(waiting):
            if log.exists() and " ready." in log.read_text(errors="replace"):
                waiting.remove((worker, log))
            elif worker.poll() is not None or time.monotonic() > deadline:
                for started in workers:
                    process_stop(started)
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"Celery worker did not become ready ({log}):\n{tail}")
        time.sleep(0.1)
    return workers


# --- database -------------------------------------------------------------------------------------------------


def database_prepare(folder: str):
    """Point DATABASE_URL at a scratch database; returns the PostgreSQL server to drop it from, or None."""
    from bench.pg import server_from_env

    server = server_from_env(os.environ.get("DATABASE_URL"))
    if server is None:
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        return None
    os.environ["DATABASE_URL"] = server.database_create(scratch_database_name(os.getpid()))
    return server


def django_start() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


# --- phases ---------------------------------------------------------------------------------------------------


def customers_seed(count: int) -> list[int]:
    from core.models import Customer

    Customer.objects.bulk_create(
        (Customer(name=f"客户{n}", phone=f"139{n:08d}") for n in range(count)), batch_size=5000
    )
    return list(Customer.objects.order_by("id").values_list("id", flat=True))


def queue_fan_out(customer_ids: list[int]) -> dict:
    """Time the caller's request and the batch tasks, publishing to Redis with no worker consuming; purge after."""
    from celery import current_app
    from django.db import transaction

    from notifications.services import (
        FAN_OUT_SEND_CHUNK,
        fan_out_batch_create,
        fan_out_batches,
        outage_notice_fan_out,
    )
    from notifications.tasks import message_send_many_task

    published = 0

    def publish(message_ids: list[int]) -> None:
        nonlocal published
        for start in range(0, len(message_ids), FAN_OUT_SEND_CHUNK):
            message_send_many_task.apply_async(kwargs={"message_ids": message_ids[start:start + FAN_OUT_SEND_CHUNK]})
        published += len(message_ids)

    started = time.perf_counter()
    with transaction.atomic():
        outage_notice_fan_out(customer_ids=customer_ids, data=OUTAGE, idempotency_prefix=QUEUE_PREFIX,
                              urgency="urgent")
    caller = time.perf_counter() - started
    # The plan task the request published is run here, batch by batch, to time it without a worker's latency.
    for batch in fan_out_batches(customer_ids=customer_ids):
        fan_out_batch_create(customer_ids=batch, event="outage_planned", data=OUTAGE,
                             idempotency_prefix=QUEUE_PREFIX, urgency="urgent", queue=publish)
    total = time.perf_counter() - started
    purged = current_app.control.purge()
    return {"caller_seconds": round(caller, 3), "queue_seconds": round(total, 2), "messages_queued": published,
            "broker_tasks_purged": purged}


def fake_direct_rate(count: int, threads: int) -> dict:
    """What the fake answers to the same Twilio client with no Celery and no database in the way."""
    from notifications import transports

    def send(n: int) -> str:
        return transports.sms_send(to=f"138{n:08d}", body="【国网95598】基准测试", status_callback="").sid

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        sids = list(pool.map(send, range(count)))
    elapsed = time.perf_counter() - started
    return {"fake_direct_requests": len(sids), "fake_direct_per_second": per_second(len(sids), elapsed)}


def sms_states(prefix: str) -> dict[str, int]:
    from django.db.models import Count

    from notifications.models import Message

    rows = (Message.objects.filter(channel="sms", idempotency_key__startswith=f"{prefix}:")
            .values_list("state").annotate(n=Count("id")))
    return dict(rows)


def deliver(customer_ids: list[int], timeout: float) -> dict:
    """One outage fan-out over these customers through Redis and the workers; waits until every SMS left."""
    from django.db import transaction
    from django.db.models import Max, Min
    from django.utils import timezone

    from notifications.models import Message
    from notifications.services import outage_notice_fan_out

    finished_states = ("sent", "delivered", "failed", "dead")
    committed = timezone.now()
    with transaction.atomic():
        outage_notice_fan_out(customer_ids=customer_ids, data=OUTAGE, idempotency_prefix=DELIVER_PREFIX,
                              urgency="urgent")
    deadline = time.monotonic() + timeout
    while True:
        states = sms_states(DELIVER_PREFIX)
        finished = sum(states.get(state, 0) for state in finished_states)
        if finished >= len(customer_ids) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    timed_out = finished < len(customer_ids)
    window = Message.objects.filter(channel="sms", idempotency_key__startswith=f"{DELIVER_PREFIX}:",
                                    sent_at__isnull=False).aggregate(first=Min("sent_at"), last=Max("sent_at"))
    sent = states.get("sent", 0) + states.get("delivered", 0)
    end_to_end = (window["last"] - committed).total_seconds() if window["last"] else 0.0
    send_window = (window["last"] - window["first"]).total_seconds() if window["last"] else 0.0
    return {
        "sent": sent,
        "sms_states": states,
        "deliver_timed_out": timed_out,
        "deliver_seconds": round(end_to_end, 2),
        "messages_per_second": per_second(sent, end_to_end),
        "send_window_seconds": round(send_window, 2),
        "send_window_per_second": per_second(max(sent - 1, 0), send_window),
    }


# --- main -----------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, folder: str) -> dict:
    """Start the services, run both phases, stop everything it started (also on error)."""
    started: list[subprocess.Popen] = []
    fake = None
    pg_server = None
    fake_stats: dict = {}
    try:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            redis_url, redis_process = redis_start(folder)
            started.append(redis_process)
        base_url, fake = fake_twilio_start()
        os.environ.update({
            "REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url, "CELERY_TASK_ALWAYS_EAGER": "0",
            "DEBUG": "0", "VAR_DIR": folder, "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            "TWILIO_ACCOUNT_SID": FAKE_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": FAKE_AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": FAKE_FROM_NUMBER, "TWILIO_API_BASE": base_url,
            "NOTIFICATIONS_PUBLIC_BASE_URL": "",
        })
        pg_server = database_prepare(folder)
        django_start()
        from django.db import connection

        ids = customers_seed(args.customers)
        result = {"customers": len(ids), "database": connection.vendor,
                  "broker": f"redis {urlsplit(redis_url).hostname}:{urlsplit(redis_url).port}",
                  **queue_fan_out(ids)}
        deliver_ids = ids[:args.deliver]
        result.update(fake_direct_rate(min(max(len(deliver_ids), 200), 1000), args.workers))
        connection.close()
        workers = workers_start(args.workers, folder)
        started.extend(workers)
        result.update({"workers": args.workers, **deliver(deliver_ids, args.deliver_timeout)})
        connection.close()
    finally:
        for process in reversed(started):
            process_stop(process)
        if fake is not None:
            fake_stats = fake_twilio_stop(fake)
        if pg_server is not None:
            from bench.harness import connections_release

            connections_release()
            pg_server.stop()
    received = fake_stats.get("received", 0)
    result["delivered_to_fake_twilio"] = received - result["fake_direct_requests"]
    result["fake_rejected"] = fake_stats.get("rejected_count", 0)
    share, verdict = delivery_verdict(pipeline_per_second=result["send_window_per_second"],
                                      fake_per_second=result["fake_direct_per_second"])
    result["delivery_share_of_fake"] = share
    result["delivery_verdict"] = verdict
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--deliver", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--deliver-timeout", type=float, default=300.0, help="seconds to wait for delivery")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fake:
        return fake_twilio_serve()

    with tempfile.TemporaryDirectory(prefix="notifications-bench-") as folder:
        result = run(args, folder)

    verdict = "PASS" if result["queue_seconds"] < TARGET_QUEUE_SECONDS else "BELOW TARGET"
    print(f"notifications fan-out: {result['customers']:,} customers, "
          f"{result['messages_queued']:,} messages queued in {result['queue_seconds']} s "
          f"(caller blocked {result['caller_seconds']} s) -> {verdict} (target < {TARGET_QUEUE_SECONDS:.0f} s)")
    print(f"notifications delivery: {result['delivered_to_fake_twilio']:,} SMS to fake Twilio in "
          f"{result['deliver_seconds']} s with {args.workers} workers = {result['messages_per_second']} msg/s")
    timed_out = " (TIMED OUT)" if result["deliver_timed_out"] else ""
    print(f"notifications delivery: {args.workers} Celery workers on Redis, {result['database']}: "
          f"{result['send_window_per_second']} msg/s while sending vs the fake's direct "
          f"{result['fake_direct_per_second']} req/s ({result['delivery_share_of_fake']:.0%}) -> "
          f"{result['delivery_verdict']}{timed_out}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
