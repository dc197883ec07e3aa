"""notification_request: channels, idempotency, after-commit sending, preferences, STOP, quiet hours, limits."""
import datetime

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.core import mail

from notifications.errors import NotificationConflict, NotificationError, TemplateMissing
from notifications.models import InboxMessage, Message, SmsOptOut
from notifications.selectors import inbox_unread_count, preferences_for, sms_last_sent_to
from notifications.services import (
    inbox_message_mark_read,
    messages_dispatch_due,
    notification_request,
    preference_set,
    quiet_hours_end,
)

from .conftest import local

pytestmark = pytest.mark.django_db

LOGIN = {"code": "482913", "minutes": 5}
BILL = {"account_number": "4200000011", "period": "2026年10月", "amount": "123.45", "due_date": "2026-11-30"}
OUTAGE = {"area": "舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00", "reason": "线路检修"}


def request(customer, event, data, key, **kwargs):
    return notification_request(recipient_customer=customer, event=event, data=data, idempotency_key=key, **kwargs)


def test_login_code_goes_to_the_database_backend_after_commit(customer, frozen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        [message] = request(customer, "login_code", LOGIN, "login:1", urgency="urgent")
        assert Message.objects.get().state == "pending"
    assert len(callbacks) == 1

    callbacks[0]()

    message.refresh_from_db()
    assert message.channel == "sms"
    assert message.to == "13800138000"
    assert message.body == "【国网95598】您的登录验证码为482913，5分钟内有效，请勿告知他人。"
    assert message.sms_segments == 1
    assert (message.state, message.provider, message.attempts) == ("delivered", "database", 1)
    assert message.sent_at == local(2026, 11, 23, 10)
    assert sms_last_sent_to(phone="13800138000") == message


def test_the_same_request_twice_sends_once(customer, frozen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = request(customer, "ticket_accepted", {"business": "故障报修", "ticket_number": "T1"}, "tk:T1")
    with django_capture_on_commit_callbacks(execute=True) as second_callbacks:
        second = request(customer, "ticket_accepted", {"business": "故障报修", "ticket_number": "T1"}, "tk:T1")

    assert [m.channel for m in first] == ["sms", "inbox"]
    assert [m.pk for m in second] == [m.pk for m in first]
    assert second_callbacks == []
    assert Message.objects.count() == 2
    assert InboxMessage.objects.get().subject == "工单T1已受理"


def test_a_key_reused_for_another_event_is_refused_and_changes_nothing(customer, frozen):
    request(customer, "login_code", LOGIN, "k1", urgency="urgent")

    with pytest.raises(NotificationConflict) as caught:
        request(customer, "payment_received", BILL, "k1")

    assert str(caught.value) == "该幂等键已用于另一条通知"
    assert list(Message.objects.values_list("event", flat=True)) == ["login_code"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"event": "no_such_event"}, "未知的通知事件：no_such_event"),
        ({"urgency": "very"}, "紧急程度无效"),
        ({"idempotency_key": "  "}, "幂等键不能为空且不超过108个字符"),
        ({"data": ["x"]}, "通知数据必须是字典"),
        ({"language": "fr"}, "不支持的语言：fr"),
        ({"channels": ["staff"]}, "该接收人不支持渠道：staff"),
    ],
)
def test_bad_requests_are_typed_errors_and_store_nothing(customer, frozen, kwargs, message):
    arguments = {"event": "login_code", "data": LOGIN, "idempotency_key": "bad", **kwargs}

    with pytest.raises(NotificationError) as caught:
        notification_request(recipient_customer=customer, **arguments)

    assert str(caught.value) == message
    assert Message.objects.count() == 0


def test_a_channel_without_template_is_refused(customer, frozen):
    with pytest.raises(TemplateMissing) as caught:
        request(customer, "login_code", LOGIN, "k", channels=["inbox"])

    assert str(caught.value) == "事件“login_code”没有“站内信”渠道的消息模板"
    assert Message.objects.count() == 0


def test_both_or_no_recipient_is_refused(customer, frozen):
    with pytest.raises(NotificationError) as caught:
        notification_request(event="login_code", data=LOGIN, idempotency_key="k")

    assert str(caught.value) == "必须且只能指定一个接收人（客户或员工）"


def test_english_templates_and_paperless_bill_email(customer, frozen, django_capture_on_commit_callbacks):
    preference_set(customer=customer, kind="paperless_bills", enabled=True)

    with django_capture_on_commit_callbacks(execute=True):
        messages = request(customer, "bill_issued", {**BILL, "period": "<October>"}, "bill:1", language="en")

    assert [(m.channel, m.state) for m in messages] == [("sms", "pending"), ("email", "pending"), ("inbox", "pending")]
    by_channel = {m.channel: m for m in Message.objects.all()}
    assert by_channel["sms"].body == "[SGCC 95598] Account 4200000011: <October> bill CNY 123.45, due 2026-11-30."
    assert by_channel["email"].state == "sent"
    assert by_channel["inbox"].state == "delivered"
    [email] = mail.outbox
    assert email.to == ["zhangsan@example.cn"]
    assert email.subject == "Your <October> e-bill (account 4200000011)"
    assert email.alternatives[0][0] == (
        "<p>Dear customer,</p><p>Account 4200000011: CNY 123.45 for &lt;October&gt;, due 2026-11-30.</p>"
    )
    assert email.body == "Dear customer,Account 4200000011: CNY 123.45 for <October>, due 2026-11-30."


def test_paper_bill_customers_get_no_bill_email(customer, frozen):
    messages = request(customer, "bill_issued", BILL, "bill:2")

    assert [m.channel for m in messages] == ["sms", "inbox"]


def test_preferences_default_and_are_honoured_except_for_essential_events(customer, frozen):
    assert preferences_for(customer_id=customer.pk) == {
        "sms": True, "email": True, "inbox": True, "paperless_bills": False,
    }
    preference_set(customer=customer, kind="sms", enabled=False)
    preference_set(customer=customer, kind="inbox", enabled=False)

    assert request(customer, "payment_received", BILL, "pay:1") == []
    assert [m.channel for m in request(customer, "outage_planned", OUTAGE, "out:1")] == ["sms", "email", "inbox"]
    assert preferences_for(customer_id=customer.pk)["sms"] is False


def test_unknown_preference_kind_is_refused(customer):
    with pytest.raises(NotificationError) as caught:
        preference_set(customer=customer, kind="fax", enabled=True)

    assert str(caught.value) == "未知的通知偏好类型"


def test_stop_blocks_non_essential_sms_only(customer, frozen):
    SmsOptOut.objects.create(phone="13800138000", keyword="TD")

    survey = request(customer, "survey_invitation", {"title": "调查", "url": "https://x"}, "sv:1")
    outage = request(customer, "outage_planned", OUTAGE, "out:2")

    assert [m.channel for m in survey] == ["email", "inbox"]
    assert [m.channel for m in outage] == ["sms", "email", "inbox"]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(2026, 11, 23, 21, 59), None),
        (local(2026, 11, 23, 22, 0), local(2026, 11, 24, 8)),
        (local(2026, 11, 23, 23, 30), local(2026, 11, 24, 8)),
        (local(2026, 11, 24, 7, 59), local(2026, 11, 24, 8)),
        (local(2026, 11, 24, 8, 0), None),
    ],
)
def test_quiet_hours_end(at, expected):
    assert quiet_hours_end(at=at) == expected


def test_quiet_hours_hold_non_urgent_sms_until_eight(customer, frozen, django_capture_on_commit_callbacks):
    frozen.at = local(2026, 11, 23, 23, 30)
    with django_capture_on_commit_callbacks(execute=True):
        bill = {m.channel: m for m in request(customer, "payment_received", BILL, "pay:night")}
        [code] = request(customer, "login_code", LOGIN, "login:night", urgency="urgent")

    bill["sms"].refresh_from_db()
    code.refresh_from_db()
    assert (bill["sms"].state, bill["sms"].next_attempt_at) == ("held", local(2026, 11, 24, 8))
    assert Message.objects.get(pk=bill["inbox"].pk).state == "delivered"
    assert code.state == "delivered"

    frozen.at = local(2026, 11, 24, 7, 59)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due() == 0
    frozen.at = local(2026, 11, 24, 8, 0)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due() == 1

    bill["sms"].refresh_from_db()
    assert (bill["sms"].state, bill["sms"].sent_at) == ("delivered", local(2026, 11, 24, 8))


def test_per_phone_hourly_limit_defers_the_extra_sms(customer, frozen, settings, django_capture_on_commit_callbacks):
    settings.NOTIFICATIONS_SMS_PER_PHONE_PER_HOUR = 2
    for n in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            request(customer, "login_code", LOGIN, f"login:{n}", urgency="urgent")
        frozen.advance(minutes=10)

    states = list(Message.objects.order_by("id").values_list("state", "next_attempt_at", "last_error"))
    assert states[:2] == [("delivered", None, ""), ("delivered", None, "")]
    # The first of the two sent at 10:00 leaves the one-hour window at 11:00.
    assert states[2] == ("pending", local(2026, 11, 23, 11), "per-phone hourly SMS limit")

    frozen.at = local(2026, 11, 23, 11)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_dispatch_due() == 1
    assert Message.objects.order_by("id").last().state == "delivered"


def test_staff_alert_goes_to_the_users_group(frozen, django_capture_on_commit_callbacks):
    user = get_user_model().objects.create_user("agent1", is_staff=True)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"staff.{user.pk}", channel)

    with django_capture_on_commit_callbacks(execute=True):
        [message] = notification_request(
            recipient_user=user, event="ticket_overdue", data={"ticket_number": "T9", "step": "勘查"},
            idempotency_key="overdue:T9:勘查",
        )

    event = async_to_sync(layer.receive)(channel)
    assert event == {
        "type": "notifications.alert", "message_id": message.pk, "event": "ticket_overdue",
        "subject": "工单已超时", "body": "工单T9的“勘查”环节已超时。",
    }
    assert Message.objects.get().state == "sent"


def test_inbox_read_state(customer, frozen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        request(customer, "ticket_completed", {"business": "更名", "ticket_number": "T5"}, "done:T5")
    inbox = InboxMessage.objects.get()
    assert inbox_unread_count(customer_id=customer.pk) == 1

    frozen.advance(minutes=5)
    inbox_message_mark_read(inbox_message_id=inbox.pk, customer=customer)

    inbox.refresh_from_db()
    assert inbox.read_at == local(2026, 11, 23, 10, 5)
    assert inbox_unread_count(customer_id=customer.pk) == 0


def test_inbox_of_another_customer_is_not_found(customer, frozen, django_capture_on_commit_callbacks):
    from tests.factories import CustomerFactory

    with django_capture_on_commit_callbacks(execute=True):
        request(customer, "ticket_completed", {"business": "更名", "ticket_number": "T6"}, "done:T6")

    with pytest.raises(NotificationError) as caught:
        inbox_message_mark_read(inbox_message_id=InboxMessage.objects.get().pk, customer=CustomerFactory())

    assert str(caught.value) == "站内信不存在"
    assert InboxMessage.objects.get().read_at is None


def test_held_message_of_a_phone_that_replied_stop_overnight_is_not_sent(
    customer, frozen, django_capture_on_commit_callbacks
):
    frozen.at = local(2026, 11, 23, 23)
    request(customer, "survey_invitation", {"title": "调查", "url": "https://x"}, "sv:night", channels=["sms"])
    SmsOptOut.objects.create(phone="13800138000", keyword="TD")

    frozen.at = local(2026, 11, 24, 8) + datetime.timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        messages_dispatch_due()

    assert list(Message.objects.values_list("state", "last_error")) == [("failed", "recipient replied STOP")]


def test_a_portal_user_without_a_customer_is_texted_a_login_code_at_the_given_phone(frozen):
    user = get_user_model().objects.create_user("13800138000")
    [message] = notification_request(
        recipient_user=user, event="login_code", data=LOGIN, idempotency_key="login:u1", channels=["sms"],
        urgency="urgent", to_phone="13800138000",
    )
    assert (message.channel, message.to, message.recipient_user_id, message.recipient_customer_id) == (
        "sms", "13800138000", user.pk, None
    )
    assert message.body == "【国网95598】您的登录验证码为482913，5分钟内有效，请勿告知他人。"


def test_a_user_is_never_texted_anything_but_an_essential_event(frozen):
    user = get_user_model().objects.create_user("13800138001")
    with pytest.raises(NotificationError) as refused:
        notification_request(
            recipient_user=user, event="bill_issued", data=BILL, idempotency_key="bill:u1", channels=["sms"],
            to_phone="13800138001",
        )
    assert str(refused.value) == "该接收人不支持渠道：sms"
    assert not Message.objects.exists()


PAYMENT_LINK = {"account_number": "4200000011", "amount_due": "128.40", "link": "https://95598.example/pay/1", "hours": 24}


def test_a_caller_known_by_phone_only_is_texted_what_they_asked_for(frozen):
    [message] = notification_request(
        event="payment_link", data=PAYMENT_LINK, idempotency_key="call:1:payment_link", urgency="urgent",
        to_phone="13900139000",
    )

    assert (message.channel, message.to, message.recipient_user_id, message.recipient_customer_id) == (
        "sms", "13900139000", None, None
    )
    assert message.body == (
        "【国网95598】户号4200000011当前应缴128.40元，点击https://95598.example/pay/1在线缴费，链接24小时内有效。"
    )
    again = notification_request(
        event="payment_link", data=PAYMENT_LINK, idempotency_key="call:1:payment_link", urgency="urgent",
        to_phone="13900139000",
    )
    assert [m.pk for m in again] == [message.pk]


def test_a_phone_alone_is_never_sent_what_nobody_asked_for(frozen):
    with pytest.raises(NotificationError) as refused:
        notification_request(event="bill_issued", data=BILL, idempotency_key="bill:p1", to_phone="13900139001")

    assert str(refused.value) == "仅凭手机号只能发送来电客户要求的通知"
    assert not Message.objects.exists()


def test_a_customer_calling_from_another_phone_is_texted_there_by_sms_only(customer, frozen):
    messages = notification_request(
        recipient_customer=customer, event="payment_link", data=PAYMENT_LINK, idempotency_key="call:2:payment_link",
        to_phone="13900139002",
    )

    assert [(m.channel, m.to, m.recipient_customer_id) for m in messages] == [("sms", "13900139002", customer.pk)]
