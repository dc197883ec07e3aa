"""The Celery application; broker and schedule come from Django settings (CELERY_* names). Tasks carry the request id
of the request that enqueued them (a message header), and their log lines say which task they come from."""
import copy
import logging.config
import os

from celery import Celery
from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun, worker_init

from config.request_id import (
    request_id_get, request_id_reset, request_id_set, task_context_reset, task_context_set,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

REQUEST_ID_TASK_HEADER = "request_id"

app = Celery("power95598")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The context variables a running task set, by task id, for task_postrun to put back.
_task_tokens: dict[str, tuple] = {}


@worker_init.connect
def queues_declare(sender, **kwargs) -> None:
    """Create every queue before the worker's consumer and embedded beat start.

    Kombu's SQLAlchemy transport creates a queue's row on first use with an unlocked get-or-create; on a new broker
    file the worker and its beat process raced there and beat's first send failed on the UNIQUE constraint. Every
    queue, not only the default one: beat and the web processes send to routed queues this worker may not consume.
    """
    from django.conf import settings

    with sender.app.connection_for_write() as connection:
        for queue in settings.CELERY_QUEUES_ALL:
            connection.default_channel.queue_declare(queue=queue)
    # The SQLAlchemy transport keeps its engine, with a pooled SQLite connection, in a class-level cache: the beat
    # forked from this worker (-B) must open its own, or its first send fails with "disk I/O error".
    from kombu.transport.sqlalchemy import Channel as SqlAlchemyChannel

    for engine, _session in SqlAlchemyChannel._engines.values():
        engine.dispose()


@setup_logging.connect
def logging_from_settings(loglevel=None, logfile=None, **kwargs) -> None:
    """Workers and beat log as the web processes do (settings.LOGGING: LOG_FORMAT, the request id, the task), not in
    Celery's own format: connecting this signal stops Celery from replacing the root logger's handlers. The command
    line still rules where it speaks: -l/--loglevel sets the level, --logfile sends the lines to that file."""
    from django.conf import settings

    config = copy.deepcopy(settings.LOGGING)
    if loglevel:
        config["root"]["level"] = loglevel
    if logfile:
        console = config["handlers"]["console"]
        config["handlers"]["console"] = {
            "class": "logging.handlers.WatchedFileHandler", "filename": logfile, "encoding": "utf-8",
            "formatter": console["formatter"], "filters": console.get("filters", []),
        }
    logging.config.dictConfig(config)


@before_task_publish.connect
def request_id_header_add(headers=None, **kwargs) -> None:
    """The sender's request id travels in the message (a retry re-sends the id its task was run with)."""
    request_id = request_id_get()
    if headers is not None and request_id:
        headers.setdefault(REQUEST_ID_TASK_HEADER, request_id)


@task_prerun.connect
def task_context_enter(task_id=None, task=None, **kwargs) -> None:
    request = task.request
    # An eager task (tests, CELERY_TASK_ALWAYS_EAGER) runs inside its sender's context, which holds the id already.
    request_id = getattr(request, REQUEST_ID_TASK_HEADER, None) or ("" if not request.is_eager else request_id_get())
    _task_tokens[task_id] = (
        request_id_set(request_id), task_context_set(task_id=task_id or "", task_name=task.name),
    )


@task_postrun.connect
def task_context_leave(task_id=None, **kwargs) -> None:
    tokens = _task_tokens.pop(task_id, None)
    if tokens is not None:
        request_token, task_token = tokens
        task_context_reset(task_token)
        request_id_reset(request_token)
