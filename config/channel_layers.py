"""A channel layer for the embedded mode (no Redis) that works across processes: Daphne, the Celery worker and run_ami
share one SQLite file under VAR_DIR, apart from the main database so that websocket traffic never waits on its locks.

Why not the InMemoryChannelLayer: it lives inside one process, so an alert sent by the Celery worker or a screen-pop
sent by the run_ami worker never reached a browser connected to Daphne.

How it works:
- Every send is a row (channel, expiry time, msgpack body); a receive deletes the rows it takes, so the file holds only
  undelivered messages. Capacity is the count of live rows of a channel (ChannelFull past it, as channels_redis).
- Groups are rows (group, channel, joined); a membership older than group_expiry ends, and a channel that let a message
  expire unread is taken out of every group (a consumer that died without group_discard), as the in-memory layer does.
- Receiving: one poller task per event loop fetches, in a single statement, the messages of every channel awaited on
  that loop. It wakes at once for a send made in this process and otherwise checks `PRAGMA data_version` every
  poll_interval seconds: the number changes only when another connection (another process) committed, so an idle
  poll costs no table read. A send from another process therefore arrives within one poll_interval.
- SQLite runs in one thread per process (an executor owning the connection): the event loops never block on a lock,
  and a process forked by Celery's pool opens its own connection instead of sharing its parent's.
"""
from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgpack
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer

SCHEMA = """
CREATE TABLE IF NOT EXISTS channel_message (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    expires REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS channel_message_channel ON channel_message (channel, expires);
CREATE INDEX IF NOT EXISTS channel_message_expires ON channel_message (expires);
CREATE TABLE IF NOT EXISTS channel_group (
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    joined REAL NOT NULL,
    PRIMARY KEY (name, channel)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS channel_group_channel ON channel_group (channel);
"""
# SQLite's default limit on host parameters is 32766; batches stay far below it.
PARAMETER_BATCH = 500
# Expired messages and memberships are swept at most this often per process.
SWEEP_INTERVAL_SECONDS = 1.0

# Connections opened before a fork stay referenced in the child and are never closed there: closing them could
# checkpoint or unlink the parent's WAL while the parent still uses it.
_inherited_connections: list[sqlite3.Connection] = []
_layers: weakref.WeakSet[SQLiteChannelLayer] = weakref.WeakSet()


def _locks_renewed_in_child() -> None:
    """A fork while another thread held a layer's lock would leave it locked forever in the child."""
    for layer in list(_layers):
        layer._lock = threading.Lock()


os.register_at_fork(after_in_child=_locks_renewed_in_child)


class _LoopPoller:
    """Fetches the messages awaited on one event loop; runs only while that loop has a receive waiting."""

    def __init__(self, layer: SQLiteChannelLayer, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.loop = loop
        self.wake = asyncio.Event()
        self.force = True
        self.version: int | None = None
        self.task = loop.create_task(self.run())

    def kick(self) -> None:
        """Fetch now instead of after the next data_version check (runs on the poller's loop)."""
        self.force = True
        self.wake.set()

    async def run(self) -> None:
        try:
            await self._fetch_while_awaited()
        finally:
            with self.layer._lock:
                if self.layer._pollers.get(self.loop) is self:
                    del self.layer._pollers[self.loop]

    async def _fetch_while_awaited(self) -> None:
        layer = self.layer
        while True:
            with layer._lock:
                channels = layer._channels_awaited_on(self.loop)
                if not channels:
                    # No await until run() unregisters this poller: a receive on this loop cannot slip in between.
                    return
            force, self.force = self.force, False
            self.wake.clear()
            try:
                self.version, rows = await layer._in_db_thread(layer._poll_sync, channels, self.version, force)
            except sqlite3.Error:
                # A locked or briefly unavailable file: fetch again on the next tick rather than fail every receive.
                self.force = True
                rows = []
            if rows:
                layer._deliver(rows)
            if not self.force:
                timer = self.loop.call_later(layer.poll_interval, self.wake.set)
                try:
                    await self.wake.wait()
                finally:
                    timer.cancel()


class SQLiteChannelLayer(BaseChannelLayer):
    """channels' layer API (send, receive, new_channel, groups, flush) over an SQLite file shared by processes."""

    extensions = ["groups", "flush"]

    def __init__(
        self,
        path: str | Path,
        expiry: float = 60,
        group_expiry: float = 86400,
        capacity: int = 100,
        channel_capacity: dict | None = None,
        poll_interval: float = 0.02,
        busy_timeout: float = 5.0,
    ) -> None:
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=channel_capacity)
        self.channel_capacity = self.compile_capacities(channel_capacity or {})
        self.path = str(path)
        self.group_expiry = group_expiry
        if not 0 < poll_interval <= 0.05:
            raise ValueError("poll_interval must be above 0 and at most 0.05 seconds")
        self.poll_interval = poll_interval
        self.busy_timeout = busy_timeout
        self.client_prefix = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        # channel -> messages fetched for it and not yet handed to a receive: (expires, body)
        self._buffers: dict[str, deque[tuple[float, bytes]]] = {}
        # channel -> the receives waiting on it: (their loop, the event that wakes them)
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._pollers: dict[asyncio.AbstractEventLoop, _LoopPoller] = {}
        self._pid: int | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self._last_sweep = 0.0
        _layers.add(self)

    # Database, always in the layer's own thread

    def _this_process(self) -> None:
        """Start afresh in a process forked after the layer was used: the parent's thread, loops and waits are gone."""
        with self._lock:
            if self._pid == os.getpid():
                return
            if self._connection is not None:
                _inherited_connections.append(self._connection)
            self._connection = None
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-channel-layer")
            self._pollers = {}
            self._waiters = {}
            self._buffers = {}
            self._pid = os.getpid()

    async def _in_db_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        self._this_process()
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            # Messages live seconds: losing the last ones on a power cut is acceptable, an fsync per send is not.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(SCHEMA)
            self._connection = connection
        return self._connection

    def _write(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        connection = self._db()
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    def _sweep_if_due(self, connection: sqlite3.Connection, now: float) -> None:
        if now - self._last_sweep < SWEEP_INTERVAL_SECONDS:
            return
        self._last_sweep = now
        connection.execute(
            "DELETE FROM channel_group WHERE channel IN (SELECT channel FROM channel_message WHERE expires <= ?)",
            (now,),
        )
        connection.execute("DELETE FROM channel_message WHERE expires <= ?", (now,))
        connection.execute("DELETE FROM channel_group WHERE joined <= ?", (now - self.group_expiry,))

    def _send_sync(self, channel: str, body: bytes) -> None:
        def work(connection: sqlite3.Connection) -> None:
            now = time.time()
            self._sweep_if_due(connection, now)
            (count,) = connection.execute(
                "SELECT count(*) FROM channel_message WHERE channel = ? AND expires > ?", (channel, now)
            ).fetchone()
            if count >= self.get_capacity(channel):
                raise ChannelFull(channel)
            connection.execute(
                "INSERT INTO channel_message (channel, expires, body) VALUES (?, ?, ?)",
                (channel, now + self.expiry, body),
            )

        self._write(work)

    def _group_send_sync(self, group: str, body: bytes) -> list[str]:
        def work(connection: sqlite3.Connection) -> list[str]:
            now = time.time()
            self._sweep_if_due(connection, now)
            members = [
                row[0]
                for row in connection.execute(
                    "SELECT channel FROM channel_group WHERE name = ? AND joined > ?", (group, now - self.group_expiry)
                )
            ]
            delivered = []
            for batch in _batches(members):
                marks = ",".join("?" * len(batch))
                counts = dict(
                    connection.execute(
                        f"SELECT channel, count(*) FROM channel_message WHERE channel IN ({marks}) AND expires > ? "
                        "GROUP BY channel",
                        (*batch, now),
                    ).fetchall()
                )
                # A full channel misses this message; the others still get it (channels_redis does the same).
                room = [c for c in batch if counts.get(c, 0) < self.get_capacity(c)]
                connection.executemany(
                    "INSERT INTO channel_message (channel, expires, body) VALUES (?, ?, ?)",
                    [(c, now + self.expiry, body) for c in room],
                )
                delivered.extend(room)
            return delivered

        return self._write(work)

    def _poll_sync(
        self, channels: list[str], last_version: int | None, force: bool
    ) -> tuple[int, list[tuple[int, str, float, bytes]]]:
        connection = self._db()
        # Read before fetching: a commit landing after this read changes the number again and is fetched next tick.
        (version,) = connection.execute("PRAGMA data_version").fetchone()
        if version == last_version and not force:
            return version, []
        now = time.time()
        rows: list[tuple[int, str, float, bytes]] = []
        for batch in _batches(channels):
            marks = ",".join("?" * len(batch))
            found = connection.execute(
                f"SELECT EXISTS (SELECT 1 FROM channel_message WHERE channel IN ({marks}) AND expires > ?)",
                (*batch, now),
            ).fetchone()[0]
            if found:
                rows.extend(
                    connection.execute(
                        f"DELETE FROM channel_message WHERE channel IN ({marks}) AND expires > ? "
                        "RETURNING id, channel, expires, body",
                        (*batch, now),
                    ).fetchall()
                )
        rows.sort()
        return version, rows

    def _group_add_sync(self, group: str, channel: str) -> None:
        self._write(
            lambda connection: connection.execute(
                "INSERT INTO channel_group (name, channel, joined) VALUES (?, ?, ?) "
                "ON CONFLICT (name, channel) DO UPDATE SET joined = excluded.joined",
                (group, channel, time.time()),
            )
        )

    def _group_discard_sync(self, group: str, channel: str) -> None:
        self._write(
            lambda connection: connection.execute(
                "DELETE FROM channel_group WHERE name = ? AND channel = ?", (group, channel)
            )
        )

    def _flush_sync(self) -> None:
        def work(connection: sqlite3.Connection) -> None:
            connection.execute("DELETE FROM channel_message")
            connection.execute("DELETE FROM channel_group")

        self._write(work)

    def _close_sync(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # Local hand-over between the pollers and the waiting receives

    def _channels_awaited_on(self, loop: asyncio.AbstractEventLoop) -> list[str]:
        return [channel for channel, waiters in self._waiters.items() if any(w[0] is loop for w in waiters)]

    def _deliver(self, rows: list[tuple[int, str, float, bytes]]) -> None:
        now = time.time()
        with self._lock:
            # A receive cancelled just after its fetch (a consumer that disconnected) leaves messages nobody asks for.
            stale = [c for c, buffer in self._buffers.items() if c not in self._waiters and buffer[-1][0] <= now]
            for channel in stale:
                del self._buffers[channel]
            for _, channel, expires, body in rows:
                self._buffers.setdefault(channel, deque()).append((expires, body))
            woken = [waiter for channel in {row[1] for row in rows} for waiter in self._waiters.get(channel, [])]
        for loop, event in woken:
            _call_on(loop, event.set)

    def _kick_pollers_for(self, channels: Iterable[str]) -> None:
        """A send made in this process wakes the pollers of the loops waiting on those channels right away."""
        with self._lock:
            loops = {waiter[0] for channel in channels for waiter in self._waiters.get(channel, [])}
            pollers = [self._pollers[loop] for loop in loops if loop in self._pollers]
        for poller in pollers:
            _call_on(poller.loop, poller.kick)

    def _take_buffered(self, channel: str) -> dict | None:
        """The oldest unexpired message fetched for the channel, or None (call with the lock held)."""
        buffer = self._buffers.get(channel)
        now = time.time()
        while buffer:
            expires, body = buffer.popleft()
            if expires > now:
                if not buffer:
                    del self._buffers[channel]
                return msgpack.unpackb(body, raw=False)
        self._buffers.pop(channel, None)
        return None

    # Channel layer API

    async def send(self, channel: str, message: dict) -> None:
        """Send a message onto a channel; ChannelFull when it already holds `capacity` unread messages."""
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        await self._in_db_thread(self._send_sync, channel, _pack(message))
        self._kick_pollers_for([channel])

    async def receive(self, channel: str) -> dict:
        """The next message on the channel, waiting for it; safe to cancel (an unread message stays for the next)."""
        self.require_valid_channel_name(channel)
        self._this_process()
        loop = asyncio.get_running_loop()
        waiter = (loop, asyncio.Event())
        with self._lock:
            message = self._take_buffered(channel)
            if message is not None:
                return message
            self._waiters.setdefault(channel, []).append(waiter)
        try:
            with self._lock:
                poller = self._pollers.get(loop)
                if poller is None:
                    poller = self._pollers[loop] = _LoopPoller(self, loop)
            poller.kick()
            while True:
                await waiter[1].wait()
                waiter[1].clear()
                with self._lock:
                    message = self._take_buffered(channel)
                if message is not None:
                    return message
        finally:
            with self._lock:
                waiters = self._waiters.get(channel, [])
                if waiter in waiters:
                    waiters.remove(waiter)
                if not waiters:
                    self._waiters.pop(channel, None)

    async def new_channel(self, prefix: str = "specific") -> str:
        return f"{prefix}.{self.client_prefix}!{uuid.uuid4().hex}"

    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        await self._in_db_thread(self._group_add_sync, group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.require_valid_channel_name(channel)
        self.require_valid_group_name(group)
        await self._in_db_thread(self._group_discard_sync, group, channel)

    async def group_send(self, group: str, message: dict) -> None:
        """Send to every member of the group; a member at capacity misses the message, the others still get it."""
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        delivered = await self._in_db_thread(self._group_send_sync, group, _pack(message))
        self._kick_pollers_for(delivered)

    async def flush(self) -> None:
        await self._in_db_thread(self._flush_sync)
        with self._lock:
            self._buffers.clear()

    async def close(self) -> None:
        await self._in_db_thread(self._close_sync)


def _pack(message: dict) -> bytes:
    return msgpack.packb(message, use_bin_type=True)


def _batches(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), PARAMETER_BATCH):
        yield items[start : start + PARAMETER_BATCH]


def _call_on(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Run the callback on the loop's thread; a loop that has closed meanwhile has nobody left to wake."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        callback()
        return
    try:
        loop.call_soon_threadsafe(callback)
    except RuntimeError:
        pass
