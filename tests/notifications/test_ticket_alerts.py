"""Ticket events become notifications after the engine's transaction commits: acceptance and progress to the
customer, arrival, warning and overdue to the step's holder or pool, completion and the satisfaction survey."""
import logging

import pytest

from core.models import TicketEvent
from core.services.tickets import (
    ticket_claim,
    ticket_event_record,
    ticket_open,
    ticket_step_submit,
)
from core.signals import ticket_changed
from notifications import ticket_alerts
from notifications.models import Message
from tests.factories import AccountFactory, BranchFactory
from tests.ticket_factories import TEST_BUSINESS_TYPE, local, sample_process, staff_user

pytestmark = pytest.mark.django_db

MONDAY = local(2026, 11, 23, 10)


@pytest.fixture
def world(frozen, customer):
    sample_process(allows_anonymous=True)
    account = AccountFactory(customer=customer)
    branch = account.branch
    return {
        "account": account,
        "agents": [staff_user("agent", branch, email="a1@example.cn"), staff_user("agent", branch)],
        "roaming_agent": staff_user("agent", None),
        "other_branch_agent": staff_user("agent", BranchFactory()),
        "surveyor": staff_user("surveyor", branch),
        "clerk": staff_user("counter_clerk", branch),
    }


def sent(event):
    return list(Message.objects.filter(event=event).order_by("id"))


def open_ticket(account, **kwargs):
    return ticket_open(business_type=TEST_BUSINESS_TYPE, channel="portal", summary="电表走快", account=account,
                       at=MONDAY, **kwargs)


def current_step_id(ticket):
    ticket.refresh_from_db()
    return ticket.current_step_id


def test_opening_tells_the_customer_and_the_pool_only_after_commit(world, customer,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket = open_ticket(world["account"])
    assert Message.objects.count() == 0  # nothing leaves inside the transaction

    for callback in callbacks:
        callback()

    opened = ticket.events.get(kind="opened")
    accepted = sent("ticket_accepted")
    assert [(m.channel, m.recipient_customer) for m in accepted] == [("sms", customer), ("inbox", customer)]
    assert accepted[0].body == f"【国网95598】您的计量异常申请已受理，工单号{ticket.number}，进度可在网上国网查询。"
    assert accepted[0].idempotency_key == f"ticket-event:{opened.pk}:ticket_accepted:customer:{customer.pk}"
    arrival = sent("ticket_arrival")
    pool = [*world["agents"], world["roaming_agent"]]
    assert sorted({m.recipient_user_id for m in arrival}) == sorted(u.pk for u in pool)
    assert {m.channel for m in arrival if m.recipient_user_id == world["agents"][1].pk} == {"staff"}
    staff_alert = next(m for m in arrival if m.channel == "staff")
    assert staff_alert.body == f"工单{ticket.number}（计量异常）已到达您的岗位：受理。"
    # The first step arrives with the acceptance; the customer is not told twice.
    assert sent("ticket_step_progress") == []


def test_an_anonymous_ticket_tells_no_customer(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket_open(business_type=TEST_BUSINESS_TYPE, channel="portal", summary="举报窃电",
                    branch=world["account"].branch, anonymous=True, at=MONDAY)

    assert Message.objects.filter(recipient_customer__isnull=False).count() == 0
    assert len(sent("ticket_arrival")) > 0


def test_progress_reaches_the_customer_only_at_customer_facing_steps(world, customer,
                                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket(world["account"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket_step_submit(step_id=current_step_id(ticket), user=world["agents"][0],
                           data={"category": "fast", "needs_survey": True}, at=MONDAY)

    [progress] = sent("ticket_step_progress")
    assert (progress.channel, progress.recipient_customer) == ("inbox", customer)
    assert progress.body == "您的计量异常工单已进入“现场勘查”环节。"
    assert [m.recipient_user for m in sent("ticket_arrival") if m.body.endswith("现场勘查。")] == [world["surveyor"]]

    with django_capture_on_commit_callbacks(execute=True):
        ticket_step_submit(step_id=current_step_id(ticket), user=world["surveyor"], at=MONDAY, data={
            "start_at": "2026-11-23T10:10", "end_at": "2026-11-23T10:20", "error_percent": "2"})
    assert len(sent("ticket_step_progress")) == 1  # the archive step is internal
    assert [m.recipient_user for m in sent("ticket_arrival") if m.body.endswith("资料归档。")] == [world["clerk"]]


def test_warnings_and_overdue_marks_go_to_the_holder_once_claimed(world, django_capture_on_commit_callbacks):
    agent = world["agents"][0]
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket(world["account"])
        step = ticket.current_step
        ticket_event_record(ticket=ticket, step=step, kind=TicketEvent.Kind.WARNED, at=MONDAY)
    assert len({m.recipient_user_id for m in sent("ticket_warning")}) == 3  # the whole pool

    with django_capture_on_commit_callbacks(execute=True):
        ticket_claim(step_id=step.pk, user=agent)
        ticket_event_record(ticket=ticket, step=step, kind=TicketEvent.Kind.OVERDUE, at=MONDAY)

    overdue = sent("ticket_overdue")
    assert {m.recipient_user for m in overdue} == {agent}
    assert {m.channel for m in overdue} == {"staff"}
    assert overdue[0].body == f"工单{ticket.number}的“受理”环节已超时。"


def test_closing_sends_completion_and_the_survey_unless_already_rated(world, customer,
                                                                      django_capture_on_commit_callbacks, settings):
    settings.NOTIFICATIONS_PUBLIC_BASE_URL = "https://95598.example.cn"
    agent, clerk = world["agents"][0], world["clerk"]
    tickets = []
    for satisfaction in ({}, {"satisfaction": 5}):
        ticket = open_ticket(world["account"])
        ticket_step_submit(step_id=current_step_id(ticket), user=agent, data={"category": "slow"}, at=MONDAY)
        ticket_step_submit(step_id=current_step_id(ticket), user=clerk, data={"archived": True}, at=MONDAY)
        with django_capture_on_commit_callbacks(execute=True):
            ticket_step_submit(step_id=current_step_id(ticket), user=agent, data=satisfaction, at=MONDAY)
        tickets.append(ticket)

    completed = sent("ticket_completed")
    assert [(m.channel, m.body) for m in completed if m.channel == "sms"] == [
        ("sms", f"【国网95598】您的工单{t.number}（计量异常）已办结，感谢您的支持。") for t in tickets
    ]
    survey = sent("ticket_satisfaction_request")
    closed = tickets[0].events.get(kind="closed")
    assert [(m.channel, m.idempotency_key) for m in survey] == [
        (channel, f"ticket-event:{closed.pk}:ticket_satisfaction_request:customer:{customer.pk}")
        for channel in ("sms", "inbox")
    ]
    assert next(m for m in survey if m.channel == "sms").body == (
        f"【国网95598】请对工单{tickets[0].number}的服务进行评价：https://95598.example.cn/portal/tickets/{tickets[0].number}/ 回复TD退订。"
    )


def test_a_signal_delivered_twice_sends_nothing_twice(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket(world["account"])
    count = Message.objects.count()
    opened = ticket.events.get(kind="opened")

    ticket_changed.send(sender=type(ticket), ticket_id=ticket.pk, event_id=opened.pk, kind="opened", step_id=None)

    assert Message.objects.count() == count


def test_a_notification_failure_is_logged_not_raised_into_the_engine(world, monkeypatch, caplog,
                                                                     django_capture_on_commit_callbacks):
    def broken(**kwargs):
        raise RuntimeError("template store down")

    monkeypatch.setattr(ticket_alerts, "notification_request", broken)
    with caplog.at_level(logging.ERROR, logger="notifications.ticket_alerts"):
        with django_capture_on_commit_callbacks(execute=True):
            ticket = open_ticket(world["account"])

    assert ticket.state == "open"
    assert Message.objects.count() == 0
    assert any("notification failed" in record.getMessage() for record in caplog.records)
