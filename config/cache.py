"""The Redis cache, failing soft: when Redis is unreachable, reads miss and writes are dropped (logged), so pages
keep serving from the database during a Redis blip instead of failing. After a failure the cache is skipped for a
few seconds, so a dead Redis costs one connect timeout per process per pause, not one per call."""
from __future__ import annotations

import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

PAUSE_SECONDS = 5.0


class FailSoftRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._paused_until = 0.0

    def ping(self) -> bool:
        """Whether Redis answers, raising its error when it does not (the health probe's strict check)."""
        return self._cache.get_client(write=True).ping()

    def _guarded(self, name: str, miss, *args, **kwargs):
        if time.monotonic() < self._paused_until:
            return miss(*args, **kwargs) if callable(miss) else miss
        try:
            return getattr(super(), name)(*args, **kwargs)
        except (RedisError, OSError):
            self._paused_until = time.monotonic() + PAUSE_SECONDS
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
