"""The platform a fault run breaks: its own PostgreSQL cluster (bench/pg.py) and redis-server on loopback ports,
the fake Twilio provider in this process, and daphne, Celery worker and beat processes started on demand, all with
the run's settings (bench/chaos/settings.py). Everything started is stopped, and the cluster removed, on exit.

Redis runs as production must run it for a broker: with its append-only file, so that queued tasks survive a
restart (a Redis without persistence loses every queued task when it stops)."""
from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.notifications_bench import process_start, process_stop

SETTINGS_MODULE = "bench.chaos.settings"
TWILIO_SID = "AC" + "0" * 31 + "9"
TWILIO_TOKEN = "chaos-token"
TWILIO_FROM = "+8610955980009"


def redis_command(*, port: int, folder: str) -> list[str]:
    return ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "yes",
            "--appendfsync", "everysec", "--dir", folder, "--logfile", f"{folder}/redis.log"]


_STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line, flushed at once (a run is watched live, and CI keeps what was printed before a hang)."""
    print(f"   [{time.monotonic() - _STARTED:6.1f} s] {message}", flush=True)


def wait_until(condition, *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def http_get(port: int, path: str, *, headers: dict | None = None, timeout: float = 10) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass
class Stack:
    folder: Path
    pg: object
    redis_port: int
    twilio: object
    redis: subprocess.Popen | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    # --- Redis ------------------------------------------------------------------------------------------------

    def redis_up(self) -> None:
        import redis

        self.redis = process_start(redis_command(port=self.redis_port, folder=str(self.folder / "redis")),
                                   stdout=subprocess.DEVNULL)

        def answers() -> bool:
            try:
                return bool(redis.Redis.from_url(self.redis_url, socket_connect_timeout=0.5).ping())
            except redis.exceptions.RedisError:
                return False

        if not wait_until(answers, timeout=15, interval=0.05):
            raise RuntimeError(f"redis-server did not start on port {self.redis_port}")

    def redis_down(self) -> None:
        """Stop Redis as a service manager does (SIGTERM: it writes its append-only file and exits)."""
        if self.redis is not None:
            process_stop(self.redis)
            self.redis = None

    # --- PostgreSQL -------------------------------------------------------------------------------------------

    def postgres_restart(self) -> float:
        """pg_ctl restart -m fast: every session is ended at once, the server is down until it has restarted.
        Returns how long that took."""
        from bench.pg import PG_BIN, _as_postgres

        started = time.monotonic()
        # -l again: without it the restarted server writes to pg_ctl's output, which it then holds open forever.
        subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", f"{self.pg.cluster_dir}/data", "-l",
                                     f"{self.pg.cluster_dir}/server.log", "-m", "fast", "-w", "-t", "60", "restart"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.monotonic() - started

    # --- processes --------------------------------------------------------------------------------------------

    def daphne_start(self, name: str) -> tuple[int, subprocess.Popen]:
        from bench.notifications_bench import free_port

        port = free_port()
        process = process_start([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                 "config.asgi:application"],
                                stdout=subprocess.DEVNULL, stderr=open(self.folder / f"{name}.log", "w"))
        self.processes.append(process)

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"daphne {name} exited (see {self.folder}/{name}.log)")
            try:
                return http_get(port, "/healthz/", timeout=2)[0] == 200
            except OSError:
                return False

        if not wait_until(answers, timeout=60, interval=0.2):
            raise RuntimeError(f"daphne {name} did not answer")
        return port, process

    def worker_start(self, name: str, *, concurrency: int = 2) -> subprocess.Popen:
        """A Celery worker on every queue (prefork, `concurrency` children), ready when it answers a ping (its
        log goes wherever settings.LOGGING sends it: here, a file per process)."""
        from django.conf import settings

        from config.celery import app

        log = self.folder / f"{name}.log"
        queues = ",".join(getattr(settings, "CELERY_QUEUES_ALL", None) or ("celery",))
        node = f"{name}@{socket.gethostname()}"
        process = process_start([sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork",
                                 "-c", str(concurrency), "-Q", queues, "-n", node, "--without-gossip",
                                 "--without-mingle", "--loglevel", "INFO"],
                                stdout=open(log, "w"), stderr=subprocess.STDOUT)
        self.processes.append(process)

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"worker {name} exited:\n{log.read_text(errors='replace')[-2000:]}")
            return bool(app.control.ping(destination=[node], timeout=0.5))

        if not wait_until(ready, timeout=90, interval=0.2):
            raise RuntimeError(f"worker {name} did not become ready:\n{log.read_text(errors='replace')[-2000:]}")
        return process

    def beat_start(self) -> subprocess.Popen:
        process = process_start([sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING",
                                 "--schedule", str(self.folder / "celerybeat-schedule")],
                                stdout=open(self.folder / "beat.log", "w"), stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def process_kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the process and everything it forked (its own process group): no warm shutdown, no acks."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def process_stop(self, process: subprocess.Popen) -> None:
        process_stop(process)
        if process in self.processes:
            self.processes.remove(process)

    def processes_stop(self) -> None:
        for process in reversed(self.processes):
            process_stop(process)
        self.processes.clear()


@contextlib.contextmanager
def stack_up(folder: str) -> Iterator[Stack]:
    """Start PostgreSQL, Redis and the fake Twilio, point this process's environment (inherited by every process
    started later) at them, set Django up and migrate a fresh database."""
    from bench.harness import connections_release
    from bench.notifications_bench import free_port
    from bench.pg import cluster_start
    from tests.notifications.fake_twilio import FakeTwilioServer

    root = Path(folder)
    (root / "redis").mkdir(parents=True, exist_ok=True)
    pg = cluster_start()
    twilio = FakeTwilioServer(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN)
    stack = Stack(folder=root, pg=pg, redis_port=free_port(), twilio=twilio)
    try:
        twilio.__enter__()
        stack.redis_up()
        database_url = pg.database_create("chaos")
        os.environ.update({
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE, "DATABASE_URL": database_url, "REDIS_URL": stack.redis_url,
            "DEBUG": "0", "VAR_DIR": str(root), "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            "CELERY_TASK_ALWAYS_EAGER": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_FROM_NUMBER": TWILIO_FROM,
            "TWILIO_API_BASE": twilio.base_url, "AMI_HOST": "",
            # Each process's pool stays small: several daphne and worker processes share one cluster.
            "DATABASE_POOL_MAX_SIZE": "8",
        })
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        connections_release()
        yield stack
    finally:
        stack.processes_stop()
        stack.redis_down()
        with contextlib.suppress(Exception):
            twilio.__exit__(None, None, None)
        if "django.db" in sys.modules:
            from django.db import connections

            if connections.settings:
                connections_release()
        pg.stop()
