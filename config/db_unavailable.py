"""A database that is down or restarting (PostgreSQL restart, failover, pool exhausted) answers a short "try again"
page with 503 and Retry-After, never a traceback or a bare 500: the request may be retried as it is.

Django turns an exception raised in any middleware below this one into a 500 response before it gets here, so the
exception is caught twice: a view's through process_exception, any other layer's (a session saved on the way out,
the user loaded by a middleware) through got_request_exception, which marks the request for __call__ to answer.
The page is rendered without the request (no context processors: the signed-in user would be a query)."""
from __future__ import annotations

import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
DATABASE_ERRORS = (OperationalError, InterfaceError)
_MARK = "_database_unavailable"
RETRY_MESSAGE = _("系统繁忙，请稍后重试")


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: JSON (the API's error body) under /api/, the translated retry page elsewhere."""
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"error": {"code": "service_unavailable", "message": str(RETRY_MESSAGE), "fields": {}}}, status=503
        )
    else:
        body = render_to_string("503_retry.html", {"retry_after": RETRY_AFTER_SECONDS, "path": request.path})
        response = HttpResponse(body, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


@receiver(got_request_exception, dispatch_uid="config.db_unavailable")
def _database_error_mark(sender, request=None, **kwargs) -> None:
    """Remember on the request that a database error made its 500 (the signal is sent inside the except block,
    without the exception)."""
    error = sys.exc_info()[1]
    if request is not None and isinstance(error, DATABASE_ERRORS):
        setattr(request, _MARK, True)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, _MARK, False) and response.status_code >= 500:
            return database_unavailable_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_ERRORS):
            return None
        logger.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        return database_unavailable_response(request)
