"""The AMI adapter against the fake AMI server over real TCP sockets, driven by the transcripts recorded from
Asterisk 22 (tests/callcenter/transcripts/): banner, CRLF framing, ActionID correlation, event lists, login
refusal, AsyncAGI, disconnects, keep-alive and reconnect with backoff."""
from __future__ import annotations

import asyncio
import random

import pytest

from callcenter.adapters.ami import (
    AmiActionFailed, AmiActionTimeout, AmiConnection, AmiConnectionLost, AmiLoginRefused, AmiSession, AmiSettings,
    AsyncAgiEnd, AsyncAgiExec, AsyncAgiStart, MessageFramer, agi_decode, backoff_delays, event_parse,
    message_parse,
)
from tests.callcenter.fake_ami import (
    TRANSCRIPTS, FakeAmiServer, message_fields, transcript_events, transcript_load,
)

AGI_CHANNEL = "Local/95598@ivr-95598-00000000;2"


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 20))


async def connected(port: int, events: list, **kwargs) -> AmiConnection:
    connection = AmiConnection(on_event=events.append, action_timeout=kwargs.pop("action_timeout", 3), **kwargs)
    await connection.open(host="127.0.0.1", port=port)
    return connection


# --- framing and parsing ------------------------------------------------------------------------------------------


def test_framer_splits_the_recorded_byte_stream_wherever_the_reads_fall():
    """The exact byte stream Asterisk sent in scenario 04, fed in random slices of 1..300 bytes, gives the messages
    of the annotated log: a message split across reads is buffered, several in one read are all found."""
    entries = [entry for entry in transcript_load("04_ivr_asyncagi_then_queue_agent") if entry.kind == "server"]
    stream = (TRANSCRIPTS / "04_ivr_asyncagi_then_queue_agent.c1.rx.txt").read_bytes()
    banner, _sep, stream = stream.partition(b"\r\n")
    assert banner == b"Asterisk Call Manager/11.0.0"
    whole = MessageFramer().feed(stream)
    assert len(whole) == len(entries) - 1 == 234
    assert [text.encode() + b"\r\n\r\n" for text in whole] == [entry.payload for entry in entries[1:]]
    framer, pieces, position = MessageFramer(), [], 0
    rng = random.Random(7)
    while position < len(stream):
        size = rng.randint(1, 300)
        pieces.extend(framer.feed(stream[position:position + size]))
        position += size
    assert pieces == whole
    assert framer.pending == b""


def test_events_keep_repeated_variable_headers_and_empty_values():
    status = next(payload for payload in transcript_events("06_coreshowchannels_status_getvar_hangup")
                  if payload.startswith(b"Event: Status\r\n") and b"Variable: " in payload)
    event = event_parse(status.decode().removesuffix("\r\n\r\n"))
    assert event.name == "Status"
    assert event.keys["Variable"] == {"CUSTOMER_ID": "C-0042", "CALL_REASON": "billing"}
    assert event.keys["AccountCode"] == ""
    assert event.keys["Linkedid"] == "1795418168.14"
    response = message_parse("Response: Error\r\nActionID: 7\r\nMessage: Permission denied")
    assert (response.status, response.keys) == ("Error", {"ActionID": "7", "Message": "Permission denied"})
    assert message_parse("Something else: 1") is None


def test_async_agi_events_decode_env_and_results_with_their_command_id():
    events = [event_parse(payload.decode().removesuffix("\r\n\r\n"))
              for payload in transcript_events("03_asyncagi_ivr_full")]
    start = next(agi_decode(event) for event in events if event.name == "AsyncAGIStart")
    assert isinstance(start, AsyncAgiStart)
    assert start.channel == AGI_CHANNEL
    assert start.caller_number == "13800138000"
    assert start.env["agi_extension"] == "95598"
    assert start.env["agi_context"] == "ivr-95598"
    assert start.unique_id == "1795418126.1" and start.linked_id == "1795418126.0"
    results = {decoded.command_id: decoded for decoded in map(agi_decode, events) if isinstance(decoded, AsyncAgiExec)}
    assert (results["cmd-04"].code, results["cmd-04"].result, results["cmd-04"].data) == (200, "12", "")
    assert (results["cmd-05"].result, results["cmd-05"].data) == ("", "(timeout)")
    assert (results["cmd-02"].result, results["cmd-02"].data) == ("0", "endpos=8000")
    assert (results["cmd-07"].result, results["cmd-07"].data) == ("1", "(12)")
    assert results["cmd-09"].data == "(13800138000|C-0001|1795418126.1)"
    assert (results["cmd-15"].code, results["cmd-15"].ok, results["cmd-15"].data) == (
        510, False, "Invalid or unknown command")
    assert any(isinstance(agi_decode(event), AsyncAgiEnd) for event in events)
    assert agi_decode(events[0]) is None


def test_backoff_doubles_up_to_the_maximum():
    delays = backoff_delays(minimum=1, maximum=60)
    assert [next(delays) for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


# --- scripted conversations (the recorded Asterisk, byte for byte) -------------------------------------------------


def test_login_ping_commands_and_logoff_as_recorded():
    async def scenario(port):
        events: list = []
        connection = await connected(port, events)
        assert connection.banner == "Asterisk Call Manager/11.0.0"
        await connection.login(username="ceo", secret="ceo-secret")
        pong = await connection.action("Ping")
        settings = await connection.action("CoreSettings")
        status = await connection.action("CoreStatus")
        version = await connection.action("Command", {"Command": "core show version"})
        with pytest.raises(AmiActionFailed) as unknown_cli:
            await connection.action("Command", {"Command": "no such cli command"})
        with pytest.raises(AmiActionFailed) as unknown_action:
            await connection.action("NoSuchAction")
        goodbye = await connection.action("Logoff")
        lost = await asyncio.wait_for(connection.closed, 2)
        return events, pong, settings, status, version, unknown_cli.value, unknown_action.value, goodbye, lost

    with FakeAmiServer(script="01_login_ok_ping_command_logoff") as server:
        events, pong, settings, status, version, unknown_cli, unknown_action, goodbye, lost = run(
            scenario(server.port))
        assert server.mismatches == []
    assert pong.keys["Ping"] == "Pong"
    assert settings.keys["AsteriskVersion"] == "22.10.1"
    assert status.keys["CoreCurrentCalls"] == "0"
    assert version.keys["Output"].startswith("Asterisk 22.10.1")
    assert unknown_cli.response.keys["Output"].startswith("No such command 'no such cli command'")
    assert str(unknown_action) == ("Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show "
                                   "available commands.")
    assert goodbye.status == "Goodbye"
    assert isinstance(lost, AmiConnectionLost)
    assert [event.name for event in events] == ["FullyBooted", "SuccessfulAuth", "RequestBadFormat"]
    # Our own ActionIDs went out and came back: every action was answered by its own response.
    assert [action["Action"] for action in server.actions] == [
        "Login", "Ping", "CoreSettings", "CoreStatus", "Command", "Command", "NoSuchAction", "Logoff"]
    assert len({action["ActionID"] for action in server.actions}) == 8


def test_action_before_login_and_refused_logins_as_recorded():
    async def scenario(port):
        first = await connected(port, [])
        with pytest.raises(AmiActionFailed) as denied:
            await first.action("Ping")
        with pytest.raises(AmiLoginRefused) as refused:
            await first.login(username="ceo", secret="wrong-secret")
        closed = await asyncio.wait_for(first.closed, 2)
        second = await connected(port, [])
        with pytest.raises(AmiLoginRefused):
            await second.login(username="nobody", secret="x")
        await asyncio.wait_for(second.closed, 2)
        return str(denied.value), str(refused.value), closed

    with FakeAmiServer(script="02_login_failure", time_scale=0.05) as server:
        denied, refused, closed = run(scenario(server.port))
        assert server.mismatches == []
    assert denied == "Permission denied"
    assert refused == "Authentication failed"
    assert isinstance(closed, AmiConnectionLost)


def test_event_lists_status_variables_and_hangup_as_recorded():
    channel = "Local/echo@agents-00000007;1"

    async def scenario(port):
        events: list = []
        connection = await connected(port, events)
        await connection.login(username="ceo", secret="ceo-secret")
        empty = await connection.action_list("CoreShowChannels")
        await connection.action("Originate", {
            "Channel": "Local/echo@agents", "Context": "agents", "Exten": "caller", "Priority": "1",
            "CallerID": "Zhao Liu <13600136000>", "Async": "true"},
            variables={"CUSTOMER_ID": "C-0042", "CALL_REASON": "billing"})
        two = await connection.action_list("CoreShowChannels")
        status_all = await connection.action_list("Status")
        status_one = await connection.action_list("Status", {"Channel": channel,
                                                             "Variables": "CUSTOMER_ID,CALL_REASON"})
        getvar = await connection.action("Getvar", {"Channel": channel, "Variable": "CUSTOMER_ID"})
        await connection.action("Setvar", {"Channel": channel, "Variable": "TAG", "Value": "vip"})
        tag = await connection.action("Getvar", {"Channel": channel, "Variable": "TAG"})
        with pytest.raises(AmiActionFailed) as no_channel:
            await connection.action_list("Status", {"Channel": "Local/nonexistent-00000000;1"})
        hungup = await connection.action("Hangup", {"Channel": channel, "Cause": "16"})
        await connection.logoff()
        return events, empty, two, status_all, status_one, getvar, tag, str(no_channel.value), hungup

    with FakeAmiServer(script="06_coreshowchannels_status_getvar_hangup") as server:
        events, empty, two, status_all, status_one, getvar, tag, no_channel, hungup = run(scenario(server.port))
        assert server.mismatches == []
        originate = server.actions[2]
    assert empty[0].keys["EventList"] == "start" and empty[1] == []
    assert [event.keys["Channel"] for event in two[1]] == [channel, "Local/echo@agents-00000007;2"]
    assert {event.keys["Linkedid"] for event in two[1]} == {"1795418168.14"}
    assert [event.name for event in status_all[1]] == ["Status", "Status"]
    assert status_one[1][0].keys["Variable"] == {"CUSTOMER_ID": "C-0042", "CALL_REASON": "billing"}
    assert getvar.keys["Value"] == "C-0042" and tag.keys["Value"] == "vip"
    assert no_channel == "No such channel"
    assert hungup.keys["Message"] == "Channel Hungup"
    # The list items went to their action, not to the event stream; the hang-up's events did.
    assert not any(event.name in ("CoreShowChannel", "Status") for event in events)
    assert [event.keys["Uniqueid"] for event in events if event.name == "Hangup"] == [
        "1795418168.14", "1795418168.15"]
    assert originate["Action"] == "Originate"


def test_async_agi_session_over_the_recorded_ivr():
    commands = [
        ("ANSWER", "cmd-01"), ("STREAM FILE custom/welcome-95598 \"\"", "cmd-02"),
        ("SAY DIGITS 12345 \"\"", "cmd-03"), ("GET DATA custom/menu-95598 5000 4", "cmd-04"),
        ("GET DATA custom/menu-95598 1500 4", "cmd-05"), ("SET VARIABLE IVR_MENU 12", "cmd-06"),
        ("GET VARIABLE IVR_MENU", "cmd-07"), ("GET VARIABLE NOT_SET_VAR", "cmd-08"),
        ("GET FULL VARIABLE \"${CALLERID(num)}|${CUSTOMER_ID}|${CALL_TRACE_ID}\"", "cmd-09"),
        ("CHANNEL STATUS", "cmd-10"), ("EXEC UserEvent \"IvrMenu,Choice: 12,Source: asyncagi\"", "cmd-11"),
        ("VERBOSE \"asyncagi says hello\" 1", "cmd-12"), ("DATABASE PUT ivr lastcaller 13800138000", "cmd-13"),
        ("WAIT FOR DIGIT 500", "cmd-14"), ("NO SUCH COMMAND", "cmd-15"), ("ASYNCAGI BREAK", "cmd-16"),
    ]

    async def scenario(port):
        loop = asyncio.get_running_loop()
        started, ended = loop.create_future(), loop.create_future()
        results: dict[str, asyncio.Future] = {command_id: loop.create_future() for _, command_id in commands}

        def on_event(event):
            decoded = agi_decode(event)
            if isinstance(decoded, AsyncAgiStart) and not started.done():
                started.set_result(decoded)
            elif isinstance(decoded, AsyncAgiExec) and decoded.command_id in results:
                results[decoded.command_id].set_result(decoded)
            elif isinstance(decoded, AsyncAgiEnd) and not ended.done():
                ended.set_result(decoded)

        connection = AmiConnection(on_event=on_event, action_timeout=3)
        await connection.open(host="127.0.0.1", port=port)
        await connection.login(username="ceo", secret="ceo-secret")
        await connection.action("Originate", {
            "Channel": "Local/95598@ivr-95598", "Context": "agents", "Exten": "caller", "Priority": "1",
            "CallerID": "Zhang San <13800138000>", "Timeout": "30000", "Async": "true"},
            variables={"CUSTOMER_ID": "C-0001"})
        start = await asyncio.wait_for(started, 3)
        for command, command_id in commands:
            queued = await connection.agi(channel=start.channel, command=command, command_id=command_id)
            assert queued.keys["Message"] == "Added AGI command to queue"
            if command_id == "cmd-04":  # the caller keys 1 2 # while GET DATA listens
                for digit in "12#":
                    await connection.action("PlayDTMF", {"Channel": start.channel, "Digit": digit,
                                                         "Duration": "120", "Receive": "yes"})
            await asyncio.wait_for(results[command_id], 3)
        end = await asyncio.wait_for(ended, 3)
        await connection.logoff()
        return start, {key: future.result() for key, future in results.items()}, end

    with FakeAmiServer(script="03_asyncagi_ivr_full") as server:
        start, results, end = run(scenario(server.port))
        assert server.mismatches == []
        sent = [action for action in server.actions if action["Action"] == "AGI"]
    assert start.channel == AGI_CHANNEL and start.caller_number == "13800138000"
    assert [action["CommandID"] for action in sent] == [command_id for _, command_id in commands]
    assert results["cmd-04"].result == "12"
    assert results["cmd-05"].data == "(timeout)"
    assert results["cmd-15"].code == 510
    assert results["cmd-16"].ok
    assert end.channel == AGI_CHANNEL


def test_agi_on_a_channel_gone_or_not_in_agi_is_refused_as_recorded():
    async def scenario(port):
        events: list = []
        connection = await connected(port, events)
        await connection.login(username="ceo", secret="ceo-secret")
        await connection.action("Originate", {
            "Channel": "Local/95598@ivr-95598", "Context": "agents", "Exten": "caller", "Priority": "1",
            "CallerID": "Zhang San <13800138000>", "Timeout": "30000", "Async": "true"})
        while not any(event.name == "AsyncAGIStart" for event in events):
            await asyncio.sleep(0.01)
        channel = next(event for event in events if event.name == "AsyncAGIStart").keys["Channel"]
        await connection.agi(channel=channel, command="ANSWER", command_id="m-01")
        await connection.agi(channel=channel, command="STREAM FILE does-not-exist \"\"", command_id="m-02")
        while not any(event.name == "AsyncAGIEnd" for event in events):
            await asyncio.sleep(0.01)
        while not any(event.name == "Hangup" for event in events):
            await asyncio.sleep(0.01)
        with pytest.raises(AmiActionFailed) as gone:
            await connection.agi(channel=channel, command="ANSWER", command_id="late")
        await connection.action("Originate", {"Channel": "Local/wait5@agents", "Context": "agents",
                                              "Exten": "caller", "Priority": "1", "Async": "true"})
        while not any(event.name == "Newchannel" and "wait5" in event.keys["Channel"] for event in events):
            await asyncio.sleep(0.01)
        with pytest.raises(AmiActionFailed) as not_agi:
            await connection.agi(channel="Local/wait5@agents-00000002;1", command="ANSWER", command_id="not-in-agi")
        await connection.logoff()
        failed = next(agi_decode(event) for event in events
                      if event.name == "AsyncAGIExec" and event.keys["CommandId"] == "m-02")
        return str(gone.value), str(not_agi.value), failed

    script = "03b_asyncagi_stream_missing_file_ends_agi"
    recorded = [entry for entry in transcript_load(script) if entry.kind == "client"]
    with FakeAmiServer(script=script) as server:
        gone, not_agi, failed = run(scenario(server.port))
        assert server.mismatches == []
        assert [action["Action"] for action in server.actions] == [
            message_fields(entry.payload)["Action"] for entry in recorded]
    assert gone == "Channel Local/95598@ivr-95598-00000001;2 does not exist."
    assert not_agi == "Failed to add AGI command to channel Local/wait5@agents-00000002;1 queue"
    assert (failed.code, failed.result, failed.data) == (200, "-1", "endpos=0")


def test_events_mask_and_user_event_carrying_an_action_id_reach_the_event_stream():
    async def scenario(port):
        events: list = []
        connection = await connected(port, events)
        await connection.login(username="ceo", secret="ceo-secret", events=False)
        await connection.action("Ping")
        mask = await connection.action("Events", {"EventMask": "agi,user,call"})
        await connection.action("UserEvent", {"UserEvent": "AdapterProbe", "Probe": "1"})
        while not events:
            await asyncio.sleep(0.01)
        await connection.logoff()
        return events, mask

    with FakeAmiServer(script="10_login_events_off_and_eventmask") as server:
        events, mask = run(scenario(server.port))
        assert server.mismatches == []
        assert server.actions[0]["Events"] == "off"
    assert mask.keys["Events"] == "On"
    assert [(event.name, event.keys["UserEvent"], event.keys["Probe"]) for event in events] == [
        ("UserEvent", "AdapterProbe", "1")]


# --- live fake: ordering, timeouts, drops ----------------------------------------------------------------------


def test_events_and_list_items_arriving_before_their_response_are_kept():
    async def scenario(port):
        events: list = []
        connection = await connected(port, events)
        await connection.login(username="ceo", secret="ceo-secret")
        await connection.action("QueueAdd", {"Queue": "hotline", "Interface": "Local/1003@agents/n",
                                             "MemberName": "Agent 1003", "Paused": "false"})
        _response, members = await connection.action_list("QueueStatus", {"Queue": "hotline"})
        with pytest.raises(AmiActionFailed) as no_queue:
            await connection.action("QueueAdd", {"Queue": "nosuchqueue", "Interface": "Local/1003@agents/n"})
        await connection.logoff()
        return events, members, str(no_queue.value)

    with FakeAmiServer(events_first=True) as server:
        events, members, no_queue = run(scenario(server.port))
    assert [(event.name, event.keys["Interface"]) for event in events if event.name.startswith("QueueMember")] == [
        ("QueueMemberAdded", "Local/1003@agents/n")]
    assert [(event.name, event.keys.get("Location")) for event in members] == [
        ("QueueParams", None), ("QueueMember", "Local/1003@agents/n")]
    assert no_queue == "Unable to add interface to queue: No such queue"


def test_an_unanswered_action_times_out_and_a_dropped_connection_fails_pending_actions():
    async def scenario(port, server):
        connection = await connected(port, [], action_timeout=0.2)
        await connection.login(username="ceo", secret="ceo-secret")
        with pytest.raises(AmiActionTimeout):
            await connection.action("Ping")
        pending = asyncio.ensure_future(connection.action("Ping"))
        await asyncio.sleep(0.05)
        await asyncio.get_running_loop().run_in_executor(None, lambda: server.drop(refuse_seconds=0))
        with pytest.raises(AmiConnectionLost):
            await pending
        with pytest.raises(AmiConnectionLost):
            await connection.action("CoreStatus")
        await connection.close()

    with FakeAmiServer(silent_actions=frozenset({"Ping"})) as server:
        run(scenario(server.port, server))


def test_a_port_that_is_not_ami_or_not_listening_is_a_connection_error():
    async def scenario(port):
        with pytest.raises(AmiConnectionLost):
            await AmiConnection(on_event=lambda event: None, action_timeout=1).open(host="127.0.0.1", port=port)

    with FakeAmiServer() as server:
        port = server.port
    run(scenario(port))


# --- the session: keep-alive, reconnect, backoff -------------------------------------------------------------------


def session_settings(port: int, **overrides) -> AmiSettings:
    values = {"host": "127.0.0.1", "port": port, "username": "ceo", "secret": "ceo-secret", "ping_seconds": 0.05,
              "reconnect_min_seconds": 0.05, "reconnect_max_seconds": 0.2, "action_timeout_seconds": 1,
              "max_login_refusals": 3}
    return AmiSettings(**{**values, **overrides})


def test_session_reconnects_after_the_pbx_is_killed_as_recorded():
    """Scenario 09: login, Ping, the PBX dies (bare EOF), the port refuses for a while, then a new login."""
    async def scenario(port):
        connections: list[str] = []
        losses: list[str] = []
        session: AmiSession

        async def on_connected(connection):
            connections.append(connection.banner)
            if len(connections) == 2:
                session.stop()

        async def on_disconnected(reason):
            losses.append(reason)

        session = AmiSession(settings=session_settings(port), on_event=lambda event: None,
                             on_connected=on_connected, on_disconnected=on_disconnected)
        await session.run()
        return connections, losses, session

    with FakeAmiServer(script="09_asterisk_sigkill_connection_drop", refuse_seconds=0.3) as server:
        connections, losses, session = run(scenario(server.port))
        assert server.mismatches == []
        assert [action["Action"] for action in server.actions] == ["Login", "Ping", "Login", "Logoff"]
    assert connections == ["Asterisk Call Manager/11.0.0"] * 2
    assert session.connects == 2
    assert losses[0] == "connection closed by the PBX"


def test_session_reconnects_after_a_restart_with_a_shutdown_event():
    """Scenario 08b: mid-call (a caller in AsyncAGI) the PBX restarts: hang-ups, AsyncAGIEnd, `Shutdown`, EOF; the
    port refuses for a while; the new login succeeds before FullyBooted arrives."""
    events: list = []

    async def scenario(port):
        session: AmiSession

        async def on_connected(connection):
            if session.connects == 1:  # what the recording's client did before the restart
                await connection.action("Originate", {
                    "Channel": "Local/95598@ivr-95598", "Context": "agents", "Exten": "caller", "Priority": "1",
                    "CallerID": "Restart Test <13500135000>", "Timeout": "30000", "Async": "true"},
                    variables={"CUSTOMER_ID": "C-0001"})
                while not any(event.name == "AsyncAGIStart" for event in events):
                    await asyncio.sleep(0.01)
                start = agi_decode(next(event for event in events if event.name == "AsyncAGIStart"))
                await connection.agi(channel=start.channel, command="ANSWER", command_id="rc-01")
            else:
                session.stop()

        session = AmiSession(settings=session_settings(port, ping_seconds=30), on_event=events.append,
                             on_connected=on_connected)
        await session.run()
        return session

    with FakeAmiServer(script="08b_core_restart_now_from_cli_mid_call", refuse_seconds=0.2) as server:
        session = run(scenario(server.port))
        assert server.mismatches == []
        assert [action["Action"] for action in server.actions] == ["Login", "Originate", "AGI", "Login", "Logoff"]
    assert session.connects == 2
    names = [event.name for event in events]
    shutdown = names.index("Shutdown")
    assert events[shutdown].keys["Restart"] == "True"
    assert names.index("AsyncAGIEnd") < shutdown
    assert names.index("SuccessfulAuth", shutdown) < names.index("FullyBooted", shutdown)


def test_refused_logins_back_off_and_give_up():
    delays: list[float] = []

    async def sleep(seconds):
        delays.append(seconds)
        await asyncio.sleep(0)

    async def scenario(port):
        session = AmiSession(settings=session_settings(port, reconnect_min_seconds=1, reconnect_max_seconds=3,
                                                       max_login_refusals=4),
                             on_event=lambda event: None, sleep=sleep)
        with pytest.raises(AmiLoginRefused):
            await session.run()
        return session

    with FakeAmiServer(secret="another-secret", login_failure_delay=0.01) as server:
        session = run(scenario(server.port))
        assert server.refused_logins == 4
    assert session.login_refusals == 4
    assert delays == [1, 2, 3]


def test_session_pings_to_keep_alive_and_logs_off_when_stopped():
    async def scenario(port, server):
        session = AmiSession(settings=session_settings(port, ping_seconds=0.02), on_event=lambda event: None)
        task = asyncio.ensure_future(session.run())
        while sum(1 for action in server.actions if action["Action"] == "Ping") < 3:
            await asyncio.sleep(0.01)
        session.stop()
        await task

    with FakeAmiServer() as server:
        run(scenario(server.port, server))
        assert server.wait_for_closed(count=1)
        names = [action["Action"] for action in server.actions]
    assert names[0] == "Login" and names[-1] == "Logoff"
    assert set(names[1:-1]) == {"Ping"}


def test_transcripts_are_complete_copies():
    """CI has the transcripts the fake replays: each scenario's annotated log is here and parses."""
    names = sorted(path.name for path in TRANSCRIPTS.glob("*.txt") if ".rx." not in path.name)
    assert len(names) == 11
    for name in names:
        assert transcript_load(name), name
