"""The run_ami service: one AMI session to the PBX, its events turned into call facts and written through
core.services.calls.call_facts_apply, AsyncAGI channels handed to the IVR, PBX commands from the platform executed,
and the PBX's reachability published.

Facts are written in small batches (every `flush_seconds`, or at once when `batch_size` facts are waiting) so a busy
PBX costs one transaction per call per batch rather than one per event; a CallOffered (an agent's phone is ringing)
flushes at once, because the screen-pop follows its commit, and in its batch the calls being offered go first.
A batch is written on `lanes` database threads at once (a call's facts always on the same lane, in event order;
a queue member's likewise): on PostgreSQL two lanes, so the screen-pops of a burst of offered calls need not all
wait for each other (more lanes measured worse on two cores: the threads share one interpreter); SQLite takes one
writer at a time, so there the worker keeps one lane.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import zlib
from collections.abc import Callable

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.adapters.ami import (
    AmiActionFailed, AmiConnection, AmiError, AmiSession, AmiSettings, AsyncAgiEnd, AsyncAgiExec, AsyncAgiStart,
    agi_decode,
)
from callcenter.pbx_control import PBX_GROUP, PbxCommandInvalid, pbx_fields_check
from callcenter.tracking import CallTracker
from core.call_facts import AgentMemberState, CallFact, CallOffered

logger = logging.getLogger(__name__)

PBX_STATUS_CACHE_KEY = "callcenter:pbx_status"
WALLBOARD_GROUP = "callcenter.wallboard"
AGI_EVENTS = frozenset({"AsyncAGIStart", "AsyncAGIExec", "AsyncAGIEnd"})


def ami_settings_from_django(*, max_login_refusals: int = 5) -> AmiSettings:
    return AmiSettings(
        host=settings.AMI_HOST, port=settings.AMI_PORT, username=settings.AMI_USERNAME, secret=settings.AMI_SECRET,
        ping_seconds=settings.AMI_PING_SECONDS, reconnect_min_seconds=settings.AMI_RECONNECT_MIN_SECONDS,
        reconnect_max_seconds=settings.AMI_RECONNECT_MAX_SECONDS,
        action_timeout_seconds=settings.AMI_ACTION_TIMEOUT_SECONDS, max_login_refusals=max_login_refusals,
    )


def agent_group(agent_id: int) -> str:
    return f"callcenter.agent.{agent_id}"


def lanes_default() -> int:
    from django.db import connection

    return 2 if connection.vendor == "postgresql" else 1


def _fact_lane_key(fact: CallFact) -> str:
    return fact.interface if isinstance(fact, AgentMemberState) else fact.call_key


def facts_split(facts: list[CallFact], *, lanes: int) -> list[list[CallFact]]:
    """The batch in `lanes` lists, each call's (each member's) facts in one lane in their order, and in each lane the
    calls with a CallOffered first (their screen-pops wait on the commit)."""
    offered = {fact.call_key for fact in facts if isinstance(fact, CallOffered)}
    split: list[list[CallFact]] = [[] for _ in range(lanes)]
    later: list[list[CallFact]] = [[] for _ in range(lanes)]
    for fact in facts:
        key = _fact_lane_key(fact)
        lane = zlib.crc32(key.encode()) % lanes
        (split if getattr(fact, "call_key", None) in offered else later)[lane].append(fact)
    return [first + rest for first, rest in zip(split, later)]


def _facts_apply(facts: list[CallFact]) -> None:
    from core.services.calls import call_facts_apply

    call_facts_apply(facts=facts)


def _pbx_status_store(*, connected: bool, at: str) -> list[int]:
    """Keep the status for pages loading later; the agents signed in, to tell them too."""
    from django.core.cache import cache

    from core.models import AgentPresence, AgentState

    # Three missed heartbeats and the stored status expires: a dead worker reads as "not connected".
    cache.set(PBX_STATUS_CACHE_KEY, {"connected": connected, "at": at}, timeout=int(settings.AMI_PING_SECONDS * 3) + 5)
    return list(AgentPresence.objects.exclude(state=AgentState.LOGGED_OUT).values_list("agent_id", flat=True))


class IvrAgiHandler:
    """The bridge to the IVR's AsyncAGI transport (callcenter.ivr.agi): a started channel, then each command's
    result, answered with the AGI commands to send next. Called through database_sync_to_async (the IVR reads and
    writes the database)."""

    def __init__(self) -> None:
        from callcenter.ivr import agi

        self.agi = agi
        self.states: dict[str, dict] = {}

    def start(self, start: AsyncAgiStart) -> list[str]:
        state, commands = self.agi.agi_session_start(start=start)
        self.states[start.channel] = state
        return list(commands)

    def result(self, result: AsyncAgiExec) -> list[str]:
        state = self.states.get(result.channel)
        if state is None:
            return []
        state, commands = self.agi.agi_session_step(state=state, result=result)
        self.states[result.channel] = state
        return list(commands)

    def end(self, end: AsyncAgiEnd) -> None:
        state = self.states.pop(end.channel, None)
        if state is not None:
            self.agi.agi_session_end(state=state, end=end)


@dataclasses.dataclass
class _AgiChannel:
    queue: list[str] = dataclasses.field(default_factory=list)
    waiting_for: str = ""  # the CommandID sent and not answered yet


@dataclasses.dataclass
class WorkerStats:
    events: int = 0
    facts: int = 0
    batches: int = 0
    commands: int = 0
    agi_commands: int = 0


class AmiWorker:
    """See the module docstring. `run()` until `stop()` (SIGTERM); raises AmiLoginRefused when the PBX keeps
    refusing the login."""

    def __init__(self, *, ami: AmiSettings, batch_size: int = 500, flush_seconds: float = 0.05,
                 lanes: int | None = None, agi_handler=None, channel_layer=None,
                 facts_apply: Callable[[list[CallFact]], None] | None = None,
                 listen_for_commands: bool = True) -> None:
        self.ami = ami
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.lanes = lanes
        self.tracker = CallTracker()
        self.stats = WorkerStats()
        self.layer = channel_layer if channel_layer is not None else get_channel_layer()
        self.listen_for_commands = listen_for_commands and self.layer is not None
        # One lane: on the one thread all the worker's database work shares (SQLite's writers wait for each other).
        # Several: each lane's share of a batch on a thread of its own (PostgreSQL connections come from the pool).
        self._facts_apply_serial = database_sync_to_async(facts_apply or _facts_apply)
        self._facts_apply_parallel = database_sync_to_async(facts_apply or _facts_apply, thread_sensitive=False)
        self._agi_handler = agi_handler
        self._agi_channels: dict[str, _AgiChannel] = {}
        self._agi_inbox: asyncio.Queue | None = None
        self._command_ids = itertools.count(1)
        self._command_tasks: set[asyncio.Task] = set()
        self._buffer: list[CallFact] = []
        self._wake: asyncio.Event | None = None
        self._flushed: asyncio.Event | None = None
        self.session = AmiSession(settings=ami, on_event=self._on_event, on_connected=self._on_connected,
                                  on_disconnected=self._on_disconnected)

    # --- life cycle -----------------------------------------------------------------------------------------------

    def stop(self) -> None:
        self.session.stop()

    async def run(self) -> None:
        self._wake, self._flushed = asyncio.Event(), asyncio.Event()
        self._agi_inbox = asyncio.Queue()
        tasks = [asyncio.create_task(self._flush_loop(), name="ami-facts"),
                 asyncio.create_task(self._agi_loop(), name="ami-agi"),
                 asyncio.create_task(self._status_loop(), name="ami-status")]
        if self.listen_for_commands:
            tasks.append(asyncio.create_task(self._command_loop(), name="ami-commands"))
        try:
            await self.session.run()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._flush()
            await self._status_publish(connected=False)

    # --- events -> facts ------------------------------------------------------------------------------------------

    def _on_event(self, event) -> None:
        self.stats.events += 1
        if event.name in AGI_EVENTS:
            decoded = agi_decode(event)
            if decoded is not None:
                self._agi_inbox.put_nowait(decoded)
        facts = self.tracker.event_apply(event)
        if facts:
            self._facts_add(facts)

    def _facts_add(self, facts: list[CallFact]) -> None:
        self._buffer.extend(facts)
        if len(self._buffer) >= self.batch_size or any(isinstance(fact, CallOffered) for fact in facts):
            self._wake.set()

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
            self._wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        if self.lanes is None:
            self.lanes = await database_sync_to_async(lanes_default)()
        while self._buffer:
            batch, self._buffer = self._buffer, []
            lanes = [lane for lane in facts_split(batch, lanes=self.lanes) if lane]
            apply = self._facts_apply_serial if len(lanes) == 1 else self._facts_apply_parallel
            outcomes = await asyncio.gather(*(apply(lane) for lane in lanes), return_exceptions=True)
            failed = [fact for lane, outcome in zip(lanes, outcomes) if isinstance(outcome, BaseException)
                      for fact in lane]
            self.stats.facts += len(batch) - len(failed)
            self.stats.batches += 1
            if failed:
                # The database is away: keep the facts (each call's in order) and try again shortly; the PBX keeps
                # talking meanwhile.
                error = next(outcome for outcome in outcomes if isinstance(outcome, BaseException))
                logger.error("writing %d call facts failed (%s); retrying", len(failed), error)
                self._buffer[:0] = failed
                await asyncio.sleep(1.0)
        self._flushed.set()

    async def facts_drained(self, timeout: float = 10) -> None:
        """Wait until every fact received so far is written (tests and the bench)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._buffer or self._wake.is_set():
            self._flushed.clear()
            self._wake.set()
            await asyncio.wait_for(self._flushed.wait(), max(deadline - asyncio.get_running_loop().time(), 0.01))

    # --- connection life ------------------------------------------------------------------------------------------

    async def _on_connected(self, connection: AmiConnection) -> None:
        """Re-read the PBX's live channels and queues: calls that began or ended while we were away are caught up,
        live ones re-reported (idempotent)."""
        known_before = self.tracker.legs_snapshot()
        _response, channels = await connection.action_list("CoreShowChannels")
        try:
            _response, queue_status = await connection.action_list("QueueStatus")
        except AmiActionFailed:
            queue_status = []
        facts = self.tracker.resync(channels=channels, queue_status=queue_status, known_before=known_before)
        logger.info("AMI resync: %d live channels, %d facts", len(channels), len(facts))
        if facts:
            self._facts_add(facts)
            self._wake.set()
        await self._status_publish(connected=True)

    async def _on_disconnected(self, reason: str) -> None:
        self._agi_channels.clear()
        await self._status_publish(connected=False)

    async def _status_publish(self, *, connected: bool) -> None:
        at = timezone.now().isoformat()
        try:
            agent_ids = await database_sync_to_async(_pbx_status_store)(connected=connected, at=at)
        except Exception:
            logger.exception("storing the PBX status failed")
            agent_ids = []
        if self.layer is None:
            return
        message = {"type": "callcenter.message", "payload": {"kind": "pbx_status", "connected": connected, "at": at}}
        with contextlib.suppress(Exception):
            await self.layer.group_send(WALLBOARD_GROUP, message)
            for agent_id in agent_ids:
                await self.layer.group_send(agent_group(agent_id), message)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ami.ping_seconds)
            await self._status_publish(connected=self.session.connected)

    # --- AsyncAGI -------------------------------------------------------------------------------------------------

    def _agi_handler_get(self):
        if self._agi_handler is None:
            self._agi_handler = IvrAgiHandler()
        return self._agi_handler

    async def _agi_loop(self) -> None:
        """One AGI message at a time: the IVR's answers for a channel must follow its results in order."""
        while True:
            message = await self._agi_inbox.get()
            try:
                await self._agi_handle(message)
            except Exception:
                logger.exception("AsyncAGI handling failed on %s", getattr(message, "channel", "?"))

    async def _agi_handle(self, message: AsyncAgiStart | AsyncAgiExec | AsyncAgiEnd) -> None:
        handler = self._agi_handler_get()
        if isinstance(message, AsyncAgiStart):
            channel = self._agi_channels[message.channel] = _AgiChannel()
            channel.queue.extend(await database_sync_to_async(handler.start)(message))
        elif isinstance(message, AsyncAgiExec):
            channel = self._agi_channels.get(message.channel)
            # Only the results of our own commands (CommandId we sent) drive the IVR.
            if channel is None or message.command_id != channel.waiting_for:
                return
            channel.waiting_for = ""
            channel.queue.extend(await database_sync_to_async(handler.result)(message))
        else:
            self._agi_channels.pop(message.channel, None)
            await database_sync_to_async(handler.end)(message)
            return
        await self._agi_send_next(message.channel, channel)

    async def _agi_send_next(self, channel_name: str, channel: _AgiChannel) -> None:
        connection = self.session.connection
        if channel.waiting_for or not channel.queue or connection is None:
            return
        command = channel.queue.pop(0)
        command_id = f"ivr-{next(self._command_ids)}"
        channel.waiting_for = command_id
        try:
            await connection.agi(channel=channel_name, command=command, command_id=command_id)
            self.stats.agi_commands += 1
        except AmiError as error:
            # The channel hung up or left AsyncAGI meanwhile: its AsyncAGIEnd/Hangup tidies up.
            logger.info("AGI %r on %s refused: %s", command, channel_name, error)
            self._agi_channels.pop(channel_name, None)

    # --- PBX commands from the platform ---------------------------------------------------------------------------

    async def _command_loop(self) -> None:
        """Listen on callcenter.pbx; a channel layer that fails (Redis restarting) is retried, not fatal."""
        while True:
            channel = None
            try:
                channel = await self.layer.new_channel()
                await self.layer.group_add(PBX_GROUP, channel)
                while True:
                    message = await self.layer.receive(channel)
                    if message.get("type") == "pbx.command":
                        task = asyncio.create_task(self._command_run(message))
                        self._command_tasks.add(task)
                        task.add_done_callback(self._command_tasks.discard)
            except asyncio.CancelledError:
                if channel is not None:
                    with contextlib.suppress(Exception):
                        await self.layer.group_discard(PBX_GROUP, channel)
                raise
            except Exception:
                logger.exception("listening on %s failed; retrying", PBX_GROUP)
                await asyncio.sleep(1.0)

    async def _command_run(self, message: dict) -> None:
        action = str(message.get("action", ""))
        ok, text = False, ""
        try:
            fields = pbx_fields_check(action=action, fields=dict(message.get("fields") or {}))
            connection = self.session.connection
            if connection is None or not connection.is_open:
                text = _("话务系统未连接")
            else:
                response = await connection.action(action, fields)
                ok, text = True, response.keys.get("Message", "")
                self.stats.commands += 1
        except PbxCommandInvalid as error:
            text = str(error)
        except AmiActionFailed as error:
            text = str(error)
        except AmiError as error:
            text = _("话务系统无响应：%(error)s") % {"error": error}
        logger.info("PBX command %s %s: %s", action, "ok" if ok else "failed", text)
        agent_id = message.get("reply_to_agent_id")
        if agent_id is not None and self.layer is not None:
            await self.layer.group_send(agent_group(int(agent_id)), {
                "type": "callcenter.message",
                "payload": {"kind": "pbx_result", "request_id": message.get("request_id", ""), "action": action,
                            "ok": ok, "message": text},
            })
