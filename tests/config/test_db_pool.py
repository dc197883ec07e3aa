"""The PostgreSQL pool's health check (config/db_pool.py) on a real server: a healthy idle connection is lent without
a word to the server, a connection whose backend is gone is found out and replaced before any request gets it.
The server is DATABASE_URL's when it is PostgreSQL (the CI's second pass), else a throwaway cluster of the test's."""
import json
import os
import subprocess
import sys
import time

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from bench.pg import cluster_start, server_from_env
from config.db_pool import pooled_connection_check
from tests.e2e.servers import BASE_DIR, dev_env


@pytest.fixture(scope="module")
def pg_url():
    server = server_from_env(os.environ.get("DATABASE_URL"))
    own = server is None
    if own:
        server = cluster_start()
    url = server.database_create(f"pool_check_{os.getpid()}")
    yield url
    server.database_drop(url.rsplit("/", 1)[1])
    if own:
        server.stop()


@pytest.fixture
def pool(pg_url):
    pool = ConnectionPool(pg_url, min_size=1, max_size=1, check=pooled_connection_check, kwargs={"autocommit": True},
                          open=True)
    pool.wait(timeout=10)
    yield pool
    pool.close()


def _backend_pid(pool: ConnectionPool) -> int:
    with pool.connection() as connection:
        return connection.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_a_healthy_idle_connection_is_lent_without_a_round_trip(pool, tmp_path):
    pid = _backend_pid(pool)
    trace = tmp_path / "protocol.trace"
    with open(trace, "w") as file:
        with pool.connection() as connection:
            connection.pgconn.trace(file.fileno())
        # Given back with its protocol traced, then lent again: the check ran in between.
        with pool.connection() as connection:
            connection.pgconn.untrace()
            lent_again = connection
    # Nothing was sent to the server for the check ...
    assert trace.read_text() == ""
    # ... and the connection lent is the same backend, answering.
    with pool.connection() as connection:
        assert connection is lent_again
        assert connection.execute("SELECT pg_backend_pid()").fetchone()[0] == pid


def test_a_connection_whose_backend_was_terminated_is_replaced_before_it_is_lent(pool, pg_url):
    pid = _backend_pid(pool)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0] is True
        deadline = time.monotonic() + 10
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]:
            assert time.monotonic() < deadline, "the backend did not go"
            time.sleep(0.05)
    # The request that borrows next gets a working connection, not the dead one.
    with pool.connection() as connection:
        assert connection.execute("SELECT 1").fetchone()[0] == 1
        assert connection.execute("SELECT pg_backend_pid()").fetchone()[0] != pid
    assert pool.get_stats().get("connections_lost", 0) >= 1


def test_djangos_pool_under_the_settings_lends_a_healthy_connection_without_a_round_trip(tmp_path, pg_url):
    """The settings' backend (config.postgresql) on the same server: six requests' worth of connect/close on the
    pool's connections, traced, with nothing sent; then a terminated backend behind the pool replaced before the
    next request's query."""
    script = """
import json, psycopg
from django.conf import settings
from django.db import connection
trace = open(%r, "w")
pids = []
# Opened, and its min_size connections made, before the first loan: a loan that finds none ready (a busy machine
# opening them slowly) makes the pool open one more, and the loans would spread over three.
connection.pool.open(wait=True, timeout=30)
for loan in range(6):  # every connection of the pool (min_size 2) traced from its first loan on
    connection.ensure_connection(); pids.append(connection.connection.info.backend_pid)
    connection.connection.pgconn.trace(trace.fileno()); connection.close()
trace.flush()
traced = open(%r).read()
same = len(set(pids)) <= 2
pid = pids[-1]
with psycopg.connect(%r, autocommit=True) as admin:
    admin.execute("SELECT pg_terminate_backend(%%s)", [pid])
    while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %%s", [pid]).fetchone()[0]:
        pass
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_backend_pid()"); after = cursor.fetchone()[0]
print(json.dumps({"engine": settings.DATABASES["default"]["ENGINE"], "vendor": connection.vendor, "same": same,
                  "traced": traced, "replaced": after != pid}))
""" % (str(tmp_path / "trace"), str(tmp_path / "trace"), pg_url)
    done = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR,
                          env={**dev_env(tmp_path, keep_redis=False), "DATABASE_URL": pg_url},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"engine": "config.postgresql", "vendor": "postgresql", "same": True,
                                       "traced": "", "replaced": True}
