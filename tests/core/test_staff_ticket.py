"""The staff ticket page /staff/tickets/<number>/ and its actions, through HTTP and the engine's services."""
import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from core.models import Channel, Evaluation, Ticket, TicketEvent, TicketStep
from core.services.tickets import ticket_claim, ticket_open, ticket_step_submit
from tests import ticket_factories
from tests.factories import AccountFactory, BranchFactory, ServiceStationFactory

pytestmark = pytest.mark.django_db


def viewer(user):
    user.user_permissions.add(Permission.objects.get(codename="view_ticket", content_type__app_label="core"))
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def world():
    branch = BranchFactory(name="恩施市")
    process = ticket_factories.sample_process()
    account = AccountFactory(station=ServiceStationFactory(branch=branch), name="王小明",
                             address="恩施市舞阳坝街道1号")
    agent = viewer(ticket_factories.staff_user("agent", branch, username="agent1"))
    ticket = ticket_open(
        business_type=ticket_factories.TEST_BUSINESS_TYPE, channel=Channel.AGENT, summary="电能表走得太快",
        account=account, contact_phone="13800000001", opened_by=agent,
    )
    return {"branch": branch, "process": process, "account": account, "agent": agent, "ticket": ticket}


def url(ticket, action=""):
    return f"/staff/tickets/{ticket.number}/" + (f"{action}/" if action else "")


def current(ticket) -> TicketStep:
    return Ticket.objects.get(pk=ticket.pk).current_step


# --- access ---------------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    response = client.get(url(world["ticket"]))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_customer_is_refused(client, world):
    client.force_login(get_user_model().objects.create_user("customer", password="pw"))

    assert client.get(url(world["ticket"])).status_code == 403


def test_staff_of_another_branch_are_refused(client, world):
    client.force_login(viewer(ticket_factories.staff_user("agent", BranchFactory(name="利川市"))))

    assert client.get(url(world["ticket"])).status_code == 403
    assert client.post(url(world["ticket"], "suspend"), {"suspend-reason": "x"}).status_code == 403


def test_staff_of_the_branch_and_supervisors_of_any_branch_see_it(client, world):
    client.force_login(viewer(ticket_factories.staff_user("counter_clerk", world["branch"])))
    assert client.get(url(world["ticket"])).status_code == 200

    client.force_login(viewer(ticket_factories.supervisor_user(BranchFactory())))
    assert client.get(url(world["ticket"])).status_code == 200


def test_an_auditor_of_any_branch_reads_it_but_cannot_act(client, world):
    from django.contrib.auth.models import Group

    from core.services.roles import ROLE_AUDITOR, ROLE_NAMES

    auditor = viewer(ticket_factories.staff_user("agent", BranchFactory(name="鹤峰县")))
    auditor.groups.add(Group.objects.get(name=ROLE_NAMES[ROLE_AUDITOR]))
    client.force_login(auditor)

    assert client.get(url(world["ticket"])).status_code == 200
    refused = client.post(url(world["ticket"], "suspend"), {"suspend-reason": "x"}, follow=True)
    assert [str(note) for note in refused.context["messages"]] == ["您没有办理该工单环节的权限"]
    world["ticket"].refresh_from_db()
    assert world["ticket"].state == Ticket.State.OPEN


def test_an_unknown_number_is_not_found(client, world):
    client.force_login(world["agent"])

    assert client.get("/staff/tickets/99999999999/").status_code == 404


# --- the page -------------------------------------------------------------------------------------------------


def test_the_page_shows_the_customer_the_account_the_map_and_the_history(client, world):
    client.force_login(world["agent"])

    response = client.get(url(world["ticket"]))

    page = response.content.decode()
    assert response.status_code == 200
    assert world["account"].number in page
    assert "王小明" in page
    assert "恩施市舞阳坝街道1号" in page
    assert "13800000001" in page
    nodes = [(node.step.code, node.status) for node in response.context["detail"].process_map]
    assert nodes == [("accept", "current"), ("survey", "pending"), ("archive", "pending"), ("follow_up", "pending")]
    assert ('<li class="process-map__node process-map__node--current" aria-current="step">\n'
            '      <span class="process-map__name">受理</span>') in page
    assert [(row.event.kind, row.actor_name) for row in response.context["detail"].events] == [
        ("opened", "agent1"), ("arrived", "agent1")]
    assert "领取</button>" in page
    # The accept step's own inputs, from its definition.
    assert 'name="field_category"' in page and 'name="field_needs_survey"' in page
    assert '<option value="fast">走快</option>' in page


def test_claim_from_the_pool_takes_the_step_and_opens_the_ticket(client, world):
    ticket, agent = world["ticket"], world["agent"]
    client.force_login(agent)

    response = client.post(f"/staff/steps/{ticket.current_step_id}/claim/")

    assert (response.status_code, response["Location"]) == (302, url(ticket))
    assert current(ticket).assignee == agent
    assert TicketEvent.objects.filter(ticket=ticket, kind="claimed", actor=agent).count() == 1
    assert "已领取工单" in client.get(url(ticket)).content.decode()


def test_a_claim_by_someone_without_the_post_is_refused_with_the_engines_message(client, world):
    ticket = world["ticket"]
    client.force_login(viewer(ticket_factories.staff_user("counter_clerk", world["branch"])))

    response = client.post(f"/staff/steps/{ticket.current_step_id}/claim/", follow=True)

    assert response.status_code == 200
    assert current(ticket).assignee is None
    assert [str(m) for m in response.context["messages"]] == ["您没有办理该工单环节的权限"]


def test_submit_with_errors_shows_them_per_field_and_changes_nothing(client, world):
    ticket, agent = world["ticket"], world["agent"]
    ticket_claim(step_id=ticket.current_step_id, user=agent)
    events_before = TicketEvent.objects.filter(ticket=ticket).count()
    client.force_login(agent)

    response = client.post(url(ticket, "submit"), {"step_id": ticket.current_step_id, "field_category": ""})

    assert response.status_code == 200
    form = response.context["step_form"]
    assert form.errors == {"field_category": ["此项为必填项"]}
    assert '<ul class="errorlist" id="id_field_category_error"><li>此项为必填项</li></ul>' in response.content.decode()
    step = current(ticket)
    assert (step.state, step.step_definition.code, step.data) == ("active", "accept", {})
    assert TicketEvent.objects.filter(ticket=ticket).count() == events_before


def test_a_horizontal_check_is_shown_against_its_field_and_the_input_is_kept(client, world):
    ticket, agent = world["ticket"], world["agent"]
    ticket_step_submit(step_id=ticket.current_step_id, user=agent, data={"category": "fast", "needs_survey": True})
    surveyor = viewer(ticket_factories.staff_user("surveyor", world["branch"]))
    step_id = current(ticket).pk
    client.force_login(surveyor)

    response = client.post(url(ticket, "submit"), {
        "step_id": step_id, "field_start_at": "2026-11-23T10:00", "field_end_at": "2026-11-23T09:00",
        "field_error_percent": "3.5",
    })

    assert response.context["step_form"].errors == {"field_end_at": ["结束时间必须晚于开始时间"]}
    page = response.content.decode()
    assert 'value="3.5"' in page
    assert TicketStep.objects.get(pk=step_id).state == "active"


def test_submit_moves_the_ticket_on(client, world):
    ticket, agent = world["ticket"], world["agent"]
    ticket_claim(step_id=ticket.current_step_id, user=agent)
    client.force_login(agent)

    response = client.post(url(ticket, "submit"), {
        "step_id": ticket.current_step_id, "field_category": "fast", "field_needs_survey": "on", "note": "客户在家",
    })

    assert (response.status_code, response["Location"]) == (302, url(ticket))
    ticket.refresh_from_db()
    assert ticket.current_step.step_definition.code == "survey"
    assert ticket.data == {"category": "fast", "needs_survey": True}
    done = TicketStep.objects.get(ticket=ticket, sequence=1)
    assert (done.state, done.note) == ("completed", "客户在家")
    page = client.get(url(ticket)).content.decode()
    assert "已提交" in page
    assert [(n.step.code, n.status) for n in client.get(url(ticket)).context["detail"].process_map][:2] == [
        ("accept", "done"), ("survey", "current")]


def test_a_stale_form_for_a_step_already_moved_on_is_refused(client, world):
    ticket, agent = world["ticket"], world["agent"]
    old_step_id = ticket.current_step_id
    ticket_step_submit(step_id=old_step_id, user=agent, data={"category": "slow"})
    client.force_login(agent)

    response = client.post(url(ticket, "submit"), {"step_id": old_step_id, "field_category": "fast"}, follow=True)

    assert [str(m) for m in response.context["messages"]] == ["该工单的当前环节已变化，请查看最新状态后再操作"]
    assert Ticket.objects.get(pk=ticket.pk).data == {"category": "slow"}


def test_return_suspend_and_resume(client, world):
    ticket, agent = world["ticket"], world["agent"]
    ticket_step_submit(step_id=ticket.current_step_id, user=agent, data={"category": "fast", "needs_survey": True})
    surveyor = viewer(ticket_factories.staff_user("surveyor", world["branch"]))
    client.force_login(surveyor)

    page = client.get(url(ticket)).content.decode()
    assert '<option value="accept">受理</option>' in page

    response = client.post(url(ticket, "return"), {"step_id": current(ticket).pk, "to_step_code": "accept",
                                                   "reason": "类别填写有误"})
    assert response.status_code == 302
    assert current(ticket).step_definition.code == "accept"

    client.force_login(agent)
    response = client.post(url(ticket, "suspend"), {"suspend-reason": ""})
    assert response.context["suspend_form"].errors == {"reason": ["此项为必填项"]}
    assert Ticket.objects.get(pk=ticket.pk).state == "open"

    client.post(url(ticket, "suspend"), {"suspend-reason": "等待客户提供资料"})
    assert (Ticket.objects.get(pk=ticket.pk).state, current(ticket).state) == ("suspended", "suspended")
    assert "恢复办理</button>" in client.get(url(ticket)).content.decode()

    client.post(url(ticket, "resume"))
    assert (Ticket.objects.get(pk=ticket.pk).state, current(ticket).state) == ("open", "active")


def test_a_supervisor_assigns_and_skips_an_overdue_low_priority_step(client, world):
    ticket, agent = world["ticket"], world["agent"]
    long_ago = timezone.now() - datetime.timedelta(days=30)
    ticket = Ticket.objects.get(pk=ticket.pk)
    # Walk the ticket to the follow-up call a month ago, so it is long overdue now.
    ticket_step_submit(step_id=ticket.current_step_id, user=agent, data={"category": "fast"}, at=long_ago)
    clerk = ticket_factories.staff_user("counter_clerk", world["branch"])
    ticket_step_submit(step_id=current(ticket).pk, user=clerk, data={"archived": True}, at=long_ago)
    supervisor = viewer(ticket_factories.supervisor_user(world["branch"]))
    colleague = ticket_factories.staff_user("agent", world["branch"], username="agent2")
    client.force_login(supervisor)

    page = client.get(url(ticket)).content.decode()
    assert "跳过</button>" in page and "派工</button>" in page

    response = client.post(url(ticket, "assign"), {"step_id": current(ticket).pk, "assignee": colleague.pk})
    assert response.status_code == 302
    assert current(ticket).assignee == colleague

    response = client.post(url(ticket, "skip"), {"step_id": current(ticket).pk, "skip-reason": "客户电话无人接听"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == "closed"
    evaluation = Evaluation.objects.get(ticket=ticket)
    assert (evaluation.reason, evaluation.user, evaluation.note) == ("skipped", colleague, "客户电话无人接听")


def test_staff_without_the_supervisor_right_are_not_offered_assign_or_skip(client, world):
    client.force_login(world["agent"])

    response = client.get(url(world["ticket"]))

    assert response.context["assign_form"] is None and response.context["skip_form"] is None
    response = client.post(url(world["ticket"], "assign"), {"step_id": world["ticket"].current_step_id}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["只有班长（具有工单派工权限）可以执行此操作"]
    assert current(world["ticket"]).assignee is None


def test_a_ticket_without_customer_or_account_shows_its_contact(client, world):
    ticket = ticket_open(
        business_type=ticket_factories.TEST_BUSINESS_TYPE, channel=Channel.IVR, summary="路灯不亮",
        branch=world["branch"], contact_name="李四", contact_phone="13900000002",
    )
    client.force_login(world["agent"])

    response = client.get(url(ticket))

    page = response.content.decode()
    assert response.status_code == 200
    assert "<dd>李四</dd>" in page and "<dd>13900000002</dd>" in page
    assert "未关联户号" in page
