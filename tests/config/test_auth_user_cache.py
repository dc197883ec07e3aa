"""The signed-in user's row kept in the cache (config/auth.py, on in production with Redis): read once, then from
the cache, and forgotten whenever the user changes, so a password change, a deactivation or a deletion still stops
the user's other sessions at their next request."""
import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from config.auth import user_cache_key
from tests.portal.factories import PortalUserFactory

pytestmark = pytest.mark.django_db

PAGE = "/portal/"


@pytest.fixture
def user_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "test-auth-user-cache"}}
    settings.AUTH_USER_CACHE_SECONDS = 60
    from django.core.cache import cache

    cache.clear()
    return cache


def user_row_reads(client) -> tuple[int, int]:
    """(status, how many times the request read the user table) of one request of PAGE."""
    table = get_user_model()._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        response = client.get(PAGE)
    return response.status_code, sum(f'FROM "{table}"' in query["sql"] for query in queries.captured_queries)


def test_the_user_row_is_read_once_then_from_the_cache(client, user_cache):
    user = PortalUserFactory()
    client.force_login(user)
    assert user_row_reads(client) == (200, 1)
    assert user_row_reads(client) == (200, 0)
    assert user_cache.get(user_cache_key(user.pk)).pk == user.pk


def test_without_the_setting_every_request_reads_the_row(client, settings):
    settings.AUTH_USER_CACHE_SECONDS = 0
    client.force_login(PortalUserFactory())
    assert user_row_reads(client) == (200, 1)
    assert user_row_reads(client) == (200, 1)


def test_a_password_change_signs_the_other_sessions_out_at_their_next_request(client, user_cache):
    user = PortalUserFactory()
    client.force_login(user)
    assert user_row_reads(client) == (200, 1)
    user.set_password("a new long passphrase 95598")
    user.save()
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_deactivated_user_is_stopped_at_their_next_request(client, user_cache):
    user = PortalUserFactory()
    client.force_login(user)
    client.get(PAGE)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get(PAGE).status_code == 302
    assert user_cache.get(user_cache_key(user.pk)) is None


def test_a_deleted_user_is_stopped_at_their_next_request(client, user_cache):
    user = PortalUserFactory()
    client.force_login(user)
    client.get(PAGE)
    user.delete()
    assert client.get(PAGE).status_code == 302


def test_a_row_kept_by_a_request_during_the_change_is_forgotten_when_it_commits(
    client, user_cache, django_capture_on_commit_callbacks,
):
    user = PortalUserFactory()
    client.force_login(user)
    client.get(PAGE)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            user.is_active = False
            user.save(update_fields=["is_active"])
            # Another request, still seeing the committed (active) row, keeps it in the cache meanwhile.
            stale = get_user_model().objects.get(pk=user.pk)
            stale.is_active = True
            user_cache.set(user_cache_key(user.pk), stale, 60)
    assert user_cache.get(user_cache_key(user.pk)) is None
    assert client.get(PAGE).status_code == 302


def test_a_kept_inactive_row_is_refused_all_the_same(client, user_cache):
    """Whatever got into the cache, an inactive user is not signed in from it (the backends' own rule)."""
    user = PortalUserFactory()
    client.force_login(user)
    client.get(PAGE)
    kept = user_cache.get(user_cache_key(user.pk))
    kept.is_active = False
    user_cache.set(user_cache_key(user.pk), kept, 60)
    assert client.get(PAGE).status_code == 302
