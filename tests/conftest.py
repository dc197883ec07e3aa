"""Shared fixtures. Tests build their own small worlds with the factories in tests/factories.py."""
import pytest
from django.utils import translation


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
