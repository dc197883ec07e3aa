"""The page frame (site header and footer, language switcher, portal nav) is rendered once per language and kept:
what differs per visitor or request (CSRF tokens, the switcher's return address, the nav's current area, whether
the nav is shown) is still drawn per request, and the guest lookup's lock check is one query."""
from __future__ import annotations

import datetime
import re

import pytest
from django.middleware.csrf import _unmask_cipher_token
from django.template import Context, RequestContext, Template
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone, translation

from core.models import BindingAttempt
from core.services.account_binding import GUEST_LOOKUPS_PER_HOUR, _attempt_record, guest_lock_until
from tests.portal.factories import AccountBindingFactory, PortalUserFactory

pytestmark = pytest.mark.django_db

IP = "203.0.113.40"


def signed_in(user, language: str = "zh-hans") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def page(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def form_tokens(html: str) -> list[str]:
    return re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)


def test_each_visitor_gets_their_own_csrf_tokens_in_the_kept_frame():
    first, second = signed_in(PortalUserFactory()), signed_in(PortalUserFactory())
    for client in (first, second, first):
        html = page(client, "/portal/accounts/")
        tokens = form_tokens(html)
        # The language form and the nav's sign-out form.
        assert len(tokens) == 2
        assert {_unmask_cipher_token(token) for token in tokens} == {client.cookies["csrftoken"].value}
    assert first.cookies["csrftoken"].value != second.cookies["csrftoken"].value


def test_the_switcher_returns_to_the_page_and_the_nav_marks_its_area_on_every_request():
    client = signed_in(AccountBindingFactory().user)
    for path, current in [("/portal/", "我的用电"), ("/portal/accounts/", "我的户号"), ("/portal/", "我的用电")]:
        html = page(client, path)
        assert f'<input type="hidden" name="next" value="{path}">' in html
        assert re.findall(r'aria-current="page">([^<]+)</a>', html) == [current]


def test_the_frame_follows_the_language_after_it_is_kept():
    user = PortalUserFactory()
    chinese, english = signed_in(user), signed_in(user, "en")
    for _ in range(2):
        html = page(chinese, "/portal/accounts/")
        assert '<a class="skip-link" href="#main">跳到正文</a>' in html
        assert '<option value="zh-hans" selected lang="zh-hans">简体中文</option>' in html
        html = page(english, "/portal/accounts/")
        assert '<a class="skip-link" href="#main">Skip to main content</a>' in html
        assert '<option value="en" selected lang="en">English</option>' in html
        assert 'aria-current="page">My accounts</a>' in html


def test_guests_get_the_kept_header_without_the_portal_nav():
    signed = page(signed_in(PortalUserFactory()), "/bill/lookup/")
    guest = page(Client(), "/bill/lookup/")
    assert 'class="portal-nav"' in signed and 'class="portal-nav"' not in guest
    assert '<form class="site-search" action="/search/" method="get" role="search">' in guest
    assert len(form_tokens(guest)) == 2


def test_a_settings_change_is_not_answered_from_a_kept_fragment():
    client = signed_in(PortalUserFactory())
    assert ">English</option>" in page(client, "/portal/accounts/")
    with override_settings(LANGUAGES=[("zh-hans", "简体中文"), ("en", "English (UK)")]):
        assert ">English (UK)</option>" in page(client, "/portal/accounts/")
    assert ">English</option>" in page(client, "/portal/accounts/")


FRAGMENT = (
    '{% load cms_site %}{% frame_fragment "test-fragment" area=area %}'
    '[{{ user }}|{{ request.path }}|{% csrf_token %}|{{ area }}|{% now "u" %}]{% endframe_fragment %}'
)


def test_a_fragment_sees_only_its_keys_and_is_kept_per_key_and_language():
    request = RequestFactory().get("/portal/")
    request.user = PortalUserFactory()
    fragment = Template(FRAGMENT)

    def render(area: str) -> str:
        return fragment.render(RequestContext(request, {"area": area}))

    first = render("a")
    assert re.fullmatch(r"\[\|\|\|a\|\d+\]", first)
    assert render("a") == first
    assert render("b").startswith("[|||b|")
    with translation.override("en"):
        assert render("a").startswith("[|||a|")
    clock = Template('{% load cms_site %}{% frame_fragment "test-clock" %}{% now "u" %}{% endframe_fragment %}')
    assert len({clock.render(Context()) for _ in range(5)}) == 1
    with override_settings(DEBUG=True):
        # Drawn every time in development: the microseconds move on.
        assert len({clock.render(Context()) for _ in range(5)}) > 1


def test_the_guest_lock_is_read_in_one_query(django_assert_num_queries):
    now = timezone.now()
    with django_assert_num_queries(1):
        assert guest_lock_until(ip_address=IP, now=now) is None


def attempts(*, minutes_ago: list[float], succeeded: bool, ip: str = IP, now: datetime.datetime) -> None:
    BindingAttempt.objects.bulk_create(
        BindingAttempt(user=None, ip_address=ip, account_number="1", succeeded=succeeded,
                       attempted_at=now - datetime.timedelta(minutes=minutes))
        for minutes in minutes_ago
    )


def test_the_one_query_counts_failures_and_the_hourly_cap_as_before():
    now = timezone.now()
    # Older than the lookback and from other addresses or signed-in users: never counted.
    attempts(minutes_ago=[49 * 60 + i for i in range(20)], succeeded=False, now=now)
    attempts(minutes_ago=[i for i in range(40)], succeeded=True, ip="203.0.113.41", now=now)
    user = PortalUserFactory()
    BindingAttempt.objects.bulk_create(
        BindingAttempt(user=user, ip_address=IP, account_number="1", succeeded=False, attempted_at=now)
        for _ in range(10)
    )
    # Three failures in 15 minutes and 26 right answers in the hour: under both limits.
    attempts(minutes_ago=[14, 13, 12], succeeded=False, now=now)
    attempts(minutes_ago=[55 - i for i in range(GUEST_LOOKUPS_PER_HOUR - 4)], succeeded=True, now=now)
    assert guest_lock_until(ip_address=IP, now=now) is None
    # The 30th lookup of the hour (a fourth failure): free an hour after the oldest of them, 55 minutes ago.
    attempts(minutes_ago=[1], succeeded=False, now=now)
    assert guest_lock_until(ip_address=IP, now=now) == now + datetime.timedelta(minutes=5)
    # Ten failures within a day (the four above and six 20 hours ago): locked 24 hours from the last.
    attempts(minutes_ago=[20 * 60 + i for i in range(6)], succeeded=False, now=now)
    assert guest_lock_until(ip_address=IP, now=now) == now - datetime.timedelta(minutes=1) + datetime.timedelta(hours=24)


def test_an_ipv6_address_is_locked_whichever_way_it_is_written():
    now = timezone.now()
    for minutes in range(5):
        _attempt_record(user=None, ip_address="2001:DB8:0:0::1", account_number="1", succeeded=False,
                        now=now - datetime.timedelta(minutes=minutes))
    for written in ("2001:db8::1", "2001:DB8:0:0:0:0:0:1"):
        assert guest_lock_until(ip_address=written, now=now) == now + datetime.timedelta(minutes=15)
