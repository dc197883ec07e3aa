"""What the server benchmarks share: Redis, a scratch database, Django and the daphne server started in one place,
and stopped (the database dropped) whatever happens.

    with bench_services(folder) as services:
        ...seed through the ORM...
        port = services.daphne_start(proxy_headers=True)
        ...load...
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


def connections_release() -> None:
    """Close every database connection and each PostgreSQL connection pool. Needed before a database is used as a
    template or dropped (no session may remain), before switching databases (a pool serves the database it was made
    for), and before forking (a child inherits the pool but not its threads, and would wait on it forever)."""
    from django.db import connections

    connections.close_all()
    for connection in connections.all():
        if hasattr(connection, "close_pool"):
            connection.close_pool()


def concurrency_list(text: str) -> list[int]:
    """--concurrency's value: comma-separated positive whole numbers (argparse type)."""
    import argparse

    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("--concurrency takes comma-separated whole numbers") from None
    if not values or any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError("--concurrency takes positive numbers")
    return values


def results_write(results_dir: str, name: str, *, smoke: bool, figures: dict) -> Path:
    """The run's figures as bench-results/<name>[-smoke]-<time>.json (with the time as "when"); says where."""
    Path(results_dir).mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(results_dir) / f"{name}-{'smoke-' if smoke else ''}{stamp}.json"
    path.write_text(json.dumps({"when": stamp, **figures}, ensure_ascii=False, indent=2))
    print(f"\nResults written to {path}")
    return path


def server_release(server) -> None:
    """The end of a bench on its PostgreSQL server (bench/pg.py): Django's connections and pools closed, then the
    server stopped (a throwaway cluster) or the bench database dropped (DATABASE_URL's server)."""
    if "django.db" in sys.modules:
        from django.db import connections

        if connections.settings:
            connections_release()
    server.stop()


@dataclass
class BenchServices:
    """The benchmark's folder, its Redis URL ('' when none), and the processes to stop at the end."""

    folder: str
    redis_url: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def cache(self) -> str:
        return "redis" if self.redis_url else "database"

    def daphne_start(self, *, proxy_headers: bool = False, application: str = "application") -> int:
        """One daphne process serving the project plus the baseline view (bench.cms_bench's `application`, or its
        django_handler_application); returns its port once it answers. Its stderr goes to server.log in the
        folder."""
        from bench.cms_bench import server_command, wait_for
        from bench.notifications_bench import free_port, process_start

        # The parent's connections (and their pool) are not the server's: it opens its own.
        connections_release()
        port = free_port()
        server = process_start(server_command(python=sys.executable, port=port, proxy_headers=proxy_headers,
                                              application=application),
                               stdout=subprocess.DEVNULL, stderr=open(Path(self.folder) / "server.log", "w"))
        self.processes.append(server)
        wait_for(port, server)
        return port


@contextlib.contextmanager
def bench_services(folder: str, *, eager_tasks: bool = True) -> Iterator[BenchServices]:
    """Redis (REDIS_URL, or a redis-server started on a free loopback port when installed), the environment the
    server process inherits (DEBUG off, VAR_DIR the folder, Celery tasks eager unless told otherwise), a scratch
    database (on the PostgreSQL server of DATABASE_URL, else a SQLite file in the folder), Django set up and
    migrated, and the database cache table when there is no Redis. On exit every process started is stopped and
    the scratch database dropped."""
    from bench.notifications_bench import database_prepare, django_start, process_stop, redis_start

    services = BenchServices(folder=folder, redis_url=os.environ.get("REDIS_URL", ""))
    pg_server = None
    try:
        if not services.redis_url and shutil.which("redis-server"):
            services.redis_url, redis_process = redis_start(folder)
            services.processes.append(redis_process)
        os.environ.update({"REDIS_URL": services.redis_url, "DEBUG": "0", "VAR_DIR": folder,
                           "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
                           "CELERY_TASK_ALWAYS_EAGER": "1" if eager_tasks else "0"})
        pg_server = database_prepare(folder)
        django_start()
        if not services.redis_url:
            from django.core.management import call_command

            call_command("createcachetable", verbosity=0)
        yield services
    finally:
        for process in reversed(services.processes):
            process_stop(process)
        if pg_server is not None:
            connections_release()
            pg_server.stop()
