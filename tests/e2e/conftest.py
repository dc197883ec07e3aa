"""Fixtures for the tests that run the platform's real processes (Daphne, Celery, Chromium)."""
from pathlib import Path

import pytest

from tests.e2e.servers import dev_env, manage


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """One migrated database (cache table and home page included) per session; tests copy it, never share it."""
    var_dir = tmp_path_factory.mktemp("migrated")
    env = dev_env(var_dir, keep_redis=False)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "createcachetable")
    manage(env, "shell", "-c", "from cms.services import cms_site_ensure; cms_site_ensure()")
    return var_dir / "db.sqlite3"
