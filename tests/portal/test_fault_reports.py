"""Fault reports (故障报修): a known outage is named with its expected end and the report recorded against it (no
crew sent), also once the outage has overrun its expected end, until it is restored; repeated reports from one
transformer area join its repair ticket until the crew restores supply; every reporter is told once when power is
back; the ticket page says where the outage stands (expected back, past that time and under repair, restored)."""
from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import BusinessType, Outage, OutageKind, Ticket, TicketReporter, TicketStep
from core.services.outages import outage_announce, outage_cancel, outage_restore
from core.services.portal_requests import REPORT_JOIN_MAX, fault_report_file
from core.services.tickets import ticket_step_submit
from portal.requests.receivers import receivers_connect
from tests.factories import AccountFactory, BranchFactory, ServicePointFactory, TransformerAreaFactory
from tests.portal.factories import AccountBindingFactory
from notifications.models import Message
from tests.ticket_factories import staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _receivers():
    receivers_connect()


@pytest.fixture
def area():
    return TransformerAreaFactory()


def _customer_in(area, client=None):
    """A portal user with a bound account fed from `area` (logged in on `client` if given)."""
    account = AccountFactory()
    ServicePointFactory(account=account, transformer_area=area)
    binding = AccountBindingFactory(account=account)
    if client is not None:
        client.force_login(binding.user)
    return binding


def _report(client, account, *, description="家里停电了", phone="13900001111", key="k1"):
    return client.post(reverse("portal:fault_report"), {
        "account": account.number, "description": description, "phone": phone, "form_key": key,
    })


def _outage(area, *, ends_in=datetime.timedelta(hours=3)):
    now = timezone.now()
    return outage_announce(
        branch=area.feeder.substation.branch, kind=OutageKind.FAULT, title="10kV线路故障停电", reason="线路故障",
        streets="舞阳坝街道", starts_at=now - datetime.timedelta(hours=1), ends_at=now + ends_in,
        transformer_area_ids=[area.pk],
    )


def _restored_messages(customer):
    return Message.objects.filter(event="outage_restored", recipient_customer=customer)


def test_a_report_inside_a_known_outage_names_it_and_records_against_it(client, area, django_capture_on_commit_callbacks):
    outage = _outage(area)
    first = _customer_in(area, client)
    response = _report(client, first.account)
    body = response.content.decode()
    assert response.status_code == 200
    assert "您所在区域正在停电：10kV线路故障停电" in body
    assert f"预计恢复送电时间：{timezone.localtime(outage.ends_at):%Y-%m-%d %H:%M}" in body
    assert "预计恢复时间" not in body
    assert "无需另行派员抢修" in body
    ticket = Ticket.objects.get()
    assert (ticket.outage, ticket.business_type, ticket.transformer_area) == (outage, BusinessType.FAULT_REPAIR, area)
    assert ticket.number in body

    second = _customer_in(area, client)
    response = _report(client, second.account, phone="13900002222", key="k2")
    assert "您所在区域正在停电" in response.content.decode()
    assert Ticket.objects.count() == 1
    reporters = list(TicketReporter.objects.filter(ticket=ticket).order_by("pk"))
    assert [(r.account, r.user, r.phone, r.told_restored_at) for r in reporters] == [
        (first.account, first.user, "13900001111", None), (second.account, second.user, "13900002222", None),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        outage_restore(outage=outage, restored_at=timezone.now())
    for binding in (first, second):
        messages = _restored_messages(binding.account.customer)
        # One notice per channel, shared with the outage fan-out's key: nobody hears it twice.
        assert {m.idempotency_key for m in messages} == {f"outage:{outage.pk}:restored:{binding.account.customer_id}"}
        assert messages.count() == messages.values("channel").distinct().count() >= 1
    assert TicketReporter.objects.filter(ticket=ticket, told_restored_at__isnull=True).count() == 0


def test_a_report_after_the_expected_end_of_an_outage_not_restored_is_still_recorded_against_it(
    client, area, django_capture_on_commit_callbacks
):
    outage = _outage(area, ends_in=-datetime.timedelta(minutes=30))
    first = _customer_in(area, client)
    body = _report(client, first.account).content.decode()
    assert "您所在区域正在停电：10kV线路故障停电" in body
    assert (
        f"目前尚未恢复送电：预计恢复时间（{timezone.localtime(outage.ends_at):%Y-%m-%d %H:%M}）已过，抢修人员正在处理。"
        in body
    )
    assert "预计恢复送电时间：" not in body
    assert "无需另行派员抢修" in body
    ticket = Ticket.objects.get()
    assert (ticket.outage, ticket.transformer_area, ticket.summary) == (
        outage, area, "已知停电报修（10kV线路故障停电），无需另派抢修",
    )

    second = _customer_in(area)
    outcome = fault_report_file(user=second.user, phone="13900002222", description="还没来电",
                                account=second.account, idempotency_key="k2",
                                at=outage.ends_at + datetime.timedelta(hours=6))
    assert (outcome.ticket, outcome.outage, outcome.joined) == (ticket, outage, True)
    assert outcome.outage.past_expected_end is True
    assert Ticket.objects.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        outage_restore(outage=outage, restored_at=timezone.now())
    for binding in (first, second):
        keys = set(_restored_messages(binding.account.customer).values_list("idempotency_key", flat=True))
        assert keys == {f"outage:{outage.pk}:restored:{binding.account.customer_id}"}
    assert TicketReporter.objects.filter(ticket=ticket, told_restored_at__isnull=True).count() == 0

    # Power back and then off again: a new fault, with a crew.
    third = _customer_in(area, client)
    body = _report(client, third.account, phone="13900003333", key="k3").content.decode()
    assert "正在安排抢修人员" in body and "正在停电" not in body
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert (new.outage, new.transformer_area, new.account) == (None, area, third.account)


def _local(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def test_the_ticket_page_says_where_the_outage_stands_expected_back_overrun_then_restored(client, area):
    outage = _outage(area)
    binding = _customer_in(area, client)
    _report(client, binding.account)
    ticket = Ticket.objects.get(outage=outage)
    url = reverse("portal:ticket_detail", args=[ticket.number])
    page = client.get(url).content.decode()
    assert f"关联停电：10kV线路故障停电，预计{_local(outage.ends_at)}恢复送电。" in page

    # Its expected end has passed (moved back rather than waited for) and power is not back.
    Outage.objects.filter(pk=outage.pk).update(ends_at=timezone.now() - datetime.timedelta(minutes=10))
    outage.refresh_from_db()
    page = client.get(url).content.decode()
    assert (
        f"关联停电：10kV线路故障停电，预计恢复时间（{_local(outage.ends_at)}）已过，目前尚未恢复送电，抢修人员正在处理。"
        in page
    )
    assert "恢复送电。" not in page

    restored_at = timezone.now() - datetime.timedelta(minutes=2)
    outage_restore(outage=outage, restored_at=restored_at)
    page = client.get(url).content.decode()
    assert f"关联停电：10kV线路故障停电，已于{_local(restored_at)}恢复送电。" in page
    assert "预计" not in page and "已过" not in page


def test_the_ticket_page_of_a_cancelled_outage_says_it_was_cancelled(client, area):
    outage = _outage(area)
    binding = _customer_in(area, client)
    _report(client, binding.account)
    ticket = Ticket.objects.get(outage=outage)
    outage_cancel(outage=outage, reason="误报")
    page = client.get(reverse("portal:ticket_detail", args=[ticket.number])).content.decode()
    assert "关联停电：10kV线路故障停电，该停电已取消。" in page and "预计" not in page


def test_a_cancelled_planned_outage_catches_no_reports_once_its_time_has_come(client, area):
    now = timezone.now()
    planned = outage_announce(
        branch=area.feeder.substation.branch, kind=OutageKind.PLANNED, title="计划检修停电", reason="10kV线路检修",
        streets="舞阳坝街道", starts_at=now - datetime.timedelta(hours=3), ends_at=now - datetime.timedelta(hours=1),
        transformer_area_ids=[area.pk], now=now - datetime.timedelta(days=10),
    )
    outage_cancel(outage=planned, reason="天气原因，检修改期", now=now - datetime.timedelta(days=2))
    binding = _customer_in(area, client)
    body = _report(client, binding.account).content.decode()
    assert "正在安排抢修人员" in body and "计划检修停电" not in body
    ticket = Ticket.objects.get()
    assert (ticket.outage, ticket.transformer_area) == (None, area)


def test_repeated_reports_from_one_area_join_its_repair_ticket_until_supply_is_restored(client, area):
    first = _customer_in(area, client)
    response = _report(client, first.account)
    assert "正在安排抢修人员" in response.content.decode()
    second = _customer_in(area, client)
    response = _report(client, second.account, phone="13900002222", key="k2")
    assert "您的报修已并入同一工单" in response.content.decode()
    ticket = Ticket.objects.get()
    assert (ticket.transformer_area, ticket.outage, ticket.account) == (area, None, first.account)
    assert TicketReporter.objects.filter(ticket=ticket).count() == 2

    # The crew is still on its way two hours on: the same fault, the same ticket.
    later = ticket.opened_at + datetime.timedelta(hours=2, minutes=1)
    third = _customer_in(area)
    outcome = fault_report_file(user=third.user, phone="13900003333", description="又停电", account=third.account,
                                idempotency_key="k3", at=later)
    assert (outcome.joined, outcome.ticket, outcome.outage) == (True, ticket, None)
    assert Ticket.objects.count() == 1
    assert list(TicketReporter.objects.filter(ticket=ticket).order_by("pk").values_list("account", flat=True)) == [
        first.account.pk, second.account.pk, third.account.pk,
    ]

    # Past the maximum a ticket still open has gone wrong: a new report sends a crew again.
    too_late = ticket.opened_at + REPORT_JOIN_MAX + datetime.timedelta(minutes=1)
    fourth = _customer_in(area)
    outcome = fault_report_file(user=fourth.user, phone="13900004444", description="一直没电",
                                account=fourth.account, idempotency_key="k4", at=too_late)
    assert outcome.joined is False and outcome.ticket != ticket
    assert Ticket.objects.count() == 2

    elsewhere = _customer_in(TransformerAreaFactory())
    outcome = fault_report_file(user=elsewhere.user, phone="13900005555", description="停电",
                                account=elsewhere.account, idempotency_key="k5")
    assert outcome.joined is False and outcome.ticket.transformer_area != area


def test_the_same_person_reporting_again_is_one_reporter(client, area):
    binding = _customer_in(area, client)
    _report(client, binding.account, key="a")
    _report(client, binding.account, key="b")
    assert Ticket.objects.count() == 1
    assert TicketReporter.objects.count() == 1


def _work_to_restored(ticket: Ticket):
    branch = ticket.branch
    dispatcher, crew = staff_user("dispatcher", branch), staff_user("repair_crew", branch)
    now = timezone.localtime()
    step = TicketStep.objects.get(ticket=ticket, state="active")
    ticket_step_submit(step_id=step.pk, user=dispatcher, data={"crew": "抢修一班", "fault_kind": "low_voltage"})
    step = TicketStep.objects.get(ticket=ticket, state="active")
    ticket_step_submit(step_id=step.pk, user=crew, data={"arrived_at": now.strftime("%Y-%m-%dT%H:%M")})
    step = TicketStep.objects.get(ticket=ticket, state="active")
    ticket_step_submit(step_id=step.pk, user=crew, data={
        "restored_at": now.strftime("%Y-%m-%dT%H:%M"), "cause": "equipment", "repair_actions": "更换熔丝",
    })
    return TicketStep.objects.get(ticket=ticket, state="active")


def test_every_reporter_is_told_once_when_the_crew_restores_supply(client, area, django_capture_on_commit_callbacks):
    first = _customer_in(area, client)
    _report(client, first.account)
    second = _customer_in(area, client)
    _report(client, second.account, phone="13900002222", key="k2")
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        report_back = _work_to_restored(ticket)
    for binding in (first, second):
        keys = set(_restored_messages(binding.account.customer).values_list("idempotency_key", flat=True))
        assert keys == {f"fault-restored:ticket:{ticket.pk}:customer:{binding.account.customer_id}"}
        sms = _restored_messages(binding.account.customer).get(channel="sms")
        assert sms.body.startswith(f"【国网95598】{area.name}已恢复送电")
    assert TicketReporter.objects.filter(told_restored_at__isnull=True).count() == 0
    count = Message.objects.filter(event="outage_restored").count()

    with django_capture_on_commit_callbacks(execute=True):
        ticket_step_submit(step_id=report_back.pk, user=staff_user("dispatcher", ticket.branch),
                           data={"report": "已恢复"})
    assert Message.objects.filter(event="outage_restored").count() == count


def test_a_report_after_the_crew_restored_supply_is_a_new_fault_and_everyone_who_joined_is_told(
    client, area, django_capture_on_commit_callbacks
):
    first = _customer_in(area, client)
    _report(client, first.account)
    ticket = Ticket.objects.get()
    joined = []
    for hours, phone in ((1, "13900002222"), (3, "13900003333")):
        binding = _customer_in(area)
        outcome = fault_report_file(user=binding.user, phone=phone, description="停电", account=binding.account,
                                    idempotency_key=phone, at=ticket.opened_at + datetime.timedelta(hours=hours))
        assert (outcome.ticket, outcome.joined) == (ticket, True)
        joined.append(binding)
    with django_capture_on_commit_callbacks(execute=True):
        _work_to_restored(ticket)
    for binding in (first, *joined):
        keys = set(_restored_messages(binding.account.customer).values_list("idempotency_key", flat=True))
        assert keys == {f"fault-restored:ticket:{ticket.pk}:customer:{binding.account.customer_id}"}
    assert TicketReporter.objects.filter(ticket=ticket, told_restored_at__isnull=True).count() == 0

    # The ticket is still open (report back, follow-up), but its fault is mended: this is another one.
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.OPEN
    after = _customer_in(area, client)
    body = _report(client, after.account, phone="13900006666", key="after").content.decode()
    assert "正在安排抢修人员" in body and "并入同一工单" not in body
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert (new.transformer_area, new.account) == (area, after.account)
    assert list(TicketReporter.objects.filter(ticket=new).values_list("account", flat=True)) == [after.account.pk]


def test_a_location_report_needs_a_county_and_an_address(client):
    client.force_login(AccountBindingFactory().user)
    response = client.post(reverse("portal:fault_report"), {"description": "路灯线断了", "phone": "13900001111"})
    assert "请选择所在县公司" in response.content.decode()
    branch = BranchFactory()
    response = client.post(reverse("portal:fault_report"), {
        "branch": branch.pk, "description": "路灯线断了", "phone": "13900001111",
    })
    assert "此项为必填项" in response.content.decode()
    assert Ticket.objects.count() == 0
    response = client.post(reverse("portal:fault_report"), {
        "branch": branch.pk, "address": "恩施市航空大道12号", "description": "路灯线断了", "phone": "139 0000 1111",
        "form_key": "x",
    })
    ticket = Ticket.objects.get()
    assert (ticket.branch, ticket.address, ticket.contact_phone, ticket.transformer_area) == (
        branch, "恩施市航空大道12号", "13900001111", None)
    assert ticket.number in response.content.decode()


def test_a_bad_phone_is_refused_and_nothing_is_recorded(client, area):
    binding = _customer_in(area, client)
    response = _report(client, binding.account, phone="12345")
    assert "请输入有效的电话号码" in response.content.decode()
    assert Ticket.objects.count() == 0 and TicketReporter.objects.count() == 0


def test_a_co_reporter_sees_the_progress_but_not_the_first_reporters_details(client, area):
    first = _customer_in(area, client)
    _report(client, first.account, description="我家在3栋2单元")
    second = _customer_in(area, client)
    _report(client, second.account, phone="13900002222", key="k2")
    ticket = Ticket.objects.get()
    page = client.get(reverse("portal:ticket_detail", args=[ticket.number])).content.decode()
    assert "已受理您的报修，正在安排抢修人员" in page
    assert "我家在3栋2单元" not in page and first.account.number not in page
    client.force_login(first.user)
    assert "我家在3栋2单元" in client.get(reverse("portal:ticket_detail", args=[ticket.number])).content.decode()


def test_an_account_of_someone_else_is_not_accepted(client, area):
    _customer_in(area, client)
    stranger = AccountFactory()
    response = _report(client, stranger)
    assert response.status_code == 200
    assert Ticket.objects.count() == 0


def test_a_reporter_who_is_not_a_customer_is_texted_at_the_phone_given(client, django_capture_on_commit_callbacks):
    user = AccountBindingFactory().user
    client.force_login(user)
    branch = BranchFactory()
    client.post(reverse("portal:fault_report"), {
        "branch": branch.pk, "address": "恩施市航空大道12号", "description": "整栋楼停电", "phone": "13900005555",
        "form_key": "loc",
    })
    ticket = Ticket.objects.get()
    assert ticket.customer is None
    with django_capture_on_commit_callbacks(execute=True):
        _work_to_restored(ticket)
    sms = Message.objects.get(event="outage_restored", channel="sms")
    assert (sms.to, sms.recipient_user, sms.recipient_customer) == ("13900005555", user, None)
    assert TicketReporter.objects.get().told_restored_at is not None
