"""Helpers for tests that run the platform's real processes: a migrated SQLite file, environments, process groups."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PROCESS_START_SECONDS = 90.0
# Variables of the caller that would point the child at another database or make Celery run tasks inline.
CALLER_ONLY = {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "DJANGO_SETTINGS_MODULE"}


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dev_env(var_dir: Path, *, keep_redis: bool) -> dict[str, str]:
    """dev settings over a SQLite file in var_dir; Redis from the caller only when asked (CI's second pass)."""
    dropped = CALLER_ONLY if keep_redis else CALLER_ONLY | {"REDIS_URL"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{var_dir / 'db.sqlite3'}",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def database_copy(template: Path, var_dir: Path) -> None:
    var_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, var_dir / "db.sqlite3")


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a child in its own process group, output to log."""
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until(predicate, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + PROCESS_START_SECONDS
    while not predicate():
        if process.poll() is not None:
            pytest.fail(f"process exited with {process.returncode} before {what}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}:\n{log.read_text()}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the leader for a clean shutdown, then SIGKILL whatever is left of its process group."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
