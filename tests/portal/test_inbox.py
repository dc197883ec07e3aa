"""The portal inbox (站内信) and notification preferences, through the test client: a user sees the messages
and settings of the customers whose accounts they bound, and nothing of anyone else's."""
from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.models import AccountBinding
from core.models.portal_access import BindingMethod
from notifications.models import Channel, Event, InboxMessage, Message, NotificationPreference
from notifications.services import messages_send, notification_request
from tests.factories import AccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db

CHANNELS = ("sms", "email", "inbox")
TOPICS = ("bills", "payments", "tickets", "outages", "surveys")
DEFAULT_FORM = {
    "sms": True, "email": True, "inbox": True, "paperless_bills": False,
    **{f"{channel}_{topic}": True for channel in CHANNELS for topic in TOPICS},
}


def _ticked(prefix: str, *names: str) -> dict[str, str]:
    """The POST of a preferences form with only these boxes ticked."""
    return {f"{prefix}-{name}": "on" for name in names}


def _all_topics(channel: str) -> tuple[str, ...]:
    return tuple(f"{channel}_{topic}" for topic in TOPICS)


def _user(name: str):
    return get_user_model().objects.create_user(username=name, password="pw-123456-Aa")


def _bind(user, account, *, unbound: bool = False) -> AccountBinding:
    now = timezone.now()
    return AccountBinding.objects.create(
        user=user, account=account, method=BindingMethod.ID_DIGITS, bound_at=now, unbound_at=now if unbound else None
    )


def _inbox(customer, subject: str, *, body: str = "正文", read: bool = False, minutes_ago: int = 0) -> InboxMessage:
    message = InboxMessage.objects.create(
        customer=customer, subject=subject, body=body, read_at=timezone.now() if read else None
    )
    if minutes_ago:
        InboxMessage.objects.filter(pk=message.pk).update(
            created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago)
        )
    return message


@pytest.fixture
def world():
    """Alice has bound her own account and her mother's; Bob has bound his."""
    alice, bob = _user("alice"), _user("bob")
    alice_customer = CustomerFactory(name="张三", phone="13812345678", email="zhangsan@example.com")
    mother = CustomerFactory(name="李四", phone="13900001111", email="")
    bob_customer = CustomerFactory(name="王五")
    alice_account = AccountFactory(customer=alice_customer)
    mother_account = AccountFactory(customer=mother)
    bob_account = AccountFactory(customer=bob_customer)
    _bind(alice, alice_account)
    _bind(alice, mother_account)
    _bind(bob, bob_account)
    client = Client()
    client.force_login(alice)
    return {
        "alice": alice, "bob": bob, "alice_customer": alice_customer, "mother": mother, "bob_customer": bob_customer,
        "alice_account": alice_account, "mother_account": mother_account, "bob_account": bob_account,
        "client": client,
    }


# --- inbox ------------------------------------------------------------------------------------------------------


def test_inbox_needs_login():
    response = Client().get(reverse("portal:inbox"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_inbox_lists_bound_customers_messages_newest_first_with_unread_count(world):
    _inbox(world["alice_customer"], "2026年3月电费账单", minutes_ago=30)
    _inbox(world["mother"], "计划停电通知", read=True, minutes_ago=20)
    _inbox(world["alice_customer"], "缴费到账", minutes_ago=10)
    _inbox(world["bob_customer"], "王五的账单")

    response = world["client"].get(reverse("portal:inbox"))

    assert response.status_code == 200
    subjects = [m.subject for m in response.context["page"].object_list]
    assert subjects == ["缴费到账", "计划停电通知", "2026年3月电费账单"]
    assert response.context["unread_count"] == 2
    html = response.content.decode()
    assert "王五的账单" not in html
    assert 'data-unread="2"' in html
    assert html.count("inbox-item--unread") == 2


def test_inbox_leaves_out_an_unbound_accounts_customer(world):
    former = CustomerFactory(name="赵六")
    _bind(world["alice"], AccountFactory(customer=former), unbound=True)
    _inbox(former, "解绑前的消息")

    response = world["client"].get(reverse("portal:inbox"))

    assert list(response.context["page"].object_list) == []
    assert "解绑前的消息" not in response.content.decode()


def test_a_message_about_one_of_the_holders_accounts_reaches_only_those_who_bound_it(world, settings):
    """Alice bound her mother's home account; her mother also has a shop account Alice has not bound: a reminder
    about the shop stays out of Alice's inbox, one about the home and one about the customer as a whole do not."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    shop = AccountFactory(customer=world["mother"])
    daughter_in_law = _user("daughter-in-law")
    _bind(daughter_in_law, shop)
    for account, key in ((world["mother_account"], "home"), (shop, "shop"), (None, "customer")):
        notification_request(
            recipient_customer=world["mother"], event=Event.PAYMENT_RECEIVED, channels=[Channel.INBOX],
            data={"account_number": account.number if account else "-", "amount": "50.00"},
            idempotency_key=f"scope-{key}", account=account,
        )
    messages_send(message_ids=list(Message.objects.filter(channel=Channel.INBOX).values_list("pk", flat=True)))
    about = {m.account_id: m for m in InboxMessage.objects.filter(customer=world["mother"])}
    assert set(about) == {world["mother_account"].pk, shop.pk, None}

    def seen_by(client) -> set:
        return {m.account_id for m in client.get(reverse("portal:inbox")).context["page"].object_list}

    assert seen_by(world["client"]) == {world["mother_account"].pk, None}
    other = Client()
    other.force_login(daughter_in_law)
    assert seen_by(other) == {shop.pk, None}
    # The shop's message by its id is the same 404 as anyone else's, and stays unread.
    shop_message = about[shop.pk]
    assert world["client"].get(reverse("portal:inbox_message", args=[shop_message.pk])).status_code == 404
    shop_message.refresh_from_db()
    assert shop_message.read_at is None
    assert world["client"].get(reverse("portal:inbox")).context["unread_count"] == 2


def test_inbox_without_bindings_prompts_to_bind():
    client = Client()
    client.force_login(_user("carol"))

    response = client.get(reverse("portal:inbox"))

    assert response.status_code == 200
    assert "绑定户号后，账单、缴费、工单进度和停电通知会出现在这里。" in response.content.decode()


def test_inbox_is_paginated_and_queries_are_bounded(world, django_assert_max_num_queries):
    for n in range(25):
        _inbox(world["alice_customer"] if n % 2 else world["mother"], f"消息{n:02d}", minutes_ago=100 - n)

    with django_assert_max_num_queries(8):
        first = world["client"].get(reverse("portal:inbox"))
    second = world["client"].get(reverse("portal:inbox"), {"page": 2})

    assert [m.subject for m in first.context["page"].object_list][:2] == ["消息24", "消息23"]
    assert len(first.context["page"].object_list) == 20
    assert [m.subject for m in second.context["page"].object_list] == ["消息04", "消息03", "消息02", "消息01", "消息00"]
    assert first.context["unread_count"] == 25


def test_opening_a_message_shows_it_and_marks_it_read(world):
    message = _inbox(world["mother"], "恢复送电", body="恩施市舞阳坝街道已恢复送电。")

    response = world["client"].get(reverse("portal:inbox_message", args=[message.pk]))

    assert response.status_code == 200
    assert "恩施市舞阳坝街道已恢复送电。" in response.content.decode()
    message.refresh_from_db()
    assert message.read_at is not None
    assert world["client"].get(reverse("portal:inbox")).context["unread_count"] == 0


def test_mark_read_by_post_returns_to_the_page_it_came_from(world):
    message = _inbox(world["alice_customer"], "缴费到账")

    response = world["client"].post(
        reverse("portal:inbox_mark_read", args=[message.pk]), {"next": reverse("portal:inbox") + "?page=1"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/portal/inbox/?page=1"
    message.refresh_from_db()
    assert message.read_at is not None


def test_mark_read_ignores_an_offsite_next(world):
    message = _inbox(world["alice_customer"], "缴费到账")

    response = world["client"].post(
        reverse("portal:inbox_mark_read", args=[message.pk]), {"next": "https://evil.example.com/"}
    )

    assert response["Location"] == reverse("portal:inbox")


def test_mark_read_keeps_the_first_read_time(world):
    message = _inbox(world["alice_customer"], "缴费到账", read=True)
    first_read = InboxMessage.objects.get(pk=message.pk).read_at

    world["client"].post(reverse("portal:inbox_mark_read", args=[message.pk]))

    assert InboxMessage.objects.get(pk=message.pk).read_at == first_read


def test_someone_elses_message_is_404_and_stays_unread(world):
    theirs = _inbox(world["bob_customer"], "王五的账单")
    missing_id = theirs.pk + 1000

    for url in (
        reverse("portal:inbox_message", args=[theirs.pk]),
        reverse("portal:inbox_message", args=[missing_id]),
    ):
        assert world["client"].get(url).status_code == 404
    for message_id in (theirs.pk, missing_id):
        assert world["client"].post(reverse("portal:inbox_mark_read", args=[message_id])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_read_is_post_only_and_csrf_checked(world):
    message = _inbox(world["alice_customer"], "缴费到账")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world["alice"])

    assert world["client"].get(reverse("portal:inbox_mark_read", args=[message.pk])).status_code == 405
    assert strict.post(reverse("portal:inbox_mark_read", args=[message.pk])).status_code == 403
    message.refresh_from_db()
    assert message.read_at is None


def test_message_body_shows_customer_data_escaped_once(world, settings):
    settings.NOTIFICATIONS_QUIET_HOURS_START = 24
    notification_request(
        recipient_customer=world["alice_customer"], event=Event.PAYMENT_RECEIVED,
        data={"account_number": "<b>1234</b>", "amount": "100.00"}, idempotency_key="inbox-test-escape",
        channels=[Channel.INBOX],
    )
    messages_send(message_ids=list(Message.objects.filter(channel=Channel.INBOX).values_list("id", flat=True)))
    inbox_message = InboxMessage.objects.get(customer=world["alice_customer"])

    html = world["client"].get(reverse("portal:inbox_message", args=[inbox_message.pk])).content.decode()

    assert "户号&lt;b&gt;1234&lt;/b&gt;缴费100.00元已到账。" in html
    assert "<b>1234</b>" not in html


# --- preferences -------------------------------------------------------------------------------------------------


def test_preferences_show_each_bound_customer_once_with_defaults_and_masked_contacts(world):
    third = AccountFactory(customer=world["alice_customer"])
    _bind(world["alice"], third)

    response = world["client"].get(reverse("portal:preferences"))

    assert response.status_code == 200
    entries = response.context["entries"]
    assert [e["customer"].name for e in entries] == ["张三", "李四"]
    assert entries[0]["customer"].account_numbers == (world["alice_account"].number, third.number)
    assert entries[0]["form"].initial == DEFAULT_FORM
    html = response.content.decode()
    assert "138****5678" in html
    assert "z***@example.com" in html
    assert "13812345678" not in html
    assert "zhangsan@example.com" not in html
    assert "未登记电子邮箱，邮件无法送达" in html
    assert "王五" not in html


def test_saving_preferences_sets_every_switch_for_that_customer_only(world):
    account = world["mother_account"]
    prefix = f"c{world['mother'].pk}"

    response = world["client"].post(
        reverse("portal:preferences_save", args=[account.number]),
        _ticked(prefix, "inbox", "paperless_bills", "inbox_bills", "inbox_outages", "sms_outages"),
        follow=True,
    )

    assert response.redirect_chain == [(reverse("portal:preferences"), 302)]
    assert "李四的通知设置已保存" in response.content.decode()
    rows = NotificationPreference.objects.filter(customer=world["mother"]).values_list("kind", "topic", "enabled")
    saved = {(kind, topic): enabled for kind, topic, enabled in rows}
    assert len(saved) == 19
    assert {switch for switch, enabled in saved.items() if enabled} == {
        ("inbox", ""), ("paperless_bills", ""), ("inbox", "bills"), ("inbox", "outages"), ("sms", "outages"),
    }
    assert not NotificationPreference.objects.exclude(customer=world["mother"]).exists()
    entries = response.context["entries"]
    assert entries[1]["form"].initial == {
        **{name: False for name in DEFAULT_FORM},
        "inbox": True, "paperless_bills": True, "inbox_bills": True, "inbox_outages": True, "sms_outages": True,
    }
    assert entries[0]["form"].initial == DEFAULT_FORM


def test_saving_again_updates_the_same_rows(world):
    prefix = f"c{world['mother'].pk}"
    url = reverse("portal:preferences_save", args=[world["mother_account"].number])
    world["client"].post(url, _ticked(prefix, "sms", *_all_topics("sms")))

    world["client"].post(url, _ticked(prefix, "email", "email_bills"))

    rows = NotificationPreference.objects.filter(customer=world["mother"])
    assert rows.count() == 19
    assert set(rows.filter(enabled=True).values_list("kind", "topic")) == {("email", ""), ("email", "bills")}


def test_saved_preferences_decide_the_channels_of_the_next_notification(world):
    prefix = f"c{world['alice_customer'].pk}"
    world["client"].post(
        reverse("portal:preferences_save", args=[world["alice_account"].number]),
        _ticked(prefix, "inbox", "email", *_all_topics("inbox"), *_all_topics("email")),
    )

    messages = notification_request(
        recipient_customer=world["alice_customer"], event=Event.PAYMENT_RECEIVED,
        data={"account_number": world["alice_account"].number, "amount": "50.00"}, idempotency_key="inbox-pref-1",
    )

    assert [m.channel for m in messages] == [Channel.INBOX]


def test_a_topic_unticked_in_the_grid_stops_that_channel_for_that_topic(world):
    prefix = f"c{world['alice_customer'].pk}"
    everything_but_sms_surveys = [name for name in DEFAULT_FORM if name not in ("sms_surveys", "paperless_bills")]
    world["client"].post(
        reverse("portal:preferences_save", args=[world["alice_account"].number]),
        _ticked(prefix, *everything_but_sms_surveys),
    )

    survey = notification_request(
        recipient_customer=world["alice_customer"], event=Event.SURVEY_INVITATION,
        data={"title": "满意度调查", "url": "https://95598.example.cn/s/1"}, idempotency_key="inbox-pref-2",
    )
    payment = notification_request(
        recipient_customer=world["alice_customer"], event=Event.PAYMENT_RECEIVED,
        data={"account_number": world["alice_account"].number, "amount": "50.00"}, idempotency_key="inbox-pref-3",
    )

    assert [m.channel for m in survey] == [Channel.EMAIL, Channel.INBOX]
    assert [m.channel for m in payment] == [Channel.SMS, Channel.INBOX]


def test_the_preferences_grid_is_a_labelled_table_showing_the_saved_switches(world):
    NotificationPreference.objects.create(customer=world["mother"], kind="email", topic="surveys", enabled=False)
    mother = world["mother"].pk

    html = world["client"].get(reverse("portal:preferences")).content.decode()

    assert f'<caption id="grid-{mother}">李四的通知方式</caption>' in html
    assert f'role="region" aria-labelledby="grid-{mother}" tabindex="0"' in html
    headers = ["渠道", "开启此渠道", "账单与欠费提醒", "缴费到账", "工单进度", "停电通知", "问卷调查"]
    assert "".join(f'<th scope="col">{h}</th>' for h in headers[2:]) in html
    for header in headers[:2]:
        assert f'<th scope="col">{header}</th>' in html
    for row in ("短信通知", "邮件通知", "站内信"):
        assert html.count(f'<th scope="row">{row}</th>') == 2
    assert (
        f'<label for="id_c{mother}-email_surveys" class="visually-hidden">邮件通知：问卷调查</label>'
        f'<input type="checkbox" name="c{mother}-email_surveys" id="id_c{mother}-email_surveys">'
    ) in html
    assert (
        f'<label for="id_c{mother}-sms_bills" class="visually-hidden">短信通知：账单与欠费提醒</label>'
        f'<input type="checkbox" name="c{mother}-sms_bills" id="id_c{mother}-sms_bills" checked>'
    ) in html
    assert (
        f'<label for="id_c{mother}-inbox" class="visually-hidden">站内信：开启此渠道</label>'
        f'<input type="checkbox" name="c{mother}-inbox" id="id_c{mother}-inbox" checked>'
    ) in html
    assert f'<input type="checkbox" name="c{mother}-paperless_bills" id="id_c{mother}-paperless_bills">' in html
    assert html.count('type="checkbox"') == 2 * 19


def test_preferences_for_someone_elses_or_a_missing_account_are_404_and_change_nothing(world):
    prefix = f"c{world['bob_customer'].pk}"
    for number in (world["bob_account"].number, "0000000000"):
        response = world["client"].post(
            reverse("portal:preferences_save", args=[number]), _ticked(prefix, "sms", *_all_topics("sms"))
        )
        assert response.status_code == 404
    assert not NotificationPreference.objects.exists()


def test_preferences_of_an_unbound_account_are_404(world):
    AccountBinding.objects.filter(account=world["mother_account"]).update(unbound_at=timezone.now())

    response = world["client"].post(reverse("portal:preferences_save", args=[world["mother_account"].number]), {})

    assert response.status_code == 404
    assert not NotificationPreference.objects.exists()


def test_preferences_form_is_csrf_checked(world):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world["alice"])

    response = strict.post(reverse("portal:preferences_save", args=[world["alice_account"].number]), {})

    assert response.status_code == 403
    assert not NotificationPreference.objects.exists()


def test_preferences_page_queries_are_bounded(world, django_assert_max_num_queries):
    for _n in range(5):
        _bind(world["alice"], AccountFactory())

    with django_assert_max_num_queries(6):
        response = world["client"].get(reverse("portal:preferences"))

    assert len(response.context["entries"]) == 7


def test_preferences_without_bindings_say_so():
    client = Client()
    client.force_login(_user("dave"))

    response = client.get(reverse("portal:preferences"))

    assert "绑定户号后即可设置该户号客户的通知方式。" in response.content.decode()


def test_saving_the_grid_is_one_write(world, django_assert_max_num_queries):
    prefix = f"c{world['alice_customer'].pk}"

    with django_assert_max_num_queries(4):
        response = world["client"].post(
            reverse("portal:preferences_save", args=[world["alice_account"].number]), _ticked(prefix, *DEFAULT_FORM)
        )

    assert response.status_code == 302
    assert NotificationPreference.objects.filter(customer=world["alice_customer"], enabled=True).count() == 19
