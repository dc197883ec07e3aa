"""config.channel_layers.SQLiteChannelLayer, the embedded channel layer: across real processes, capacity, expiry,
groups, a forked child, the health probe, and the settings that make it the default without Redis."""
import asyncio
import json
import multiprocessing
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from channels.exceptions import ChannelFull

from config.channel_layers import SQLiteChannelLayer
from notifications.transports import staff_alert_send
from tests.e2e.servers import BASE_DIR, dev_env

LAYER = "config.channel_layers.SQLiteChannelLayer"
RECEIVE_TIMEOUT = 10.0


def layer_file(var_dir: Path) -> Path:
    return var_dir / "channel-layer.sqlite3"


def layer_in(var_dir: Path, **config) -> SQLiteChannelLayer:
    return SQLiteChannelLayer(path=layer_file(var_dir), **config)


def rows_in(var_dir: Path, table: str) -> int:
    with closing(sqlite3.connect(layer_file(var_dir))) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def peer(var_dir: Path, *args: str) -> subprocess.Popen:
    """A second process on the dev settings of var_dir, as Daphne or the Celery worker would run without Redis."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.config.layer_peer", *args],
        cwd=BASE_DIR, env=dev_env(var_dir, keep_redis=False), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def peer_done(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out


async def nothing_arrives(layer: SQLiteChannelLayer, channel: str, wait: float = 0.3) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), timeout=wait)
    except TimeoutError:
        return True
    return False


def test_a_staff_alert_sent_in_this_process_reaches_the_consumer_in_another(tmp_path, settings):
    """The Celery worker's path: notifications' staff_alert_send here, the staff console's consumer in the peer."""
    console = peer(tmp_path, "staff-console", "7")
    assert console.stdout.readline() == "connected\n", console.stderr.read()
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": LAYER, "CONFIG": {"path": str(layer_file(tmp_path))}}}

    staff_alert_send(user_id=7, message_id=41, event="ticket_overdue", subject="工单已超时", body="工单T9已超时。")

    assert json.loads(peer_done(console)) == {
        "type": "alert", "message_id": 41, "event": "ticket_overdue", "subject": "工单已超时", "body": "工单T9已超时。",
    }
    # Received means deleted: the file keeps only undelivered messages; the consumer left its group on disconnect.
    assert rows_in(tmp_path, "channel_message") == 0
    assert rows_in(tmp_path, "channel_group") == 0


def test_capacity_counts_the_messages_another_process_sent(tmp_path):
    async def scenario():
        layer = layer_in(tmp_path)
        channel = await layer.new_channel()
        other = await layer.new_channel()
        await layer.group_add("callcenter.wallboard", channel)
        await layer.group_add("callcenter.wallboard", other)
        assert peer_done(peer(tmp_path, "fill", channel, "100")) == "sent\n"

        with pytest.raises(ChannelFull):
            await layer.send(channel, {"type": "one.too.many"})
        # A full member misses a group message; the other members still get it.
        snapshot = {"type": "callcenter.message", "payload": {"kind": "wallboard"}}
        await layer.group_send("callcenter.wallboard", snapshot)
        assert await layer.receive(other) == snapshot

        first = await layer.receive(channel)
        await layer.send(channel, {"type": "room.again"})
        rest = [await layer.receive(channel) for _ in range(100)]
        return first, rest

    first, rest = asyncio.run(scenario())
    assert first == {"type": "peer.message", "n": 0}
    assert rest == [{"type": "peer.message", "n": n} for n in range(1, 100)] + [{"type": "room.again"}]
    assert rows_in(tmp_path, "channel_message") == 0


def test_a_channel_capacity_pattern_overrides_the_default(tmp_path):
    async def scenario():
        layer = layer_in(tmp_path, capacity=3, channel_capacity={"pbx.*": 1})
        await layer.send("pbx.commands", {"type": "pbx.command"})
        with pytest.raises(ChannelFull):
            await layer.send("pbx.commands", {"type": "pbx.command"})
        for n in range(3):
            await layer.send("other", {"type": "x", "n": n})
        with pytest.raises(ChannelFull):
            await layer.send("other", {"type": "x", "n": 3})

    asyncio.run(scenario())


def test_an_expired_message_is_never_delivered_and_its_channel_leaves_every_group(tmp_path):
    async def scenario():
        layer = layer_in(tmp_path, expiry=0.2)
        dead = await layer.new_channel()
        alive = await layer.new_channel()
        for channel in (dead, alive):
            await layer.group_add("callcenter.agent.5", channel)
        await layer.send(dead, {"type": "too.late"})
        # Past the expiry and the sweep interval (one second).
        await asyncio.sleep(1.1)
        late = await nothing_arrives(layer, dead)

        await layer.group_send("callcenter.agent.5", {"type": "callcenter.message", "payload": {"kind": "call_update"}})
        received = await layer.receive(alive)
        return late, received, await nothing_arrives(layer, dead)

    late, received, dead_got_nothing = asyncio.run(scenario())
    assert late is True
    assert received == {"type": "callcenter.message", "payload": {"kind": "call_update"}}
    assert dead_got_nothing is True
    with closing(sqlite3.connect(layer_file(tmp_path))) as connection:
        assert connection.execute("SELECT name FROM channel_group").fetchall() == [("callcenter.agent.5",)]


def test_a_group_membership_expires_unless_renewed(tmp_path):
    async def scenario():
        layer = layer_in(tmp_path, group_expiry=0.3)
        stale = await layer.new_channel()
        renewed = await layer.new_channel()
        await layer.group_add("callcenter.pbx", stale)
        await layer.group_add("callcenter.pbx", renewed)
        await asyncio.sleep(0.2)
        await layer.group_add("callcenter.pbx", renewed)
        await asyncio.sleep(0.15)
        await layer.group_send("callcenter.pbx", {"type": "pbx.command", "action": "Ping"})
        return await nothing_arrives(layer, stale), await layer.receive(renewed)

    stale_got_nothing, command = asyncio.run(scenario())
    assert stale_got_nothing is True
    assert command == {"type": "pbx.command", "action": "Ping"}


def test_group_discard_and_flush(tmp_path):
    async def scenario():
        layer = layer_in(tmp_path)
        left = await layer.new_channel()
        stays = await layer.new_channel()
        await layer.group_add("staff.3", left)
        await layer.group_add("staff.3", stays)
        await layer.group_discard("staff.3", left)
        await layer.group_send("staff.3", {"type": "notifications.alert", "body": "一"})
        outcome = [await nothing_arrives(layer, left), await layer.receive(stays)]

        await layer.send(stays, {"type": "unread"})
        await layer.flush()
        outcome.append(await nothing_arrives(layer, stays))
        await layer.group_send("staff.3", {"type": "notifications.alert", "body": "二"})
        outcome.append(await nothing_arrives(layer, stays))
        return outcome

    assert asyncio.run(scenario()) == [True, {"type": "notifications.alert", "body": "一"}, True, True]
    assert rows_in(tmp_path, "channel_message") == 0
    assert rows_in(tmp_path, "channel_group") == 0


def test_a_cancelled_receive_loses_nothing_and_order_is_kept(tmp_path):
    async def scenario():
        layer = layer_in(tmp_path)
        channel = await layer.new_channel()
        waiting = asyncio.create_task(layer.receive(channel))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        for n in range(3):
            await layer.send(channel, {"type": "step", "n": n, "raw": bytes([n])})
        return [await layer.receive(channel) for _ in range(3)]

    assert asyncio.run(scenario()) == [{"type": "step", "n": n, "raw": bytes([n])} for n in range(3)]


def test_two_receives_in_one_process_each_get_their_own_channel(tmp_path):
    async def scenario():
        layer = layer_in(tmp_path)
        sender = layer_in(tmp_path)  # another connection, as another process would have
        channels = [await layer.new_channel() for _ in range(20)]
        receives = [asyncio.create_task(layer.receive(channel)) for channel in channels]
        await asyncio.sleep(0.05)
        for n, channel in reversed(list(enumerate(channels))):
            await sender.send(channel, {"type": "pop", "n": n})
        return [await asyncio.wait_for(task, RECEIVE_TIMEOUT) for task in receives]

    assert asyncio.run(scenario()) == [{"type": "pop", "n": n} for n in range(20)]


def _forked_child_sends(layer: SQLiteChannelLayer, channel: str) -> None:
    async def send_and_receive():
        await layer.send(channel, {"type": "from.child"})
        reply_channel = "reply.child"
        return await asyncio.wait_for(layer.receive(reply_channel), RECEIVE_TIMEOUT)

    reply = asyncio.run(send_and_receive())
    sys.exit(0 if reply == {"type": "to.child"} else 3)


def test_a_process_forked_after_the_layer_was_used_opens_its_own_connection(tmp_path):
    """Celery's prefork pool forks a worker that may inherit a layer its parent already used."""
    layer = layer_in(tmp_path)

    async def used_before_the_fork():
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "warm"})
        assert await layer.receive(channel) == {"type": "warm"}
        return channel

    channel = asyncio.run(used_before_the_fork())
    child = multiprocessing.get_context("fork").Process(target=_forked_child_sends, args=(layer, channel))
    child.start()

    async def parent_side():
        message = await asyncio.wait_for(layer.receive(channel), RECEIVE_TIMEOUT)
        await layer.send("reply.child", {"type": "to.child"})
        return message

    assert asyncio.run(parent_side()) == {"type": "from.child"}
    child.join(timeout=RECEIVE_TIMEOUT)
    assert child.exitcode == 0


def test_the_poll_interval_is_at_most_50_ms(tmp_path):
    with pytest.raises(ValueError, match="poll_interval"):
        layer_in(tmp_path, poll_interval=0.2)


@pytest.mark.django_db
def test_readyz_round_trips_through_the_sqlite_layer(client, settings, tmp_path):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": LAYER, "CONFIG": {"path": str(layer_file(tmp_path))}}}
    settings.AMI_HOST = ""

    response = client.get("/readyz/")

    assert response.status_code == 200
    assert json.loads(response.content)["checks"]["channel_layer"] == {"ok": True, "detail": "SQLiteChannelLayer"}
    assert rows_in(tmp_path, "channel_message") == 0


def test_without_redis_the_settings_choose_the_sqlite_layer_in_var_dir(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; import json; "
         "print(json.dumps(settings.CHANNEL_LAYERS))"],
        cwd=BASE_DIR, env=dev_env(tmp_path, keep_redis=False), capture_output=True, text=True, timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "default": {"BACKEND": LAYER, "CONFIG": {"path": str(tmp_path / "channel-layer.sqlite3"),
                                                 "capacity": 5000, "expiry": 60}}
    }
