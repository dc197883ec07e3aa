"""The supervision page /staff/supervision/ and its CSV export through HTTP: counts by branch, business type, step
and post, each person's workload and on-time rate, skipped steps, evaluations and the weekly on-time chart."""
import csv
import datetime
import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import BusinessType, Channel, Evaluation, Ticket, TicketStep
from core.services.roles import ROLE_NAMES, ROLE_SUPERVISOR
from tests import ticket_factories
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db

URL = "/staff/supervision/"
EXPORT_URL = "/staff/supervision/export.csv"
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
_numbers = iter(range(1, 100000))


def this_monday() -> datetime.datetime:
    today = timezone.localtime().date()
    monday = today - datetime.timedelta(days=today.weekday())
    return datetime.datetime.combine(monday, datetime.time(10), tzinfo=ticket_factories.SHANGHAI)


def step_record(step_definition, *, branch, state=TicketStep.State.ACTIVE, due_at, warn_at=None, assignee=None,
                finished_at=None):
    """One visit of a ticket to a step, built directly with the times the figures depend on."""
    ticket = Ticket.objects.create(
        number=f"250202{next(_numbers):05d}", definition=step_definition.definition,
        business_type=step_definition.definition.business_type, channel=Channel.PORTAL, branch=branch,
        summary="计量异常", opened_at=due_at - 10 * DAY,
        state=Ticket.State.SUSPENDED if state == TicketStep.State.SUSPENDED else Ticket.State.OPEN,
    )
    step = TicketStep.objects.create(
        ticket=ticket, step_definition=step_definition, sequence=1, state=state, post=step_definition.post,
        branch=branch, assignee=assignee, arrived_at=due_at - 5 * DAY, due_at=due_at,
        warn_at=warn_at or due_at - 2 * HOUR, finished_at=finished_at,
    )
    if state in (TicketStep.State.ACTIVE, TicketStep.State.SUSPENDED):
        ticket.current_step = step
        ticket.save(update_fields=["current_step"])
    return step


@pytest.fixture
def world():
    now = timezone.now()
    enshi, lichuan = BranchFactory(name="恩施市"), BranchFactory(name="利川市")
    p = ticket_factories.sample_process()
    agent = ticket_factories.staff_user("agent", enshi, username="agent1", last_name="张", first_name="三")
    clerk = ticket_factories.staff_user("counter_clerk", enshi, username="clerk1")
    last_week, two_weeks_ago = this_monday() - 7 * DAY, this_monday() - 14 * DAY
    completed, skipped = TicketStep.State.COMPLETED, TicketStep.State.SKIPPED

    # Open now: overdue, warning and normal in 恩施市; normal and suspended in 利川市.
    step_record(p.survey, branch=enshi, due_at=now - HOUR)
    step_record(p.survey, branch=enshi, due_at=now + HOUR, warn_at=now - HOUR)
    step_record(p.accept, branch=enshi, due_at=now + 10 * HOUR, assignee=agent)
    step_record(p.archive, branch=lichuan, due_at=now + 10 * HOUR)
    step_record(p.archive, branch=lichuan, due_at=now - 5 * HOUR, state=TicketStep.State.SUSPENDED)
    # Finished in the period: last week one on time, one late, one skipped; two weeks ago one on time.
    step_record(p.accept, branch=enshi, state=completed, assignee=agent, due_at=last_week + 2 * DAY,
                finished_at=last_week + DAY)
    late = step_record(p.accept, branch=enshi, state=completed, assignee=agent, due_at=last_week + DAY,
                       finished_at=last_week + 2 * DAY)
    skipped_step = step_record(p.follow_up, branch=lichuan, state=skipped, due_at=last_week + 2 * DAY,
                               finished_at=last_week + 3 * DAY)
    step_record(p.archive, branch=enshi, state=completed, assignee=clerk, due_at=two_weeks_ago + 2 * DAY,
                finished_at=two_weeks_ago + DAY)
    # Finished long before the default twelve weeks: left out.
    step_record(p.accept, branch=enshi, state=completed, assignee=agent, due_at=now - 200 * DAY,
                finished_at=now - 199 * DAY)
    for step, reason, minutes in ((late, "overdue", 1440), (skipped_step, "skipped", 1440)):
        Evaluation.objects.create(
            step=step, ticket=step.ticket, post=step.post, branch=step.branch, user=step.assignee, reason=reason,
            minutes_late=minutes, created_at=step.finished_at, note="超时",
        )
    supervisor = ticket_factories.supervisor_user(enshi, username="banzhang")
    return {"enshi": enshi, "lichuan": lichuan, "process": p, "supervisor": supervisor, "agent": agent,
            "last_week": last_week, "two_weeks_ago": two_weeks_ago, "skipped": skipped_step}


def figures(row):
    return (row.label, row.open, row.warning, row.overdue, row.finished, row.on_time, row.on_time_rate_display)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    assert client.get(URL)["Location"] == "/accounts/login/?next=/staff/supervision/"


def test_staff_who_are_not_supervisors_are_refused(client, world):
    agent = world["agent"]
    agent.user_permissions.add(Permission.objects.get(codename="view_ticket", content_type__app_label="core"))
    client.force_login(agent)

    assert client.get(URL).status_code == 403
    assert client.get(EXPORT_URL).status_code == 403


def test_the_supervisor_role_opens_the_page(client, world):
    member = get_user_model().objects.create_user("banzhang2", password="pw", is_staff=True)
    member.groups.add(Group.objects.get(name=ROLE_NAMES[ROLE_SUPERVISOR]))
    client.force_login(member)

    assert client.get(URL).status_code == 200


def test_counts_by_branch_type_step_post_and_person(client, world):
    client.force_login(world["supervisor"])

    response = client.get(URL)

    assert response.status_code == 200
    summary = response.context["summary"]
    assert figures(summary.totals) == ("合计", 5, 1, 1, 4, 2, "50.0%")
    assert [figures(row) for row in summary.by_branch] == [
        ("恩施市", 3, 1, 1, 3, 2, "66.7%"),
        ("利川市", 2, 0, 0, 1, 0, "0.0%"),
    ]
    assert [figures(row) for row in summary.by_business_type] == [("计量异常", 5, 1, 1, 4, 2, "50.0%")]
    assert [figures(row) for row in summary.by_step] == [
        ("计量异常 · 受理", 1, 0, 0, 2, 1, "50.0%"),
        ("计量异常 · 现场勘查", 2, 1, 1, 0, 0, "—"),
        ("计量异常 · 资料归档", 2, 0, 0, 1, 1, "100.0%"),
        ("计量异常 · 回访", 0, 0, 0, 1, 0, "0.0%"),
    ]
    assert [figures(row) for row in summary.by_post] == [
        ("95598坐席", 1, 0, 0, 3, 1, "33.3%"),
        ("营业厅受理员", 2, 0, 0, 1, 1, "100.0%"),
        ("勘查员", 2, 1, 1, 0, 0, "—"),
    ]
    assert [figures(row) for row in summary.by_person] == [
        ("张三", 1, 0, 0, 2, 1, "50.0%"),
        ("clerk1", 0, 0, 0, 1, 1, "100.0%"),
    ]
    assert [row.step.pk for row in summary.skipped_steps] == [world["skipped"].pk]
    assert [(row.evaluation.reason, row.evaluation.minutes_late, row.user_name) for row in summary.evaluations] == [
        ("skipped", 1440, ""), ("overdue", 1440, "张三")]
    page = response.content.decode()
    assert "人员工作量与按时率" in page
    assert "超时跳过" in page and "超时办理" in page


def test_the_weekly_on_time_chart_is_inline_svg(client, world):
    client.force_login(world["supervisor"])

    response = client.get(URL)

    weeks = [(w.week_start, w.finished, w.on_time, w.rate) for w in response.context["summary"].weekly]
    assert [week[1:3] for week in weeks] == [(1, 1), (3, 1)]
    assert [week[0] for week in weeks] == [world["two_weeks_ago"].date(), world["last_week"].date()]
    chart = response.context["chart"]
    assert [(point.value_text, point.y) for point in chart.points] == [("100.0%", 16), ("33.3%", 141)]
    page = response.content.decode()
    assert '<svg class="chart"' in page
    assert f'<polyline class="chart__line" points="{chart.polyline}">' in page
    assert "<script" not in page.split('<svg class="chart"')[1].split("</svg>")[0]


def test_filters_narrow_every_figure(client, world):
    client.force_login(world["supervisor"])

    by_branch = client.get(URL, {"branch": world["lichuan"].pk}).context["summary"]
    assert figures(by_branch.totals) == ("合计", 2, 0, 0, 1, 0, "0.0%")
    assert [row.evaluation.reason for row in by_branch.evaluations] == ["skipped"]

    by_post = client.get(URL, {"post": world["process"].survey.post_id}).context["summary"]
    assert figures(by_post.totals) == ("合计", 2, 1, 1, 0, 0, "—")

    other_type = client.get(URL, {"business_type": BusinessType.COMPLAINT}).context["summary"]
    assert figures(other_type.totals) == ("合计", 0, 0, 0, 0, 0, "—")

    last_week = world["last_week"].date()
    period = client.get(URL, {"date_from": last_week, "date_to": last_week + datetime.timedelta(days=6)})
    summary = period.context["summary"]
    assert figures(summary.totals) == ("合计", 5, 1, 1, 3, 1, "33.3%")
    assert [w.week_start for w in summary.weekly] == [last_week]


def test_a_reversed_date_range_is_explained(client, world):
    client.force_login(world["supervisor"])

    response = client.get(URL, {"date_from": "2026-03-10", "date_to": "2026-03-01"})

    assert response.status_code == 200
    assert response.context["form"].errors == {"date_to": ["结束日期不能早于开始日期"]}


def test_csv_export_has_the_same_figures_as_the_page(client, world):
    client.force_login(world["supervisor"])

    response = client.get(EXPORT_URL, {"branch": world["enshi"].pk})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="supervision-')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "统计期间"
    assert rows[1] == ["分组", "名称", "在办", "预警", "超时", "期间完成", "按时完成", "按时率"]
    assert rows[2:] == [
        ["合计", "合计", "3", "1", "1", "3", "2", "66.7%"],
        ["按县公司", "恩施市", "3", "1", "1", "3", "2", "66.7%"],
        ["按业务类型", "计量异常", "3", "1", "1", "3", "2", "66.7%"],
        ["按环节", "计量异常 · 受理", "1", "0", "0", "2", "1", "50.0%"],
        ["按环节", "计量异常 · 现场勘查", "2", "1", "1", "0", "0", "—"],
        ["按环节", "计量异常 · 资料归档", "0", "0", "0", "1", "1", "100.0%"],
        ["按岗位", "95598坐席", "1", "0", "0", "2", "1", "50.0%"],
        ["按岗位", "营业厅受理员", "0", "0", "0", "1", "1", "100.0%"],
        ["按岗位", "勘查员", "2", "1", "1", "0", "0", "—"],
        ["按人员", "张三", "1", "0", "0", "2", "1", "50.0%"],
        ["按人员", "clerk1", "0", "0", "0", "1", "1", "100.0%"],
    ]


def _supervision_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    return len(queries)


def test_the_page_runs_the_same_queries_however_many_tickets(client, world):
    client.force_login(world["supervisor"])
    few = _supervision_queries(client)
    now, p = timezone.now(), world["process"]
    for index in range(20):
        branch = BranchFactory(name=f"县公司{index}")
        step_record(p.survey, branch=branch, due_at=now - HOUR)
        done = step_record(p.archive, branch=branch, state=TicketStep.State.SKIPPED, due_at=now - 3 * DAY,
                           finished_at=now - 2 * DAY)
        Evaluation.objects.create(step=done, ticket=done.ticket, post=done.post, branch=branch, reason="skipped",
                                  created_at=now - 2 * DAY)

    many = _supervision_queries(client)

    assert few == many == 15
