"""The customer's view of a ticket: plain-words timeline and one progress sentence, never staff names or notes."""
import datetime

import pytest
from django.utils import translation

from core.selectors.tickets import TimelineEntry, ticket_progress_text, ticket_timeline
from core.services.tickets import (
    ticket_cancel,
    ticket_claim,
    ticket_open,
    ticket_rate,
    ticket_resume,
    ticket_step_return,
    ticket_step_submit,
    ticket_suspend,
)
from tests.factories import AccountFactory
from tests.ticket_factories import TEST_BUSINESS_TYPE, local, sample_process, staff_user, supervisor_user

pytestmark = pytest.mark.django_db

MONDAY = local(2026, 11, 23, 10)
MINUTE = datetime.timedelta(minutes=1)
SECRETS = ("王师傅", "wang", "内部备注：客户态度差", "客户难缠", "资料缺照片")


@pytest.fixture
def world():
    process = sample_process()
    account = AccountFactory(customer__name="张三")
    branch = account.branch
    staff = {
        "agent": staff_user("agent", branch, username="wang", first_name="王师傅"),
        "surveyor": staff_user("surveyor", branch, username="wang-survey", first_name="王师傅"),
        "clerk": staff_user("counter_clerk", branch, username="wang-clerk", first_name="王师傅"),
    }
    ticket = ticket_open(business_type=TEST_BUSINESS_TYPE, channel="portal", summary="电表走快", account=account,
                         at=MONDAY)
    return process, account, staff, ticket


def step_id(ticket):
    ticket.refresh_from_db()
    return ticket.current_step_id


def test_the_timeline_follows_the_ticket_in_plain_words(world):
    _process, account, staff, ticket = world
    agent, surveyor, clerk = staff["agent"], staff["surveyor"], staff["clerk"]
    ticket_claim(step_id=step_id(ticket), user=agent, at=MONDAY + MINUTE)
    ticket_step_submit(step_id=step_id(ticket), user=agent, data={"category": "fast", "needs_survey": True},
                       note="内部备注：客户态度差", at=MONDAY + 2 * MINUTE)
    ticket_suspend(ticket_id=ticket.pk, user=surveyor, reason="客户难缠", at=MONDAY + 3 * MINUTE)
    ticket_resume(ticket_id=ticket.pk, user=surveyor, at=MONDAY + 4 * MINUTE)
    ticket_step_submit(step_id=step_id(ticket), user=surveyor, at=MONDAY + 5 * MINUTE,
                       data={"start_at": "2026-11-23T10:05", "end_at": "2026-11-23T10:06", "error_percent": "3"})
    ticket_step_return(step_id=step_id(ticket), user=clerk, to_step_code="survey", reason="资料缺照片",
                       at=MONDAY + 6 * MINUTE)

    ticket.refresh_from_db()
    timeline = ticket_timeline(ticket=ticket)

    number = ticket.number
    assert timeline == [
        TimelineEntry(MONDAY, f"您的计量异常申请已受理，工单号{number}"),
        TimelineEntry(MONDAY, "您的诉求已受理"),
        TimelineEntry(MONDAY + 2 * MINUTE, "工作人员正在现场检测"),
        TimelineEntry(MONDAY + 3 * MINUTE, "工单暂停办理，等待您的配合"),
        TimelineEntry(MONDAY + 4 * MINUTE, "工单恢复办理"),
        TimelineEntry(MONDAY + 6 * MINUTE, "工作人员正在现场检测"),
    ]
    spoken = ticket_progress_text(ticket=ticket)
    assert spoken == f"您的工单{number}正在处理中：工作人员正在现场检测。"
    for text in [entry.text for entry in timeline] + [spoken]:
        assert not any(secret in text for secret in SECRETS)


def test_internal_steps_read_as_in_progress(world):
    _process, _account, staff, ticket = world

    ticket_step_submit(step_id=step_id(ticket), user=staff["agent"], data={"category": "slow"}, at=MONDAY)
    ticket.refresh_from_db()

    assert [entry.text for entry in ticket_timeline(ticket=ticket)][-1] == "您的诉求已受理"
    assert ticket_progress_text(ticket=ticket) == f"您的工单{ticket.number}正在处理中。"


def test_the_end_states_and_the_rating(world):
    _process, account, staff, ticket = world
    agent, clerk = staff["agent"], staff["clerk"]
    ticket_step_submit(step_id=step_id(ticket), user=agent, data={"category": "slow"}, at=MONDAY)
    ticket_step_submit(step_id=step_id(ticket), user=clerk, data={"archived": True}, at=MONDAY)
    ticket_step_submit(step_id=step_id(ticket), user=agent, data={}, at=MONDAY + MINUTE)
    ticket_rate(ticket_id=ticket.pk, satisfaction=5, customer=account.customer, at=MONDAY + 2 * MINUTE)
    ticket.refresh_from_db()

    assert [entry.text for entry in ticket_timeline(ticket=ticket)][-2:] == [
        "工单已办结", "您已对本次服务作出评价，感谢您的支持",
    ]
    assert ticket_progress_text(ticket=ticket) == f"您的工单{ticket.number}已办结。"

    other = ticket_open(business_type=TEST_BUSINESS_TYPE, channel="portal", summary="x", account=account, at=MONDAY)
    ticket_suspend(ticket_id=other.pk, user=agent, reason="客户难缠", at=MONDAY)
    other.refresh_from_db()
    assert ticket_progress_text(ticket=other) == f"您的工单{other.number}暂停办理，正在等待您的配合。"
    ticket_cancel(ticket_id=other.pk, reason="客户难缠", user=supervisor_user(), at=MONDAY)
    other.refresh_from_db()
    assert ticket_timeline(ticket=other)[-1].text == "工单已撤销"
    assert ticket_progress_text(ticket=other) == f"您的工单{other.number}已撤销。"


def test_step_texts_are_english_when_the_language_is(world):
    _process, _account, staff, ticket = world
    ticket_step_submit(step_id=step_id(ticket), user=staff["agent"], data={"category": "fast", "needs_survey": True},
                       at=MONDAY)
    ticket.refresh_from_db()

    with translation.override("en"):
        timeline = ticket_timeline(ticket=ticket)
        spoken = ticket_progress_text(ticket=ticket)

    assert [entry.text for entry in timeline[1:]] == ["Your request has been accepted", "Our staff are testing on site"]
    assert "Our staff are testing on site" in spoken


def test_the_timeline_takes_one_query(world, django_assert_num_queries):
    _process, _account, staff, ticket = world
    ticket_step_submit(step_id=step_id(ticket), user=staff["agent"], data={"category": "fast", "needs_survey": True},
                       at=MONDAY)

    with django_assert_num_queries(1):
        assert len(ticket_timeline(ticket=ticket)) == 3
