"""A fake Asterisk Manager Interface server for the tests and the AMI bench, speaking the real wire format.

Two ways to run it (an asyncio loop on its own thread, so sync tests, async tests and the bench can all use it):
- scripted: `FakeAmiServer(script="06_...")` plays one of the transcripts recorded from Asterisk 22 (copied from
  ../shared/ami into tests/callcenter/transcripts/) byte for byte: the n-th TCP connection gets connection n's
  server messages, in order and with the recorded delays (scaled by `time_scale`), waits for each client action
  where the client spoke, and answers with the client's own ActionID; connections close where Asterisk closed them,
  and where the recording shows "Connection refused" the port refuses connections for `refuse_seconds`.
- live: a small PBX simulation. Login (a wrong secret is refused after `login_failure_delay` seconds and the socket
  closed, as Asterisk does), Ping, Logoff, CoreShowChannels / Status / QueueStatus event lists built from the
  channels and queue callers it has announced, QueueAdd/QueueRemove/QueuePause with their member events, Originate,
  Hangup, AGI on channels in AsyncAGI (answered by AsyncAGIExec with the CommandId sent), unknown actions refused.
  `emit` sends events to every logged-in client; `call_events` turns a recorded call into a fresh one (new
  Uniqueid/Linkedid, channel names, caller number, agent interface) so the bench can generate many; `drop`
  simulates a PBX crash (connections closed, port refusing for a while).
"""
from __future__ import annotations

import asyncio
import dataclasses
import itertools
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
_ENTRY_SPLIT = re.compile(rb"(?m)^#(>>|<<|--)")
_HEADER = re.compile(rb"^ (C->S|S->C) c(\d+) \+([0-9.]+)s\n")
_ACTION_ID = re.compile(rb"(?m)^ActionID: (.*)\r$")


# --- transcripts --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Entry:
    kind: str  # "client", "server" or "note"
    connection: int
    at: float
    payload: bytes  # the exact bytes; the note's text for a note


def transcript_load(name: str) -> list[Entry]:
    """The entries of tests/callcenter/transcripts/<name>.txt (name with or without ".txt")."""
    path = TRANSCRIPTS / (name if name.endswith(".txt") else f"{name}.txt")
    data = path.read_bytes()
    parts = _ENTRY_SPLIT.split(data)
    entries: list[Entry] = []
    connection = 1
    for marker, body in zip(parts[1::2], parts[2::2]):
        if marker == b"--":
            note = body.split(b"\n", 1)[0].decode().strip()
            entries.append(Entry(kind="note", connection=connection, at=0.0, payload=note.encode()))
            continue
        header = _HEADER.match(body)
        if header is None:
            raise ValueError(f"{path.name}: unreadable entry header {body[:40]!r}")
        connection = int(header[2])
        kind = "client" if header[1] == b"C->S" else "server"
        entries.append(Entry(kind=kind, connection=connection, at=float(header[3]), payload=body[header.end():]))
    return entries


def transcript_events(name: str) -> list[bytes]:
    """The Event messages the server sent in a transcript, in order."""
    return [entry.payload for entry in transcript_load(name)
            if entry.kind == "server" and entry.payload.startswith(b"Event: ")]


def message_fields(payload: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in payload.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep and key not in fields:
            fields[key] = value
        elif line.endswith(":") and line[:-1] not in fields:
            fields[line[:-1]] = ""
    return fields


def message_encode(head: tuple[str, str], fields: dict[str, str] | list[tuple[str, str]]) -> bytes:
    items = fields.items() if isinstance(fields, dict) else fields
    lines = [f"{head[0]}: {head[1]}", *(f"{key}: {value}" for key, value in items)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- calls made from recordings -----------------------------------------------------------------------------------

_UNIQUE_ID = re.compile(rb"\b1795\d{6}\.\d+\b")
_CHANNEL_SUFFIX = re.compile(rb"-(0000[0-9a-f]{4});")
_BRIDGE_ID = re.compile(rb"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


class CallTemplate:
    """A recorded call's events with its identities as slots, to stamp out fresh calls cheaply.

    Slots: every Uniqueid/Linkedid value, every Local channel suffix, bridge ids, the caller's number and the agent
    interface. Events answering the recording's own actions (OriginateResponse, carrying an ActionID) and session
    events (FullyBooted, SuccessfulAuth) are left out."""

    SKIPPED = (b"Event: FullyBooted", b"Event: SuccessfulAuth", b"Event: OriginateResponse", b"Event: RequestBad")

    def __init__(self, name: str, *, caller_number: str, interface: str = "Local/1001@agents/n") -> None:
        events = [payload for payload in transcript_events(name)
                  if not payload.startswith(self.SKIPPED) and b"\r\nActionID: " not in payload]
        self.names = [payload.split(b"\r\n", 1)[0][7:].decode() for payload in events]
        joined = b"\x00".join(events)
        slots: dict[bytes, str] = {}

        def slot(kind: str, value: bytes) -> str:
            return slots.setdefault(kind.encode() + b":" + value, f"{kind}{len(slots)}")

        pattern = re.compile(b"|".join([
            _UNIQUE_ID.pattern, _CHANNEL_SUFFIX.pattern, _BRIDGE_ID.pattern, re.escape(caller_number.encode()),
            re.escape(interface.encode()),
        ]))
        pieces: list[bytes | str] = []
        position = 0
        for match in pattern.finditer(joined):
            pieces.append(joined[position:match.start()])
            text = match.group(0)
            if _UNIQUE_ID.fullmatch(text):
                pieces.append(slot("u", text))
            elif match.group(1) is not None:
                pieces.extend([b"-", slot("c", match.group(1)), b";"])
            elif _BRIDGE_ID.fullmatch(text):
                pieces.append(slot("b", text))
            elif text == caller_number.encode():
                pieces.append("number")
            else:
                pieces.append("interface")
            position = match.end()
        pieces.append(joined[position:])
        self._pieces = pieces
        self.unique_ids = sorted({key for key in slots if key.startswith(b"u:")})
        self.linked_id = _UNIQUE_ID.search(events[0]).group(0) if events else b""
        self._slot_names = {value: key for key, value in slots.items()}
        self.events_per_call = len(events)

    def render(self, *, index: int, caller_number: str, interface: str, epoch: int = 1900000000) -> list[bytes]:
        """The events of call number `index` (a distinct Linkedid and channels per index)."""
        values: dict[str, bytes] = {"number": caller_number.encode(), "interface": interface.encode()}
        for name, key in self._slot_names.items():
            original = key.split(b":", 1)[1]
            if key.startswith(b"u:"):
                sequence = original.split(b".")[1]
                values[name] = f"{epoch + index}.{sequence.decode()}".encode()
            elif key.startswith(b"c:"):
                values[name] = f"{(index * 8 + int(original, 16)) & 0xFFFFFFFF:08x}".encode()
            else:
                values[name] = f"{index:08x}-0000-4000-8000-{int(original[:8], 16):012x}".encode()
        out = b"".join(piece if isinstance(piece, bytes) else values[piece] for piece in self._pieces)
        return out.split(b"\x00")

    def call_key(self, *, index: int, epoch: int = 1900000000) -> str:
        return f"{epoch + index}.{self.linked_id.split(b'.')[1].decode()}"


# --- the server ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Session:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    number: int
    logged_in: bool = False
    events: bool = True


class FakeAmiServer:
    """See the module docstring. Use as a context manager or call start()/stop()."""

    def __init__(self, *, script: str | None = None, username: str = "ceo", secret: str = "ceo-secret",
                 login_failure_delay: float = 0.05, time_scale: float = 0.0, refuse_seconds: float = 0.2,
                 fully_booted: bool = True, track_state: bool = True,
                 agi_responder: Callable[[str, str], str] | None = None, events_first: bool = False,
                 silent_actions: frozenset[str] = frozenset(), host: str = "127.0.0.1", port: int = 0) -> None:
        self.script = transcript_load(script) if script else None
        self.username, self.secret = username, secret
        self.login_failure_delay = login_failure_delay
        self.time_scale = time_scale
        self.refuse_seconds = refuse_seconds
        self.fully_booted = fully_booted
        self.track_state = track_state
        self.agi_responder = agi_responder or (lambda channel, command: "200 result=0")
        # events_first: the events an action causes are sent before its Response (Asterisk may do either).
        self.events_first = events_first
        # Actions the PBX swallows without answering (to test action timeouts).
        self.silent_actions = frozenset(name.lower() for name in silent_actions)
        self.host, self.port = host, port
        self.actions: list[dict[str, str]] = []  # every action received (its headers), in order
        self.connections = 0
        self.logins = 0
        self.refused_logins = 0
        self.mismatches: list[str] = []  # scripted mode: client actions that were not the recorded ones
        self.channels: dict[str, dict[str, str]] = {}  # Uniqueid -> Newchannel fields
        self.agi_channels: set[str] = set()
        self.queue_entries: dict[str, dict[str, str]] = {}  # Uniqueid -> QueueCallerJoin fields
        self.members: dict[tuple[str, str], dict[str, str]] = {}  # (queue, interface) -> fields
        self.queues = {"hotline"}
        self._sessions: list[_Session] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._closed_connection = threading.Condition()
        self._logged_in = threading.Condition()
        self._counter = itertools.count(1)

    # --- life cycle ----------------------------------------------------------------------------------------------

    def __enter__(self) -> FakeAmiServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> int:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._listen())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-ami", daemon=True)
        self._thread.start()
        ready.wait(5)
        return self.port

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
        self._loop = None

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.writer.close()
        self._sessions.clear()

    def call(self, coroutine_function, *args, timeout: float = 10, **kwargs):
        """Run a coroutine of the server on its loop from another thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine_function(*args, **kwargs), self._loop).result(timeout)

    @property
    def sessions_logged_in(self) -> int:
        return sum(1 for session in self._sessions if session.logged_in)

    def wait_for_login(self, *, count: int = 1, timeout: float = 5) -> bool:
        with self._logged_in:
            return self._logged_in.wait_for(lambda: self.logins >= count, timeout)

    def wait_for_closed(self, *, count: int = 1, timeout: float = 5) -> bool:
        with self._closed_connection:
            return self._closed_connection.wait_for(
                lambda: self.connections >= count and len(self._sessions) == 0, timeout)

    def wait_for_action(self, name: str, *, count: int = 1, timeout: float = 5) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [action for action in self.actions if action.get("Action", "").lower() == name.lower()]
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"no {count} {name} action(s) within {timeout} s: {self.actions}")

    # --- serving ---------------------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        session = _Session(reader=reader, writer=writer, number=self.connections)
        self._sessions.append(session)
        try:
            if self.script is not None:
                await self._serve_script(session)
            else:
                writer.write(BANNER)
                await writer.drain()
                await self._serve_live(session)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if session in self._sessions:
                self._sessions.remove(session)
            writer.close()
            with self._closed_connection:
                self._closed_connection.notify_all()

    async def _read_action(self, session: _Session) -> bytes | None:
        try:
            return await session.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None

    def _record(self, payload: bytes) -> dict[str, str]:
        fields = message_fields(payload)
        self.actions.append(fields)
        return fields

    async def _serve_script(self, session: _Session) -> None:
        entries = [entry for entry in self.script if entry.connection == session.number]
        ids: dict[bytes, bytes] = {}
        previous = entries[0].at if entries else 0.0
        for index, entry in enumerate(entries):
            if entry.kind == "note":
                if "closed by peer" in entry.payload.decode():
                    # Asterisk went away: where the recording saw refused reconnects, refuse for a while too.
                    if any(b"Connection refused" in later.payload for later in entries[index:]):
                        await self._refuse_for(self.refuse_seconds)
                    return
                continue
            if self.time_scale and entry.at > previous:
                await asyncio.sleep((entry.at - previous) * self.time_scale)
            previous = entry.at
            if entry.kind == "client":
                received = await self._read_action(session)
                if received is None:
                    return
                fields = self._record(received)
                expected = message_fields(entry.payload)
                if fields.get("Action", "").lower() != expected.get("Action", "").lower():
                    self.mismatches.append(f"expected {expected.get('Action')}, got {fields.get('Action')}")
                recorded_id = _ACTION_ID.search(entry.payload)
                if recorded_id and "ActionID" in fields:
                    ids[recorded_id.group(1)] = fields["ActionID"].encode()
                if fields.get("Action", "").lower() == "login" and fields.get("Secret") == self.secret:
                    self._login_count()
                continue
            payload = _ACTION_ID.sub(lambda match: b"ActionID: " + ids.get(match.group(1), match.group(1)) + b"\r",
                                     entry.payload)
            session.writer.write(payload)
            await session.writer.drain()
        # The recording ended with the connection still open: keep it open until the client goes.
        await session.reader.read()

    async def _refuse_for(self, seconds: float) -> None:
        """Stop listening (connections are refused) for a while, then listen on the same port again."""
        self._server.close()
        await self._server.wait_closed()

        async def reopen() -> None:
            await asyncio.sleep(seconds)
            await self._listen()

        asyncio.ensure_future(reopen())

    def _login_count(self) -> None:
        with self._logged_in:
            self.logins += 1
            self._logged_in.notify_all()

    async def _serve_live(self, session: _Session) -> None:
        while True:
            received = await self._read_action(session)
            if received is None:
                return
            fields = self._record(received)
            action = fields.get("Action", "")
            action_id = fields.get("ActionID", "")
            if action.lower() == "login":
                if fields.get("Username") == self.username and fields.get("Secret") == self.secret:
                    session.logged_in, session.events = True, fields.get("Events", "on").lower() != "off"
                    await self._respond(session, action_id, "Success", {"Message": "Authentication accepted"})
                    if self.fully_booted and session.events:
                        await self._send(session, message_encode(("Event", "FullyBooted"), {
                            "Privilege": "system,all", "Uptime": "1", "LastReload": "1",
                            "Status": "Fully Booted"}))
                    self._login_count()
                    continue
                self.refused_logins += 1
                await asyncio.sleep(self.login_failure_delay)
                await self._respond(session, action_id, "Error", {"Message": "Authentication failed"})
                return
            if action.lower() == "logoff":
                await self._respond(session, action_id, "Goodbye", {"Message": "Thanks for all the fish."})
                return
            if not session.logged_in:
                await self._respond(session, action_id, "Error", {"Message": "Permission denied"})
                continue
            if action.lower() in self.silent_actions:
                continue
            handler = getattr(self, f"_action_{action.lower()}", None)
            if handler is None:
                await self._respond(session, action_id, "Error", {
                    "Message": f"Invalid/unknown command: {action}. Use Action: ListCommands to show available "
                               f"commands."})
                continue
            await handler(session, action_id, fields, received)

    async def _send(self, session: _Session, payload: bytes) -> None:
        session.writer.write(payload)
        await session.writer.drain()

    async def _respond(self, session: _Session, action_id: str, status: str, fields: dict[str, str]) -> None:
        await self._send(session, message_encode(("Response", status), {"ActionID": action_id, **fields}))

    async def _answer(self, session: _Session, action_id: str, fields: dict[str, str], events: list[bytes]) -> None:
        """A successful Response and the events it caused, in the order `events_first` asks for."""
        if self.events_first:
            await self.emit_async(events)
        await self._respond(session, action_id, "Success", fields)
        if not self.events_first:
            await self.emit_async(events)

    async def _event_list(self, session: _Session, action_id: str, message: str, items: list[bytes],
                          complete: str) -> None:
        if not self.events_first:
            await self._respond(session, action_id, "Success", {"EventList": "start", "Message": message})
        for item in items:
            await self._send(session, item)
        if self.events_first:
            await self._respond(session, action_id, "Success", {"EventList": "start", "Message": message})
        await self._send(session, message_encode(("Event", complete), {
            "ActionID": action_id, "EventList": "Complete", "ListItems": str(len(items))}))

    # --- actions (live mode) ---------------------------------------------------------------------------------------

    async def _action_ping(self, session, action_id, fields, raw) -> None:
        await self._respond(session, action_id, "Success", {"Ping": "Pong", "Timestamp": f"{time.time():.6f}"})

    async def _action_corestatus(self, session, action_id, fields, raw) -> None:
        await self._respond(session, action_id, "Success", {"CoreCurrentCalls": str(len(
            {channel["Linkedid"] for channel in self.channels.values()}))})

    def _channel_fields(self, channel: dict[str, str]) -> dict[str, str]:
        keys = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
                "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid",
                "Linkedid")
        return {key: channel.get(key, "") for key in keys}

    async def _action_coreshowchannels(self, session, action_id, fields, raw) -> None:
        items = [message_encode(("Event", "CoreShowChannel"), {
            "ActionID": action_id, **self._channel_fields(channel), "Application": channel.get("Application", ""),
            "ApplicationData": "", "Duration": "00:00:01", "BridgeId": ""}) for channel in self.channels.values()]
        await self._event_list(session, action_id, "Channels will follow", items, "CoreShowChannelsComplete")

    async def _action_status(self, session, action_id, fields, raw) -> None:
        wanted = fields.get("Channel")
        channels = [channel for channel in self.channels.values() if not wanted or channel["Channel"] == wanted]
        if wanted and not channels:
            await self._respond(session, action_id, "Error", {"Message": "No such channel"})
            return
        items = [message_encode(("Event", "Status"), {
            "Privilege": "Call", **self._channel_fields(channel), "Type": "Local", "Seconds": "1",
            "ActionID": action_id}) for channel in channels]
        await self._event_list(session, action_id, "Channel status will follow", items, "StatusComplete")

    async def _action_queuestatus(self, session, action_id, fields, raw) -> None:
        items = []
        for queue in sorted(self.queues):
            items.append(message_encode(("Event", "QueueParams"), {
                "Queue": queue, "Max": "0", "Strategy": "linear",
                "Calls": str(sum(1 for entry in self.queue_entries.values() if entry.get("Queue") == queue)),
                "ActionID": action_id}))
            for (member_queue, interface), member in self.members.items():
                if member_queue == queue:
                    items.append(message_encode(("Event", "QueueMember"), {
                        "Queue": queue, "Name": member.get("MemberName", interface), "Location": interface,
                        "StateInterface": interface, "Membership": "dynamic", "Status": "1",
                        "Paused": member.get("Paused", "0"), "PausedReason": member.get("PausedReason", ""),
                        "ActionID": action_id}))
            for position, entry in enumerate(
                    (entry for entry in self.queue_entries.values() if entry.get("Queue") == queue), start=1):
                items.append(message_encode(("Event", "QueueEntry"), {
                    "Queue": queue, "Position": str(position), "Channel": entry.get("Channel", ""),
                    "Uniqueid": entry.get("Uniqueid", ""), "CallerIDNum": entry.get("CallerIDNum", ""),
                    "Wait": "0", "ActionID": action_id}))
        await self._event_list(session, action_id, "Queue status will follow", items, "QueueStatusComplete")

    def _member_event(self, name: str, queue: str, interface: str, member: dict[str, str]) -> bytes:
        return message_encode(("Event", name), {
            "Privilege": "agent,all", "Queue": queue, "MemberName": member.get("MemberName", interface),
            "Interface": interface, "StateInterface": interface, "Membership": "dynamic",
            "Penalty": member.get("Penalty", "0"), "Status": "1", "Paused": member.get("Paused", "0"),
            "PausedReason": member.get("PausedReason", ""), "Ringinuse": "0", "Wrapuptime": "0"})

    async def _action_queueadd(self, session, action_id, fields, raw) -> None:
        queue, interface = fields.get("Queue", ""), fields.get("Interface", "")
        if queue not in self.queues:
            await self._respond(session, action_id, "Error", {
                "Message": "Unable to add interface to queue: No such queue"})
            return
        if (queue, interface) in self.members:
            await self._respond(session, action_id, "Error", {
                "Message": "Unable to add interface: Already there"})
            return
        paused = "1" if fields.get("Paused", "false").lower() in ("true", "1", "yes") else "0"
        member = {"MemberName": fields.get("MemberName", interface), "Penalty": fields.get("Penalty", "0"),
                  "Paused": paused, "PausedReason": ""}
        self.members[(queue, interface)] = member
        await self._answer(session, action_id, {"Message": "Added interface to queue"},
                           [self._member_event("QueueMemberAdded", queue, interface, member)])

    async def _action_queueremove(self, session, action_id, fields, raw) -> None:
        queue, interface = fields.get("Queue", ""), fields.get("Interface", "")
        if queue not in self.queues:
            await self._respond(session, action_id, "Error", {
                "Message": "Unable to remove interface from queue: No such queue"})
            return
        member = self.members.pop((queue, interface), None)
        if member is None:
            await self._respond(session, action_id, "Error", {"Message": "Unable to remove interface: Not there"})
            return
        await self._answer(session, action_id, {"Message": "Removed interface from queue"},
                           [self._member_event("QueueMemberRemoved", queue, interface, member)])

    async def _action_queuepause(self, session, action_id, fields, raw) -> None:
        interface = fields.get("Interface", "")
        paused = fields.get("Paused", "").lower() in ("true", "1", "yes")
        queues = [fields["Queue"]] if fields.get("Queue") else sorted(self.queues)
        found = [(queue, interface) for queue in queues if (queue, interface) in self.members]
        if not found:
            await self._respond(session, action_id, "Error", {"Message": "Interface not found"})
            return
        message = "Interface paused successfully" if paused else "Interface unpaused successfully"
        events = []
        for key in found:
            member = self.members[key]
            member.update({"Paused": "1" if paused else "0",
                           "PausedReason": fields.get("Reason", "") if paused else ""})
            events.append(self._member_event("QueueMemberPause", key[0], key[1], member))
        await self._answer(session, action_id, {"Message": message}, events)

    async def _action_originate(self, session, action_id, fields, raw) -> None:
        if not fields.get("Channel"):
            await self._respond(session, action_id, "Error", {"Message": "Channel not specified"})
            return
        await self._respond(session, action_id, "Success", {"Message": "Originate successfully queued"})

    async def _action_hangup(self, session, action_id, fields, raw) -> None:
        found = [channel for channel in self.channels.values() if channel["Channel"] == fields.get("Channel")]
        if not found:
            await self._respond(session, action_id, "Error", {"Message": "No such channel"})
            return
        await self._respond(session, action_id, "Success", {"Message": "Channel Hungup"})
        cause = fields.get("Cause", "16")
        await self.emit_async([message_encode(("Event", "Hangup"), {
            "Privilege": "call,all", **self._channel_fields(found[0]), "Cause": cause,
            "Cause-txt": "Normal Clearing" if cause == "16" else "Unknown"})])

    async def _action_agi(self, session, action_id, fields, raw) -> None:
        channel = fields.get("Channel", "")
        known = [entry for entry in self.channels.values() if entry["Channel"] == channel]
        if not known:
            await self._respond(session, action_id, "Error", {"Message": f"Channel {channel} does not exist."})
            return
        if channel not in self.agi_channels:
            await self._respond(session, action_id, "Error", {
                "Message": f"Failed to add AGI command to channel {channel} queue"})
            return
        await self._respond(session, action_id, "Success", {"Message": "Added AGI command to queue"})
        command = fields.get("Command", "")
        result = self.agi_responder(channel, command)
        base = {"Privilege": "agi,all", **self._channel_fields(known[0])}
        from urllib.parse import quote

        events = [message_encode(("Event", "AsyncAGIExec"), {
            **base, "Result": quote(result + "\n", safe=""), "CommandId": fields.get("CommandID", "")})]
        if command.strip().upper() == "ASYNCAGI BREAK" or result.startswith("200 result=-1"):
            events.append(message_encode(("Event", "AsyncAGIEnd"), base))
        await self.emit_async(events)

    async def _action_command(self, session, action_id, fields, raw) -> None:
        await self._respond(session, action_id, "Error", {
            "Message": "Command output follows",
            "Output": f"No such command '{fields.get('Command', '')}'"})

    # --- events ----------------------------------------------------------------------------------------------------

    def _state_follow(self, payload: bytes) -> None:
        name = payload[7:payload.index(b"\r\n")]
        if name not in (b"Newchannel", b"Hangup", b"AsyncAGIStart", b"AsyncAGIEnd", b"QueueCallerJoin",
                        b"QueueCallerLeave", b"QueueCallerAbandon", b"Newexten"):
            return
        fields = message_fields(payload)
        unique_id = fields.get("Uniqueid", "")
        if name == b"Newchannel":
            self.channels[unique_id] = fields
        elif name == b"Newexten" and unique_id in self.channels:
            self.channels[unique_id]["Application"] = fields.get("Application", "")
        elif name == b"Hangup":
            self.channels.pop(unique_id, None)
            self.queue_entries.pop(unique_id, None)
            self.agi_channels.discard(fields.get("Channel", ""))
        elif name == b"AsyncAGIStart":
            self.agi_channels.add(fields.get("Channel", ""))
        elif name == b"AsyncAGIEnd":
            self.agi_channels.discard(fields.get("Channel", ""))
        elif name == b"QueueCallerJoin":
            self.queue_entries[unique_id] = fields
        else:
            self.queue_entries.pop(unique_id, None)

    async def emit_async(self, payloads: list[bytes]) -> float:
        """Send events to every logged-in client with events on; returns the perf_counter time of the last write."""
        if self.track_state:
            for payload in payloads:
                self._state_follow(payload)
        data = b"".join(payloads)
        sent_at = time.perf_counter()
        for session in list(self._sessions):
            if session.logged_in and session.events:
                session.writer.write(data)
        for session in list(self._sessions):
            if session.logged_in and session.events:
                try:
                    await session.writer.drain()
                except ConnectionError:
                    pass
        return sent_at

    def emit(self, payloads: list[bytes]) -> float:
        return self.call(self.emit_async, payloads)

    def emit_soon(self, payloads: list[bytes]):
        """emit without waiting: a concurrent Future of the send time (asyncio.wrap_future it in a loop)."""
        return asyncio.run_coroutine_threadsafe(self.emit_async(payloads), self._loop)

    async def drop_async(self, refuse_seconds: float) -> None:
        """The PBX dies: every connection closes at once (no Shutdown event), the port refuses for a while."""
        for session in list(self._sessions):
            session.writer.close()
        self._sessions.clear()
        if refuse_seconds > 0:
            await self._refuse_for(refuse_seconds)

    def drop(self, *, refuse_seconds: float = 0.2, forget_calls: bool = False) -> None:
        if forget_calls:
            self.channels.clear()
            self.queue_entries.clear()
            self.agi_channels.clear()
        self.call(self.drop_async, refuse_seconds)
