"""My tickets with the customer-facing timeline and the satisfaction rating once closed, and guest tracking at
/track/ by ticket number and contact phone (rate-limited, personal data masked)."""
from __future__ import annotations

import datetime
from unittest import mock

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from core.errors import TrackingLocked
from core.models import Channel, Ticket, TicketStep, TrackingAttempt
from core.services.portal_requests import (
    TRACKING_MAX_FAILURES,
    TRACKING_WINDOW,
    tracking_allowed_check,
    tracking_attempt_record,
    tracking_locked_until,
)
from core.services.tickets import ticket_open, ticket_step_submit
from tests.portal.factories import AccountBindingFactory
from tests.ticket_factories import TEST_BUSINESS_TYPE, sample_process, staff_user

pytestmark = pytest.mark.django_db


def _ticket(account, *, phone="13900001111", name="王大明") -> Ticket:
    return ticket_open(business_type=TEST_BUSINESS_TYPE, channel=Channel.PORTAL, summary="电表走快",
                       account=account, contact_name=name, contact_phone=phone, data={})


def _close(ticket: Ticket) -> None:
    agent, clerk = staff_user("agent"), staff_user("counter_clerk")
    for user, data in ((agent, {"category": "fast"}), (clerk, {"archived": True}), (agent, {})):
        step = TicketStep.objects.get(ticket=ticket, state="active")
        ticket_step_submit(step_id=step.pk, user=user, data=data)


@pytest.fixture
def process():
    return sample_process()


def test_my_tickets_lists_only_mine_and_others_are_404(client, process):
    mine, theirs = AccountBindingFactory(), AccountBindingFactory()
    own, other = _ticket(mine.account), _ticket(theirs.account)
    client.force_login(mine.user)
    page = client.get(reverse("portal:ticket_list")).content.decode()
    assert own.number in page and other.number not in page
    # What it is about leads each card, linked to its timeline, with the account it concerns.
    assert f'href="{reverse("portal:ticket_detail", args=[own.number])}">电表走快</a>' in page
    assert f"户号 {mine.account.number}" in page
    assert client.get(reverse("portal:ticket_detail", args=[other.number])).status_code == 404
    assert client.get(reverse("portal:ticket_detail", args=["99999999999"])).status_code == 404
    assert client.post(reverse("portal:ticket_rate", args=[other.number]), {"satisfaction": 5}).status_code == 404


def test_the_list_is_one_query_whatever_its_length(client, process, django_assert_max_num_queries):
    binding = AccountBindingFactory()
    for _ in range(5):
        _ticket(binding.account)
    client.force_login(binding.user)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("portal:ticket_list"))
    assert response.content.decode().count('class="state state--open"') == 5


def test_the_timeline_and_a_rating_once_closed(client, process):
    binding = AccountBindingFactory()
    ticket = _ticket(binding.account)
    client.force_login(binding.user)
    page = client.get(reverse("portal:ticket_detail", args=[ticket.number])).content.decode()
    assert f"您的计量异常申请已受理，工单号{ticket.number}" in page
    assert "您的诉求已受理" in page
    assert 'name="satisfaction"' not in page  # not closed yet
    response = client.post(reverse("portal:ticket_rate", args=[ticket.number]), {"satisfaction": 4})
    assert response.status_code == 400 and "工单尚未办结，不能评价" in response.content.decode()

    _close(ticket)
    page = client.get(reverse("portal:ticket_detail", args=[ticket.number])).content.decode()
    assert "工单已办结" in page and 'name="satisfaction"' in page
    response = client.post(reverse("portal:ticket_rate", args=[ticket.number]),
                           {"satisfaction": 4, "comment": "处理及时"})
    assert response["Location"] == reverse("portal:ticket_detail", args=[ticket.number])
    ticket.refresh_from_db()
    assert (ticket.satisfaction, ticket.satisfaction_comment) == (4, "处理及时")
    page = client.get(reverse("portal:ticket_detail", args=[ticket.number])).content.decode()
    assert "您的评价：4分" in page and "您已对本次服务作出评价" in page
    response = client.post(reverse("portal:ticket_rate", args=[ticket.number]), {"satisfaction": 1})
    assert "该工单已评价" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.satisfaction == 4
    response = client.post(reverse("portal:ticket_rate", args=[ticket.number]), {"satisfaction": 9})
    assert response.status_code == 400


def test_guest_tracking_by_number_and_phone_shows_the_timeline_masked(client, process):
    ticket = _ticket(AccountBindingFactory().account)
    response = client.post(reverse("portal:ticket_track"), {"number": ticket.number, "phone": "13900001111"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "您的诉求已受理" in page
    assert "王**" in page and "139****1111" in page
    assert "王大明" not in page and "电表走快" not in page and ticket.account.number not in page


@pytest.mark.parametrize("typed", ["139 0000 1111", "139-0000-1111", "+86 139 0000 1111", "008613900001111",
                                   " 13900001111 "])
def test_guest_tracking_takes_the_phone_however_it_is_typed(client, process, typed):
    ticket = _ticket(AccountBindingFactory().account)
    response = client.post(reverse("portal:ticket_track"), {"number": ticket.number, "phone": typed})
    page = response.content.decode()
    assert "您的诉求已受理" in page
    assert "139****1111" in page
    assert TrackingAttempt.objects.get().succeeded


def test_guest_tracking_matches_a_phone_stored_with_separators(client, process):
    ticket = _ticket(AccountBindingFactory().account, phone="+86 139-0000-2222")
    response = client.post(reverse("portal:ticket_track"), {"number": ticket.number, "phone": "13900002222"})
    assert "您的诉求已受理" in response.content.decode()


def test_guest_tracking_refuses_a_wrong_phone_the_same_as_a_wrong_number(client, process):
    ticket = _ticket(AccountBindingFactory().account)
    wrong_phone = client.post(reverse("portal:ticket_track"), {"number": ticket.number, "phone": "13900009999"})
    wrong_number = client.post(reverse("portal:ticket_track"), {"number": "26010100001", "phone": "13900001111"})
    for response in (wrong_phone, wrong_number):
        assert "未找到与工单号和联系电话相符的工单，请核对后重试" in response.content.decode()
        assert "您的诉求已受理" not in response.content.decode()


def test_guest_tracking_locks_an_address_after_repeated_failures(client, process):
    ticket = _ticket(AccountBindingFactory().account)
    for _ in range(TRACKING_MAX_FAILURES):
        client.post(reverse("portal:ticket_track"), {"number": ticket.number, "phone": "13900009999"})
    response = client.post(reverse("portal:ticket_track"), {"number": ticket.number, "phone": "13900001111"})
    assert response.status_code == 429
    assert "查询失败次数过多，请15分钟后再试" in response.content.decode()
    assert "您的诉求已受理" not in response.content.decode()
    other_address = client.post(reverse("portal:ticket_track"), {"number": ticket.number, "phone": "13900001111"},
                                REMOTE_ADDR="10.0.0.9")
    assert "您的诉求已受理" in other_address.content.decode()


def test_every_guest_lookup_is_recorded_against_its_address(client, process):
    ticket = _ticket(AccountBindingFactory().account)
    client.post(reverse("portal:ticket_track"), {"number": ticket.number, "phone": "13900001111"}, REMOTE_ADDR="10.0.0.7")
    client.post(reverse("portal:ticket_track"), {"number": ticket.number, "phone": "13900009999"}, REMOTE_ADDR="10.0.0.7")
    client.post(reverse("portal:ticket_track"), {"number": ticket.number, "phone": "13900009999"}, REMOTE_ADDR="bogus")
    rows = list(TrackingAttempt.objects.order_by("pk").values_list("ip_address", "succeeded"))
    assert rows == [("10.0.0.7", True), ("10.0.0.7", False), (None, False)]


def test_the_tracking_lock_is_kept_in_the_database_not_the_cache(client, process):
    """Clearing the cache (a Redis restart) or a cache that is down lifts nothing."""
    ticket = _ticket(AccountBindingFactory().account)
    for _ in range(TRACKING_MAX_FAILURES):
        client.post(reverse("portal:ticket_track"), {"number": ticket.number, "phone": "13900009999"})
    cache.clear()
    with mock.patch.object(cache, "get", side_effect=ConnectionError("cache down")):
        response = client.post(reverse("portal:ticket_track"), {"number": ticket.number, "phone": "13900001111"})
    assert response.status_code == 429
    assert "您的诉求已受理" not in response.content.decode()
    # Refused lookups are not recorded: the lock does not extend itself.
    assert TrackingAttempt.objects.count() == TRACKING_MAX_FAILURES


def test_failures_spread_beyond_the_window_do_not_lock_and_a_lock_ends_after_the_window(process):
    start = timezone.now() - datetime.timedelta(hours=1)
    address = "10.0.0.8"
    step = (TRACKING_WINDOW / (TRACKING_MAX_FAILURES - 1)) * 1.05  # the ten failures span just over the window
    moments = [start + step * index for index in range(TRACKING_MAX_FAILURES)]
    for moment in moments:
        tracking_attempt_record(ip_address=address, succeeded=False, now=moment)
    assert tracking_locked_until(ip_address=address, now=moments[-1]) is None
    tracking_attempt_record(ip_address=address, succeeded=False, now=moments[-1] + datetime.timedelta(seconds=1))
    last = moments[-1] + datetime.timedelta(seconds=1)
    # The last ten failures now fall within the window: locked for the window from the last of them.
    assert tracking_locked_until(ip_address=address, now=last) == last + TRACKING_WINDOW
    with pytest.raises(TrackingLocked) as refusal:
        tracking_allowed_check(ip_address=address, now=last + datetime.timedelta(minutes=1))
    assert str(refusal.value) == "查询失败次数过多，请14分钟后再试"
    tracking_allowed_check(ip_address=address, now=last + TRACKING_WINDOW)
    tracking_allowed_check(ip_address="10.0.0.9", now=last)
