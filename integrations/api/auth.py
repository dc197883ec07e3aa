"""Who is calling (a per-system key, as `Authorization: Bearer <key>` or `X-API-Key: <key>`), how often it may
call, and what its key allows."""
from __future__ import annotations

import time

from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja.security import APIKeyHeader, HttpBearer
from ninja.throttling import BaseThrottle

from integrations.api.errors import ApiError
from integrations.clients import api_client_for_key
from integrations.models import ApiClient
from integrations.scopes import SCOPES


class BearerKey(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiClient | None:
        return api_client_for_key(token)


class HeaderKey(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiClient | None:
        return api_client_for_key(key or "")


API_AUTH = [BearerKey(), HeaderKey()]


class ClientRateThrottle(BaseThrottle):
    """Each client's own requests-per-minute limit, counted in the shared cache (Redis in production) in
    one-minute windows."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: HttpRequest) -> bool:
        client = getattr(request, "auth", None)
        if not isinstance(client, ApiClient):
            return True
        now = time.time()
        window = int(now // 60)
        key = f"api-rate:{client.pk}:{window}"
        cache.add(key, 0, timeout=120)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=120)
            count = 1
        if count > client.rate_limit_per_minute:
            self._wait = 60 - (now % 60)
            return False
        return True

    def wait(self) -> float | None:
        return self._wait


def scope_require(request: HttpRequest, scope: str) -> ApiClient:
    """The calling client, if its key holds `scope`; else a 403 naming the scope."""
    client = request.auth
    if not client.allows(scope):
        raise ApiError(
            403,
            "scope_missing",
            _("此密钥无权执行该操作（需要权限：%(scope)s %(label)s）") % {"scope": scope, "label": SCOPES[scope]},
        )
    return client
