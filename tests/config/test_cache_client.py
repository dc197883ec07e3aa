"""The Redis cache under ASGI. Django keeps a cache object per asgiref context, and its ASGI handler serves every
request in a context of its own, so each request gets a new cache object. config/cache.py shares
one Redis client per process among them: one connection pool (Django's own client opened a new TCP connection to
Redis for every request) and one pause after a failure (else every request paid a dead Redis's connect timeout).

Each "request" below is what Django's ASGIHandler does for one (and config/asgi_handler.py's, with a thread of its
set): a fresh task context, a ThreadSensitiveContext and the sync work run by sync_to_async(thread_sensitive=True)
on that context's thread. A real redis-server."""
import asyncio
import socket
import threading

import redis
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.cache import caches

from config.cache import FailSoftRedisCache

REQUESTS = 20


def _as_asgi_request(work):
    """Run work(cache) as Django's ASGI handler runs a request's sync code; returns (cache object, result)."""
    async def request():
        async with ThreadSensitiveContext():
            return await sync_to_async(lambda: (caches["default"], work(caches["default"])), thread_sensitive=True)()

    return asyncio.run(request())


def _connections_received(url: str) -> int:
    return redis.Redis.from_url(url).info("stats")["total_connections_received"]


def test_requests_share_one_connection_to_redis(settings, redis_url):
    settings.CACHES = {"default": {"BACKEND": "config.cache.FailSoftRedisCache", "LOCATION": redis_url}}
    before = _connections_received(redis_url)
    objects, seen = [], []
    for number in range(REQUESTS):
        def work(cache, number=number):
            previous = cache.get("visits")
            cache.set("visits", number)
            return previous
        cache_object, previous = _as_asgi_request(work)
        objects.append(cache_object)
        seen.append(previous)
    # Each request had a cache object of its own (the situation that used to open a connection per request) ...
    assert len({id(cache_object) for cache_object in objects}) == REQUESTS
    assert all(isinstance(cache_object, FailSoftRedisCache) for cache_object in objects)
    # ... each read what the one before wrote ...
    assert seen == [None, *range(REQUESTS - 1)]
    # ... and all of them went through one connection (the counting connection of _connections_received aside).
    assert _connections_received(redis_url) - before == 1 + 1


class _DroppingListener:
    """A loopback port that accepts connections and closes them at once: every Redis command through it fails.
    Counts the connections it took."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.sock.getsockname()[1]}/0"
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _address = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.sock.close()


def test_after_a_failure_later_requests_skip_redis_without_trying_it(settings, caplog):
    listener = _DroppingListener()
    try:
        settings.CACHES = {"default": {"BACKEND": "config.cache.FailSoftRedisCache", "LOCATION": listener.url}}
        _cache_object, first = _as_asgi_request(lambda cache: cache.get("anything", "fallback"))
        assert first == "fallback"
        tried = listener.accepted
        assert tried >= 1
        assert "cache unreachable during get" in caplog.text
        answers = [_as_asgi_request(lambda cache: (cache.get("anything", "fallback"), cache.set("k", 1),
                                                    cache.get_many(["a", "b"])))[1] for _ in range(5)]
        assert answers == [("fallback", None, {})] * 5
        # The pause is the process's, not the first request's cache object's: nobody knocked again.
        assert listener.accepted == tried
    finally:
        listener.close()
