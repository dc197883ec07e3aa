"""The ticket engine's rules, through its services: numbering, open, submit with validation, permissions,
claim/assign, suspend/resume, skip, return, cancel, rate, the event trail and the process version pin."""
import datetime

import pytest
from django.contrib.auth import get_user_model

from core.errors import (
    ProcessDefinitionMissing,
    ReturnNotAllowed,
    StepAlreadyClaimed,
    StepNotActive,
    StepNotSkippable,
    TicketAlreadyRated,
    TicketIdempotencyConflict,
    TicketNotClosed,
    TicketNotOpen,
    TicketNotSuspended,
    TicketNumbersExhausted,
    TicketOpenInvalid,
    TicketPermissionDenied,
    TicketValidationError,
)
from core.models import (
    Branch,
    BusinessType,
    Evaluation,
    ProcessDefinition,
    Ticket,
    TicketDaySequence,
    TicketEvent,
    TicketStep,
    WarningThreshold,
)
from core.services.tickets import (
    ticket_assign,
    ticket_cancel,
    ticket_claim,
    ticket_event_record,
    ticket_number_next,
    ticket_open,
    ticket_rate,
    ticket_resume,
    ticket_step_return,
    ticket_step_skip,
    ticket_step_submit,
    ticket_suspend,
)
from core.signals import ticket_changed
from tests.factories import AccountFactory, BranchFactory, CustomerFactory
from tests.ticket_factories import (
    TEST_BUSINESS_TYPE,
    local,
    meter_with_reading,
    sample_process,
    staff_user,
    supervisor_user,
)

pytestmark = pytest.mark.django_db

MONDAY = local(2026, 11, 23, 10)  # an ordinary working week (no holidays until New Year)
ACCEPT_DATA = {"category": "fast"}
SURVEY_DATA = {"start_at": "2026-11-23T13:00", "end_at": "2026-11-23T14:00", "error_percent": "2.5"}


@pytest.fixture
def process():
    return sample_process()


@pytest.fixture
def branch():
    return BranchFactory(name="恩施市", area_kind=Branch.AreaKind.CITY)


@pytest.fixture
def account(branch):
    return AccountFactory(station__branch=branch, customer__name="张三")


@pytest.fixture
def agent(branch):
    return staff_user("agent", branch, username="agent-li", first_name="李四")


@pytest.fixture
def surveyor(branch):
    return staff_user("surveyor", branch, username="surveyor-wang")


@pytest.fixture
def clerk(branch):
    return staff_user("counter_clerk", branch, username="clerk-zhao")


@pytest.fixture
def supervisor(branch):
    return supervisor_user(branch, username="boss")


def open_ticket(account, *, at=MONDAY, **kwargs):
    values = {"business_type": TEST_BUSINESS_TYPE, "channel": "agent", "summary": "电表走快", "account": account}
    return ticket_open(**{**values, **kwargs}, at=at)


def current(ticket) -> TicketStep:
    ticket.refresh_from_db()
    return ticket.current_step


def to_follow_up(ticket, agent, clerk, at=MONDAY):
    ticket_step_submit(step_id=current(ticket).pk, user=agent, data=ACCEPT_DATA, at=at)
    ticket_step_submit(step_id=current(ticket).pk, user=clerk, data={"archived": "on"}, at=at)
    return current(ticket)


def snapshot(ticket):
    ticket.refresh_from_db()
    return (
        ticket.state, ticket.data, ticket.version, ticket.current_step_id,
        list(TicketStep.objects.filter(ticket=ticket).values_list("state", "assignee_id", "data").order_by("id")),
        TicketEvent.objects.filter(ticket=ticket).count(),
    )


# --- numbering ----------------------------------------------------------------------------------------------


def test_ticket_numbers_are_the_date_and_a_five_digit_sequence_restarting_each_day():
    first = ticket_number_next(day=datetime.date(2026, 11, 23))
    second = ticket_number_next(day=datetime.date(2026, 11, 23))
    next_day = ticket_number_next(day=datetime.date(2026, 11, 24))

    assert (first, second, next_day) == ("26112300001", "26112300002", "26112400001")
    assert all(len(n) == 11 and n.isdigit() for n in (first, second, next_day))
    assert TicketDaySequence.objects.get(day=datetime.date(2026, 11, 23)).last == 2


def test_a_ticket_takes_its_number_from_the_local_day(process, account):
    late_evening = open_ticket(account, at=local(2026, 11, 23, 23, 30))
    after_midnight = open_ticket(account, at=local(2026, 11, 24, 0, 10))  # still 23 Nov in UTC

    assert late_evening.number == "26112300001"
    assert after_midnight.number == "26112400001"


def test_sequential_opens_never_collide(process, account):
    numbers = [open_ticket(account).number for _ in range(12)]

    assert numbers == [f"2611230{n:04d}" for n in range(1, 13)]


def test_a_day_runs_out_of_numbers_at_99999():
    TicketDaySequence.objects.create(day=datetime.date(2026, 11, 23), last=99999)

    with pytest.raises(TicketNumbersExhausted):
        ticket_number_next(day=datetime.date(2026, 11, 23))


# --- open ---------------------------------------------------------------------------------------------------


def test_open_pins_the_active_version_and_sends_the_first_step_to_the_pool(process, account, agent):
    ticket = open_ticket(account, opened_by=agent, data={"meter": "M1"})

    assert ticket.definition == process.definition
    assert (ticket.state, ticket.customer, ticket.branch) == ("open", account.customer, account.branch)
    assert ticket.opened_at == MONDAY
    assert ticket.due_at == local(2026, 11, 30, 10)  # 5 working days
    assert ticket.data == {"meter": "M1"}
    step = current(ticket)
    assert (step.step_definition, step.sequence, step.state, step.assignee) == (process.accept, 1, "active", None)
    assert step.post.code == "agent"
    assert step.due_at == local(2026, 11, 24, 10)  # 1 working day
    # Pool steps warn at the defaults: the earlier of 120 min before due and 80% of the limit.
    assert step.warn_at == MONDAY + datetime.timedelta(hours=24 * 0.8)
    opened, arrived = ticket.events.order_by("id")
    assert (opened.kind, opened.public, opened.actor, opened.note) == ("opened", True, agent, "您的计量异常申请已受理")
    assert opened.after["version"] == process.definition.version
    assert (arrived.kind, arrived.public, arrived.step, arrived.note) == ("arrived", True, step, "您的诉求已受理")


def test_the_step_limit_follows_the_branch_area(process):
    rural = AccountFactory(station__branch=BranchFactory(area_kind=Branch.AreaKind.RURAL))
    agent = staff_user("agent", rural.branch)
    ticket = open_ticket(rural)

    ticket_step_submit(step_id=current(ticket).pk, user=agent, data={**ACCEPT_DATA, "needs_survey": True}, at=MONDAY)

    survey = current(ticket)
    assert survey.step_definition == process.survey
    assert survey.due_at == MONDAY + datetime.timedelta(minutes=240)


def test_the_same_idempotency_key_returns_the_first_ticket(process, account):
    first = open_ticket(account, idempotency_key="ivr-call-42")
    again = open_ticket(account, idempotency_key="ivr-call-42", summary="重复提交")

    assert again.pk == first.pk
    assert Ticket.objects.count() == 1
    assert TicketEvent.objects.filter(kind="opened").count() == 1
    with pytest.raises(TicketIdempotencyConflict):
        sample_process(business_type=BusinessType.COMPLAINT)
        open_ticket(account, idempotency_key="ivr-call-42", business_type=BusinessType.COMPLAINT)


def test_open_refuses_what_the_definition_does_not_allow(process, account, branch):
    with pytest.raises(TicketOpenInvalid) as anonymous:
        ticket_open(business_type=TEST_BUSINESS_TYPE, channel="portal", summary="举报", branch=branch, anonymous=True)
    assert anonymous.value.field == "anonymous"
    with pytest.raises(TicketOpenInvalid):
        ticket_open(business_type=TEST_BUSINESS_TYPE, channel="fax", summary="x", branch=branch)
    with pytest.raises(TicketOpenInvalid) as no_branch:
        ticket_open(business_type=TEST_BUSINESS_TYPE, channel="portal", summary="x")
    assert no_branch.value.field == "branch"
    with pytest.raises(TicketOpenInvalid):
        open_ticket(account, customer=CustomerFactory())
    with pytest.raises(TicketValidationError) as blank:
        open_ticket(account, summary="  ")
    assert blank.value.errors == {"summary": ["此项为必填项"]}
    ProcessDefinition.objects.filter(business_type=BusinessType.PRAISE).update(active=False)
    with pytest.raises(ProcessDefinitionMissing):
        open_ticket(account, business_type=BusinessType.PRAISE)
    sample_process(requires_account=True)
    with pytest.raises(TicketOpenInvalid) as needs_account:
        ticket_open(business_type=TEST_BUSINESS_TYPE, channel="portal", summary="x", branch=branch)
    assert needs_account.value.field == "account"
    assert Ticket.objects.count() == 0


def test_an_anonymous_report_keeps_no_customer(branch):
    sample_process(allows_anonymous=True)

    ticket = ticket_open(business_type=TEST_BUSINESS_TYPE, channel="portal", summary="举报窃电", branch=branch,
                         anonymous=True, at=MONDAY)

    assert (ticket.anonymous, ticket.customer, ticket.account) == (True, None, None)
    with pytest.raises(TicketOpenInvalid):
        ticket_open(business_type=TEST_BUSINESS_TYPE, channel="portal", summary="x", anonymous=True,
                    customer=CustomerFactory(), branch=branch)


# --- submit and validation ----------------------------------------------------------------------------------


def test_an_incomplete_submission_changes_nothing_and_says_what_is_missing(process, account, agent):
    ticket = open_ticket(account)
    before = snapshot(ticket)

    with pytest.raises(TicketValidationError) as refused:
        ticket_step_submit(step_id=current(ticket).pk, user=agent, data={"needs_survey": "maybe"}, at=MONDAY)

    assert refused.value.errors == {"needs_survey": ["请选择是或否"], "category": ["此项为必填项"]}
    assert snapshot(ticket) == before
    with pytest.raises(TicketValidationError) as wrong_choice:
        ticket_step_submit(step_id=current(ticket).pk, user=agent, data={"category": "sideways"}, at=MONDAY)
    assert wrong_choice.value.errors == {"category": ["请选择有效的选项"]}
    assert snapshot(ticket) == before


def test_a_horizontal_check_refuses_an_end_before_the_start(process, account, agent, surveyor):
    ticket = open_ticket(account)
    ticket_step_submit(step_id=current(ticket).pk, user=agent, data={**ACCEPT_DATA, "needs_survey": "on"}, at=MONDAY)
    before = snapshot(ticket)

    with pytest.raises(TicketValidationError) as refused:
        ticket_step_submit(
            step_id=current(ticket).pk, user=surveyor, at=MONDAY,
            data={**SURVEY_DATA, "end_at": "2026-11-23T12:00", "error_percent": "150"},
        )
    assert refused.value.errors == {"error_percent": ["不能大于100"]}
    with pytest.raises(TicketValidationError) as crossed:
        ticket_step_submit(step_id=current(ticket).pk, user=surveyor, at=MONDAY,
                           data={**SURVEY_DATA, "end_at": "2026-11-23T12:00"})

    assert crossed.value.errors == {"end_at": ["结束时间必须晚于开始时间"]}
    assert snapshot(ticket) == before


def test_a_vertical_check_refuses_a_reading_below_the_last_one(account, agent, surveyor):
    sample_process(survey_checks=["end_after_start", "reading_not_below_previous"])
    meter_with_reading(account, "1200.00")
    ticket = open_ticket(account)
    ticket_step_submit(step_id=current(ticket).pk, user=agent, data={**ACCEPT_DATA, "needs_survey": "on"}, at=MONDAY)
    before = snapshot(ticket)

    with pytest.raises(TicketValidationError) as refused:
        ticket_step_submit(step_id=current(ticket).pk, user=surveyor, data={**SURVEY_DATA, "final_reading": "1100"},
                           at=MONDAY)

    assert refused.value.errors == {"final_reading": ["本次示数1100小于上次有效示数1200.00"]}
    assert snapshot(ticket) == before
    ticket_step_submit(step_id=current(ticket).pk, user=surveyor, data={**SURVEY_DATA, "final_reading": "1300"},
                       at=MONDAY)
    assert current(ticket).step_definition.code == "archive"


def test_a_submission_records_the_data_and_follows_the_conditional_branch(process, account, agent):
    surveyed = open_ticket(account)
    direct = open_ticket(account)

    ticket_step_submit(step_id=current(surveyed).pk, user=agent, data={**ACCEPT_DATA, "needs_survey": "on"},
                       note="客户很着急", at=MONDAY + datetime.timedelta(hours=1))
    ticket_step_submit(step_id=current(direct).pk, user=agent, data=ACCEPT_DATA, at=MONDAY)

    surveyed.refresh_from_db()
    done = surveyed.steps.get(sequence=1)
    assert (done.state, done.finished_by, done.assignee, done.note) == ("completed", agent, agent, "客户很着急")
    assert done.finished_at == MONDAY + datetime.timedelta(hours=1)
    assert done.data == {"needs_survey": True, "category": "fast"}
    assert surveyed.data == {"needs_survey": True, "category": "fast"}
    assert current(surveyed).step_definition.code == "survey"
    assert current(direct).step_definition.code == "archive"


def test_a_submitted_step_cannot_be_submitted_again(process, account, agent):
    ticket = open_ticket(account)
    step = current(ticket)
    ticket_step_submit(step_id=step.pk, user=agent, data=ACCEPT_DATA, at=MONDAY)

    with pytest.raises(StepNotActive):
        ticket_step_submit(step_id=step.pk, user=agent, data=ACCEPT_DATA, at=MONDAY)


def test_a_late_submission_leaves_an_overdue_evaluation(process, account, agent):
    ticket = open_ticket(account)

    ticket_step_submit(step_id=current(ticket).pk, user=agent, data=ACCEPT_DATA, at=local(2026, 11, 24, 11, 30))

    evaluation = Evaluation.objects.get()
    assert (evaluation.reason, evaluation.user, evaluation.post.code, evaluation.minutes_late) == (
        "overdue", agent, "agent", 90,
    )


# --- permissions, claim and assign --------------------------------------------------------------------------


def test_only_holders_of_the_post_in_the_branch_work_a_step(process, account, branch, surveyor):
    ticket = open_ticket(account)
    step = current(ticket)
    elsewhere = staff_user("agent", BranchFactory())
    inactive = staff_user("agent", branch, is_active=False)

    for outsider in (surveyor, elsewhere, inactive, None):
        with pytest.raises(TicketPermissionDenied):
            ticket_step_submit(step_id=step.pk, user=outsider, data=ACCEPT_DATA, at=MONDAY)
        with pytest.raises(TicketPermissionDenied):
            ticket_claim(step_id=step.pk, user=outsider)
    everywhere = staff_user("agent", None)
    ticket_claim(step_id=step.pk, user=everywhere)
    root = get_user_model().objects.create_superuser(username="root", password="x")
    ticket_step_submit(step_id=step.pk, user=root, data=ACCEPT_DATA, at=MONDAY)
    assert current(ticket).step_definition.code == "archive"


def test_a_claimed_step_belongs_to_its_holder(process, account, branch, agent):
    colleague = staff_user("agent", branch)
    WarningThreshold.objects.create(user=agent, minutes_before_due=30)
    ticket = open_ticket(account)
    step = current(ticket)

    claimed = ticket_claim(step_id=step.pk, user=agent, at=MONDAY)

    assert claimed.assignee == agent
    assert claimed.warn_at == local(2026, 11, 24, 9, 30)  # the holder's own threshold
    assert ticket_claim(step_id=step.pk, user=agent).assignee == agent  # claiming again changes nothing
    with pytest.raises(StepAlreadyClaimed):
        ticket_claim(step_id=step.pk, user=colleague)
    with pytest.raises(StepAlreadyClaimed):
        ticket_step_submit(step_id=step.pk, user=colleague, data=ACCEPT_DATA, at=MONDAY)
    event = ticket.events.get(kind="claimed")
    assert (event.actor, event.before["assignee"], event.after["assignee"]) == (agent, None, agent.pk)


def test_a_supervisor_assigns_to_a_post_holder_or_back_to_the_pool(process, account, branch, agent, supervisor,
                                                                  surveyor):
    ticket = open_ticket(account)
    step = current(ticket)

    with pytest.raises(TicketPermissionDenied):
        ticket_assign(step_id=step.pk, by=agent, assignee=agent)
    with pytest.raises(TicketPermissionDenied):
        ticket_assign(step_id=step.pk, by=supervisor, assignee=surveyor)
    assert ticket_assign(step_id=step.pk, by=supervisor, assignee=agent).assignee == agent
    assert ticket_assign(step_id=step.pk, by=supervisor, assignee=None).assignee is None

    assigned, pooled = ticket.events.filter(kind="assigned").order_by("id")
    assert (assigned.actor, assigned.before["assignee"], assigned.after["assignee"]) == (supervisor, None, agent.pk)
    assert (pooled.before["assignee"], pooled.after["assignee"]) == (agent.pk, None)


# --- suspend and resume -------------------------------------------------------------------------------------


def test_suspension_stops_the_clock_and_resumption_extends_it(process, account, agent):
    ticket = open_ticket(account)
    step = current(ticket)

    ticket_suspend(ticket_id=ticket.pk, user=agent, reason="客户外出，约定周三上门", at=MONDAY)

    ticket.refresh_from_db()
    step.refresh_from_db()
    assert (ticket.state, ticket.suspended_at, step.state) == ("suspended", MONDAY, "suspended")
    with pytest.raises(TicketNotOpen):
        ticket_step_submit(step_id=step.pk, user=agent, data=ACCEPT_DATA, at=MONDAY)
    with pytest.raises(TicketNotOpen):
        ticket_suspend(ticket_id=ticket.pk, user=agent, reason="again")

    ticket_resume(ticket_id=ticket.pk, user=agent, at=local(2026, 11, 25, 10))  # two working days later

    ticket.refresh_from_db()
    step.refresh_from_db()
    assert (ticket.state, ticket.suspended_at, step.state) == ("open", None, "active")
    assert step.due_at == local(2026, 11, 26, 10)
    assert step.warn_at == MONDAY + datetime.timedelta(days=2, hours=24 * 0.8)
    assert ticket.due_at == local(2026, 12, 2, 10)
    resumed = ticket.events.get(kind="resumed")
    assert datetime.datetime.fromisoformat(resumed.before["due_at"]) == local(2026, 11, 24, 10)
    assert datetime.datetime.fromisoformat(resumed.after["due_at"]) == local(2026, 11, 26, 10)
    with pytest.raises(TicketNotSuspended):
        ticket_resume(ticket_id=ticket.pk, user=agent)


def test_a_calendar_minute_step_is_extended_by_the_pause_itself(process, account, agent, surveyor):
    ticket = open_ticket(account)
    ticket_step_submit(step_id=current(ticket).pk, user=agent, data={**ACCEPT_DATA, "needs_survey": "on"}, at=MONDAY)
    survey = current(ticket)

    ticket_suspend(ticket_id=ticket.pk, user=surveyor, reason="客户不在家", at=MONDAY + datetime.timedelta(minutes=30))
    ticket_resume(ticket_id=ticket.pk, user=surveyor, at=MONDAY + datetime.timedelta(minutes=75))

    survey.refresh_from_db()
    assert survey.due_at == MONDAY + datetime.timedelta(minutes=120 + 45)


def test_only_the_step_holders_or_a_supervisor_suspend(process, account, surveyor, supervisor):
    ticket = open_ticket(account)

    with pytest.raises(TicketPermissionDenied):
        ticket_suspend(ticket_id=ticket.pk, user=surveyor, reason="x")
    ticket_suspend(ticket_id=ticket.pk, user=supervisor, reason="等待客户资料", at=MONDAY)
    assert Ticket.objects.get(pk=ticket.pk).state == "suspended"


# --- skip ---------------------------------------------------------------------------------------------------


def test_an_overdue_low_priority_step_is_skipped_with_an_evaluation(process, account, agent, clerk, supervisor):
    ticket = open_ticket(account)
    follow_up = to_follow_up(ticket, agent, clerk)
    ticket_claim(step_id=follow_up.pk, user=agent)
    late = follow_up.due_at + datetime.timedelta(minutes=45)

    with pytest.raises(StepNotSkippable):
        ticket_step_skip(step_id=follow_up.pk, reason="未接通", user=supervisor, at=follow_up.due_at
                         - datetime.timedelta(minutes=1))
    with pytest.raises(TicketPermissionDenied):
        ticket_step_skip(step_id=follow_up.pk, reason="未接通", user=agent, at=late)

    ticket_step_skip(step_id=follow_up.pk, reason="三次未接通", user=supervisor, at=late)

    follow_up.refresh_from_db()
    ticket.refresh_from_db()
    assert (follow_up.state, follow_up.finished_at) == ("skipped", late)
    evaluation = Evaluation.objects.get(reason="skipped")
    assert (evaluation.step, evaluation.post.code, evaluation.branch, evaluation.user) == (
        follow_up, "agent", account.branch, agent,
    )
    assert (evaluation.minutes_late, evaluation.note, evaluation.created_at) == (45, "三次未接通", late)
    assert (ticket.state, ticket.satisfaction, ticket.closed_at) == ("closed", None, late)
    skipped = ticket.events.get(kind="skipped")
    assert (skipped.actor, skipped.public, skipped.note) == (supervisor, False, "三次未接通")


def test_the_sla_scan_skips_automatically_without_a_user(process, account, agent, clerk):
    ticket = open_ticket(account)
    follow_up = to_follow_up(ticket, agent, clerk)

    ticket_step_skip(step_id=follow_up.pk, reason="超时自动跳过", automatic=True, at=follow_up.due_at)

    skipped = ticket.events.get(kind="skipped")
    assert (skipped.actor, skipped.actor_label, skipped.after) == (None, "系统", {"state": "skipped", "automatic": True})
    assert Evaluation.objects.get().user is None  # the step was still in the pool
    assert Ticket.objects.get(pk=ticket.pk).state == "closed"


def test_only_low_priority_steps_are_skippable(process, account, agent, supervisor):
    ticket = open_ticket(account)
    accept = current(ticket)  # NORMAL priority
    late = local(2026, 11, 25, 10)

    with pytest.raises(StepNotSkippable):
        ticket_step_skip(step_id=accept.pk, reason="x", user=supervisor, at=late)
    with pytest.raises(StepNotSkippable):
        ticket_step_skip(step_id=accept.pk, reason="x", automatic=True, at=late)
    ticket_step_submit(step_id=accept.pk, user=agent, data={**ACCEPT_DATA, "needs_survey": "on"}, at=MONDAY)
    with pytest.raises(StepNotSkippable):  # ESSENTIAL
        ticket_step_skip(step_id=current(ticket).pk, reason="x", user=supervisor, at=late)
    assert not Evaluation.objects.filter(reason="skipped").exists()


# --- return -------------------------------------------------------------------------------------------------


def test_a_return_goes_back_only_along_a_return_transition(process, account, agent, surveyor, clerk):
    ticket = open_ticket(account)
    ticket_step_submit(step_id=current(ticket).pk, user=agent, data={**ACCEPT_DATA, "needs_survey": "on"}, at=MONDAY)
    ticket_step_submit(step_id=current(ticket).pk, user=surveyor, data=SURVEY_DATA, at=MONDAY)
    archive = current(ticket)

    with pytest.raises(ReturnNotAllowed):
        ticket_step_return(step_id=archive.pk, user=clerk, to_step_code="accept", reason="资料不全")
    with pytest.raises(TicketValidationError):
        ticket_step_return(step_id=archive.pk, user=clerk, to_step_code="survey", reason=" ")
    with pytest.raises(TicketPermissionDenied):
        ticket_step_return(step_id=archive.pk, user=agent, to_step_code="survey", reason="资料不全")

    ticket_step_return(step_id=archive.pk, user=clerk, to_step_code="survey", reason="缺现场照片",
                       at=MONDAY + datetime.timedelta(hours=2))

    archive.refresh_from_db()
    again = current(ticket)
    assert (archive.state, archive.note) == ("returned", "缺现场照片")
    assert (again.step_definition.code, again.sequence, again.state) == ("survey", 4, "active")
    assert list(ticket.steps.values_list("step_definition__code", "state").order_by("sequence")) == [
        ("accept", "completed"), ("survey", "completed"), ("archive", "returned"), ("survey", "active"),
    ]
    returned = ticket.events.get(kind="returned")
    assert (returned.before, returned.after, returned.public) == (
        {"state": "active", "step": "archive"}, {"state": "returned", "step": "survey"}, False,
    )


# --- cancel -------------------------------------------------------------------------------------------------


def test_the_customer_or_a_supervisor_cancels(process, account, agent, supervisor):
    mine = open_ticket(account)
    other = open_ticket(account)

    with pytest.raises(TicketPermissionDenied):
        ticket_cancel(ticket_id=mine.pk, reason="不需要了", customer=CustomerFactory())
    with pytest.raises(TicketPermissionDenied):
        ticket_cancel(ticket_id=mine.pk, reason="不需要了", user=agent)
    ticket_cancel(ticket_id=mine.pk, reason="不需要了", customer=account.customer, at=MONDAY)
    ticket_cancel(ticket_id=other.pk, reason="重复工单", user=supervisor, at=MONDAY)

    mine.refresh_from_db()
    assert (mine.state, mine.current_step, mine.closed_at) == ("cancelled", None, MONDAY)
    assert mine.steps.get().state == "cancelled"
    cancelled = mine.events.get(kind="cancelled")
    assert (cancelled.actor_label, cancelled.public, cancelled.after["reason"]) == ("客户", True, "不需要了")
    assert other.events.get(kind="cancelled").actor == supervisor
    with pytest.raises(TicketNotOpen):
        ticket_cancel(ticket_id=mine.pk, reason="again", user=supervisor)


# --- close and rate -----------------------------------------------------------------------------------------


def test_the_follow_up_satisfaction_is_kept_when_the_ticket_closes(process, account, agent, clerk):
    ticket = open_ticket(account)
    follow_up = to_follow_up(ticket, agent, clerk)

    ticket_step_submit(step_id=follow_up.pk, user=agent, data={"satisfaction": "5"}, at=MONDAY)

    ticket.refresh_from_db()
    assert (ticket.state, ticket.satisfaction, ticket.current_step) == ("closed", 5, None)
    closed = ticket.events.get(kind="closed")
    assert (closed.before["state"], closed.after) == ("open", {"state": "closed", "current_step": None,
                                                                "satisfaction": 5})
    with pytest.raises(TicketAlreadyRated):
        ticket_rate(ticket_id=ticket.pk, satisfaction=3, customer=account.customer)


def test_the_customer_rates_a_closed_ticket_once(process, account, agent, clerk):
    ticket = open_ticket(account)
    follow_up = to_follow_up(ticket, agent, clerk)

    with pytest.raises(TicketNotClosed):
        ticket_rate(ticket_id=ticket.pk, satisfaction=4, customer=account.customer)
    ticket_step_submit(step_id=follow_up.pk, user=agent, data={}, at=MONDAY)
    with pytest.raises(TicketValidationError) as out_of_range:
        ticket_rate(ticket_id=ticket.pk, satisfaction=6, customer=account.customer)
    assert out_of_range.value.errors == {"satisfaction": ["满意度应为1到5分"]}
    with pytest.raises(TicketPermissionDenied):
        ticket_rate(ticket_id=ticket.pk, satisfaction=4, customer=CustomerFactory())

    ticket_rate(ticket_id=ticket.pk, satisfaction=4, comment="师傅很专业", customer=account.customer, at=MONDAY)

    ticket.refresh_from_db()
    assert (ticket.satisfaction, ticket.satisfaction_comment) == (4, "师傅很专业")
    rated = ticket.events.get(kind="rated")
    assert (rated.before, rated.after, rated.public) == (
        {"satisfaction": None}, {"satisfaction": 4, "comment": "师傅很专业"}, True,
    )
    with pytest.raises(TicketAlreadyRated):
        ticket_rate(ticket_id=ticket.pk, satisfaction=5, customer=account.customer)


# --- the event trail and the version pin --------------------------------------------------------------------


def test_every_change_leaves_an_unchanged_event_with_before_and_after(process, account, agent, clerk, surveyor):
    ticket = open_ticket(account, opened_by=agent)
    trail = []

    def record():
        rows = list(TicketEvent.objects.filter(ticket=ticket).order_by("id").values())
        assert rows[: len(trail)] == trail  # what was written is never rewritten
        trail[:] = rows

    record()
    ticket_claim(step_id=current(ticket).pk, user=agent, at=MONDAY)
    record()
    ticket_step_submit(step_id=current(ticket).pk, user=agent, data={**ACCEPT_DATA, "needs_survey": "1"}, at=MONDAY)
    record()
    ticket_suspend(ticket_id=ticket.pk, user=surveyor, reason="客户不在家", at=MONDAY)
    record()
    ticket_resume(ticket_id=ticket.pk, user=surveyor, at=MONDAY + datetime.timedelta(minutes=10))
    record()
    ticket_step_submit(step_id=current(ticket).pk, user=surveyor, data=SURVEY_DATA, at=MONDAY)
    record()
    ticket_step_submit(step_id=current(ticket).pk, user=clerk, data={"archived": True}, at=MONDAY)
    record()
    ticket_step_submit(step_id=current(ticket).pk, user=agent, data={"satisfaction": 4}, at=MONDAY)
    record()

    assert [row["kind"] for row in trail] == [
        "opened", "arrived", "claimed", "submitted", "arrived", "suspended", "resumed",
        "submitted", "arrived", "submitted", "arrived", "submitted", "closed",
    ]
    submitted = TicketEvent.objects.filter(ticket=ticket, kind="submitted").order_by("id").first()
    assert submitted.before == {"state": "active", "data": {"needs_survey": None, "category": None}}
    assert submitted.after == {"state": "completed", "data": {"needs_survey": True, "category": "fast"}}
    assert (submitted.actor, submitted.actor_label, submitted.public) == (agent, "李四", False)
    suspended = TicketEvent.objects.get(ticket=ticket, kind="suspended")
    assert suspended.after["reason"] == "客户不在家"
    ticket.refresh_from_db()
    assert ticket.version == 12  # every write of the ticket row bumps its version (12 writes above)


def test_a_running_ticket_keeps_its_process_version(account, agent, clerk):
    first = sample_process()
    running = open_ticket(account)

    second = sample_process()
    ticket_step_submit(step_id=current(running).pk, user=agent, data=ACCEPT_DATA, at=MONDAY)
    fresh = open_ticket(account)

    running.refresh_from_db()
    assert running.definition == first.definition
    assert current(running).step_definition == first.archive
    assert fresh.definition == second.definition
    assert current(fresh).step_definition == second.accept


def test_an_sla_mark_is_recorded_as_an_event(process, account):
    ticket = open_ticket(account)
    step = current(ticket)

    event = ticket_event_record(ticket=ticket, step=step, kind="warned", at=MONDAY, after={"warned_at": "x"})

    assert (event.kind, event.actor, event.actor_label, event.public) == ("warned", None, "系统", False)


def test_ticket_changed_is_sent_once_per_event_after_commit(process, account, agent,
                                                            django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    ticket_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            ticket = open_ticket(account)
            ticket_step_submit(step_id=current(ticket).pk, user=agent, data=ACCEPT_DATA, at=MONDAY)
        assert received == []
        for callback in callbacks:
            callback()
    finally:
        ticket_changed.disconnect(receiver)

    events = list(ticket.events.order_by("id"))
    assert [(r["event_id"], r["kind"], r["step_id"], r["ticket_id"]) for r in received] == [
        (e.pk, e.kind, e.step_id, ticket.pk) for e in events
    ]
    assert [e.kind for e in events] == ["opened", "arrived", "submitted", "arrived"]


def test_a_refused_submission_sends_nothing(process, account, agent, django_capture_on_commit_callbacks):
    ticket = open_ticket(account)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with pytest.raises(TicketValidationError):
            ticket_step_submit(step_id=current(ticket).pk, user=agent, data={}, at=MONDAY)

    assert callbacks == []


def test_the_portal_user_who_opened_a_ticket_rates_it(process, account, agent, clerk, django_user_model):
    portal_user = django_user_model.objects.create_user("13800138009")
    stranger = django_user_model.objects.create_user("13800138010")
    ticket = open_ticket(account, channel="portal", opened_by=portal_user)
    to_follow_up(ticket, agent, clerk)
    ticket_step_submit(step_id=current(ticket).pk, user=agent, data={}, at=MONDAY)
    with pytest.raises(TicketPermissionDenied):
        ticket_rate(ticket_id=ticket.pk, satisfaction=4, user=stranger)

    ticket_rate(ticket_id=ticket.pk, satisfaction=4, user=portal_user, at=MONDAY)

    ticket.refresh_from_db()
    assert ticket.satisfaction == 4
    assert ticket.events.get(kind="rated").actor_label == "客户"
