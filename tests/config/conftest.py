"""Fixtures of the configuration tests."""
import pytest

from bench.notifications_bench import process_stop, redis_start


@pytest.fixture
def redis_url(tmp_path):
    """A redis-server of the test's own on a free loopback port; its URL."""
    url, process = redis_start(str(tmp_path))
    yield url
    process_stop(process)
