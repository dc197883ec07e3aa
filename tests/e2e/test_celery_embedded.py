"""The embedded Celery set-up for real: a worker with beat over the SQLAlchemy/SQLite broker runs what Django sends."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 90.0


def wait_for(predicate, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        if process.poll() is not None:
            pytest.fail(f"worker exited with {process.returncode} before {what}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}:\n{log.read_text()}")
        time.sleep(0.2)


@pytest.fixture
def embedded_env(tmp_path):
    """dev settings with every embedded default: no DATABASE_URL, REDIS_URL or broker URL from the caller."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER"}
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings.dev", VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    return env


@pytest.fixture
def worker(embedded_env, tmp_path):
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat", "--loglevel", "INFO",
             "--concurrency", "1", "--include", "tests.e2e.probe_tasks", "--hostname", "test@%h"],
            cwd=BASE_DIR,
            env=embedded_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: " ready." in log.read_text(), "the worker is ready", process, log)
        yield process, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


def test_a_task_sent_by_django_runs_in_the_real_worker(worker, embedded_env, tmp_path):
    process, log = worker
    marker = tmp_path / "marker.txt"
    send = (
        "from tests.e2e.probe_tasks import write_marker; "
        f"write_marker.delay(path={str(marker)!r}, text='sent from the web process')"
    )

    sent = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", send],
        cwd=BASE_DIR, env=embedded_env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )

    assert sent.returncode == 0, sent.stderr
    wait_for(marker.exists, "the task wrote its marker", process, log)
    text = marker.read_text(encoding="utf-8")
    assert text.startswith("sent from the web process (pid ")
    worker_pid = int(text.removeprefix("sent from the web process (pid ").removesuffix(")"))
    assert worker_pid not in {os.getpid(), process.pid}
    assert "transport:   sqla+sqlite:///" in log.read_text()
    assert (tmp_path / "celery-broker.sqlite3").exists()
