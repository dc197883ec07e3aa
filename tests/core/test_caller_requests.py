"""Callers' requests in core: who a payment link, an agent's message and a restoration SMS go to, the typed refusals
(nothing sent, nothing written), the signal only after commit, and the IVR's fault report on the IVR channel."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import Account, BusinessType, Call, CallTransport, Channel, OutageKind, RestorationCallback, Ticket
from core.selectors.callers import accounts_for_caller_number, caller_number_normalise
from core.services.caller_requests import (
    AgentMessageInvalid,
    CallerPhoneMissing,
    NothingDue,
    RestorationCallbackInvalid,
    agent_message_send,
    ivr_fault_report,
    payment_link_request,
    restoration_callback_register,
)
from core.services.outages import outage_announce, outage_restore
from core.signals import caller_sms_requested
from tests.callcenter.factories import agent_presence, call_agent_user
from tests.factories import AccountFactory, CustomerFactory, ServicePointFactory, TransformerAreaFactory
from tests.portal.factories import billed_months, residential_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent():
    """The caller_sms_requested signals sent, as (kind, phone, data, idempotency_key, customer_id)."""
    seen = []

    def record(sender, *, kind, phone, data, idempotency_key, customer_id, **kwargs):
        seen.append((kind, phone, data, idempotency_key, customer_id))

    caller_sms_requested.connect(record, dispatch_uid="test_caller_requests")
    yield seen
    caller_sms_requested.disconnect(dispatch_uid="test_caller_requests")


def test_caller_numbers_are_normalised_and_matched_to_open_accounts():
    assert caller_number_normalise("+86 138-1234-5678") == "13812345678"
    assert caller_number_normalise("008613812345678") == "13812345678"
    assert caller_number_normalise("8613812345678") == "13812345678"
    assert caller_number_normalise("0718-8221234") == "07188221234"
    assert caller_number_normalise("+867188221234") == "07188221234"
    assert caller_number_normalise("00867188221234") == "07188221234"
    assert caller_number_normalise("88221234") == "88221234"
    assert caller_number_normalise("anonymous") == ""
    customer = CustomerFactory(phone="13812345678")
    second, first = AccountFactory(customer=customer), AccountFactory(customer=customer)
    AccountFactory(customer=customer, status=Account.Status.CLOSED)
    assert accounts_for_caller_number(phone="+8613812345678") == sorted([first, second], key=lambda a: a.number)
    assert accounts_for_caller_number(phone="") == []


def test_a_payment_link_after_commit_to_the_phone_on_file(sent, django_capture_on_commit_callbacks):
    residential_policy()
    account = AccountFactory(customer=CustomerFactory(phone="13812345678"))
    billed_months(account, [Decimal("100")], last_period=datetime.date(2026, 10, 1), issued_on=timezone.localdate())
    with django_capture_on_commit_callbacks() as callbacks:
        link = payment_link_request(account=account, call_key="1700000000.1")
        assert sent == []
    for callback in callbacks:
        callback()
    assert (link.amount_due, link.phone_last_digits) == (Decimal("55.80"), "5678")
    assert sent == [("payment_link", "13812345678", {"account_number": account.number, "amount_due": "55.80",
                                                     "hours": 24},
                     f"paylink:1700000000.1:{account.number}", account.customer_id)]


def test_no_payment_link_without_a_mobile_on_file_or_for_a_settled_postpaid_account(
    sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(CallerPhoneMissing, match="该户号未登记手机号码，无法发送缴费链接"):
            payment_link_request(account=AccountFactory(customer=CustomerFactory(phone="07188221234")))
        with pytest.raises(NothingDue, match="该户号当前没有应缴电费"):
            payment_link_request(account=AccountFactory(customer=CustomerFactory(phone="13812345678")))
        prepaid = AccountFactory(customer=CustomerFactory(phone="13812345679"),
                                 billing_mode=Account.BillingMode.PREPAID)
        payment_link_request(account=prepaid, call_key="c1")
    assert [(kind, phone, data["amount_due"]) for kind, phone, data, _key, _id in sent] == [
        ("payment_link", "13812345679", "0.00")]


def _call(caller_number: str, customer=None) -> Call:
    return Call.objects.create(transport=CallTransport.TWILIO, call_key=f"twilio:CA{caller_number}",
                               caller_number=caller_number, customer=customer, started_at=timezone.now())


def test_agent_messages_are_checked_and_addressed(sent, django_capture_on_commit_callbacks):
    agent = call_agent_user(username="wang")
    agent_presence(agent, interface="Local/1002@agents/n")
    landline_customer = _call("07188221234", customer=CustomerFactory(phone="13700000000"))
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(AgentMessageInvalid, match="短信内容不能为空"):
            agent_message_send(call_id=landline_customer.pk, agent=agent, text="  ")
        with pytest.raises(AgentMessageInvalid, match="短信内容不能超过300个字"):
            agent_message_send(call_id=landline_customer.pk, agent=agent, text="长" * 301)
        with pytest.raises(AgentMessageInvalid, match="呼叫记录不存在"):
            agent_message_send(call_id=landline_customer.pk + 100, agent=agent, text="你好")
        with pytest.raises(CallerPhoneMissing, match="来电号码不是手机号码"):
            agent_message_send(call_id=_call("07188229999").pk, agent=agent, text="你好")
        result = agent_message_send(call_id=landline_customer.pk, agent=agent, text="你好", request_key="k")
    assert result.phone == "13700000000"
    assert sent == [("agent_message", "13700000000", {"text": "你好", "agent_number": "1002"},
                     f"agent-msg:{landline_customer.pk}:k", landline_customer.customer_id)]


@pytest.fixture
def outage():
    area = TransformerAreaFactory()
    now = timezone.now()
    return outage_announce(
        branch=area.feeder.substation.branch, kind=OutageKind.FAULT, title="线路故障", reason="雷击", streets="舞阳坝街道",
        starts_at=now - datetime.timedelta(hours=1), ends_at=now + datetime.timedelta(hours=2),
        transformer_area_ids=[area.pk],
    )


def test_a_restoration_callback_is_one_per_phone_and_only_while_the_outage_is_on(
    sent, outage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = restoration_callback_register(outage=outage, phone="+8613900000001")
        again = restoration_callback_register(outage=outage, phone="13900000001")
        with pytest.raises(RestorationCallbackInvalid, match="来电号码不是手机号码"):
            restoration_callback_register(outage=outage, phone="07188221234")
    assert first == again and RestorationCallback.objects.count() == 1
    assert sent == [("restoration_callback_registered", "13900000001",
                     {"restoration_callback_id": first.pk, "outage_id": outage.pk}, f"restoration:{first.pk}", None)]
    outage_restore(outage=outage, restored_at=timezone.now())
    outage.refresh_from_db()
    with pytest.raises(RestorationCallbackInvalid, match="该停电已结束，无需登记"):
        restoration_callback_register(outage=outage, phone="13900000002")
    assert RestorationCallback.objects.count() == 1


def test_an_ivr_fault_report_is_an_ivr_repair_ticket_once_per_call():
    account = AccountFactory(customer=CustomerFactory(phone="13812345678"))
    ServicePointFactory(account=account)
    first = ivr_fault_report(account=account, phone="07188221234", call_key="1700000000.5")
    again = ivr_fault_report(account=account, phone="07188221234", call_key="1700000000.5")
    ticket = Ticket.objects.get()
    assert first.ticket == again.ticket == ticket
    assert (ticket.business_type, ticket.channel, ticket.contact_phone, ticket.opened_by) == (
        BusinessType.FAULT_REPAIR, Channel.IVR, "07188221234", None)
    # A withheld number: the phone on file is the contact.
    other = AccountFactory(customer=CustomerFactory(phone="13812345670"))
    assert ivr_fault_report(account=other, phone="", call_key="1700000000.6").ticket.contact_phone == "13812345670"
