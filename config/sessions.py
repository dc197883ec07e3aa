"""Sessions read from the cache and written through to the database (Django's cached_db), so a signed-in request
costs one cache read instead of a session query.

The cache fails soft (config/cache.py): a sign-out or a revoked session (allauth.usersessions) whose cache delete
was dropped during a Redis blip would otherwise stay signed in from the cached copy until the session expires,
weeks later. So the cached copy is kept at most CACHED_SECONDS: after that it is read from the database again,
which a revocation never misses."""
from __future__ import annotations

from django.contrib.sessions.backends import cached_db

CACHED_SECONDS = 60


class _CappedCache:
    """The session cache, keeping each entry at most CACHED_SECONDS whatever the session's own expiry."""

    def __init__(self, cache) -> None:
        self._cache = cache

    def set(self, key, value, timeout=None):
        return self._cache.set(key, value, CACHED_SECONDS if timeout is None else min(timeout, CACHED_SECONDS))

    async def aset(self, key, value, timeout=None):
        return await self._cache.aset(key, value,
                                      CACHED_SECONDS if timeout is None else min(timeout, CACHED_SECONDS))

    def __contains__(self, key) -> bool:
        return key in self._cache

    def __getattr__(self, name):
        return getattr(self._cache, name)


class SessionStore(cached_db.SessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._cache = _CappedCache(self._cache)
