"""The staff work queue /staff/queue/ through HTTP: who may see it, what it lists, in which order, with which badges."""
import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Channel, Ticket, TicketStep
from tests import ticket_factories
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db

URL = "/staff/queue/"
HOUR = datetime.timedelta(hours=1)
_numbers = iter(range(1, 100000))


def viewer(user):
    """Staff roles carry core.view_ticket; the factories' users get it here."""
    user.user_permissions.add(Permission.objects.get(codename="view_ticket", content_type__app_label="core"))
    return get_user_model().objects.get(pk=user.pk)


def ticket_at_step(step_definition, *, branch, due_in, warn_in=None, assignee=None, summary="电能表走快",
                   state=TicketStep.State.ACTIVE):
    """A ticket standing at one step with chosen due and warning times, built directly (the page only reads it)."""
    now = timezone.now()
    ticket = Ticket.objects.create(
        number=f"250101{next(_numbers):05d}", definition=step_definition.definition,
        business_type=step_definition.definition.business_type, channel=Channel.AGENT, branch=branch,
        summary=summary, opened_at=now - 48 * HOUR,
        state=Ticket.State.SUSPENDED if state == TicketStep.State.SUSPENDED else Ticket.State.OPEN,
    )
    step = TicketStep.objects.create(
        ticket=ticket, step_definition=step_definition, sequence=1, state=state, post=step_definition.post,
        branch=branch, assignee=assignee, arrived_at=now - 48 * HOUR, due_at=now + due_in,
        warn_at=now + (warn_in if warn_in is not None else due_in - 2 * HOUR),
    )
    ticket.current_step = step
    ticket.save(update_fields=["current_step"])
    return ticket


@pytest.fixture
def world():
    branch, other_branch = BranchFactory(name="恩施市"), BranchFactory(name="利川市")
    process = ticket_factories.sample_process()
    return {
        "branch": branch, "other_branch": other_branch, "process": process,
        "clerk": viewer(ticket_factories.staff_user("surveyor", branch, username="zhangsan")),
        "colleague": viewer(ticket_factories.staff_user("surveyor", branch, username="lisi")),
    }


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/staff/queue/")


def test_a_customer_is_refused(client):
    client.force_login(get_user_model().objects.create_user("customer", password="pw"))

    assert client.get(URL).status_code == 403


def test_staff_without_the_ticket_view_permission_are_refused(client):
    client.force_login(ticket_factories.staff_user("surveyor", BranchFactory()))

    assert client.get(URL).status_code == 403


def test_my_steps_and_my_posts_pool_sorted_by_due_time_with_badges(client, world):
    survey, branch, clerk = world["process"].survey, world["branch"], world["clerk"]
    mine_later = ticket_at_step(survey, branch=branch, due_in=30 * HOUR, assignee=clerk)
    mine_overdue = ticket_at_step(survey, branch=branch, due_in=-HOUR, assignee=clerk)
    mine_warning = ticket_at_step(survey, branch=branch, due_in=HOUR, assignee=clerk)
    pool_normal = ticket_at_step(survey, branch=branch, due_in=10 * HOUR)
    pool_overdue = ticket_at_step(survey, branch=branch, due_in=-3 * HOUR)
    ticket_at_step(survey, branch=world["other_branch"], due_in=HOUR)  # another branch's pool
    ticket_at_step(world["process"].accept, branch=branch, due_in=HOUR)  # another post's pool
    ticket_at_step(survey, branch=branch, due_in=HOUR, assignee=world["colleague"])  # a colleague's step
    client.force_login(clerk)

    response = client.get(URL)

    assert response.status_code == 200
    work = response.context["work"]
    assert [(row.ticket.number, row.badge) for row in work.mine] == [
        (mine_overdue.number, "overdue"), (mine_warning.number, "warning"), (mine_later.number, "normal"),
    ]
    assert [(row.ticket.number, row.badge) for row in work.pool] == [
        (pool_overdue.number, "overdue"), (pool_normal.number, "normal"),
    ]
    page = response.content.decode()
    assert page.count('<span class="badge badge--overdue">已超时</span>') == 2
    assert page.count('<span class="badge badge--warning">即将超时</span>') == 1
    assert page.count('<span class="badge badge--normal">正常</span>') == 2
    assert page.count("领取</button>") == 2
    assert "已超时 2 件，即将超时 1 件" in page
    assert f'action="/staff/steps/{pool_overdue.current_step_id}/claim/"' in page
    assert 'src="/static/core/staff/queue.js"' in page


def test_an_assignment_without_a_branch_sees_the_pool_of_every_branch(client, world):
    survey = world["process"].survey
    roaming = viewer(ticket_factories.staff_user("surveyor", None))
    here = ticket_at_step(survey, branch=world["branch"], due_in=2 * HOUR)
    there = ticket_at_step(survey, branch=world["other_branch"], due_in=HOUR)
    client.force_login(roaming)

    work = client.get(URL).context["work"]

    assert [row.ticket.number for row in work.pool] == [there.number, here.number]


def test_a_suspended_step_stays_in_my_queue_with_its_clock_stopped(client, world):
    clerk = world["clerk"]
    ticket_at_step(world["process"].survey, branch=world["branch"], due_in=-HOUR, assignee=clerk,
                   state=TicketStep.State.SUSPENDED)
    client.force_login(clerk)

    response = client.get(URL)

    assert [row.badge for row in response.context["work"].mine] == ["suspended"]
    assert '<span class="badge badge--suspended">已挂起</span>' in response.content.decode()


def test_the_fragment_is_only_the_tables_for_the_live_refresh(client, world):
    ticket = ticket_at_step(world["process"].survey, branch=world["branch"], due_in=HOUR)
    client.force_login(world["clerk"])

    page = client.get(URL, {"fragment": "1"}).content.decode()

    assert ticket.number in page
    assert "<html" not in page
    assert 'id="queue-pool"' in page


def _queries_for_queue(client, world, count):
    for index in range(count):
        ticket_at_step(world["process"].survey, branch=world["branch"], due_in=(index + 1) * HOUR,
                       assignee=world["clerk"] if index % 2 else None)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    assert response.context["work"].total == count
    return len(queries)


def test_the_queue_runs_the_same_few_queries_for_3_or_30_steps(client, world):
    client.force_login(world["clerk"])
    few = _queries_for_queue(client, world, 3)
    Ticket.objects.all().delete()

    many = _queries_for_queue(client, world, 30)

    assert few == many == 7
