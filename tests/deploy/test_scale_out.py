"""Scale-out, for real: processes of the platform that share only Redis and the database.

- Two Daphne processes on the Redis channel layer: an agent's console websocket is on process B, a call arrives
  through the signed Twilio voice webhook on process A, and the screen-pop reaches the agent on B.
- Two Celery worker processes on one Redis broker, every SMS of an outage fan-out queued three times over (its
  batch task and two more sends, as a re-dispatch would): the SMS provider receives each message exactly once.

The processes use the database of this run: on PostgreSQL the test database itself (committed, a transactional
test), on SQLite a copy of the migrated in-memory test database in a file. Redis is a redis-server of the test's own.
"""
from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from twilio.request_validator import RequestValidator

from bench.notifications_bench import process_stop, redis_start
from tests.e2e.servers import CALLER_ONLY, BASE_DIR, free_loopback_port, start, wait_until
from tests.notifications.fake_twilio import FakeTwilioServer

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TWILIO_TOKEN = "scale-out-twilio-token"
TWILIO_SID = "AC" + "5" * 32
CALL_SID = "CA" + "5ca1e" * 6 + "00"
CALLER = "13700005598"
SMS_CUSTOMERS = 40
OUTAGE = {"area": "舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00", "reason": "线路检修"}

AGENT_SETUP = f"""
import json
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from core.models import AgentPresence, AgentState
from core.services.roles import ROLE_AGENT, role_group, roles_sync
from tests.factories import AccountFactory, CustomerFactory
roles_sync()
agent = get_user_model().objects.create_user(username="scale-agent", password=None, is_staff=True)
agent.groups.add(role_group(code=ROLE_AGENT))
AgentPresence.objects.create(agent=agent, interface="twilio:scale-agent", queue="hotline",
                             state=AgentState.READY, since=timezone.now())
AccountFactory(customer=CustomerFactory(name="陈小明", phone="{CALLER}"))
client = Client()
client.force_login(agent)
print(json.dumps({{"cookie": client.cookies["sessionid"].value}}))
"""

# The fan-out's messages are created here; their sends are published to Redis (no worker runs yet), then every SMS
# is published twice more, as a beat re-dispatch racing the first send would.
SMS_SETUP = f"""
import json
from core.models import Customer
from notifications.models import Message
from notifications.services import fan_out_batch_create, fan_out_batches
from notifications.tasks import message_send_task
customers = Customer.objects.bulk_create(
    Customer(name=f"客户{{n}}", phone=f"139{{n:08d}}") for n in range({SMS_CUSTOMERS}))
ids = [customer.pk for customer in customers]
for batch in fan_out_batches(customer_ids=ids):
    fan_out_batch_create(customer_ids=batch, event="outage_planned", data={OUTAGE!r},
                         idempotency_prefix="scale-out", urgency="urgent")
sms = list(Message.objects.filter(channel="sms", idempotency_key__startswith="scale-out:").values_list("id", flat=True))
for _ in range(2):
    for message_id in sms:
        message_send_task.delay(message_id=message_id)
print(json.dumps({{"sms": len(sms)}}))
"""

SMS_STATES = """
import json
from django.db.models import Count
from notifications.models import Message
rows = (Message.objects.filter(channel="sms", idempotency_key__startswith="scale-out:")
        .values_list("state", "attempts").annotate(n=Count("id")))
print(json.dumps(sorted([state, attempts, n] for state, attempts, n in rows)))
"""


@pytest.fixture
def redis_url(tmp_path):
    url, process = redis_start(str(tmp_path))
    yield url
    process_stop(process)


@pytest.fixture
def database_url(tmp_path) -> str:
    """This run's test database as the processes reach it: PostgreSQL's by URL, SQLite's copied into a file."""
    connection.ensure_connection()
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        credentials = quote(settings["USER"] or "", safe="")
        if settings["PASSWORD"]:
            credentials += ":" + quote(settings["PASSWORD"], safe="")
        return f"postgres://{credentials}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as copy:
        connection.connection.backup(copy)
    return f"sqlite:///{path}"


def platform_env(tmp_path: Path, *, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in CALLER_ONLY | {"REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.dev", DEBUG="0", VAR_DIR=str(tmp_path),
               DATABASE_URL=database_url, REDIS_URL=redis_url, CELERY_TASK_ALWAYS_EAGER="0", PYTHONUNBUFFERED="1",
               LOG_LEVEL="INFO", **extra)
    return env


def shell(env: dict[str, str], code: str):
    """The JSON the code printed last, run by `manage.py shell` in the processes' environment."""
    import subprocess

    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def twilio_post(base_url: str, path: str, **fields: str) -> str:
    url = f"{base_url}/callcenter/twilio/{path}"
    params = {"CallSid": CALL_SID, "From": CALLER, "To": "95598", **fields}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(),
                                     headers={"X-Twilio-Signature": signature})
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.read().decode()


async def _screen_pop_through_the_other_process(*, port_a: int, port_b: int, cookie: str) -> tuple[list, dict]:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        socket = await session.ws_connect(
            f"ws://127.0.0.1:{port_b}/ws/callcenter/",
            headers={"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{port_b}"}, heartbeat=None,
        )
        greeting = []
        # hello, PBX status, the agent's state, the queue: the console is live before the call arrives.
        while len(greeting) < 4:
            greeting.append(json.loads((await socket.receive(timeout=15)).data)["kind"])

        async def call_in() -> list[str]:
            base_url = f"http://127.0.0.1:{port_a}"
            return [
                await asyncio.to_thread(twilio_post, base_url, "voice/", CallStatus="ringing"),
                await asyncio.to_thread(twilio_post, base_url, "gather/", Digits="1"),
                await asyncio.to_thread(twilio_post, base_url, "gather/", Digits="0"),
            ]

        caller = asyncio.create_task(call_in())
        deadline = time.monotonic() + 30
        pop = None
        while pop is None and time.monotonic() < deadline:
            message = json.loads((await socket.receive(timeout=deadline - time.monotonic())).data)
            if message["kind"] == "screen_pop":
                pop = message
        twiml = await caller
        await socket.close()
    assert "<Enqueue" in twiml[2]
    return greeting, pop


def test_a_screen_pop_raised_through_one_asgi_process_reaches_an_agent_on_the_other(
    tmp_path, database_url, redis_url
):
    env = platform_env(tmp_path, database_url=database_url, redis_url=redis_url, TWILIO_AUTH_TOKEN=TWILIO_TOKEN)
    cookie = shell(env, AGENT_SETUP)["cookie"]
    servers = []
    try:
        ports = []
        for name in ("a", "b"):
            port = free_loopback_port()
            log = tmp_path / f"daphne-{name}.log"
            server = start([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                            "config.asgi:application"], env, log)
            servers.append((server, log))
            ports.append(port)
        for (server, log), port in zip(servers, ports):
            wait_until(lambda port=port: answers(f"http://127.0.0.1:{port}/healthz/"), "daphne answers", server, log)

        greeting, pop = asyncio.run(
            _screen_pop_through_the_other_process(port_a=ports[0], port_b=ports[1], cookie=cookie)
        )
    finally:
        for server, _log in servers:
            process_stop(server)

    assert greeting == ["hello", "pbx_status", "agent_state", "queue_state"]
    assert pop is not None, (tmp_path / "daphne-a.log").read_text()[-3000:]
    assert pop["call_key"] == f"twilio:{CALL_SID}"
    assert pop["profile"]["call"]["caller_number_masked"] == "137****5598"
    assert pop["profile"]["customer"]["name_masked"] == "陈**"
    # Process B served only the websocket: the webhooks went to A, which B never heard from directly.
    log_b = (tmp_path / "daphne-b.log").read_text()
    assert "/callcenter/twilio/" not in log_b
    assert "/callcenter/twilio/voice/" in (tmp_path / "daphne-a.log").read_text()


def test_two_celery_workers_send_each_notification_exactly_once(tmp_path, database_url, redis_url):
    with FakeTwilioServer(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN) as twilio:
        env = platform_env(tmp_path, database_url=database_url, redis_url=redis_url, TWILIO_ACCOUNT_SID=TWILIO_SID,
                           TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_FROM_NUMBER="+8610955980000",
                           TWILIO_API_BASE=twilio.base_url)
        workers = []
        try:
            for name in ("one", "two"):
                log = tmp_path / f"worker-{name}.log"
                workers.append((start(
                    [sys.executable, "-m", "celery", "-A", "config", "worker", "--queues", "notifications",
                     "--concurrency", "2", "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle",
                     "--loglevel", "INFO"], env, log), log))
            # Both consume before anything is queued, so that they race for the same messages.
            for worker, log in workers:
                wait_until(lambda log=log: " ready." in log.read_text(), "the worker is ready", worker, log)
            queued = shell(env, SMS_SETUP)["sms"]
            deadline = time.monotonic() + 60
            while len(twilio.fake.received) < queued and time.monotonic() < deadline:
                for worker, log in workers:
                    assert worker.poll() is None, log.read_text()[-3000:]
                time.sleep(0.2)
            # The later copies of each send are consumed within moments: give a duplicate its chance to show.
            time.sleep(3)
            logs = [log.read_text() for _worker, log in workers]
        finally:
            for worker, _log in workers:
                process_stop(worker)
        received = list(twilio.fake.received)

    assert queued == SMS_CUSTOMERS
    phones = sorted(request["To"] for request in received)
    assert len(received) == SMS_CUSTOMERS, f"{len(received)} SMS for {SMS_CUSTOMERS} messages"
    assert phones == sorted(f"+86139{n:08d}" for n in range(SMS_CUSTOMERS))
    # Both workers took part: the exactly-once is not one worker doing everything.
    assert all("notifications.message_send" in log for log in logs)
    assert shell(env, SMS_STATES) == [["sent", 1, SMS_CUSTOMERS]]
