#!/usr/bin/env python
"""AMI benchmark: (1) how many AMI events per second the adapter, the call tracker and core's call_facts_apply take
in from a PBX; (2) screen-pop latency, from the PBX sending AgentCalled to the agent's browser socket receiving the
screen_pop, with 100 calls in progress at once.

    python bench/ami_bench.py           ingest 3,000 calls (about 540,000 events); 3 rounds of 100 concurrent calls
    python bench/ami_bench.py --smoke   ingest 200 calls; 1 round of 20 calls

The PBX is the fake AMI server of the tests (tests/callcenter/fake_ami.py) replaying the call recorded from Asterisk
22 in scenario 05 (a caller queued, an agent rung and answering, both hanging up: 181 events, CEL/Cdr/VarSet
included), stamped out with fresh Linkedids, caller numbers of seeded customers and agents' interfaces; calls are
interleaved 50 at a time as a busy PBX interleaves them.
(1) runs the run_ami worker in this process against the fake, and counts until every fact is committed (the
screen-pop and wallboard receivers included), then checks every call was recorded as ended and answered.
(2) runs the real thing in three processes: `manage.py run_ami` connected to the fake, Daphne serving
/ws/callcenter/, and here one websocket per agent signed in with a session cookie; the channel layer is Redis
(REDIS_URL, or a redis-server started here). The 100 calls are queued first, then the queue rings their agents over
`--spread` seconds; latency is the websocket's receipt time minus the fake's send time (one clock, this process).
Database: PostgreSQL when DATABASE_URL names one (a scratch database, dropped afterwards), else a temporary SQLite
file. Figures are printed and compared with the targets (5,000 events/s; p95 under 100 ms), never asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_EVENTS_PER_SECOND = 5_000
TARGET_P95_MS = 100.0
INTERLEAVE = 50
TEMPLATE = "05_queue_call_direct"
TEMPLATE_NUMBER = "13700137000"
FAKE_USER, FAKE_SECRET = "bench", "bench-secret"


# --- pure helpers -----------------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def interleave(calls: list[list[bytes]]) -> list[bytes]:
    """The events of several calls merged round-robin, each call's own order kept."""
    merged: list[bytes] = []
    longest = max((len(events) for events in calls), default=0)
    for position in range(longest):
        merged.extend(events[position] for events in calls if position < len(events))
    return merged


def ingest_verdict(events_per_second: float) -> str:
    return "PASS" if events_per_second >= TARGET_EVENTS_PER_SECOND else "BELOW TARGET"


def latency_verdict(p95_ms: float) -> str:
    return "PASS" if p95_ms < TARGET_P95_MS else "ABOVE TARGET"


def agent_interface(index: int) -> str:
    return f"Local/{10000 + index}@agents/n"


# --- world ------------------------------------------------------------------------------------------------------


def customers_seed(count: int) -> list[str]:
    """Demo customers to call from (the screen-pop finds them by caller number): their phone numbers."""
    from django.utils import timezone

    from core.demo.seeding import demo_seed
    from core.models import Customer

    started = time.monotonic()
    demo_seed(customers=count, seed=7, today=timezone.localdate())
    phones = list(Customer.objects.exclude(phone="").order_by("pk").values_list("phone", flat=True)[:count])
    print(f"== {count:,} demo customers seeded in {time.monotonic() - started:.1f} s ({len(phones):,} phones)")
    return phones or ["13800000000"]


def agents_create(count: int, *, prefix: str, first: int) -> list[dict]:
    """Agents signed in and ready on the hotline, each with a session cookie for the websocket."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from core.models import AgentPresence, AgentState
    from core.services.roles import ROLE_AGENT, role_group, roles_sync

    roles_sync()
    group = role_group(code=ROLE_AGENT)
    agents = []
    for index in range(first, first + count):
        user = get_user_model().objects.create_user(username=f"{prefix}{index}", password=None, is_staff=True)
        user.groups.add(group)
        AgentPresence.objects.create(agent=user, interface=agent_interface(index), queue="hotline",
                                     state=AgentState.READY, since=timezone.now())
        client = Client()
        client.force_login(user)
        agents.append({"id": user.pk, "interface": agent_interface(index),
                       "cookie": f"sessionid={client.cookies['sessionid'].value}"})
    return agents


def calls_render(*, count: int, first_index: int, phones: list[str], interfaces: list[str]):
    from tests.callcenter.fake_ami import CallTemplate

    template = CallTemplate(TEMPLATE, caller_number=TEMPLATE_NUMBER)
    calls = []
    for offset in range(count):
        index = first_index + offset
        calls.append((template.call_key(index=index), template.render(
            index=index, caller_number=phones[index % len(phones)], interface=interfaces[offset % len(interfaces)])))
    return calls


# --- (1) ingest -------------------------------------------------------------------------------------------------


async def _ingest(server, calls, *, batch_size: int) -> dict:
    from callcenter.adapters.ami import AmiSettings
    from callcenter.worker import AmiWorker

    worker = AmiWorker(ami=AmiSettings(host="127.0.0.1", port=server.port, username=FAKE_USER, secret=FAKE_SECRET,
                                       ping_seconds=30, action_timeout_seconds=30),
                       batch_size=batch_size, listen_for_commands=False)
    task = asyncio.create_task(worker.run())
    while not (worker.session.connected and worker.session.connects):
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # past the resync
    baseline_events, baseline_facts = worker.stats.events, worker.stats.facts
    stream: list[bytes] = []
    for start in range(0, len(calls), INTERLEAVE):
        stream.extend(interleave([events for _key, events in calls[start:start + INTERLEAVE]]))
    chunk = 2_000
    started = time.perf_counter()
    for position in range(0, len(stream), chunk):
        await asyncio.wrap_future(server.emit_soon(stream[position:position + chunk]))
        await asyncio.sleep(0)
    while worker.stats.events - baseline_events < len(stream):
        await asyncio.sleep(0.005)
    received = time.perf_counter()
    await worker.facts_drained(timeout=600)
    finished = time.perf_counter()
    worker.stop()
    await task
    return {"events": len(stream), "facts": worker.stats.facts - baseline_facts, "batches": worker.stats.batches,
            "seconds": finished - started, "read_seconds": received - started}


def ingest(args, phones: list[str]) -> dict:
    from core.models import Call, CallOutcome, CallState
    from tests.callcenter.fake_ami import FakeAmiServer

    agents = agents_create(args.agents, prefix="bench-ingest-", first=0)
    calls = calls_render(count=args.calls, first_index=0, phones=phones,
                         interfaces=[agent["interface"] for agent in agents])
    with FakeAmiServer(username=FAKE_USER, secret=FAKE_SECRET, track_state=False) as server:
        figures = asyncio.run(_ingest(server, calls, batch_size=args.batch_size))
    keys = [key for key, _events in calls]
    recorded = Call.objects.filter(call_key__in=keys)
    figures.update({
        "calls": len(calls),
        "calls_recorded": recorded.count(),
        "calls_ended_answered": recorded.filter(state=CallState.ENDED, outcome=CallOutcome.ANSWERED).count(),
        "events_per_second": figures["events"] / figures["seconds"],
        "calls_per_second": len(calls) / figures["seconds"],
        "facts_per_second": figures["facts"] / figures["seconds"],
    })
    return figures


# --- (2) screen-pop latency -------------------------------------------------------------------------------------


async def sockets_open(port: int, agents: list[dict], received: dict[str, float],
                       delivered: dict[str, float] | None = None):
    """The agents' websockets; `received` fills with the moment (perf_counter) each call's first screen-pop arrived,
    `delivered` with the seconds from the pop's sent_at (the platform's send) to that arrival."""
    import aiohttp

    session = aiohttp.ClientSession()
    sockets = []
    for agent in agents:
        socket = await session.ws_connect(
            f"ws://127.0.0.1:{port}/ws/callcenter/",
            headers={"Cookie": agent["cookie"], "Origin": f"http://127.0.0.1:{port}"}, heartbeat=None)
        sockets.append(socket)

    async def read(socket):
        async for message in socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            now = time.perf_counter()
            payload = json.loads(message.data)
            if payload.get("kind") == "screen_pop":
                key = payload["call_key"]
                if delivered is not None and key not in received and payload.get("sent_at"):
                    delivered[key] = time.time() - datetime.datetime.fromisoformat(payload["sent_at"]).timestamp()
                received.setdefault(key, now)

    readers = [asyncio.create_task(read(socket)) for socket in sockets]
    return session, sockets, readers


async def _latency_rounds(server, port: int, agents: list[dict], rounds: list, spread: float) -> dict:
    received: dict[str, float] = {}
    sent: dict[str, float] = {}
    session, sockets, readers = await sockets_open(port, agents, received)
    rng = random.Random(5)
    try:
        for calls in rounds:
            # Every call of the round rings in and queues first: they are all in progress together.
            preambles, called, rests = [], [], []
            for key, events in calls:
                at = next(index for index, payload in enumerate(events) if payload.startswith(b"Event: AgentCalled"))
                preambles.append(events[:at])
                called.append((key, events[at]))
                rests.append(events[at + 1:])
            await asyncio.wrap_future(server.emit_soon(interleave(preambles)))
            await asyncio.sleep(1.0)
            gaps = sorted(rng.uniform(0, spread) for _ in called)
            started = time.perf_counter()
            for (key, payload), gap in zip(called, gaps):
                await asyncio.sleep(max(0.0, started + gap - time.perf_counter()))
                sent[key] = await asyncio.wrap_future(server.emit_soon([payload]))
            deadline = time.perf_counter() + 15
            while any(key not in received for key, _payload in called) and time.perf_counter() < deadline:
                await asyncio.sleep(0.01)
            # The round's calls all hang up; the next round starts once they are recorded ended (a hundred hang-ups
            # in one second are this benchmark's artefact, not the load being measured).
            await asyncio.wrap_future(server.emit_soon(interleave(rests)))
            keys = [key for key, _payload in called]
            deadline = time.perf_counter() + 60
            while await asyncio.to_thread(_calls_ended, keys) < len(keys) and time.perf_counter() < deadline:
                await asyncio.sleep(0.2)
    finally:
        for reader in readers:
            reader.cancel()
        for socket in sockets:
            await socket.close()
        await session.close()
    latencies = [(received[key] - sent[key]) * 1000 for key in sent if key in received]
    return {"pops_expected": len(sent), "pops_received": len(latencies),
            "p50_ms": percentile(latencies, 0.50), "p95_ms": percentile(latencies, 0.95),
            "max_ms": max(latencies, default=0.0)}


def _calls_ended(keys: list[str]) -> int:
    from django.db import connection

    from core.models import Call, CallState

    try:
        return Call.objects.filter(call_key__in=keys, state=CallState.ENDED).count()
    finally:
        connection.close()


def latency(args, phones: list[str], folder: str) -> dict:
    from django.db import connection

    from bench.notifications_bench import free_port, process_start, process_stop
    from tests.callcenter.fake_ami import FakeAmiServer

    agents = agents_create(args.concurrent, prefix="bench-pop-", first=args.agents)
    interfaces = [agent["interface"] for agent in agents]
    rounds = [calls_render(count=args.concurrent, first_index=1_000_000 + round_ * args.concurrent, phones=phones,
                           interfaces=interfaces) for round_ in range(args.rounds)]
    connection.close()
    started: list[subprocess.Popen] = []
    try:
        with FakeAmiServer(username=FAKE_USER, secret=FAKE_SECRET) as server:
            port = free_port()
            daphne = process_start([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                    "config.asgi:application"],
                                   stdout=subprocess.DEVNULL, stderr=open(Path(folder) / "daphne.log", "w"))
            started.append(daphne)
            env = {**os.environ, "AMI_HOST": "127.0.0.1", "AMI_PORT": str(server.port), "AMI_USERNAME": FAKE_USER,
                   "AMI_SECRET": FAKE_SECRET, "AMI_PING_SECONDS": "5"}
            lanes = ["--lanes", str(args.lanes)] if args.lanes else []
            run_ami = process_start([sys.executable, "manage.py", "run_ami", *lanes], env=env,
                                    stdout=open(Path(folder) / "run_ami.log", "w"), stderr=subprocess.STDOUT)
            started.append(run_ami)
            _wait_for_http(port, daphne)
            if not server.wait_for_login(timeout=60):
                raise RuntimeError("run_ami did not log in to the fake PBX")
            figures = asyncio.run(_latency_rounds(server, port, agents, rounds, args.spread))
            process_stop(run_ami)
            figures["run_ami_exit_code"] = run_ami.returncode
    finally:
        for process in reversed(started):
            process_stop(process)
    figures.update({"concurrent_calls": args.concurrent, "rounds": args.rounds, "spread_seconds": args.spread})
    return figures


def _wait_for_http(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("daphne exited")
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/healthz/")
            probe.getresponse().read()
            probe.close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("daphne did not start")


# --- main -------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, folder: str) -> dict:
    from bench.notifications_bench import database_prepare, django_start, process_stop, redis_start

    started: list[subprocess.Popen] = []
    pg_server = None
    try:
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url and shutil.which("redis-server"):
            redis_url, redis_process = redis_start(folder)
            started.append(redis_process)
        if not redis_url:
            raise RuntimeError("the screen-pop figure needs Redis: set REDIS_URL or install redis-server")
        # Celery tasks (the wallboard's coalesced push) are queued on Redis as in production, not run eagerly: an
        # eager push would compute the wallboard on every call change in the worker's thread.
        os.environ.update({"REDIS_URL": redis_url, "DEBUG": "0", "VAR_DIR": folder,
                           "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"), "CELERY_TASK_ALWAYS_EAGER": "0"})
        pg_server = database_prepare(folder)
        django_start()
        from django.db import connection

        phones = customers_seed(args.customers)
        result = {"database": connection.vendor, "channel_layer": "redis", "customers": args.customers}
        print(f"== ingest: {args.calls:,} calls through adapter + tracker + call_facts_apply")
        result["ingest"] = ingest(args, phones)
        print(f"== screen-pop latency: {args.rounds} round(s) of {args.concurrent} concurrent calls")
        result["latency"] = latency(args, phones, folder)
    finally:
        for process in reversed(started):
            process_stop(process)
        if pg_server is not None:
            from bench.harness import connections_release

            connections_release()
            pg_server.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3_000, help="calls replayed for the ingest figure")
    parser.add_argument("--agents", type=int, default=20, help="agents answering the ingest calls")
    parser.add_argument("--batch-size", type=int, default=500, help="the worker's fact batch size")
    parser.add_argument("--concurrent", type=int, default=100, help="calls in progress at once (latency)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spread", type=float, default=1.0, help="seconds over which the queue rings the agents")
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--lanes", type=int, default=None, help="run_ami's database lanes (default: its own)")
    parser.add_argument("--smoke", action="store_true", help="200 calls; one round of 20 concurrent calls")
    args = parser.parse_args(argv)
    if args.smoke:
        args.calls, args.concurrent, args.rounds, args.customers = 200, 20, 1, 300
    with tempfile.TemporaryDirectory(prefix="ami-bench-") as folder:
        result = run(args, folder)
    figures = result["ingest"]
    print(f"ami ingest   {figures['events']:,} events, {figures['calls']:,} calls in {figures['seconds']:.2f} s: "
          f"{figures['events_per_second']:,.0f} events/s, {figures['calls_per_second']:,.1f} calls/s, "
          f"{figures['facts']:,} facts written ({figures['facts_per_second']:,.0f}/s); "
          f"{figures['calls_ended_answered']:,}/{figures['calls']:,} calls recorded ended and answered "
          f"-> {ingest_verdict(figures['events_per_second'])} (target >= {TARGET_EVENTS_PER_SECOND:,} events/s)")
    pops = result["latency"]
    print(f"ami screen-pop {pops['concurrent_calls']} concurrent calls x {pops['rounds']}: "
          f"{pops['pops_received']}/{pops['pops_expected']} pops, p50 {pops['p50_ms']:.1f} ms, "
          f"p95 {pops['p95_ms']:.1f} ms, max {pops['max_ms']:.1f} ms "
          f"-> {latency_verdict(pops['p95_ms'])} (target p95 < {TARGET_P95_MS:.0f} ms, {result['database']}, "
          f"Redis channel layer); run_ami exit code {pops['run_ami_exit_code']}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
