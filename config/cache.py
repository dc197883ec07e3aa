"""The Redis cache, failing soft: when Redis is unreachable, reads miss and writes are dropped (logged), so pages
keep serving from the database during a Redis blip instead of failing. After a failure the cache is skipped for a
few seconds, so a dead Redis costs one connect timeout per process per pause, not one per call.

One Redis client per process and server. Django keeps its cache objects per asgiref context, and under ASGI every
request runs in a context of its own: with Django's own client each request built a new cache object, hence a new
connection pool and a new TCP connection to Redis (closed only when the garbage collector found it), and a new
redis.Redis object per command. Here every cache object of one configuration shares one client, its pool and its
pause after a failure. redis-py's client is thread-safe (each command borrows a connection from the pool) and its
pool re-opens its connections in a forked child (Celery's workers)."""
from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

PAUSE_SECONDS = 5.0


def _made_once(made: dict, key, lock: threading.Lock, make):
    """made[key], made by make() the first time any thread asks for it."""
    value = made.get(key)
    if value is None:
        with lock:
            value = made.get(key)
            if value is None:
                value = made[key] = make()
    return value


class SharedRedisCacheClient(RedisCacheClient):
    """Django's client, keeping one redis.Redis per connection pool instead of building one per command, and the
    failure pause of every cache object that uses it."""

    def __init__(self, servers, **options) -> None:
        super().__init__(servers, **options)
        self._lock = threading.Lock()
        self._clients: dict[int, object] = {}
        self.paused_until = 0.0

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        return _made_once(self._clients, index, self._lock, lambda: self._client(
            connection_pool=self._pool_class.from_url(self._servers[index], **self._pool_options)))


_shared_clients: dict[tuple, SharedRedisCacheClient] = {}
_shared_clients_lock = threading.Lock()


def shared_client(servers: list[str], options: dict) -> SharedRedisCacheClient:
    """This process's client for these servers and options, made on first use."""
    key = (tuple(servers), repr(sorted(options.items())))
    return _made_once(_shared_clients, key, _shared_clients_lock, lambda: SharedRedisCacheClient(servers, **options))


class FailSoftRedisCache(RedisCache):
    @property
    def _cache(self) -> SharedRedisCacheClient:
        return shared_client(self._servers, self._options)

    def ping(self) -> bool:
        """Whether Redis answers, raising its error when it does not (the health probe's strict check)."""
        return self._cache.get_client(write=True).ping()

    def _guarded(self, name: str, miss, *args, **kwargs):
        client = self._cache
        if time.monotonic() < client.paused_until:
            return miss(*args, **kwargs) if callable(miss) else miss
        try:
            return getattr(super(), name)(*args, **kwargs)
        except (RedisError, OSError):
            client.paused_until = time.monotonic() + PAUSE_SECONDS
            logger.warning("cache unreachable during %s; carrying on without it for %ss", name, PAUSE_SECONDS,
                           exc_info=True)
            return miss(*args, **kwargs) if callable(miss) else miss

    def get(self, key, default=None, version=None):
        return self._guarded("get", default, key, default, version)

    def get_many(self, keys, version=None):
        return self._guarded("get_many", {}, keys, version)

    def has_key(self, key, version=None):
        return self._guarded("has_key", False, key, version)

    def get_or_set(self, key, default, timeout=None, version=None):
        def computed(*args, **kwargs):
            return default() if callable(default) else default

        return self._guarded("get_or_set", computed, key, default, timeout, version)

    def set(self, *args, **kwargs):
        return self._guarded("set", None, *args, **kwargs)

    def add(self, *args, **kwargs):
        return self._guarded("add", False, *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._guarded("delete", False, *args, **kwargs)

    def set_many(self, data, *args, **kwargs):
        return self._guarded("set_many", list(data), data, *args, **kwargs)

    def delete_many(self, *args, **kwargs):
        return self._guarded("delete_many", None, *args, **kwargs)

    def touch(self, *args, **kwargs):
        return self._guarded("touch", False, *args, **kwargs)

    def clear(self):
        return self._guarded("clear", False)
