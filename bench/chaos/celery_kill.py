"""Kill a Celery worker mid-task: an outage SMS fan-out to every customer (through the fake Twilio), bank payments
posted by a worker task, and SLA ticks over tickets whose step is overdue, all queued at once on Redis; while the
worker runs them it is SIGKILLed (with its pool children: no warm shutdown, nothing acknowledged) and another one is
started. Afterwards every SMS reached the provider once, every payment was posted once with its ledger entry, and
every overdue step was marked once.

What brings the killed tasks back: tasks are acknowledged late and the broker hands a task nobody acknowledged to
another worker after the visibility timeout; an SMS the killed worker had claimed waits for its sending lease and
goes out again through dispatch_due (beat)."""
from __future__ import annotations

import time

from bench.chaos.report import ScenarioReport, WorkTally
from bench.chaos.stack import Stack, say, wait_until

NAME = "celery_kill"
SIZES = {"full": {"customers": 600, "payments": 1500, "tickets": 300, "kills": 3, "settle": 150.0},
         "smoke": {"customers": 150, "payments": 300, "tickets": 60, "kills": 1, "settle": 90.0}}


def _progress(*, payment_keys: list[str], sms_expected: int, sms_received: int) -> float:
    """Share of the work done so far: payments posted and SMS received, averaged."""
    from core.models import Payment

    posted = Payment.objects.filter(idempotency_key__in=payment_keys).count()
    return (posted / len(payment_keys) + min(1.0, sms_received / sms_expected)) / 2


def run(stack: Stack, *, smoke: bool) -> ScenarioReport:
    from django.db import transaction
    from django.utils import timezone

    from bench.chaos.tasks import chaos_payment_post
    from bench.chaos.world import OUTAGE, accounts_create, overdue_tickets_open, phone_e164
    from bench.harness import connections_release
    from core.models import LedgerEntry, Payment, TicketEvent
    from core.tasks import sla_tick
    from notifications.services import outage_notice_fan_out

    size = SIZES["smoke" if smoke else "full"]
    accounts = accounts_create(size["customers"])
    step_ids = overdue_tickets_open(size["tickets"], label="chaos-kill")
    phones = [phone_e164(account.customer.phone) for account in accounts]
    received_before = len(stack.twilio.fake.received)
    lookups_before = stack.twilio.fake.lookups
    connections_release()

    say("world ready; starting beat and a worker")
    beat = stack.beat_start()
    worker = stack.worker_start("kill-worker-0")
    started = time.monotonic()
    with transaction.atomic():
        outage_notice_fan_out(customer_ids=[a.customer_id for a in accounts], data=OUTAGE,
                              idempotency_prefix="chaos:kill:outage", urgency="urgent")
    now = timezone.now().isoformat()
    payment_keys = [f"chaos-kill-{index}" for index in range(size["payments"])]
    for index, key in enumerate(payment_keys):
        account = accounts[index % len(accounts)]
        chaos_payment_post.delay(account_id=account.pk, amount="12.34", idempotency_key=key, received_at=now)
    for _ in range(3):  # overlapping scans, as a slow beat tick and a manual run would be
        sla_tick.delay()

    kills = 0
    for round_ in range(size["kills"]):
        share = (round_ + 1) / (size["kills"] + 1)
        wait_until(lambda: _progress(payment_keys=payment_keys, sms_expected=len(phones),
                                     sms_received=len(stack.twilio.fake.received) - received_before) >= share,
                   timeout=60, interval=0.02)
        stack.process_kill(worker)
        kills += 1
        say(f"worker killed at {share:.0%} of the work")
        worker = stack.worker_start(f"kill-worker-{round_ + 1}")

    def settled() -> bool:
        from django.db.models import Q

        from core.models import TicketStep

        return (Payment.objects.filter(idempotency_key__in=payment_keys).count() == len(payment_keys)
                and len({r["To"] for r in stack.twilio.fake.received[received_before:]} & set(phones)) == len(phones)
                and not TicketStep.objects.filter(Q(id__in=step_ids), overdue_at__isnull=True).exists())

    wait_until(settled, timeout=size["settle"], interval=0.5)
    say("settled (or timed out); watching for late duplicates")
    # Let redelivered tasks and expired leases play out: a duplicate would show up within a lease and a visibility
    # timeout after the work looked complete.
    time.sleep(12)
    elapsed = time.monotonic() - started
    stack.process_stop(worker)
    stack.process_stop(beat)

    payments = Payment.objects.filter(idempotency_key__in=payment_keys)
    payment_ids = list(payments.values_list("pk", flat=True))
    ledger_rows = list(LedgerEntry.objects.filter(payment_id__in=payment_ids, kind=LedgerEntry.Kind.PAYMENT)
                       .values_list("payment_id", flat=True))
    # Only the outage SMS: the tickets' own notifications go to other people.
    wanted = set(phones)
    received = [r["To"] for r in stack.twilio.fake.received[received_before:] if r["To"] in wanted]
    overdue_events = list(TicketEvent.objects.filter(step_id__in=step_ids, kind=TicketEvent.Kind.OVERDUE)
                          .values_list("step_id", flat=True))
    report = ScenarioReport(
        name=NAME,
        load=(f"{len(phones)} outage SMS (fan-out), {len(payment_keys)} bank payments (task chaos.payment_post), "
              f"{len(step_ids)} overdue ticket steps (3 sla_tick + beat), 2 prefork children per worker"),
        faults=f"{kills} worker SIGKILLs mid-run (process group), a new worker started after each",
        work=[
            WorkTally.from_counts("payments posted", expected=payment_keys,
                                  effects=payments.values_list("idempotency_key", flat=True)),
            WorkTally.from_counts("payment ledger entries", expected=payment_ids, effects=ledger_rows),
            WorkTally.from_counts("SMS at the provider", expected=phones, effects=received),
            WorkTally.from_counts("SLA overdue marks", expected=step_ids, effects=overdue_events),
        ],
        figures={"seconds until settled": round(elapsed, 1),
                 "SMS leases expired, asked Twilio": stack.twilio.fake.lookups - lookups_before},
    )
    return report
