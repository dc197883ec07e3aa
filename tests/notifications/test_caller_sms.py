"""Callers' SMS end to end (the request service, the signal after commit, the receiver, the send to a fake Twilio):
a payment link to the customer's phone on file, an agent's message to a caller who is no customer, an agent's
message to a customer calling from another mobile, and the restoration SMS to every caller who asked, exactly once,
shared with the outage notice's key so a customer is not told twice."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import Call, CallTransport, OutageKind, RestorationCallback
from core.services.caller_requests import agent_message_send, payment_link_request, restoration_callback_register
from core.services.outages import outage_announce, outage_restore
from notifications.caller_sms import restoration_callbacks_notify
from notifications.models import Message
from tests.callcenter.factories import agent_presence, call_agent_user
from tests.factories import AccountFactory, CustomerFactory, ServicePointFactory, TransformerAreaFactory
from tests.portal.factories import billed_months, residential_policy

pytestmark = pytest.mark.django_db


def _call(caller_number: str, **fields) -> Call:
    return Call.objects.create(transport=CallTransport.ASTERISK, call_key=f"17000000{len(caller_number)}.1",
                               caller_number=caller_number, started_at=timezone.now(), **fields)


def test_a_payment_link_is_texted_to_the_phone_on_file(twilio, customer, django_capture_on_commit_callbacks):
    residential_policy()
    account = AccountFactory(customer=customer)
    billed_months(account, [Decimal("100")], last_period=datetime.date(2026, 10, 1), issued_on=timezone.localdate())
    with django_capture_on_commit_callbacks(execute=True):
        payment_link_request(account=account, call_key="1700000000.1")
    message = Message.objects.get()
    assert (message.event, message.channel, message.to, message.recipient_customer, message.state) == (
        "payment_link", "sms", "13800138000", customer, Message.State.SENT)
    expected = (f"【国网95598】户号{account.number}当前应缴55.80元，点击https://95598.example.cn/portal/pay/{account.number}/"
                f"在线缴费，链接24小时内有效。")
    assert message.body == expected
    assert [(sms["To"], sms["Body"]) for sms in twilio.received] == [("+8613800138000", expected)]


def test_an_agent_texts_a_caller_who_is_no_customer(twilio, django_capture_on_commit_callbacks):
    agent = call_agent_user(username="li")
    agent_presence(agent, interface="Local/1001@agents/n")
    call = _call("+86 139-0000-0001")
    with django_capture_on_commit_callbacks(execute=True):
        sent = agent_message_send(call_id=call.pk, agent=agent, text="您的报修已受理。", request_key="form-1")
    assert sent.phone == "13900000001"
    message = Message.objects.get()
    assert (message.to, message.recipient_customer, message.recipient_user, message.body) == (
        "13900000001", None, None, "【国网95598】您的报修已受理。（95598坐席1001）")
    assert [sms["To"] for sms in twilio.received] == ["+8613900000001"]
    # The console resubmitting the same form sends nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        agent_message_send(call_id=call.pk, agent=agent, text="您的报修已受理。", request_key="form-1")
    assert Message.objects.count() == 1 and len(twilio.received) == 1


def test_a_customer_calling_from_another_mobile_is_texted_there(twilio, customer, django_capture_on_commit_callbacks):
    agent = call_agent_user(username="zhao")
    call = _call("13900000002", customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        agent_message_send(call_id=call.pk, agent=agent, text="请保持电话畅通。")
    message = Message.objects.get()
    assert (message.to, message.recipient_customer, message.body) == (
        "13900000002", customer, "【国网95598】请保持电话畅通。（95598坐席zhao）")


@pytest.fixture
def outage_with_callers(customer):
    area = TransformerAreaFactory()
    account = AccountFactory(customer=customer)
    ServicePointFactory(account=account, transformer_area=area)
    now = timezone.now()
    outage = outage_announce(
        branch=area.feeder.substation.branch, kind=OutageKind.FAULT, title="10kV线路故障停电", reason="线路故障",
        streets="舞阳坝街道", starts_at=now - datetime.timedelta(hours=1), ends_at=now + datetime.timedelta(hours=3),
        transformer_area_ids=[area.pk],
    )
    on_file = restoration_callback_register(outage=outage, phone="13800138000", account=account)
    stranger = restoration_callback_register(outage=outage, phone="+8613900000003")
    return outage, account, on_file, stranger


def test_restoration_texts_each_caller_once(twilio, customer, outage_with_callers, django_capture_on_commit_callbacks):
    outage, account, on_file, stranger = outage_with_callers
    with django_capture_on_commit_callbacks(execute=True):
        outage_restore(outage=outage, restored_at=timezone.now())
    sms = Message.objects.filter(event="outage_restored", channel="sms").order_by("to")
    assert [(m.to, m.recipient_customer, m.idempotency_key) for m in sms] == [
        ("13800138000", customer, f"outage:{outage.pk}:restored:{customer.pk}"),
        ("13900000003", None, f"outage:{outage.pk}:restored:phone:13900000003"),
    ]
    # The customer's own outage notice (inbox) shares the key: one notice, whichever receiver ran first.
    assert sorted(set(Message.objects.filter(recipient_customer=customer).values_list("channel", flat=True))) == [
        "inbox", "sms"]
    assert sorted(m["To"] for m in twilio.received if "恢复" in m["Body"]) == ["+8613800138000", "+8613900000003"]
    assert RestorationCallback.objects.filter(notified_at__isnull=True).count() == 0
    # A second delivery of the signal texts nobody again.
    assert restoration_callbacks_notify(outage_id=outage.pk) == 0
    assert Message.objects.filter(event="outage_restored", channel="sms").count() == 2


def test_a_caller_registering_as_power_returns_is_told_at_once(twilio, outage_with_callers,
                                                               django_capture_on_commit_callbacks):
    outage, _account, _on_file, _stranger = outage_with_callers
    with django_capture_on_commit_callbacks(execute=True):
        outage_restore(outage=outage, restored_at=timezone.now())
    outage.refresh_from_db()
    late = RestorationCallback.objects.create(outage=outage, phone="13900000004", requested_at=timezone.now())
    from core.signals import caller_sms_requested

    caller_sms_requested.send(sender=Call, kind="restoration_callback_registered", phone="13900000004",
                              data={"restoration_callback_id": late.pk, "outage_id": outage.pk},
                              idempotency_key=f"restoration:{late.pk}", customer_id=None)
    late.refresh_from_db()
    assert late.notified_at is not None
    assert Message.objects.filter(to="13900000004", event="outage_restored").count() == 1


def test_an_unknown_kind_is_logged_and_sends_nothing(caplog):
    from core.signals import caller_sms_requested

    caller_sms_requested.send(sender=Call, kind="fax", phone="13900000005", data={}, idempotency_key="x",
                              customer_id=None)
    assert Message.objects.count() == 0 and "unknown caller SMS kind 'fax'" in caplog.text


def test_a_customer_without_a_phone_on_file_still_gets_it_at_the_number_given(
    twilio, django_capture_on_commit_callbacks
):
    other = CustomerFactory(phone="")
    call = _call("13900000006", customer=other)
    with django_capture_on_commit_callbacks(execute=True):
        agent_message_send(call_id=call.pk, agent=call_agent_user(), text="好的")
    assert Message.objects.get().to == "13900000006"
