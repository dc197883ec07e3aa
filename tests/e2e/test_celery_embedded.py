"""The embedded Celery set-up for real: a worker with beat over the SQLAlchemy/SQLite broker runs what Django sends
and what beat schedules."""
import os
import re
import sys

import pytest
from django.conf import settings

from tests.e2e.servers import database_copy, dev_env, manage, start, stop, wait_until

# Beat remembers when each entry last ran; two hours ago makes the hourly entry due the moment beat starts.
SCHEDULE_LAST_RUN_TWO_HOURS_AGO = """
import datetime
from celery.beat import PersistentScheduler
from config.celery import app
scheduler = PersistentScheduler(app=app, schedule_filename=app.conf.beat_schedule_filename, lazy=False)
scheduler.schedule["core.bills_mark_overdue"].last_run_at = app.now() - datetime.timedelta(hours=2)
scheduler.sync()
scheduler.close()
"""


@pytest.fixture(scope="module")
def worker(tmp_path_factory, migrated_sqlite):
    var_dir = tmp_path_factory.mktemp("celery")
    database_copy(migrated_sqlite, var_dir)
    env = dev_env(var_dir, keep_redis=False)
    manage(env, "shell", "-c", SCHEDULE_LAST_RUN_TWO_HOURS_AGO)
    log = var_dir / "worker.log"
    process = start(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat", "--loglevel", "INFO",
         "--concurrency", "1", "--include", "tests.e2e.probe_tasks", "--hostname", "test@%h",
         "--queues", ",".join(settings.CELERY_QUEUES_ALL)],
        env, log,
    )
    try:
        wait_until(lambda: " ready." in log.read_text(), "the worker is ready", process, log)
        yield process, log, env, var_dir
    finally:
        stop(process)


def test_the_worker_uses_the_embedded_sqlite_broker(worker):
    _, log, _, var_dir = worker

    assert f"transport:   sqla+sqlite:///{var_dir / 'celery-broker.sqlite3'}" in log.read_text()
    assert (var_dir / "celery-broker.sqlite3").exists()


def test_a_task_sent_by_django_runs_in_the_real_worker(worker):
    process, log, env, var_dir = worker
    marker = var_dir / "marker.txt"

    manage(
        env, "shell", "-c",
        "from tests.e2e.probe_tasks import write_marker; "
        f"write_marker.delay(path={str(marker)!r}, text='sent from the web process')",
    )

    wait_until(marker.exists, "the task wrote its marker", process, log)
    text = marker.read_text(encoding="utf-8")
    assert text.startswith("sent from the web process (pid ")
    worker_pid = int(text.removeprefix("sent from the web process (pid ").removesuffix(")"))
    assert worker_pid not in {os.getpid(), process.pid}


def test_beat_sends_the_hourly_overdue_marking_and_the_worker_runs_it(worker):
    process, log, _, _ = worker
    succeeded = re.compile(r"Task core\.bills_mark_overdue\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: (\d+)")

    wait_until(lambda: succeeded.search(log.read_text()), "beat's overdue task to finish", process, log)
    text = log.read_text()
    assert "Scheduler: Sending due task core.bills_mark_overdue (core.bills_mark_overdue)" in text
    # The seeded database has no bills, so nothing becomes overdue.
    assert succeeded.search(text).group(1) == "0"
