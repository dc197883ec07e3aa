"""The Redis channel layer as configured: channels_redis keeps one Redis list per ASGI process for all the sockets
that process holds, and drops messages silently past its capacity. With its default (100) a process whose sockets
read a few seconds late lost screen-pops in the busy-day benchmark; the settings give it room for a backlog and
bound that backlog by age instead. A real redis-server of the test's own."""
import asyncio
import json
import subprocess
import sys

from channels_redis.core import RedisChannelLayer

from tests.e2e.servers import BASE_DIR, dev_env

BACKLOG = 1000


def _settings_layer_config(tmp_path, redis_url: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; import json; "
         "print(json.dumps(settings.CHANNEL_LAYERS))"],
        cwd=BASE_DIR, env={**dev_env(tmp_path, keep_redis=False), "REDIS_URL": redis_url},
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["default"]


async def _backlog_kept(layer: RedisChannelLayer) -> int:
    """Two sockets of one process (two channels sharing the process's list), each in its agent group; BACKLOG
    group messages sent while neither reads, then everything read: how many arrived."""
    sockets = [await layer.new_channel(), await layer.new_channel()]
    for number, channel in enumerate(sockets):
        await layer.group_add(f"callcenter.agent.{number}", channel)
    for index in range(BACKLOG):
        await layer.group_send(f"callcenter.agent.{index % 2}",
                               {"type": "callcenter.message", "payload": {"kind": "screen_pop", "n": index}})
    received = 0
    for channel in sockets:
        while True:
            try:
                await asyncio.wait_for(layer.receive(channel), timeout=0.5)
            except asyncio.TimeoutError:
                break
            received += 1
    await layer.flush()
    return received


def test_the_settings_give_the_redis_layer_room_for_a_backlog_of_one_processs_sockets(tmp_path, redis_url):
    config = _settings_layer_config(tmp_path, redis_url)
    assert config["BACKEND"] == "channels_redis.core.RedisChannelLayer"

    kept = asyncio.run(_backlog_kept(RedisChannelLayer(**config["CONFIG"])))

    assert config["CONFIG"]["capacity"] >= 5 * BACKLOG
    assert kept == BACKLOG


def test_with_channels_redis_defaults_the_same_backlog_loses_messages_silently(redis_url):
    assert asyncio.run(_backlog_kept(RedisChannelLayer(hosts=[redis_url]))) == 100
