"""Sessions read from the cache with Redis (config/sessions.py): a signed-in page reads no session row, a session
ended from another device is signed out at once, and a cached copy whose delete was lost lasts at most a minute."""
from __future__ import annotations

import time
from unittest import mock

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.sessions import CACHED_SECONDS, SessionStore

pytestmark = pytest.mark.django_db

PASSWORD = "Dianfei-2026!"
LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "sessions"}}


@pytest.fixture(autouse=True)
def cached_sessions(settings):
    settings.SESSION_ENGINE = "config.sessions"
    settings.CACHES = LOCAL_CACHE
    from django.core.cache import cache

    cache.clear()


def signed_in(login: str = "li.si@example.com") -> Client:
    browser = Client()
    response = browser.post(reverse("account_login"), {"login": login, "password": PASSWORD},
                            HTTP_USER_AGENT=f"browser-of-{id(browser)}")
    assert response.status_code == 302
    return browser


@pytest.fixture
def user():
    return User.objects.create_user(username="lisi", email="li.si@example.com", password=PASSWORD)


def test_a_signed_in_page_reads_no_session_row(user):
    browser = signed_in()
    with CaptureQueriesContext(connection) as queries:
        assert browser.get(reverse("usersessions_list")).status_code == 200
    assert not [query["sql"] for query in queries.captured_queries if "django_session" in query["sql"]]


def test_a_session_ended_from_another_device_is_signed_out_at_once(user):
    phone_browser, laptop = signed_in(), signed_in()
    assert laptop.get(reverse("usersessions_list")).status_code == 200
    other = UserSession.objects.get(user=user, session_key=laptop.session.session_key)
    assert phone_browser.post(reverse("identity_session_end", args=[other.pk])).status_code == 302
    assert laptop.get(reverse("usersessions_list"))["Location"].startswith("/accounts/login/")
    assert phone_browser.get(reverse("usersessions_list")).status_code == 200


def test_a_cached_copy_whose_delete_was_lost_lasts_at_most_a_minute(user):
    laptop = signed_in()
    assert laptop.get(reverse("usersessions_list")).status_code == 200
    # Ended while the cache was unreachable: the row is gone, the cached copy stays.
    Session.objects.filter(session_key=laptop.session.session_key).delete()
    assert laptop.get(reverse("usersessions_list")).status_code == 200
    later = time.time() + CACHED_SECONDS + 1
    with mock.patch("django.core.cache.backends.locmem.time.time", return_value=later):
        assert laptop.get(reverse("usersessions_list"))["Location"].startswith("/accounts/login/")


def test_the_cached_copy_is_kept_a_minute_whatever_the_sessions_own_expiry():
    kept = []

    class Recorder:
        def __contains__(self, key) -> bool:
            return False

        def set(self, key, value, timeout):
            kept.append(timeout)

    store = SessionStore()
    store._cache._cache = Recorder()
    store["language"] = "en"
    store.save()
    assert kept and set(kept) == {CACHED_SECONDS}  # the session's own expiry is two weeks
    kept.clear()
    store.set_expiry(30)
    store.save()
    assert kept == [30]
