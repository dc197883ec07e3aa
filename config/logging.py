"""Log lines: plain text for people (dev, tests) or one JSON object per line for the log shipper (production), each
carrying the request id and, inside a Celery task, the task's id and name; plus one access line per request."""
from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from config.request_id import request_id_get, task_context_get

if TYPE_CHECKING:  # the settings import this module: it must not pull in django.http before they are loaded
    from django.http import HttpRequest, HttpResponse

LOG_FORMATS = ("json", "plain")
ACCESS_LOGGER = "config.access"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context_label)s %(message)s"
# Record attributes never copied into the JSON object: LogRecord's own, the ones this module places itself, and
# Django's `request` extra (an HttpRequest or a socket: its repr says nothing the access line does not).
_NOT_EXTRA = (*RESERVED_ATTRS, "taskName", "request", "request_id", "task_id", "task_name", "context_label")


class LogContextFilter(logging.Filter):
    """Stamps each record with the request id and the running task (from config.request_id's context variables),
    in the thread that logs it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_get()
        if not hasattr(record, "task_id"):
            record.task_id, record.task_name = task_context_get()
        label = " ".join(part for part in (
            record.request_id, f"{record.task_name}[{record.task_id}]" if record.task_id else "",
        ) if part)
        record.context_label = f" [{label}]" if label else ""
        return True


class JsonLogFormatter(JsonFormatter):
    """time, level, logger, message, request_id, then task_id/task_name inside a task, the record's extras (e.g. the
    access line's method, path, status, duration_ms), and exc_info as text."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("reserved_attrs", _NOT_EXTRA)
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data["request_id"] = getattr(record, "request_id", None) or request_id_get()
        task_id, task_name = (
            (record.task_id, record.task_name) if hasattr(record, "task_id") else task_context_get()
        )
        if task_id:
            log_data["task_id"] = task_id
            log_data["task_name"] = task_name
        super().add_fields(log_data, record, message_dict)


class AccessLogMiddleware:
    """One INFO line per request on the config.access logger: method, path, status, duration_ms (the logger's level
    decides whether it is written: on in production, off in tests; see logging_config)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.logger = logging.getLogger(ACCESS_LOGGER)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        if self.logger.isEnabledFor(logging.INFO):
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            self.logger.info(
                "%s %s %s %sms", request.method, request.path, response.status_code, duration_ms,
                extra={
                    "method": request.method, "path": request.path, "status": response.status_code,
                    "duration_ms": duration_ms,
                },
            )
        return response


def logging_config(*, log_format: str, level: str, access_log: bool) -> dict:
    """The LOGGING dictionary for `log_format` ("json" or "plain") at root level `level`, with the per-request access
    lines written when `access_log`."""
    if log_format not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "config.logging.LogContextFilter"}},
        "formatters": {
            "plain": {"format": PLAIN_FORMAT},
            "json": {"()": "config.logging.JsonLogFormatter"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["context"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            ACCESS_LOGGER: {"level": "INFO" if access_log else "WARNING"},
            # Wagtail logs every background task it runs inline (search index, reference index) at INFO: noise.
            "django_tasks": {"level": "WARNING"},
            # The Twilio client logs every request's headers and form (phone numbers, SMS bodies) at INFO.
            "twilio.http_client": {"level": "WARNING"},
        },
    }
