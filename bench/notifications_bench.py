#!/usr/bin/env python
"""Notifications benchmark: queue a planned-outage fan-out, then deliver SMS to a fake Twilio server.

    python bench/notifications_bench.py                       50,000 customers, 2,000 deliveries, 2 workers
    python bench/notifications_bench.py --customers 2000 --deliver 200

Runs on a throwaway test database (Django's test_<name> of DATABASE_URL, or a temporary SQLite file when
DATABASE_URL is unset). "Queue" is the caller's fan-out request plus every batch task creating its Message
rows and publishing send tasks (100 message ids each) to an in-memory broker. "Deliver" sends pending SMS through the
official Twilio client to tests/notifications/fake_twilio.py with N threads standing in for Celery workers.
Figures are printed and compared with the targets (queue under 30 s), never asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_QUEUE_SECONDS = 30.0
OUTAGE = {"area": "舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00", "reason": "线路检修"}


def django_start(scratch: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ.setdefault("VAR_DIR", str(scratch))
    import django
    from django.db import connection

    django.setup()
    if connection.vendor == "sqlite":
        # A file, not Django's in-memory test database: the delivery threads need their own connections.
        connection.settings_dict["TEST"]["NAME"] = str(scratch / "bench.sqlite3")


def customers_seed(count: int) -> list[int]:
    from core.models import Customer

    Customer.objects.bulk_create(
        (Customer(name=f"客户{n}", phone=f"139{n:08d}") for n in range(count)), batch_size=5000
    )
    return list(Customer.objects.order_by("id").values_list("id", flat=True))


def queue_fan_out(customer_ids: list[int]) -> dict:
    """Time the caller's request and the batch tasks; send tasks go to an in-memory broker, not executed."""
    from celery import current_app
    from django.db import transaction

    from notifications.services import (
        FAN_OUT_SEND_CHUNK,
        fan_out_batch_create,
        fan_out_batches,
        outage_notice_fan_out,
    )
    from notifications.tasks import message_send_many_task

    current_app.conf.task_always_eager = False
    current_app.conf.broker_url = "memory://"
    published = 0

    def publish(message_ids: list[int]) -> None:
        nonlocal published
        for start in range(0, len(message_ids), FAN_OUT_SEND_CHUNK):
            message_send_many_task.apply_async(kwargs={"message_ids": message_ids[start:start + FAN_OUT_SEND_CHUNK]})
        published += len(message_ids)

    started = time.perf_counter()
    with transaction.atomic():
        outage_notice_fan_out(customer_ids=customer_ids, data=OUTAGE, idempotency_prefix="bench:outage",
                              urgency="urgent")
    caller = time.perf_counter() - started
    for batch in fan_out_batches(customer_ids=customer_ids):
        fan_out_batch_create(customer_ids=batch, event="outage_planned", data=OUTAGE,
                             idempotency_prefix="bench:outage", urgency="urgent", queue=publish)
    total = time.perf_counter() - started
    return {"caller_seconds": round(caller, 3), "queue_seconds": round(total, 2), "messages_queued": published}


def deliver(count: int, workers: int) -> dict:
    from django.conf import settings
    from django.db import connection

    from notifications.models import Message
    from notifications.services import message_send
    from tests.notifications.fake_twilio import FakeTwilioServer

    pending_sms = Message.objects.filter(channel="sms", state="pending").order_by("id")
    ids = list(pending_sms.values_list("id", flat=True)[:count])

    def send(message_id: int) -> str:
        try:
            return message_send(message_id=message_id).state
        finally:
            connection.close()

    with FakeTwilioServer() as server:
        settings.TWILIO_ACCOUNT_SID = server.fake.account_sid
        settings.TWILIO_AUTH_TOKEN = server.fake.auth_token
        settings.TWILIO_FROM_NUMBER = "+8610955980000"
        settings.TWILIO_API_BASE = server.base_url
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            states = list(pool.map(send, ids))
        elapsed = time.perf_counter() - started
        received = len(server.fake.received)
    return {
        "delivered_to_fake_twilio": received,
        "sent": states.count("sent"),
        "deliver_seconds": round(elapsed, 2),
        "messages_per_second": round(received / elapsed, 1) if elapsed else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--deliver", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="notifications-bench-") as scratch:
        django_start(Path(scratch))
        from django.db import connection
        from django.test.utils import setup_test_environment

        setup_test_environment()
        old_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
        try:
            ids = customers_seed(args.customers)
            result = {"customers": len(ids), **queue_fan_out(ids), **deliver(args.deliver, args.workers)}
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)

    verdict = "PASS" if result["queue_seconds"] < TARGET_QUEUE_SECONDS else "BELOW TARGET"
    print(f"notifications fan-out: {result['customers']:,} customers, "
          f"{result['messages_queued']:,} messages queued in {result['queue_seconds']} s "
          f"(caller blocked {result['caller_seconds']} s) -> {verdict} (target < {TARGET_QUEUE_SECONDS:.0f} s)")
    print(f"notifications delivery: {result['delivered_to_fake_twilio']:,} SMS to fake Twilio in "
          f"{result['deliver_seconds']} s with {args.workers} workers = {result['messages_per_second']} msg/s")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
