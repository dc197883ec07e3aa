"""Every /api/ request is logged (client, method, path, status, time taken) and carries a request id, taken from
X-Request-ID when the caller sends one, returned in the answer's X-Request-ID."""
from __future__ import annotations

import logging
import re
import time
import uuid

from django.db import DatabaseError

from integrations.models import ApiClient, ApiRequestLog

logger = logging.getLogger(__name__)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,36}$")


class ApiRequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/v1/"):
            return self.get_response(request)
        offered = request.headers.get("X-Request-ID", "")
        request.request_id = offered if REQUEST_ID.match(offered) else uuid.uuid4().hex
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = int((time.perf_counter() - started) * 1000)
        response["X-Request-ID"] = request.request_id
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
