"""Every /api/ request is logged (client, method, path, status, time taken) with its request id: the one
config.request_id.RequestIdMiddleware took from the caller's X-Request-ID or made, and returns in the answer's."""
from __future__ import annotations

import logging
import time

from django.db import DatabaseError

from integrations.models import ApiClient, ApiRequestLog

logger = logging.getLogger(__name__)


class ApiRequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/v1/"):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = int((time.perf_counter() - started) * 1000)
        if getattr(request, "idempotent_replayed", False):
            response["Idempotent-Replayed"] = "true"
        client = getattr(request, "auth", None)
        try:
            ApiRequestLog.objects.create(
                client=client if isinstance(client, ApiClient) else None,
                method=request.method[:8],
                path=request.path[:300],
                status=response.status_code,
                duration_ms=duration_ms,
                request_id=request.request_id,
                idempotency_key=request.headers.get("Idempotency-Key", "")[:100],
                remote_addr=request.META.get("REMOTE_ADDR") or None,
            )
        except DatabaseError:  # the log must never cost the caller its answer
            logger.exception("API request log write failed for %s", request.request_id)
        return response
