"""The Asterisk Manager Interface, as plain values: an asyncio connection that speaks AMI's wire format and a session
that keeps one logged in (Ping keep-alive, reconnect with backoff). Protocol only: no ORM, no Django models.

Built on the `asterisk-ami` package: its `Action` writes an action in the wire format (headers and `Variable:`
lines), and messages are handed out as its `Event` and `Response` types (`Response.read` parses responses). What it
lacks is written here, because its `AMIClient` cannot serve a long-running worker:
- it reads with a blocking socket on a thread and calls listeners from it, while the worker lives in asyncio beside
  the channel layer; the framing below buffers bytes until CRLF CRLF, so a message split anywhere across reads (or
  several in one read) is parsed whole;
- it has no event lists: `CoreShowChannels`, `Status` and `QueueStatus` answer with `EventList: start`, then events
  carrying the action's ActionID, then a `...Complete` event; `action_list` collects them;
- `Event.read` keeps only the last of repeated headers (a `Status` event's `Variable:` lines) and silently drops
  lines it cannot split; `event_parse` keeps repeated `Variable:` headers as a dict and repeated others joined;
- its `FutureResponse` and `AutoReconnect` ping and log in again every half second with no backoff, which hammers
  a PBX that refuses the login (Asterisk answers a bad secret after a delay and closes the socket); the session
  here backs off exponentially between AMI_RECONNECT_MIN and MAX seconds and reports repeated refusals;
- AsyncAGI: `AsyncAGIStart`'s `Env` and `AsyncAGIExec`'s `Result` are URL-encoded, and the `AGI` action's
  `CommandID` header comes back as `CommandId` in `AsyncAGIExec`; the dataclasses below decode them.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import re
import urllib.parse
from collections.abc import Awaitable, Callable

from asterisk.ami import Action, Event, Response

logger = logging.getLogger(__name__)

BANNER_PREFIX = "Asterisk Call Manager/"
MESSAGE_END = b"\r\n\r\n"
LINE_END = b"\r\n"
# Headers that Asterisk repeats in one message and that name a variable each ("Variable: NAME=value").
VARIABLE_HEADERS = frozenset({"Variable", "ChanVariable", "DestChanVariable"})


class AmiError(Exception):
    """Something went wrong talking to the PBX."""


class AmiConnectionLost(AmiError):
    """The TCP connection closed (EOF, reset) or never opened."""


class AmiProtocolError(AmiError):
    """The peer does not speak AMI (no banner)."""


class AmiLoginRefused(AmiError):
    """The PBX answered the Login action with an error (wrong user or secret, or not permitted)."""


class AmiActionTimeout(AmiError):
    """No response to an action within AMI_ACTION_TIMEOUT_SECONDS: the connection is treated as dead."""


class AmiActionFailed(AmiError):
    """The PBX answered an action with `Response: Error`; the message is the PBX's."""

    def __init__(self, response: Response) -> None:
        self.response = response
        super().__init__(response.keys.get("Message", "Error"))


# --- parsing ------------------------------------------------------------------------------------------------------


def event_parse(text: str) -> Event:
    """One `Event:` message (without the blank line) as an asterisk.ami Event, repeated headers kept."""
    lines = text.split("\r\n")
    name = lines[0].partition(":")[2].strip()
    keys: dict = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value[1:] if value.startswith(" ") else value
        if key in VARIABLE_HEADERS:
            variable, _eq, variable_value = value.partition("=")
            keys.setdefault(key, {})[variable] = variable_value
        elif key in keys:
            keys[key] = f"{keys[key]}\n{value}"
        else:
            keys[key] = value
    return Event(name, keys)


def message_parse(text: str) -> Event | Response | None:
    """An AMI message as an Event or a Response; None for anything else (logged and skipped)."""
    head = text[:9].lower()
    if head.startswith("event:"):
        return event_parse(text)
    if head.startswith("response:"):
        return Response.read(text)
    return None


def action_encode(action: Action) -> bytes:
    """The wire bytes of an action: asterisk.ami's headers, ended by the blank line."""
    return (str(action) + "\r\n").encode("utf-8")


class MessageFramer:
    """Bytes as they arrive (a message may be split anywhere, several may come in one read) → whole messages."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        if MESSAGE_END not in self._buffer:
            return []
        *messages, self._buffer = self._buffer.split(MESSAGE_END)
        return [message.decode("utf-8", "replace") for message in messages]

    @property
    def pending(self) -> bytes:
        return self._buffer


# --- AsyncAGI -----------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AsyncAgiStart:
    """A channel entered AGI(agi:async): its identity and the AGI environment (agi_callerid, agi_extension...)."""

    channel: str
    unique_id: str
    linked_id: str
    caller_number: str
    env: dict[str, str]

    @classmethod
    def from_event(cls, event: Event) -> AsyncAgiStart:
        env: dict[str, str] = {}
        for line in urllib.parse.unquote(event.keys.get("Env", "")).split("\n"):
            key, sep, value = line.partition(":")
            if sep:
                env[key.strip()] = value.strip()
        return cls(
            channel=event.keys.get("Channel", ""), unique_id=event.keys.get("Uniqueid", ""),
            linked_id=event.keys.get("Linkedid", ""), caller_number=env.get("agi_callerid", ""), env=env,
        )


_AGI_RESULT = re.compile(r"^(?P<code>\d{3})(?: result=(?P<result>\S*))?\s*(?P<data>.*)$")


@dataclasses.dataclass(frozen=True)
class AsyncAgiExec:
    """The outcome of one AGI command: `200 result=12`, `200 result= (timeout)`, `510 Invalid or unknown command`.

    `command_id` is the CommandID we sent (AsyncAGIExec spells it CommandId); `result` is the text after
    `result=` ("" when absent), `data` what follows it (e.g. "(timeout)", "(12)", "endpos=8000")."""

    channel: str
    unique_id: str
    linked_id: str
    command_id: str
    code: int
    result: str
    data: str

    @property
    def ok(self) -> bool:
        return self.code == 200

    @classmethod
    def from_event(cls, event: Event) -> AsyncAgiExec:
        raw = urllib.parse.unquote(event.keys.get("Result", "")).strip()
        match = _AGI_RESULT.match(raw)
        code, result, data = (
            (int(match["code"]), match["result"] or "", match["data"].strip()) if match else (0, "", raw)
        )
        return cls(
            channel=event.keys.get("Channel", ""), unique_id=event.keys.get("Uniqueid", ""),
            linked_id=event.keys.get("Linkedid", ""), command_id=event.keys.get("CommandId", ""),
            code=code, result=result, data=data,
        )


@dataclasses.dataclass(frozen=True)
class AsyncAgiEnd:
    """The channel left AsyncAGI (ASYNCAGI BREAK, a failed STREAM FILE, or a hang-up)."""

    channel: str
    unique_id: str
    linked_id: str

    @classmethod
    def from_event(cls, event: Event) -> AsyncAgiEnd:
        return cls(channel=event.keys.get("Channel", ""), unique_id=event.keys.get("Uniqueid", ""),
                   linked_id=event.keys.get("Linkedid", ""))


def agi_decode(event: Event) -> AsyncAgiStart | AsyncAgiExec | AsyncAgiEnd | None:
    """The AsyncAGI dataclass for an AsyncAGIStart/Exec/End event, None for any other event."""
    if event.name == "AsyncAGIStart":
        return AsyncAgiStart.from_event(event)
    if event.name == "AsyncAGIExec":
        return AsyncAgiExec.from_event(event)
    if event.name == "AsyncAGIEnd":
        return AsyncAgiEnd.from_event(event)
    return None


# --- the connection -----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Pending:
    future: asyncio.Future
    collect: bool
    response: Response | None = None
    events: list[Event] = dataclasses.field(default_factory=list)
    complete: bool = False


class AmiConnection:
    """One TCP connection to the AMI port: banner, framing, ActionID correlation, event lists.

    Events not answering an event-list action go to `on_event` (a plain callable, called in order from the reader
    task) whether or not they arrive before the Response of the action that caused them."""

    def __init__(self, *, on_event: Callable[[Event], None], action_timeout: float = 10.0,
                 action_id_prefix: str | None = None) -> None:
        self.on_event = on_event
        self.action_timeout = action_timeout
        self.banner = ""
        self._prefix = action_id_prefix or f"p{os.getpid()}-{id(self) & 0xFFFF:x}"
        self._counter = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task | None = None
        self.closed: asyncio.Future | None = None

    @property
    def is_open(self) -> bool:
        return self.closed is not None and not self.closed.done()

    async def open(self, *, host: str, port: int, timeout: float | None = None) -> str:
        """Connect and read the banner ("Asterisk Call Manager/11.0.0"); returns the protocol version."""
        timeout = self.action_timeout if timeout is None else timeout
        try:
            self._reader, self._writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            line = await asyncio.wait_for(self._reader.readuntil(LINE_END), timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as error:
            await self._transport_close()
            raise AmiConnectionLost(f"{host}:{port}: {error or type(error).__name__}") from error
        self.banner = line.decode("utf-8", "replace").strip()
        if not self.banner.startswith(BANNER_PREFIX):
            await self._transport_close()
            raise AmiProtocolError(f"{host}:{port} is not an AMI port (banner {self.banner!r})")
        self.closed = asyncio.get_running_loop().create_future()
        self._read_task = asyncio.create_task(self._read_loop(), name="ami-reader")
        return self.banner[len(BANNER_PREFIX):]

    async def _read_loop(self) -> None:
        framer = MessageFramer()
        error: BaseException | None = None
        try:
            while True:
                chunk = await self._reader.read(65536)
                if not chunk:
                    break
                for text in framer.feed(chunk):
                    self._receive(text)
        except (OSError, asyncio.IncompleteReadError) as exc:
            error = exc
        finally:
            self._lost(AmiConnectionLost(str(error) if error else "connection closed by the PBX"))

    def _receive(self, text: str) -> None:
        message = message_parse(text)
        if isinstance(message, Response):
            pending = self._pending.get(message.keys.get("ActionID", ""))
            if pending is None:
                return
            pending.response = message
            starts_list = message.keys.get("EventList", "").lower() == "start"
            if not (pending.collect and starts_list and not message.is_error()) or pending.complete:
                self._settle(message.keys["ActionID"])
        elif isinstance(message, Event):
            action_id = message.keys.get("ActionID", "")
            pending = self._pending.get(action_id) if action_id else None
            if pending is not None and pending.collect:
                if message.keys.get("EventList", "").lower() == "complete":
                    pending.complete = True
                    if pending.response is not None:
                        self._settle(action_id)
                else:
                    pending.events.append(message)
                return
            try:
                self.on_event(message)
            except Exception:
                logger.exception("AMI event handler failed on %s", message.name)
        elif text.strip():
            logger.warning("AMI: skipped a message that is neither a Response nor an Event: %r", text[:200])

    def _settle(self, action_id: str) -> None:
        pending = self._pending.pop(action_id)
        if not pending.future.done():
            pending.future.set_result((pending.response, pending.events))

    def _lost(self, error: AmiError) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(error)
        self._pending.clear()
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(error)

    def action_id_next(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"

    async def _send(self, action: Action, *, collect: bool) -> tuple[Response, list[Event]]:
        if not self.is_open:
            raise AmiConnectionLost("not connected")
        action_id = action.keys.setdefault("ActionID", self.action_id_next())
        future = asyncio.get_running_loop().create_future()
        self._pending[action_id] = _Pending(future=future, collect=collect)
        try:
            self._writer.write(action_encode(action))
            await self._writer.drain()
        except OSError as error:
            self._pending.pop(action_id, None)
            raise AmiConnectionLost(str(error)) from error
        try:
            return await asyncio.wait_for(future, self.action_timeout)
        except asyncio.TimeoutError:
            self._pending.pop(action_id, None)
            raise AmiActionTimeout(f"no response to {action.name} within {self.action_timeout:g} s") from None

    async def action(self, name: str, fields: dict[str, str] | None = None, *,
                     variables: dict[str, str] | None = None, check: bool = True) -> Response:
        """Send an action and await its Response (AmiActionFailed on `Response: Error` when check)."""
        response, _events = await self._send(Action(name, dict(fields or {}), dict(variables or {})), collect=False)
        if check and response.is_error():
            raise AmiActionFailed(response)
        return response

    async def action_list(self, name: str, fields: dict[str, str] | None = None) -> tuple[Response, list[Event]]:
        """Send an event-list action (CoreShowChannels, Status, QueueStatus...) and await all its events."""
        response, events = await self._send(Action(name, dict(fields or {})), collect=True)
        if response.is_error():
            raise AmiActionFailed(response)
        return response, events

    async def login(self, *, username: str, secret: str, events: bool = True) -> None:
        fields = {"Username": username, "Secret": secret}
        if not events:
            fields["Events"] = "off"
        response = await self.action("Login", fields, check=False)
        if response.is_error():
            raise AmiLoginRefused(response.keys.get("Message", "Authentication failed"))

    async def agi(self, *, channel: str, command: str, command_id: str) -> Response:
        """Queue an AGI command on a channel in AsyncAGI; its outcome arrives as AsyncAGIExec (CommandId)."""
        return await self.action("AGI", {"Channel": channel, "Command": command, "CommandID": command_id})

    async def logoff(self) -> None:
        """Say goodbye (Logoff → Response: Goodbye) and close; quiet when the connection is already gone."""
        if self.is_open:
            with contextlib.suppress(AmiError):
                await self.action("Logoff", check=False)
        await self.close()

    async def close(self) -> None:
        await self._transport_close()
        if self._read_task is not None:
            self._read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._read_task
            self._read_task = None
        self._lost(AmiConnectionLost("closed"))

    async def _transport_close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await self._writer.wait_closed()
            self._writer = None


# --- the session --------------------------------------------------------------------------------------------------


def backoff_delays(*, minimum: float, maximum: float):
    """minimum, 2*minimum, 4*minimum ... capped at maximum, forever."""
    delay = max(minimum, 0.0)
    while True:
        yield min(delay, maximum)
        delay = min(max(delay * 2, 0.001), maximum)


@dataclasses.dataclass(frozen=True)
class AmiSettings:
    host: str
    port: int
    username: str
    secret: str
    ping_seconds: float = 20.0
    reconnect_min_seconds: float = 1.0
    reconnect_max_seconds: float = 60.0
    action_timeout_seconds: float = 10.0
    # Consecutive refused logins after which the session gives up (AmiLoginRefused); 0 = never give up.
    max_login_refusals: int = 5


class AmiSession:
    """Keeps one AMI connection logged in: connect, log in, `on_connected` (the worker re-reads live channels),
    Ping every ping_seconds, and after any drop reconnect with exponential backoff. `run()` returns on `stop()`,
    and raises AmiLoginRefused after max_login_refusals refusals in a row."""

    def __init__(self, *, settings: AmiSettings, on_event: Callable[[Event], None],
                 on_connected: Callable[[AmiConnection], Awaitable[None]] | None = None,
                 on_disconnected: Callable[[str], Awaitable[None]] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        self.settings = settings
        self.on_event = on_event
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.connection: AmiConnection | None = None
        self.connects = 0
        self.login_refusals = 0
        self._stopping = asyncio.Event()
        self._sleep = sleep

    @property
    def connected(self) -> bool:
        return self.connection is not None and self.connection.is_open

    def stop(self) -> None:
        self._stopping.set()

    async def _wait(self, seconds: float) -> bool:
        """Sleep unless stopped first; True when stopped."""
        if self._sleep is not None:
            await self._sleep(seconds)
            return self._stopping.is_set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    async def run(self) -> None:
        delays = self._delays()
        while not self._stopping.is_set():
            reason = await self._session_once()
            if reason is None:
                delays = self._delays()
            if self._stopping.is_set():
                break
            delay = next(delays)
            logger.warning("AMI %s:%s: %s; reconnecting in %.1f s", self.settings.host, self.settings.port,
                           reason or "disconnected", delay)
            if await self._wait(delay):
                break

    def _delays(self):
        return backoff_delays(minimum=self.settings.reconnect_min_seconds,
                              maximum=self.settings.reconnect_max_seconds)

    async def _session_once(self) -> str | None:
        """One connection's life. None when it was logged in (backoff starts over), else why it failed."""
        settings = self.settings
        connection = AmiConnection(on_event=self.on_event, action_timeout=settings.action_timeout_seconds)
        try:
            await connection.open(host=settings.host, port=settings.port)
            await connection.login(username=settings.username, secret=settings.secret)
        except AmiLoginRefused as error:
            await connection.close()
            self.login_refusals += 1
            logger.error("AMI login refused for %r: %s (%d in a row)", settings.username, error,
                         self.login_refusals)
            if settings.max_login_refusals and self.login_refusals >= settings.max_login_refusals:
                raise
            return f"login refused: {error}"
        except AmiError as error:
            await connection.close()
            return str(error)
        self.login_refusals = 0
        self.connects += 1
        self.connection = connection
        logger.info("AMI connected to %s:%s (%s), login accepted", settings.host, settings.port, connection.banner)
        reason = "connection lost"
        try:
            if self.on_connected is not None:
                await self.on_connected(connection)
            reason = await self._keep_alive(connection)
        except AmiError as error:
            reason = str(error)
        finally:
            if self._stopping.is_set():
                await connection.logoff()
            else:
                await connection.close()
            self.connection = None
            if self.on_disconnected is not None:
                await self.on_disconnected(reason)
        return None

    async def _keep_alive(self, connection: AmiConnection) -> str:
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            while True:
                done, _pending = await asyncio.wait({connection.closed, stop},
                                                    timeout=self.settings.ping_seconds,
                                                    return_when=asyncio.FIRST_COMPLETED)
                if stop in done:
                    return "stopped"
                if connection.closed in done:
                    return str(connection.closed.result())
                await connection.action("Ping")
        finally:
            stop.cancel()
