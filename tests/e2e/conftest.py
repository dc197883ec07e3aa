"""Fixtures for the tests that run the platform's real processes (Daphne, Celery, Chromium): the migrated and the
seeded database (built once per session, copied by each test, never shared), Daphne over a copy, and the
screenshot folder of a run."""
from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.servers import BASE_DIR, database_copy, dev_env, free_loopback_port, manage, start, stop, wait_until
from tests.e2e.test_browser_smoke import answers

# Enough customers for every kind of account the browser journeys look for (billed, in arrears, with a phone).
DEMO_CUSTOMERS = "24"


@dataclass(frozen=True)
class SeededDatabase:
    path: Path
    seed_output: str


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """One migrated database (cache table and home page included) per session; tests copy it, never share it."""
    var_dir = tmp_path_factory.mktemp("migrated")
    env = dev_env(var_dir, keep_redis=False)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "createcachetable")
    manage(env, "shell", "-c", "from cms.services import cms_site_ensure; cms_site_ensure()")
    return var_dir / "db.sqlite3"


@pytest.fixture(scope="session")
def seeded_sqlite(migrated_sqlite, tmp_path_factory) -> SeededDatabase:
    """The migrated database with the demo seeded (DEMO_CUSTOMERS customers, the website included), once per
    session, with what seed_demo printed."""
    var_dir = tmp_path_factory.mktemp("seeded")
    database_copy(migrated_sqlite, var_dir)
    seeded = manage(dev_env(var_dir, keep_redis=False), "seed_demo", "--customers", DEMO_CUSTOMERS)
    return SeededDatabase(path=var_dir / "db.sqlite3", seed_output=seeded.stdout)


@pytest.fixture(scope="session")
def shell_answer():
    """`shell_answer(database, code)`: the last line `manage.py shell -c code` prints over `database` (Django's
    shell may first say how many objects it imported); for read-only questions about a prepared database."""
    def answer(database: Path, code: str) -> str:
        return manage(dev_env(database.parent, keep_redis=False), "shell", "-c", code).stdout.strip().splitlines()[-1]

    return answer


@pytest.fixture
def daphne_over(tmp_path):
    """Start Daphne over a copy of a database in this test's folder: `daphne_over(database, **environment)` returns
    the base URL once /healthz/ answers; the server is stopped after the test. The environment is the dev
    settings' (no Redis) plus what the test adds."""
    servers = []

    def serve(database: Path, **environment: str) -> str:
        database_copy(database, tmp_path)
        env = dev_env(tmp_path, keep_redis=False)
        env.update(environment)
        port = free_loopback_port()
        log = tmp_path / "daphne.log"
        server = start(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"], env, log
        )
        servers.append(server)
        base_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{base_url}/healthz/"), "daphne answers", server, log)
        return base_url

    yield serve
    for server in servers:
        stop(server)


@pytest.fixture(scope="module")
def screenshots(request) -> Path:
    """One folder per test run and module, named after both: var/screenshots/<area>-<run time>/ for
    tests/e2e/test_<area>_browser.py (printed)."""
    area = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").removesuffix("_browser")
    folder = BASE_DIR / "var" / "screenshots" / f"{area}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    return folder
