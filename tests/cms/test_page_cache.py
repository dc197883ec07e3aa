"""The anonymous page cache: hits replay the stored page in one cache round trip; publishing and core data changes
invalidate; sessions, query strings and pages with forms are never cached."""
import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cms.cache import GENERATION_KEY
from cms.models import StandardPage, SurveyPage
from cms.services import cms_site_ensure
from core.models import Tariff
from core.signals import outage_changed
from tests.factories import residential_tiered_tariff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def home():
    return cms_site_ensure()


def _get(client, path="/", **extra):
    response = client.get(path, **extra)
    return response, response.headers.get("X-Page-Cache")


def test_second_anonymous_visit_is_a_hit_without_queries(client, home):
    first, state = _get(client)
    assert (first.status_code, state) == (200, "miss")
    with CaptureQueriesContext(connection) as queries:
        second, state = _get(client)
    assert (second.status_code, state) == (200, "hit")
    # The database cache backend answers get_many in one query (Redis in none); nothing else touches the database.
    assert len(queries) == (1 if isinstance(caches["default"], DatabaseCache) else 0)
    assert second.content == first.content
    assert second["Content-Type"] == "text/html; charset=utf-8"


def test_publishing_invalidates(client, home):
    _get(client)
    home.title = "国网恩施供电公司95598"
    home.save_revision().publish()
    response, state = _get(client)
    assert state == "miss"
    assert "国网恩施供电公司95598" in response.content.decode()
    assert _get(client)[1] == "hit"


def test_unpublishing_deleting_and_moving_pages_invalidate(client, home):
    page = home.add_child(instance=StandardPage(title="安全用电", slug="safety", body=[]))
    page.save_revision().publish()
    other = home.add_child(instance=StandardPage(title="节约用电", slug="saving", body=[]))
    other.save_revision().publish()
    for change in (page.unpublish, lambda: other.move(page, pos="last-child"), page.delete):
        _get(client)
        assert _get(client)[1] == "hit"
        change()
        assert _get(client)[1] == "miss"


def test_outage_and_tariff_changes_invalidate(client, home):
    _get(client)
    outage_changed.send(sender=None, outage_id=1, kind="announced")
    assert _get(client)[1] == "miss"
    tariff = residential_tiered_tariff(effective_from=datetime.date(2012, 7, 1))
    assert _get(client)[1] == "miss"
    assert _get(client)[1] == "hit"
    tier = tariff.versions.get().tiers.first()
    tier.price = tier.price + Decimal("0.01")
    tier.save()
    assert _get(client)[1] == "miss"
    Tariff.objects.filter(pk=tariff.pk).first().save()
    assert _get(client)[1] == "miss"


def test_generation_key_lost_means_everything_is_stale(client, home):
    _get(client)
    cache.delete(GENERATION_KEY)
    assert _get(client)[1] == "miss"


def test_logged_in_users_session_cookies_and_query_strings_bypass(client, home, django_user_model):
    assert _get(client, "/?utm_source=sms")[1] is None
    _get(client)
    user = django_user_model.objects.create_user(username="reader", password="x")
    client.force_login(user)
    response, state = _get(client)
    assert (response.status_code, state) == (200, None)


def test_non_page_views_and_errors_are_not_cached(client, home):
    assert _get(client, "/search/")[1] is None
    assert _get(client, "/no-such-page/")[0].status_code == 404
    assert _get(client, "/no-such-page/")[1] is None


def test_survey_pages_are_never_cached(client, home):
    survey = home.add_child(
        instance=SurveyPage(title="客户满意度调查", slug="survey", intro="", thank_you_text="")
    )
    survey.save_revision().publish()
    for _ in range(2):
        response, state = _get(client, "/survey/")
        assert (response.status_code, state) == (200, None)


def test_pages_of_each_language_are_kept_apart(client, home):
    from wagtail.models import Locale

    english = home.copy_for_translation(Locale.objects.get(language_code="en"))
    english.title = "95598 Power Service"
    english.save_revision().publish()
    _get(client)
    _get(client, "/en/")
    zh, zh_state = _get(client)
    en, en_state = _get(client, "/en/")
    assert (zh_state, en_state) == ("hit", "hit")
    assert '<html lang="zh-hans">' in zh.content.decode()
    assert '<html lang="en">' in en.content.decode()


def test_an_unreachable_cache_degrades_to_uncached_pages_and_publishing_still_works(client, home, settings):
    # The production cache (fail-soft Redis) on a port nothing listens on: every Redis call is refused.
    settings.CACHES = {"default": {"BACKEND": "config.cache.FailSoftRedisCache", "LOCATION": "redis://127.0.0.1:9/0"}}
    response, state = _get(client)
    assert (response.status_code, state) == (200, None)
    assert "国网95598供电服务" in response.content.decode()
    home.title = "国网95598供电服务（测试）"
    home.save_revision().publish()
    assert "国网95598供电服务（测试）" in _get(client)[0].content.decode()
    assert client.get("/readyz/").status_code == 503
