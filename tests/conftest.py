"""Shared fixtures. Tests build their own small worlds with the factories in tests/factories.py."""
import faulthandler
import gc
import os
import sys
import threading
import traceback

import pytest
from django.utils import translation

# The slowest test (a browser journey, or Daphne over a seeded database) takes under half a minute. One still
# running after this long has hung: the watchdog names it, prints where every thread and greenlet stands, and ends
# the run, so CI fails at once with the culprit instead of silently at its own time limit.
TEST_DEADLINE_SECONDS = int(os.environ.get("TEST_DEADLINE_SECONDS", "300"))


def _report_hung_test_and_exit(item: pytest.Item) -> None:
    nodeid = item.nodeid
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:  # give the real stderr back: what is captured is lost when the process ends
        capture.suspend_global_capture(in_=False)
    out = sys.stderr
    out.write(f"\n\n{nodeid} is still running after {TEST_DEADLINE_SECONDS} s: it has hung.\n")
    out.write("Every thread:\n")
    faulthandler.dump_traceback(file=out, all_threads=True)
    try:  # Playwright's sync API parks the test's own stack in a greenlet that faulthandler does not show.
        import greenlet

        for suspended in (obj for obj in gc.get_objects() if isinstance(obj, greenlet.greenlet)):
            if suspended.gr_frame is not None:
                out.write("\nA suspended greenlet:\n" + "".join(traceback.format_stack(suspended.gr_frame)))
    except ImportError:
        pass
    out.write(f"\nHUNG TEST: {nodeid} (over {TEST_DEADLINE_SECONDS} s); the run stops here with status 3.\n")
    out.flush()
    os._exit(3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    watchdog = threading.Timer(TEST_DEADLINE_SECONDS, _report_hung_test_and_exit, args=(item,))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """A cache outside the database (Redis in CI's second pass) would carry rate-limit counters and kept pages from
    one test into the next: each test starts with it empty. The database cache is rolled back with each test."""
    from django.core.cache import caches
    from django.core.cache.backends.db import DatabaseCache

    cache = caches["default"]
    if not isinstance(cache, DatabaseCache):
        cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """LocaleMiddleware leaves a request's language active on the test thread; the next test starts in zh-hans."""
    yield
    translation.deactivate()


@pytest.fixture(scope="session", autouse=True)
def _database_pools_closed_before_the_test_database_is_dropped(django_db_setup, django_db_blocker):
    """On PostgreSQL each process keeps a connection pool, and threads that served live-server or channel requests
    keep their own connections: all are closed before pytest-django drops the test database, or the drop is
    refused ("being accessed by other users") and the database is left behind."""
    yield
    from django.db import connection, connections

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    connections.close_all()
    for each in connections.all():
        if hasattr(each, "close_pool"):
            each.close_pool()


# --- Stripe: localstripe on loopback, for every test that pays (scripts/localstripe_server.py) ------------------


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    from scripts import localstripe_server

    with localstripe_server.localstripe_running(tmp_path_factory.mktemp("localstripe")) as server:
        yield server


@pytest.fixture
def stripe_on(localstripe, settings):
    """Settings pointing the platform at localstripe."""
    localstripe.settings_apply(settings)
    return localstripe


@pytest.fixture
def stripe_client(localstripe):
    """The official stripe library's client on localstripe, for a test to look at or act on Stripe's side."""
    import stripe

    return stripe.StripeClient(localstripe.secret_key, base_addresses={"api": localstripe.base_url})
