"""Restart PostgreSQL under traffic (pg_ctl restart -m fast, which ends every session at once): pages and API
calls answer during it either normally or with the 503 retry page, never a 500 or a traceback; a bank's collection
files uploaded meanwhile (retried by the bank after Retry-After) are each posted once, every line with its payment
and its ledger entry and no batch half-written; payments posted by a worker and an SMS fan-out running across the
restart end up done once each."""
from __future__ import annotations

import datetime
import time
from decimal import Decimal

from bench.chaos.report import ScenarioReport, WorkTally
from bench.chaos.stack import Stack, say, wait_until
from bench.chaos.traffic import BankUploads, Page, PageTraffic, outage_seconds

NAME = "postgres_restart"
SIZES = {"full": {"restarts": 3, "gap": 6.0, "files": 30, "lines": 5, "payments": 300, "customers": 200,
                  "clients": 6},
         "smoke": {"restarts": 1, "gap": 4.0, "files": 8, "lines": 5, "payments": 60, "customers": 40,
                   "clients": 4}}
BANK_CODE = "CHB"
BANK_CLIENT = "chaos bank front-end"


def collection_files(*, accounts: list, files: int, lines: int) -> list[tuple[str, bytes]]:
    from core.models.banks import BankBatch
    from core.services.bank_files import BankFile, BankFileHeader, BankFileLine, bank_file_render

    today = datetime.date.today()
    at = datetime.datetime.now(datetime.UTC)
    rendered = []
    for number in range(files):
        header = BankFileHeader(bank_code=BANK_CODE, kind=BankBatch.Kind.COLLECTION, batch_number=f"PG{number:06d}",
                                business_date=today)
        body = [BankFileLine(line_number=index + 2, serial=f"PG{number:06d}L{index}",
                             account_number=accounts[(number * lines + index) % len(accounts)].number,
                             amount=Decimal("10.00"), transacted_at=at)
                for index in range(lines)]
        rendered.append((f"CHB_PG{number:06d}.csv",
                         bank_file_render(bank_file=BankFile(header=header, lines=body), style="csv",
                                          encoding="utf-8")))
    return rendered


def customer_cookie(*, username: str) -> str:
    """A signed-in customer's session cookie (the session is a database row, as in production)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_user(username=username, password=None)
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def run(stack: Stack, *, smoke: bool) -> ScenarioReport:
    from django.db import transaction
    from django.db.models import Count
    from django.utils import timezone

    from bench.chaos.tasks import chaos_payment_post
    from bench.chaos.world import OUTAGE, accounts_create, phone_e164
    from bench.harness import connections_release
    from core.models import LedgerEntry, Payment
    from core.models.banks import Bank, BankBatch, BankBatchLine
    from integrations.clients import api_client_create
    from notifications.services import outage_notice_fan_out

    size = SIZES["smoke" if smoke else "full"]
    accounts = accounts_create(size["customers"])
    bank = Bank.objects.create(code=BANK_CODE, name="混沌测试银行", file_style="csv", file_encoding="utf-8",
                               api_client_name=BANK_CLIENT)
    # The bank's key carries the traffic's whoami calls too: its per-minute limit is not what is being tested.
    key = api_client_create(name=BANK_CLIENT, system="bank", scopes=["bank:read", "bank:write"],
                            rate_limit_per_minute=1_000_000).key
    files = collection_files(accounts=accounts, files=size["files"], lines=size["lines"])
    serial_keys = [f"bank:{BANK_CODE}:PG{number:06d}L{index}" for number in range(size["files"])
                   for index in range(size["lines"])]
    cookie = customer_cookie(username="chaos-pg-customer")
    phones = [phone_e164(account.customer.phone) for account in accounts]
    received_before = len(stack.twilio.fake.received)
    connections_release()

    say("world ready; starting daphne, beat and a worker")
    port, _daphne = stack.daphne_start("pg-daphne")
    beat = stack.beat_start()
    worker = stack.worker_start("pg-worker")
    pages = [Page("/"), Page("/portal/", {"Cookie": cookie}), Page("/bill/lookup/"),
             Page("/api/v1/whoami/", {"Authorization": f"Bearer {key}"}), Page("/portal/inbox/", {"Cookie": cookie})]
    traffic = PageTraffic(ports=[port], pages=pages, clients=size["clients"])
    uploads = BankUploads(port=port, bank_code=BANK_CODE, key=key, files=files)
    traffic.start()
    uploads.start()
    time.sleep(2)

    with transaction.atomic():
        outage_notice_fan_out(customer_ids=[a.customer_id for a in accounts], data=OUTAGE,
                              idempotency_prefix="chaos:pg:outage", urgency="urgent")
    now = timezone.now().isoformat()
    payment_keys = [f"chaos-pg-{index}" for index in range(size["payments"])]
    for index, payment_key in enumerate(payment_keys):
        chaos_payment_post.delay(account_id=accounts[index % len(accounts)].pk, amount="7.00",
                                 idempotency_key=payment_key, received_at=now)
    connections_release()

    say("traffic and uploads running, work queued; restarting PostgreSQL")
    restart_seconds = []
    first_fault = time.monotonic()
    for _ in range(size["restarts"]):
        restart_seconds.append(stack.postgres_restart())
        time.sleep(size["gap"])
    say(f"restarts done ({restart_seconds}); waiting for the uploads")
    upload_tally = uploads.join(timeout=240)
    time.sleep(3)
    tally = traffic.stop()

    def settled() -> bool:
        wanted = set(phones)
        got = {r["To"] for r in stack.twilio.fake.received[received_before:]} & wanted
        return (Payment.objects.filter(idempotency_key__in=payment_keys).count() == len(payment_keys)
                and len(got) == len(wanted))

    say(f"uploads: {upload_tally.accepted}/{len(files)} accepted; waiting for the queued work")
    wait_until(settled, timeout=90, interval=0.5)
    say("settled (or timed out); watching for late duplicates")
    time.sleep(12)  # leases and visibility timeouts run out: a duplicate would show by now
    stack.process_stop(worker)
    stack.process_stop(beat)

    posted = Payment.objects.filter(idempotency_key__in=serial_keys + payment_keys)
    posted_ids = list(posted.values_list("pk", flat=True))
    ledger = list(LedgerEntry.objects.filter(payment_id__in=posted_ids, kind=LedgerEntry.Kind.PAYMENT)
                  .values_list("payment_id", flat=True))
    batches = BankBatch.objects.filter(bank=bank, kind=BankBatch.Kind.COLLECTION)
    wanted = set(phones)
    received = [r["To"] for r in stack.twilio.fake.received[received_before:] if r["To"] in wanted]
    problems = [f"answered an error: {error}" for error in tally.errors[:5]]
    if tally.outcomes["error"] > 5:
        problems.append(f"... {tally.outcomes['error']} error answers in all")
    problems += [f"bank upload refused: {error}" for error in upload_tally.errors]
    for batch_number, lines in batches.annotate(written=Count("lines")).values_list("batch_number", "written"):
        if lines != size["lines"]:
            problems.append(f"batch {batch_number} holds {lines} lines, its file {size['lines']}")
    half = BankBatchLine.objects.filter(batch__bank=bank, payment__isnull=True).count()
    if half:
        problems.append(f"{half} bank batch lines without their payment")
    if upload_tally.accepted != len(files):
        problems.append(f"{len(files) - upload_tally.accepted} bank files never accepted")
    return ScenarioReport(
        name=NAME,
        load=(f"{size['clients']} HTTP clients over {len(pages)} pages ({tally.requests} requests), "
              f"{len(files)} bank collection files x {size['lines']} lines uploaded through the API, "
              f"{len(payment_keys)} worker payments, {len(phones)} outage SMS"),
        faults=(f"{len(restart_seconds)} PostgreSQL restarts (pg_ctl restart -m fast, "
                f"{', '.join(f'{s:.1f}' for s in restart_seconds)} s each)"),
        work=[
            WorkTally.from_counts("bank lines posted (API)", expected=serial_keys,
                                  effects=Payment.objects.filter(idempotency_key__in=serial_keys)
                                  .values_list("idempotency_key", flat=True)),
            WorkTally.from_counts("bank files imported", expected=[f"PG{n:06d}" for n in range(size["files"])],
                                  effects=batches.values_list("batch_number", flat=True)),
            WorkTally.from_counts("payments posted (worker)", expected=payment_keys,
                                  effects=Payment.objects.filter(idempotency_key__in=payment_keys)
                                  .values_list("idempotency_key", flat=True)),
            WorkTally.from_counts("payment ledger entries", expected=posted_ids, effects=ledger),
            WorkTally.from_counts("SMS at the provider", expected=phones, effects=received),
        ],
        figures={
            "answers ok / retry page / error": (f"{tally.outcomes['ok']} / {tally.outcomes['retry']} / "
                                                f"{tally.outcomes['error']}"),
            "answers not ok until (s after 1st fault)": outage_seconds(tally.timeline, since=first_fault),
            "bank uploads: attempts, retried": f"{upload_tally.attempts}, {dict(upload_tally.retried)}",
        },
        problems=problems,
    )
