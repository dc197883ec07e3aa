"""The run_ami worker against the fake AMI server over TCP: calls recorded from the PBX's events, the screen-pop's
fact written at once, AsyncAGI channels handed to the IVR, the console's PBX commands executed and answered, the
PBX status published, and a reconnect neither losing nor duplicating a call."""
from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache

from callcenter.adapters.ami import AmiSettings, AsyncAgiEnd, AsyncAgiExec, AsyncAgiStart
from callcenter.pbx_control import PbxCommandInvalid, pbx_command_send
from callcenter.worker import PBX_STATUS_CACHE_KEY, AmiWorker
from core.models import AgentState, Call, CallLeg, CallOutcome, CallState
from core.signals import call_changed
from tests.callcenter.factories import agent_presence, call_agent_user
from tests.callcenter.fake_ami import CallTemplate, FakeAmiServer, message_encode

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

INTERFACE = "Local/1001@agents/n"
IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def _in_memory_layer(settings):
    settings.CHANNEL_LAYERS = IN_MEMORY


def ami_settings(port: int, **overrides) -> AmiSettings:
    values = {"host": "127.0.0.1", "port": port, "username": "ceo", "secret": "ceo-secret", "ping_seconds": 0.2,
              "reconnect_min_seconds": 0.05, "reconnect_max_seconds": 0.2, "action_timeout_seconds": 2,
              "max_login_refusals": 3}
    return AmiSettings(**{**values, **overrides})


async def until(condition, timeout: float = 5, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def run_with_worker(server: FakeAmiServer, body, **worker_options):
    async def main():
        worker = AmiWorker(ami=ami_settings(server.port), **worker_options)
        task = asyncio.create_task(worker.run())

        async def connected():
            return worker.session.connected and worker.session.connects >= 1

        await until(connected, what="login")
        try:
            return await body(worker)
        finally:
            worker.stop()
            await asyncio.wait_for(task, 10)

    return asyncio.run(asyncio.wait_for(main(), 30))


@database_sync_to_async
def calls_snapshot() -> list[dict]:
    return list(Call.objects.order_by("call_key").values(
        "call_key", "caller_number", "state", "outcome", "agent_interface", "queue", "queue_wait_seconds",
        "hangup_cause"))


@database_sync_to_async
def leg_count() -> int:
    return CallLeg.objects.count()


def recorded_call(index: int, number: str = "13700000001") -> tuple[str, list[bytes]]:
    template = CallTemplate("05_queue_call_direct", caller_number="13700137000")
    return template.call_key(index=index), template.render(index=index, caller_number=number, interface=INTERFACE)


def test_a_queued_call_is_recorded_from_the_pbx_events():
    agent = call_agent_user()
    agent_presence(agent, interface=INTERFACE, state=AgentState.READY)
    key, call_events = recorded_call(1)

    async def body(worker):
        await asyncio.get_running_loop().run_in_executor(None, server.emit, call_events)

        async def ended():
            return [call["state"] for call in await calls_snapshot()] == [CallState.ENDED]

        await until(ended, what="the call to end")
        return await calls_snapshot(), await leg_count(), worker.stats

    with FakeAmiServer() as server:
        calls, legs, stats = run_with_worker(server, body)
    assert calls == [{
        "call_key": key, "caller_number": "13700000001", "state": CallState.ENDED, "outcome": CallOutcome.ANSWERED,
        "agent_interface": INTERFACE, "queue": "hotline", "queue_wait_seconds": 1, "hangup_cause": 16,
    }]
    assert legs == 4
    assert stats.events == len(call_events) + 1  # and FullyBooted
    assert stats.facts == 14  # started, 4 legs, queued, offered, member, answered, 4 legs ended, ended


def test_an_offered_call_is_written_at_once_for_the_screen_pop():
    """Facts wait for the batch (5 s here) — except CallOffered, flushed as soon as AgentCalled arrives."""
    agent = call_agent_user()
    agent_presence(agent, interface=INTERFACE, state=AgentState.READY)
    key, call_events = recorded_call(2)
    until_called = call_events[:next(i for i, p in enumerate(call_events) if p.startswith(b"Event: AgentCalled")) + 1]
    offered: list[tuple] = []

    def on_call_changed(sender, call_id, kind, agent_id, **kwargs):
        offered.append((kind, agent_id, time.perf_counter()))

    call_changed.connect(on_call_changed)
    try:
        async def body(worker):
            sent_at = await asyncio.get_running_loop().run_in_executor(None, server.emit, until_called)

            async def popped():
                return any(kind == "offered" for kind, _agent, _at in offered)

            await until(popped, timeout=2, what="the offered call")
            return sent_at, await calls_snapshot()

        with FakeAmiServer() as server:
            sent_at, calls = run_with_worker(server, body, flush_seconds=5, batch_size=10_000)
    finally:
        call_changed.disconnect(on_call_changed)
    assert [(kind, agent_id) for kind, agent_id, _at in offered if kind == "offered"] == [("offered", agent.pk)]
    latency = next(at for kind, _agent, at in offered if kind == "offered") - sent_at
    assert latency < 1.0
    assert [(call["call_key"], call["state"]) for call in calls] == [(key, CallState.RINGING)]


def test_console_commands_run_on_the_pbx_and_the_agent_hears_back():
    agent = call_agent_user()
    agent_presence(agent, interface=INTERFACE, state=AgentState.READY)

    async def body(worker):
        layer = get_channel_layer()
        inbox = await layer.new_channel()
        await layer.group_add(f"callcenter.agent.{agent.pk}", inbox)

        async def command(action, fields):
            request_id = await database_sync_to_async(pbx_command_send)(
                action=action, fields=fields, reply_to_agent_id=agent.pk)
            while True:
                message = await asyncio.wait_for(layer.receive(inbox), 5)
                if message["payload"]["kind"] == "pbx_result":
                    assert message["type"] == "callcenter.message"
                    assert message["payload"]["request_id"] == request_id
                    return message["payload"]

        # The worker joins callcenter.pbx as it starts: wait for it.
        async def listening():
            return bool(layer.groups.get("callcenter.pbx"))

        await until(listening, what="the worker on callcenter.pbx")
        added = await command("QueueAdd", {"Queue": "hotline", "Interface": INTERFACE, "MemberName": "Agent 1001"})
        paused = await command("QueuePause", {"Queue": "hotline", "Interface": INTERFACE, "Paused": "true",
                                              "Reason": "lunch"})
        wrong = await command("QueueAdd", {"Queue": "nosuchqueue", "Interface": INTERFACE})
        removed = await command("QueueRemove", {"Queue": "hotline", "Interface": INTERFACE})
        called = await command("Originate", {"Channel": INTERFACE, "Context": "agents", "Exten": "13800138000",
                                             "Priority": "1", "CallerID": "95598", "Async": "true"})
        return added, paused, wrong, removed, called

    with FakeAmiServer() as server:
        added, paused, wrong, removed, called = run_with_worker(server, body)
        sent = [action for action in server.actions if action["Action"] not in ("Login", "Ping", "CoreShowChannels",
                                                                               "QueueStatus", "Logoff")]
    assert [(payload["action"], payload["ok"], payload["message"]) for payload in
            (added, paused, wrong, removed, called)] == [
        ("QueueAdd", True, "Added interface to queue"),
        ("QueuePause", True, "Interface paused successfully"),
        ("QueueAdd", False, "Unable to add interface to queue: No such queue"),
        ("QueueRemove", True, "Removed interface from queue"),
        ("Originate", True, "Originate successfully queued"),
    ]
    assert [(action["Action"], action.get("Interface", action.get("Channel"))) for action in sent] == [
        ("QueueAdd", INTERFACE), ("QueuePause", INTERFACE), ("QueueAdd", INTERFACE), ("QueueRemove", INTERFACE),
        ("Originate", INTERFACE)]
    assert sent[1]["Reason"] == "lunch"


def test_commands_outside_the_allowed_set_or_with_line_breaks_are_refused_before_sending():
    with pytest.raises(PbxCommandInvalid) as refused:
        pbx_command_send(action="Command", fields={"Command": "core restart now"})
    assert str(refused.value) == "不支持的话务系统指令：Command"
    with pytest.raises(PbxCommandInvalid) as injected:
        pbx_command_send(action="Hangup", fields={"Channel": "x\r\nAction: Command"})
    assert str(injected.value) == "话务系统指令参数无效：Channel"


def test_pbx_status_is_published_and_stored_and_goes_false_on_shutdown():
    agent = call_agent_user()
    agent_presence(agent, interface=INTERFACE, state=AgentState.READY)
    received: list[dict] = []

    async def body(worker):
        layer = get_channel_layer()
        wallboard, console = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("callcenter.wallboard", wallboard)
        await layer.group_add(f"callcenter.agent.{agent.pk}", console)
        # The heartbeat every ping_seconds (0.2 s) reaches the wallboard and each signed-in agent.
        received.append((await asyncio.wait_for(layer.receive(wallboard), 3))["payload"])
        received.append((await asyncio.wait_for(layer.receive(console), 3))["payload"])
        return await database_sync_to_async(cache.get)(PBX_STATUS_CACHE_KEY)

    with FakeAmiServer() as server:
        stored = run_with_worker(server, body)
        assert server.wait_for_action("Logoff")
    assert [(payload["kind"], payload["connected"]) for payload in received] == [
        ("pbx_status", True), ("pbx_status", True)]
    assert stored["connected"] is True
    assert cache.get(PBX_STATUS_CACHE_KEY)["connected"] is False


def answered(events: list[bytes]) -> list[bytes]:
    """A recorded call's events up to the agent answering."""
    return events[:next(i for i, payload in enumerate(events) if payload.startswith(b"Event: AgentConnect")) + 1]


def test_a_dropped_connection_is_resynced_without_losing_or_duplicating_calls():
    agent = call_agent_user()
    agent_presence(agent, interface=INTERFACE, state=AgentState.READY)
    key_live, live_events = recorded_call(3, number="13700000003")
    key_gone, gone_events = recorded_call(4, number="13700000004")

    async def body(worker):
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, server.emit, answered(live_events))
        await loop.run_in_executor(None, server.emit, answered(gone_events))

        async def talking():
            return [call["state"] for call in await calls_snapshot()] == [CallState.TALKING] * 2

        await until(talking, what="two calls talking")
        legs_before = await leg_count()
        # The PBX drops the manager connection; the second call hangs up while we are away.
        gone_channels = [unique_id for unique_id, fields in server.channels.items() if fields["Linkedid"] == key_gone]
        await loop.run_in_executor(None, lambda: server.drop(refuse_seconds=0.1))
        for unique_id in gone_channels:
            server.channels.pop(unique_id)

        async def reconnected():
            return worker.session.connects >= 2 and worker.session.connected

        await until(reconnected, what="the reconnect")

        async def caught_up():
            return [call["state"] for call in await calls_snapshot()] == [CallState.TALKING, CallState.ENDED]

        await until(caught_up, what="the resync")
        return await calls_snapshot(), legs_before, await leg_count()

    with FakeAmiServer() as server:
        calls, legs_before, legs_after = run_with_worker(server, body)
        assert [action["Action"] for action in server.actions].count("CoreShowChannels") == 2
    assert [(call["call_key"], call["state"], call["outcome"]) for call in calls] == [
        (key_live, CallState.TALKING, ""), (key_gone, CallState.ENDED, CallOutcome.ANSWERED)]
    assert legs_after == legs_before == 8


class RecordingIvr:
    """Stands in for callcenter.ivr.agi: answers a start with two commands, a result with one more, then none."""

    def __init__(self) -> None:
        self.seen: list = []

    def start(self, start: AsyncAgiStart) -> list[str]:
        self.seen.append(start)
        return ["ANSWER", 'STREAM FILE custom/welcome ""']

    def result(self, result: AsyncAgiExec) -> list[str]:
        self.seen.append(result)
        return ["ASYNCAGI BREAK"] if len(self.seen) == 3 else []

    def end(self, end: AsyncAgiEnd) -> None:
        self.seen.append(end)


def test_async_agi_channels_are_driven_one_command_at_a_time():
    ivr = RecordingIvr()
    channel = "Local/95598@ivr-95598-00000009;2"
    fields = {"Channel": channel, "CallerIDNum": "13900139000", "Exten": "95598", "Uniqueid": "1900000100.2",
              "Linkedid": "1900000100.1"}
    env = "agi_request%3A%20async%0Aagi_callerid%3A%2013900139000%0Aagi_extension%3A%2095598%0A%0A"

    async def body(worker):
        await asyncio.get_running_loop().run_in_executor(None, server.emit, [
            message_encode(("Event", "Newchannel"), fields),
            message_encode(("Event", "AsyncAGIStart"), {**fields, "Env": env})])

        async def finished():
            return any(isinstance(item, AsyncAgiEnd) for item in ivr.seen)

        await until(finished, what="the AGI session to end")

    with FakeAmiServer(agi_responder=lambda channel, command: "200 result=0 endpos=8000"
                       if command.startswith("STREAM") else "200 result=0") as server:
        run_with_worker(server, body, agi_handler=ivr)
        sent = [(action["Command"], action["CommandID"]) for action in server.actions if action["Action"] == "AGI"]
    assert [command for command, _id in sent] == ["ANSWER", 'STREAM FILE custom/welcome ""', "ASYNCAGI BREAK"]
    start, *results, end = ivr.seen
    assert (start.channel, start.caller_number, start.env["agi_extension"]) == (channel, "13900139000", "95598")
    assert [(result.command_id, result.code, result.data) for result in results] == [
        (sent[0][1], 200, ""), (sent[1][1], 200, "endpos=8000"), (sent[2][1], 200, "")]
    assert end.channel == channel
