"""The request id: one per HTTP request, taken from X-Request-ID when the caller (nginx, an API client) sends a sane
one, else made here; echoed in the answer, put in every log line, and carried into the Celery tasks the request
enqueues (config/celery.py), so one id follows a piece of work from the browser to the worker."""
from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by the settings (through config.logging): no django.http before they are loaded
    from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# At most 36 characters (a dashed UUID): integrations' ApiRequestLog keeps the id in a 36-character column.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,36}$")

_request_id: ContextVar[str] = ContextVar("request_id", default="")
# The Celery task being run in this context: (task id, task name), ("", "") outside a task.
_task: ContextVar[tuple[str, str]] = ContextVar("task", default=("", ""))


def request_id_get() -> str:
    """The current request's (or task's) id; "" outside a request or task."""
    return _request_id.get()


def request_id_set(value: str) -> Token:
    """Make `value` the current id until request_id_reset(token)."""
    return _request_id.set(value)


def request_id_reset(token: Token) -> None:
    _request_id.reset(token)


def task_context_get() -> tuple[str, str]:
    """(task id, task name) of the Celery task running in this context; ("", "") outside one."""
    return _task.get()


def task_context_set(*, task_id: str, task_name: str) -> Token:
    return _task.set((task_id, task_name))


def task_context_reset(token: Token) -> None:
    _task.reset(token)


def request_id_from_header(offered: str) -> str:
    """The caller's id when it is sane (no spaces, quotes or control characters to forge log lines), else a new one."""
    return offered if REQUEST_ID_PATTERN.match(offered) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets request.request_id and the context's id for the whole request, and echoes it in X-Request-ID."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_id_from_header(request.headers.get(REQUEST_ID_HEADER, ""))
        token = request_id_set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_reset(token)
        response[REQUEST_ID_HEADER] = request.request_id
        return response
