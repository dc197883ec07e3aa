"""Every menu path of the one IVR flow, on both transports (Twilio webhooks and Asterisk AsyncAGI): storm mode,
language, identification by caller ID or keyed account (check digit), balance and latest bill, outage in my area,
fault report, ticket progress, payment link, transfer to the agents with what was entered, and re-prompts ending at
an agent. Each test asserts what the caller heard and what the call record and the other records say after."""
from __future__ import annotations

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from callcenter.ivr import agi
from callcenter.ivr.speech import EN, ZH, date_piece, datetime_piece, digits_piece, kwh_piece, money_piece, month_piece
from core.account_numbers import account_number_from_body
from core.models import (
    BusinessType,
    Call,
    CallTicket,
    CallTicketRelation,
    Channel,
    IdentifiedBy,
    Outage,
    OutageArea,
    OutageKind,
    RestorationCallback,
    Ticket,
    TicketReporter,
)
from core.services.outages import outage_announce
from core.services.tickets import ticket_open
from notifications.models import Message
from tests.callcenter.factories import agent_presence, call_agent_user
from tests.callcenter.ivr_support import TWILIO_TOKEN, AgiCaller, TwilioCaller
from tests.factories import AccountFactory, CustomerFactory, ServicePointFactory, TransformerAreaFactory
from tests.portal.factories import billed_months, residential_policy
from tests.ticket_factories import sample_process

pytestmark = pytest.mark.django_db

PHONE = "13812345678"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.CALLCENTER_TWILIO_PUBLIC_BASE_URL = ""
    settings.NOTIFICATIONS_PUBLIC_BASE_URL = "https://95598.example.cn"
    settings.CALLCENTER_PROMPTS_DIR = "/var/lib/asterisk/sounds/95598"


@pytest.fixture(params=["twilio", "asterisk"])
def dial(request, client):
    """Make a caller on the transport under test: dial(caller_phone) -> caller with dial/press/silence."""

    def make(phone: str = PHONE):
        if request.param == "twilio":
            return TwilioCaller(client, caller=f"+86{phone.removeprefix('0')}")
        return AgiCaller(caller=phone)

    return make


@pytest.fixture
def home():
    """A household whose phone is on file, with two monthly bills issued today (nothing overdue)."""
    residential_policy()
    customer = CustomerFactory(phone=PHONE)
    account = AccountFactory(customer=customer)
    today = timezone.localdate()
    billed_months(account, [Decimal("100"), Decimal("120")], last_period=datetime.date(2026, 10, 1), issued_on=today)
    area = account.service_points.get().transformer_area
    return SimpleNamespace(customer=customer, account=account, area=area, today=today)


def _outage(area, *, kind=OutageKind.FAULT, starts_in=-1, ends_in=3):
    now = timezone.now()
    return outage_announce(
        branch=area.feeder.substation.branch, kind=kind, title="10kV线路故障停电", reason="雷击线路跳闸",
        streets="舞阳坝街道", starts_at=now + datetime.timedelta(hours=starts_in),
        ends_at=now + datetime.timedelta(hours=ends_in), transformer_area_ids=[area.pk],
    )


def _call(caller) -> Call:
    return Call.objects.get(call_key=caller.call_key)


def _path(caller) -> list[tuple[str, str]]:
    return [(step["node"], step["input"]) for step in _call(caller).ivr_path]


def test_storm_mode_tells_the_outage_before_the_menu_and_registers_the_restoration_sms(
    dial, home, django_capture_on_commit_callbacks
):
    outage = _outage(home.area)
    caller = dial()
    heard = caller.dial()
    assert heard.waiting and heard.said("welcome") and heard.said("storm-intro")
    assert heard.said("outage-kind-fault") and heard.said("outage-expected-end") and heard.said("storm-menu")
    assert heard.says(datetime_piece(outage.ends_at, ZH))
    assert not heard.said("language-menu") and not heard.said("main-menu")
    if caller.transport == "twilio":
        assert "停电原因：雷击线路跳闸。" in heard.texts[0][0]
    else:
        assert heard.prompts[:4] == ["welcome", "storm-intro", "outage-kind-fault", "outage-expected-end"]
        assert heard.prompts[-1] == "storm-menu"
    call = _call(caller)
    assert (call.storm_informed, call.outage, call.account, call.identified_by) == (
        True, outage, home.account, IdentifiedBy.CALLER_ID)

    with django_capture_on_commit_callbacks(execute=True):
        heard = caller.press("1")
    assert heard.end == "hangup" and heard.said("storm-registered")
    callback = RestorationCallback.objects.get()
    assert (callback.outage, callback.phone, callback.account, callback.call, callback.notified_at) == (
        outage, PHONE, home.account, call, None)
    call.refresh_from_db()
    assert call.ivr_data["restoration_sms"] is True and call.ivr_data["storm_outage_id"] == outage.pk
    assert _path(caller) == [("start", ""), ("storm", "1"), ("storm_register", ""), ("end", "")]


def test_storm_mode_says_an_outage_past_its_expected_end_is_being_restored_not_the_passed_time(dial, home):
    outage = _outage(home.area, starts_in=-5, ends_in=-1)
    caller = dial()
    heard = caller.dial()
    assert heard.said("storm-intro") and heard.said("outage-kind-fault") and heard.said("outage-past-expected-end")
    assert not heard.said("outage-expected-end") and not heard.says(datetime_piece(outage.ends_at, ZH))
    if caller.transport == "twilio":
        assert "原定的预计恢复送电时间已过，我们正在尽快恢复送电，请您耐心等待。" in heard.texts[0][0]
    else:
        assert heard.prompts[:4] == ["welcome", "storm-intro", "outage-kind-fault", "outage-past-expected-end"]
    assert heard.said("storm-menu") and _call(caller).outage == outage

    # Restored: the caller goes straight to the language menu.
    outage.refresh_from_db()
    from core.services.outages import outage_restore

    outage_restore(outage=outage, restored_at=timezone.now())
    heard = dial().dial()
    assert not heard.said("storm-intro") and heard.said("language-menu")


def test_storm_mode_lets_the_caller_go_on_to_the_menu(dial, home):
    _outage(home.area)
    caller = dial()
    caller.dial()
    heard = caller.press("2")
    assert heard.waiting and heard.said("language-menu") and heard.said("language-menu", EN)
    heard = caller.press("1")
    assert heard.said("main-menu") and not heard.said("storm-intro")
    assert RestorationCallback.objects.count() == 0


def test_an_outage_elsewhere_or_planned_later_is_no_storm(dial, home):
    _outage(TransformerAreaFactory())
    _outage(home.area, kind=OutageKind.TEMPORARY, starts_in=30, ends_in=36)
    heard = dial().dial()
    assert heard.said("welcome") and heard.said("language-menu") and not heard.said("storm-intro")


def test_english_balance_arrears_and_latest_bill_for_the_account_on_file(dial, home):
    caller = dial()
    heard = caller.dial()
    assert heard.said("language-menu") and heard.waiting
    heard = caller.press("2")
    assert heard.said("main-menu", EN) and not heard.said("main-menu", ZH)
    heard = caller.press("1")
    assert heard.said("account-ending", EN) and heard.says(digits_piece(home.account.number[-4:], EN), EN)
    # 100 and 120 kWh in tier 1 at 0.558: 55.80 + 66.96 owed, nothing overdue yet.
    assert heard.said("arrears-amount", EN) and heard.says(money_piece(Decimal("122.76"), EN), EN)
    assert heard.says(month_piece(datetime.date(2026, 10, 1), EN), EN)
    assert heard.says(kwh_piece(Decimal("120.00"), EN), EN) and heard.says(money_piece(Decimal("66.96"), EN), EN)
    bill_due = home.account.bills.get(period=datetime.date(2026, 10, 1)).due_date
    assert heard.said("bill-due", EN) and heard.says(date_piece(bill_due, EN), EN)
    assert heard.said("after-menu", EN) and heard.waiting
    call = _call(caller)
    assert (call.language, call.account, call.identified_by) == ("en", home.account, IdentifiedBy.CALLER_ID)
    assert call.ivr_data == {"language": "en", "account_number": home.account.number, "caller_id_match": True,
                             "intent": "balance", "self_served": True}
    heard = caller.silence()
    assert heard.said("no-input", EN) and heard.said("after-menu", EN)
    heard = caller.silence()
    assert heard.end == "hangup" and heard.said("goodbye", EN)
    assert _path(caller)[-3:] == [("after_service", ""), ("after_service", ""), ("goodbye", "")]


def test_mandarin_amounts_are_read_in_yuan_jiao_fen(dial, home):
    caller = dial()
    caller.dial()
    caller.press("1")
    heard = caller.press("1")
    assert heard.said("arrears-amount") and heard.says(money_piece(Decimal("122.76"), ZH))
    if caller.transport == "asterisk":
        # 一百二十二元七角六分
        assert heard.says(money_piece(Decimal("122.76"), ZH))
        assert money_piece(Decimal("122.76"), ZH).files == (
            "num-1", "num-100", "num-2", "num-10", "num-2", "word-yuan", "num-7", "word-jiao", "num-6", "word-fen")
    else:
        assert "122.76元" in heard.texts[0][0] and heard.texts[0][1] == "zh-CN"


def test_an_unknown_caller_keys_the_account_and_a_wrong_check_digit_is_asked_again(dial, home):
    caller = dial("13900000000")
    caller.dial()
    caller.press("1")
    heard = caller.press("1")
    assert heard.said("account-entry") and heard.waiting
    number = home.account.number
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    heard = caller.press(wrong)
    assert heard.said("account-invalid") and heard.said("account-entry") and not heard.said("invalid-input")
    heard = caller.press(number)
    assert heard.said("arrears-amount") and heard.says(money_piece(Decimal("122.76"), ZH))
    call = _call(caller)
    assert (call.account, call.identified_by) == (home.account, IdentifiedBy.IVR_ENTRY)
    assert call.ivr_data["caller_id_match"] is False
    assert _path(caller)[-4:] == [("account_entry", wrong), ("account_entry", number), ("intent", ""),
                                  ("balance", "")]


def test_an_unknown_account_number_twice_goes_to_an_agent_with_what_was_entered(dial, home):
    caller = dial("13900000000")
    caller.dial()
    caller.press("1")
    caller.press("5")
    missing = account_number_from_body("999999999")
    heard = caller.press(missing)
    assert heard.said("account-not-found") and heard.said("account-entry")
    heard = caller.press(missing)
    assert heard.end == "transfer" and heard.said("transfer")
    call = _call(caller)
    assert call.account is None
    assert call.ivr_data == {"language": "zh-hans", "intent": "payment_link", "transfer_reason": "invalid_input"}
    assert Message.objects.count() == 0


def test_several_accounts_on_file_are_offered_by_their_last_digits(dial, home):
    second = AccountFactory(customer=home.customer)
    ServicePointFactory(account=second)
    caller = dial()
    caller.dial()
    caller.press("1")
    heard = caller.press("2")
    first, other = sorted([home.account.number, second.number])
    assert heard.said("account-ending") and heard.says(digits_piece(first[-4:], ZH))
    assert heard.says(digits_piece(other[-4:], ZH)) and heard.said("account-other")
    heard = caller.press("2")
    assert heard.said("outage-none")
    call = _call(caller)
    assert (call.account.number, call.identified_by) == (other, IdentifiedBy.CALLER_ID)


def test_outage_in_my_area_on_now_planned_later_or_none(dial, home):
    caller = dial("13900000000")
    caller.dial()
    caller.press("1")
    caller.press("2")
    heard = caller.press(home.account.number)
    assert heard.said("outage-none") and heard.said("after-menu")

    upcoming = _outage(home.area, kind=OutageKind.PLANNED, starts_in=24 * 7 + 2, ends_in=24 * 7 + 8)
    caller.press("1")
    heard = caller.press("2")
    # The account keyed before is still the call's account: not asked again.
    assert heard.said("outage-upcoming-intro") and heard.says(datetime_piece(upcoming.starts_at, ZH))
    assert heard.said("outage-until") and heard.says(datetime_piece(upcoming.ends_at, ZH))


def test_an_outage_on_now_is_read_out_when_asked(dial, home):
    # A temporary outage that began an hour ago (announced the day before, as the notice rules ask).
    now = timezone.now()
    outage = Outage.objects.create(
        branch=home.account.branch, kind=OutageKind.TEMPORARY, title="临时检修", reason="设备消缺",
        starts_at=now - datetime.timedelta(hours=1), ends_at=now + datetime.timedelta(hours=2),
        announced_at=now - datetime.timedelta(days=1),
    )
    OutageArea.objects.create(outage=outage, transformer_area=home.area)
    caller = dial("13900000000")
    caller.dial()
    caller.press("1")
    caller.press("2")
    heard = caller.press(home.account.number)
    assert heard.said("storm-intro") and heard.said("outage-kind-temporary")
    assert heard.says(datetime_piece(outage.ends_at, ZH)) and heard.said("after-menu")
    assert _call(caller).storm_informed is False


def test_an_outage_past_its_expected_end_is_said_as_being_restored_when_asked_in_english(dial, home):
    # A planned outage announced a week ahead, due back two hours ago and not restored.
    now = timezone.now()
    outage = Outage.objects.create(
        branch=home.account.branch, kind=OutageKind.PLANNED, title="计划检修", reason="线路改造",
        starts_at=now - datetime.timedelta(hours=6), ends_at=now - datetime.timedelta(hours=2),
        announced_at=now - datetime.timedelta(days=8),
    )
    OutageArea.objects.create(outage=outage, transformer_area=home.area)
    caller = dial("13900000000")
    caller.dial()
    caller.press("2")
    caller.press("2")
    heard = caller.press(home.account.number)
    assert heard.said("storm-intro", EN) and heard.said("outage-kind-planned", EN)
    assert heard.said("outage-past-expected-end", EN) and not heard.said("outage-expected-end", EN)
    assert not heard.says(datetime_piece(outage.ends_at, EN), EN) and heard.said("after-menu", EN)


def test_a_fault_report_opens_a_repair_ticket_from_the_ivr_and_reads_its_number(dial, home):
    caller = dial()
    caller.dial()
    caller.press("1")
    heard = caller.press("3")
    assert heard.said("fault-confirm") and heard.waiting
    heard = caller.press("1")
    ticket = Ticket.objects.get()
    assert (ticket.business_type, ticket.account, ticket.channel, ticket.contact_phone) == (
        BusinessType.FAULT_REPAIR, home.account, Channel.IVR, PHONE)
    assert heard.said("fault-filed") and heard.says(digits_piece(ticket.number, ZH)) and heard.said("fault-crew")
    reporter = TicketReporter.objects.get()
    assert (reporter.channel, reporter.phone, reporter.account) == (Channel.IVR, PHONE, home.account)
    call = _call(caller)
    assert list(CallTicket.objects.values_list("call", "ticket", "relation")) == [
        (call.pk, ticket.pk, CallTicketRelation.OPENED)]
    assert call.ivr_data["ticket_number"] == ticket.number


def test_a_fault_report_inside_a_known_outage_joins_its_ticket(dial, home):
    outage = _outage(home.area)
    caller = dial("13900000000")
    caller.dial()
    caller.press("1")
    caller.press("3")
    caller.press(home.account.number)
    heard = caller.press("1")
    ticket = Ticket.objects.get()
    assert ticket.outage == outage and heard.said("fault-known-outage") and not heard.said("fault-crew")


def test_ticket_progress_by_number_and_an_unknown_number(dial, home):
    sample_process()
    ticket = ticket_open(business_type="meter_accuracy_check", channel="portal", summary="电表走快",
                         account=home.account)
    caller = dial("13900000000")
    caller.dial()
    caller.press("1")
    heard = caller.press("4")
    assert heard.said("ticket-entry")
    heard = caller.press("99999999999")
    assert heard.said("ticket-not-found") and heard.said("ticket-entry")
    heard = caller.press(ticket.number)
    if caller.transport == "twilio":
        assert f"您的工单{ticket.number}正在处理中" in heard.texts[0][0]
    else:
        assert heard.said("ticket-your") and heard.says(digits_piece(ticket.number, ZH))
        assert heard.said("ticket-state-open")
    assert heard.said("after-menu")
    call = _call(caller)
    assert list(CallTicket.objects.values_list("call", "ticket", "relation")) == [
        (call.pk, ticket.pk, CallTicketRelation.ASKED)]
    assert call.account is None and call.ivr_data["ticket_number"] == ticket.number


def test_a_payment_link_goes_to_the_phone_on_file_once_per_call(dial, home, django_capture_on_commit_callbacks):
    caller = dial("13900000000")
    caller.dial()
    caller.press("1")
    caller.press("5")
    with django_capture_on_commit_callbacks(execute=True):
        heard = caller.press(home.account.number)
    assert heard.said("payment-link-sent") and heard.says(digits_piece(PHONE[-4:], ZH))
    message = Message.objects.get()
    assert (message.event, message.channel, message.to, message.recipient_customer) == (
        "payment_link", "sms", PHONE, home.customer)
    assert message.body == (f"【国网95598】户号{home.account.number}当前应缴122.76元，点击https://95598.example.cn/portal/pay/"
                            f"{home.account.number}/在线缴费，链接24小时内有效。")
    caller.press("1")
    with django_capture_on_commit_callbacks(execute=True):
        caller.press("5")
    assert Message.objects.count() == 1


def test_no_payment_link_without_a_phone_on_file_or_anything_to_pay(dial, home):
    residential_policy()
    no_phone = AccountFactory(customer=CustomerFactory(phone=""))
    caller = dial("13900000000")
    caller.dial()
    caller.press("1")
    caller.press("5")
    heard = caller.press(no_phone.number)
    assert heard.said("payment-link-no-phone")
    settled = AccountFactory(customer=CustomerFactory(phone="13700000000"))
    other = dial("13700000000")
    other.dial()
    other.press("1")
    heard = other.press("5")
    assert heard.said("payment-link-nothing-due") and not heard.said("payment-link-sent")
    assert _call(other).account == settled and Message.objects.count() == 0


def test_zero_transfers_to_the_agents_queue_with_what_was_entered(dial, home):
    agent = call_agent_user()
    presence = agent_presence(agent, interface="twilio:agent1")
    caller = dial()
    caller.dial()
    caller.press("1")
    heard = caller.press("0")
    assert heard.end == "transfer" and heard.said("transfer")
    call = _call(caller)
    assert call.ivr_data == {"language": "zh-hans", "account_number": home.account.number, "caller_id_match": True,
                             "transfer_reason": "caller_asked"}
    if caller.transport == "twilio":
        assert '<Enqueue action="/callcenter/twilio/queue/" method="POST">hotline</Enqueue>' in heard.twiml
        assert (call.state, call.queue, call.agent_interface) == ("ringing", "hotline", presence.interface)
    else:
        assert heard.commands[-3:] == ["SET VARIABLE IVR_NEXT queue", 'SET VARIABLE IVR_MENU ""', "ASYNCAGI BREAK"]
        # The PBX reports the queue itself (QueueCallerJoin through the AMI tracker).
        assert (call.state, call.queued_at) == ("ivr", None)


def test_no_input_is_asked_again_once_then_the_caller_goes_to_an_agent(dial, home):
    caller = dial()
    caller.dial()
    caller.press("1")
    heard = caller.silence()
    assert heard.said("no-input") and heard.said("main-menu") and heard.waiting
    heard = caller.press("7")
    assert heard.end == "transfer" and heard.said("transfer")
    assert _call(caller).ivr_data["transfer_reason"] == "invalid_input"
    assert _path(caller)[-3:] == [("main_menu", ""), ("main_menu", "7"), ("agent", "")]


def test_an_invalid_key_is_asked_again_with_its_own_words(dial, home):
    caller = dial()
    caller.dial()
    heard = caller.press("8")
    assert heard.said("invalid-input") and heard.said("language-menu") and heard.waiting
    heard = caller.silence()
    assert heard.end == "transfer"
    assert _call(caller).ivr_data["transfer_reason"] == "no_input"


def test_storm_mode_from_a_landline_cannot_register_an_sms_and_goes_on_to_the_menu(dial, home):
    landline = CustomerFactory(phone="07188221234")
    account = AccountFactory(customer=landline)
    ServicePointFactory(account=account, transformer_area=home.area)
    _outage(home.area)
    caller = dial("07188221234")
    heard = caller.dial()
    assert heard.said("storm-menu")
    heard = caller.press("1")
    assert heard.said("storm-register-failed") and heard.said("language-menu") and heard.waiting
    assert RestorationCallback.objects.count() == 0
    assert _call(caller).account == account


@pytest.mark.django_db
def test_keys_without_the_hash_key_count_when_get_data_times_out(home):
    """Asterisk answers GET DATA with "200 result=1 (timeout)" when the caller keys 1 and waits without #."""
    caller = AgiCaller(caller=PHONE)
    caller.dial()
    caller.state, commands = caller_step(caller, result="1", data="(timeout)")
    heard = caller._play(commands)

    assert heard.said("main-menu") and not heard.said("no-input") and heard.waiting
    assert _path(caller)[-1] == ("language", "1")


def caller_step(caller, *, result: str, data: str):
    return agi.agi_session_step(state=caller.state, result=caller._exec(result=result, data=data))
