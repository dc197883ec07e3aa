"""Stop Redis under traffic (30 s; smoke 5 s) and start it again: portal and API pages keep answering (the cache
fails soft, sessions live in the database), the agents' console sockets on two daphne processes come back by
themselves and receive what is sent to them afterwards, payments queued before the outage are posted once, and
SMS asked for before, during and after it (while the broker is down they wait as pending rows for dispatch_due)
reach the provider once each."""
from __future__ import annotations

import time

from bench.chaos.report import ScenarioReport, WorkTally
from bench.chaos.stack import Stack, say, wait_until
from bench.chaos.traffic import Page, PageTraffic, outage_seconds
from bench.chaos.websockets import ConsoleSockets

NAME = "redis_outage"
SIZES = {"full": {"outage": 30.0, "agents": 20, "customers": 120, "payments": 400, "clients": 6},
         "smoke": {"outage": 5.0, "agents": 6, "customers": 30, "payments": 80, "clients": 4}}


def _sms_request(customers: list, *, phase: str) -> None:
    """One SMS per customer, each asked for in its own transaction as a request or a service would."""
    from django.db import transaction

    from notifications.services import notification_request

    for customer in customers:
        with transaction.atomic():
            notification_request(recipient_customer=customer, event="outage_planned",
                                 data={"area": "舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00",
                                       "reason": "线路检修"},
                                 urgency="urgent", idempotency_key=f"chaos:redis:{phase}:{customer.pk}",
                                 channels=["sms"])


def _probe(agent_ids: list[int], probe: str) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from callcenter.consumers import agent_group_name

    layer = get_channel_layer()
    for agent_id in agent_ids:
        async_to_sync(layer.group_send)(agent_group_name(agent_id),
                                        {"type": "callcenter.message",
                                         "payload": {"kind": "chaos_probe", "probe": probe}})


def run(stack: Stack, *, smoke: bool) -> ScenarioReport:
    from django.utils import timezone

    from bench.ami_bench import agents_create
    from bench.chaos.postgres_restart import customer_cookie
    from bench.chaos.tasks import chaos_payment_post
    from bench.chaos.world import accounts_create, phone_e164
    from bench.harness import connections_release
    from core.models import Payment

    size = SIZES["smoke" if smoke else "full"]
    accounts = accounts_create(size["customers"])
    customers = [account.customer for account in accounts]
    thirds = [customers[0::3], customers[1::3], customers[2::3]]
    agents = agents_create(size["agents"], prefix="chaos-redis-agent-", first=0)
    cookie = customer_cookie(username="chaos-redis-customer")
    phones = [phone_e164(customer.phone) for customer in customers]
    received_before = len(stack.twilio.fake.received)
    connections_release()

    port_a, _a = stack.daphne_start("redis-daphne-a")
    port_b, _b = stack.daphne_start("redis-daphne-b")
    beat = stack.beat_start()
    worker = stack.worker_start("redis-worker")
    sockets = ConsoleSockets(agents=agents, ports=[port_a, port_b])
    sockets.start()
    if not wait_until(sockets.all_open, timeout=30):
        raise RuntimeError("the console sockets did not open before the outage")
    pages = [Page("/"), Page("/portal/", {"Cookie": cookie}), Page("/bill/lookup/"),
             Page("/portal/inbox/", {"Cookie": cookie}), Page("/healthz/")]
    traffic = PageTraffic(ports=[port_a, port_b], pages=pages, clients=size["clients"])
    traffic.start()

    # Queued before: payments on the broker (and SMS) waiting for the worker, which is held up by the outage.
    now = timezone.now().isoformat()
    payment_keys = [f"chaos-redis-{index}" for index in range(size["payments"])]
    for index, payment_key in enumerate(payment_keys):
        chaos_payment_post.delay(account_id=accounts[index % len(accounts)].pk, amount="5.00",
                                 idempotency_key=payment_key, received_at=now)
    _sms_request(thirds[0], phase="before")
    time.sleep(0.5)

    say("sockets open, traffic running, work queued; stopping Redis")
    stack.redis_down()
    fault_at = time.monotonic()
    _sms_request(thirds[1], phase="during")
    remaining = size["outage"] - (time.monotonic() - fault_at)
    if remaining > 0:
        time.sleep(remaining)
    outage = time.monotonic() - fault_at
    stack.redis_up()
    back_at = time.monotonic()
    say(f"Redis back after {outage:.1f} s")
    _sms_request(thirds[2], phase="after")

    reconnected = wait_until(sockets.all_open, timeout=60)
    reconnect_seconds = round(time.monotonic() - back_at, 1)
    time.sleep(1)
    agent_ids = [agent["id"] for agent in agents]
    _probe(agent_ids, "after-outage")
    wait_until(lambda: all("after-outage" in state.probes for state in sockets.states), timeout=10)

    def settled() -> bool:
        wanted = set(phones)
        got = {r["To"] for r in stack.twilio.fake.received[received_before:]} & wanted
        return (Payment.objects.filter(idempotency_key__in=payment_keys).count() == len(payment_keys)
                and len(got) == len(wanted))

    say(f"sockets all open: {reconnected} ({reconnect_seconds} s); waiting for the queued work")
    wait_until(settled, timeout=120, interval=0.5)
    time.sleep(12)  # leases and visibility timeouts run out: a duplicate would show by now
    tally = traffic.stop()
    sockets.stop()
    stack.process_stop(worker)
    stack.process_stop(beat)

    wanted = set(phones)
    received = [r["To"] for r in stack.twilio.fake.received[received_before:] if r["To"] in wanted]
    problems = [f"answered an error: {error}" for error in tally.errors[:5]]
    if tally.outcomes["error"] > 5:
        problems.append(f"... {tally.outcomes['error']} error answers in all")
    if not reconnected:
        problems.append(f"{sum(not s.open for s in sockets.states)} console sockets never came back")
    return ScenarioReport(
        name=NAME,
        load=(f"{size['clients']} HTTP clients over {len(pages)} pages on 2 daphne ({tally.requests} requests), "
              f"{len(agents)} console sockets, {len(payment_keys)} payments queued before, "
              f"{len(phones)} SMS asked for before/during/after"),
        faults=f"Redis stopped for {outage:.0f} s (SIGTERM, append-only file kept), then started on the same port",
        work=[
            WorkTally.from_counts("payments posted (queued before)", expected=payment_keys,
                                  effects=Payment.objects.filter(idempotency_key__in=payment_keys)
                                  .values_list("idempotency_key", flat=True)),
            WorkTally.from_counts("SMS at the provider", expected=phones, effects=received),
            WorkTally.from_counts("console probes after the outage", expected=agent_ids,
                                  effects=[s.agent_id for s in sockets.states for p in s.probes
                                           if p == "after-outage"]),
        ],
        figures={
            "answers ok / retry page / error": (f"{tally.outcomes['ok']} / {tally.outcomes['retry']} / "
                                                f"{tally.outcomes['error']}"),
            "answers not ok until (s after stop)": outage_seconds(tally.timeline, since=fault_at),
            "sockets closed by the outage": sum(len(s.closes) for s in sockets.states),
            "all sockets open again after (s)": reconnect_seconds,
        },
        problems=problems,
    )
