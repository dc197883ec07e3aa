"""Log lines (config/logging.py): one JSON object per line with the request id, the task's id and name inside a Celery
task (run inline, and in a real worker process), exceptions as text; the plain format for people; one access line
per request with method, path, status and duration; the settings' choice per environment."""
from __future__ import annotations

import io
import json
import logging
import logging.config
import re
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from config.logging import ACCESS_LOGGER, logging_config
from config.request_id import request_id_reset, request_id_set
from portal.models import UserPhone
from tests.e2e.servers import BASE_DIR, dev_env, start, stop, wait_until

PHONE = "13800138000"


@pytest.fixture
def log_to(settings):
    """`log_to(format, access_log=True)` sends every log line to a fresh buffer in that format, and returns the
    buffer; the settings' logging is put back afterwards."""

    def configure(log_format: str, *, access_log: bool = True) -> io.StringIO:
        stream = io.StringIO()
        config = logging_config(log_format=log_format, level="INFO", access_log=access_log)
        config["handlers"]["console"]["stream"] = stream
        logging.config.dictConfig(config)
        return stream

    yield configure
    logging.config.dictConfig(settings.LOGGING)


def json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.django_db
def test_a_request_writes_one_json_access_line_with_its_request_id(client, log_to):
    stream = log_to("json")

    response = client.get("/healthz/", HTTP_X_REQUEST_ID="lb-7f3a")

    assert response.status_code == 200
    [line] = json_lines(stream)
    assert list(line) == ["time", "level", "logger", "message", "request_id", "method", "path", "status",
                          "duration_ms"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    assert (line["level"], line["logger"], line["request_id"]) == ("INFO", ACCESS_LOGGER, "lb-7f3a")
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz/", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["message"] == f"GET /healthz/ 200 {line['duration_ms']}ms"


@pytest.mark.django_db
def test_a_missing_page_is_logged_with_its_404_and_a_fresh_request_id(client, log_to):
    stream = log_to("json")

    response = client.get("/portal/no-such-page/")

    assert response.status_code == 404
    access = [line for line in json_lines(stream) if line["logger"] == ACCESS_LOGGER]
    assert [(line["path"], line["status"]) for line in access] == [("/portal/no-such-page/", 404)]
    assert access[0]["request_id"] == response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", access[0]["request_id"])


def test_an_exception_is_one_json_line_with_its_traceback_as_text(log_to):
    stream = log_to("json")
    token = request_id_set("api-42")
    try:
        try:
            raise ValueError("示数不能为负")
        except ValueError:
            logging.getLogger("core.services.readings").exception("读数写入失败 %s", "0100000001")
    finally:
        request_id_reset(token)

    [raw] = stream.getvalue().splitlines()
    line = json.loads(raw)
    assert (line["level"], line["logger"], line["message"], line["request_id"]) == (
        "ERROR", "core.services.readings", "读数写入失败 0100000001", "api-42",
    )
    assert line["exc_info"].startswith("Traceback (most recent call last):\n")
    assert line["exc_info"].endswith("ValueError: 示数不能为负")
    assert "task_id" not in line
    # Chinese stays readable in the file, not \\u escapes.
    assert "读数写入失败" in raw


@pytest.mark.django_db
def test_the_plain_format_shows_the_request_id_in_brackets(client, log_to):
    stream = log_to("plain")

    client.get("/healthz/", HTTP_X_REQUEST_ID="lb-7f3a")

    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO config\.access \[lb-7f3a\] GET /healthz/ 200 [0-9.]+ms\n",
        stream.getvalue(),
    )


@pytest.mark.django_db
def test_without_access_logging_a_request_writes_nothing(client, log_to):
    stream = log_to("json", access_log=False)

    assert client.get("/healthz/").status_code == 200
    assert stream.getvalue() == ""


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_task_the_request_enqueued_logs_that_request_id_with_its_own_task_id_and_name(client, log_to):
    """The login-code SMS goes out through notifications' Celery task after the request's commit (run inline in the
    tests): its log lines carry the request's id and the task's."""
    UserPhone.objects.create(user=get_user_model().objects.create_user(username="zhangsan"), phone=PHONE)
    stream = log_to("json")

    response = client.post(reverse("account_request_login_code"), {"phone": PHONE}, HTTP_X_REQUEST_ID="login-rq-1")

    assert response.status_code == 302
    lines = json_lines(stream)
    task_lines = [line for line in lines if line.get("task_name", "").startswith("notifications.")]
    assert task_lines, lines
    assert {line["request_id"] for line in task_lines} == {"login-rq-1"}
    assert all(re.fullmatch(r"[0-9a-f-]{36}", line["task_id"]) for line in task_lines)
    succeeded = [line for line in task_lines if line["logger"] == "celery.app.trace"]
    assert succeeded and all(f"[{line['task_id']}] succeeded in" in line["message"] for line in succeeded)
    # Outside the task, the request's own lines carry no task.
    [access] = [line for line in lines if line["logger"] == ACCESS_LOGGER]
    assert (access["request_id"], access["status"]) == ("login-rq-1", 302)
    assert "task_id" not in access


SEND_WITH_A_REQUEST_ID = """
import django
django.setup()
from config.request_id import request_id_set
from tests.e2e.probe_tasks import write_marker
request_id_set("worker-rq-9")
result = write_marker.delay(path={path!r}, text="from a request")
print(result.id)
"""


def test_a_real_worker_logs_the_senders_request_id_and_the_task_in_json_where_its_command_line_says(tmp_path):
    """The worker's --logfile and --loglevel still rule (LOG_LEVEL says WARNING here, -l INFO wins)."""
    env = {**dev_env(tmp_path, keep_redis=False), "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"}
    output, logfile = tmp_path / "worker.out", tmp_path / "worker.log"
    worker = start(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--logfile", str(logfile),
         "--concurrency", "1", "--include", "tests.e2e.probe_tasks", "--hostname", "logtest@%h",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        env, output,
    )

    def written() -> str:
        return logfile.read_text() if logfile.exists() else ""

    try:
        wait_until(lambda: ' ready."' in written(), "the worker is ready", worker, output)
        marker = tmp_path / "marker.txt"
        sent = subprocess.run(
            [sys.executable, "-c", SEND_WITH_A_REQUEST_ID.format(path=str(marker))],
            cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
        )
        assert sent.returncode == 0, sent.stderr
        task_id = sent.stdout.strip().splitlines()[-1]
        wait_until(lambda: f'"task_id": "{task_id}"' in written(), "the task's log line", worker, output)
    finally:
        stop(worker)

    objects = [json.loads(line) for line in written().splitlines() if line.startswith("{")]
    [succeeded] = [line for line in objects if line.get("task_id") == task_id]
    assert (succeeded["request_id"], succeeded["task_name"], succeeded["logger"]) == (
        "worker-rq-9", "tests.write_marker", "celery.app.trace",
    )
    assert succeeded["message"].startswith(f"Task tests.write_marker[{task_id}] succeeded in ")
    # The worker's own lines (startup, the task received) belong to no request and no task.
    ready = [line for line in objects if line["message"].endswith(" ready.")]
    assert ready and ready[0]["request_id"] == "" and "task_id" not in ready[0]
    assert ' ready."' not in output.read_text()
    assert marker.read_text(encoding="utf-8").startswith("from a request (pid ")


def test_an_unknown_log_format_is_refused_by_name():
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT must be one of json, plain, not 'xml'."):
        logging_config(log_format="xml", level="INFO", access_log=False)


PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production", "SECRET_KEY": "s" * 60, "ALLOWED_HOSTS": "example.com",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:1/db", "REDIS_URL": "redis://127.0.0.1:1/0",
}
PRINT_LOGGING = (
    "import json; from django.conf import settings; "
    "print(json.dumps([settings.LOG_FORMAT, settings.LOGGING['handlers']['console']['formatter'], "
    "settings.LOGGING['loggers']['config.access']['level']]))"
)


@pytest.mark.parametrize(("environment", "expected"), [
    ({"DJANGO_SETTINGS_MODULE": "config.settings.dev"}, ["plain", "plain", "WARNING"]),
    ({"DJANGO_SETTINGS_MODULE": "config.settings.test"}, ["plain", "plain", "WARNING"]),
    (PRODUCTION_ENV, ["json", "json", "INFO"]),
    ({**PRODUCTION_ENV, "LOG_FORMAT": "plain", "LOG_ACCESS": "0"}, ["plain", "plain", "WARNING"]),
    ({"DJANGO_SETTINGS_MODULE": "config.settings.dev", "LOG_FORMAT": "json", "LOG_ACCESS": "1"},
     ["json", "json", "INFO"]),
])
def test_production_logs_json_with_access_lines_and_dev_and_tests_plain_without(tmp_path, environment, expected):
    inherited = {
        k: v for k, v in dev_env(tmp_path, keep_redis=False).items() if k not in ("LOG_FORMAT", "LOG_ACCESS")
    }
    env = {**inherited, **environment}

    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {PRINT_LOGGING}"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == expected
