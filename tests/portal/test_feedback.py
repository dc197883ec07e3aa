"""Complaints (with their class), reports (may be anonymous), opinions, suggestions and praise from the portal;
a complaint's reply page shows the regulator's 12398 appeal route."""
from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import BusinessType, Channel, Ticket, TicketStep
from core.services.tickets import ticket_step_submit
from tests.factories import BranchFactory
from tests.portal.factories import AccountBindingFactory
from tests.ticket_factories import staff_user, supervisor_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def bound(client):
    binding = AccountBindingFactory()
    client.force_login(binding.user)
    return binding


def _post(client, **values):
    data = {"summary": "抄表员态度差", "description": "上门抄表时态度恶劣", "contact_name": "张三",
            "contact_phone": "13900001111", "form_key": "f1"}
    data.update(values)
    return client.post(reverse("portal:complaint"), {k: v for k, v in data.items() if v is not None})


def test_a_complaint_with_its_class_becomes_a_ticket_on_the_account(client, bound):
    response = _post(client, business_type=BusinessType.COMPLAINT, complaint_class="service",
                     account=bound.account.number)
    ticket = Ticket.objects.get()
    assert response.status_code == 200 and ticket.number in response.content.decode()
    assert (ticket.business_type, ticket.complaint_class, ticket.channel, ticket.account, ticket.customer,
            ticket.opened_by, ticket.contact_phone, ticket.anonymous) == (
        BusinessType.COMPLAINT, "service", Channel.PORTAL, bound.account, bound.account.customer, bound.user,
        "13900001111", False)
    detail = client.get(reverse("portal:ticket_detail", args=[ticket.number])).content.decode()
    assert "如对处理结果不满意，您可以拨打国家能源局12398能源监管热线申诉" in detail


def test_a_complaint_needs_its_class(client, bound):
    response = _post(client, business_type=BusinessType.COMPLAINT, account=bound.account.number)
    assert "请选择投诉分类" in response.content.decode()
    assert Ticket.objects.count() == 0


def test_an_anonymous_report_keeps_nothing_that_names_the_reporter(client, bound):
    branch = BranchFactory()
    response = _post(client, business_type=BusinessType.REPORT, anonymous="on", account=bound.account.number,
                     branch=branch.pk, summary="有人窃电", description="某小区有人私拉电线")
    ticket = Ticket.objects.get()
    assert "匿名举报不保留联系方式" in response.content.decode()
    assert (ticket.anonymous, ticket.account, ticket.customer, ticket.opened_by, ticket.contact_name,
            ticket.contact_phone, ticket.branch) == (True, None, None, None, "", "", branch)
    # Not among the user's tickets either.
    assert ticket.number not in client.get(reverse("portal:ticket_list")).content.decode()


def test_only_reports_may_be_anonymous(client, bound):
    response = _post(client, business_type=BusinessType.OPINION, anonymous="on", account=bound.account.number)
    assert "只有举报可以匿名" in response.content.decode()
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize("business_type", [BusinessType.OPINION, BusinessType.SUGGESTION, BusinessType.PRAISE])
def test_opinions_suggestions_and_praise(client, bound, business_type):
    _post(client, business_type=business_type, summary="营业厅服务好", description="工作人员耐心",
          account=bound.account.number, complaint_class="service")
    ticket = Ticket.objects.get()
    assert (ticket.business_type, ticket.complaint_class, ticket.summary) == (business_type, "", "营业厅服务好")


def test_without_an_account_a_county_is_needed_and_the_contact_checked(client, bound):
    response = _post(client, business_type=BusinessType.SUGGESTION)
    assert "请选择受理的县公司" in response.content.decode()
    response = _post(client, business_type=BusinessType.SUGGESTION, branch=BranchFactory().pk, contact_phone="555")
    assert "请输入有效的电话号码" in response.content.decode()
    assert Ticket.objects.count() == 0


def test_the_reply_page_shows_the_reply_and_the_12398_route(client, bound):
    _post(client, business_type=BusinessType.COMPLAINT, complaint_class="tariff_billing",
          account=bound.account.number)
    ticket = Ticket.objects.get()
    branch = ticket.branch
    # A minute ahead: the form's minute precision must not fall before the acceptance.
    now = (timezone.localtime() + datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    steps = [
        (supervisor_user(), {"complaint_class": "tariff_billing", "responsible_unit": "营销部"}),
        (staff_user("account_manager", branch), {"contacted_at": now, "findings": "核实", "handling": "退还"}),
        (staff_user("agent", branch), {"replied_at": now, "reply": "经核实，多收的电费已退还到您的账户。"}),
    ]
    for user, data in steps:
        step = TicketStep.objects.get(ticket=ticket, state="active")
        ticket_step_submit(step_id=step.pk, user=user, data=data)
    page = client.get(reverse("portal:ticket_detail", args=[ticket.number])).content.decode()
    assert "经核实，多收的电费已退还到您的账户。" in page
    assert "12398" in page
    assert "营销部" not in page  # internal routing stays internal


def test_a_suggestion_filed_without_an_account_is_rated_by_the_user_who_filed_it(client, bound):
    _post(client, business_type=BusinessType.SUGGESTION, branch=BranchFactory().pk)
    ticket = Ticket.objects.get()
    assert (ticket.customer_id, ticket.opened_by_id) == (None, bound.user.pk)
    Ticket.objects.filter(pk=ticket.pk).update(state=Ticket.State.CLOSED)  # handled and closed by staff
    page = client.get(reverse("portal:ticket_detail", args=[ticket.number])).content.decode()
    assert 'name="satisfaction"' in page
    response = client.post(reverse("portal:ticket_rate", args=[ticket.number]), {"satisfaction": 5, "comment": "采纳"})
    assert response["Location"] == reverse("portal:ticket_detail", args=[ticket.number])
    ticket.refresh_from_db()
    assert (ticket.satisfaction, ticket.satisfaction_comment) == (5, "采纳")
    # Someone else, even one bound to the same accounts, cannot rate it.
    other = AccountBindingFactory(account=bound.account).user
    client.force_login(other)
    assert client.post(reverse("portal:ticket_rate", args=[ticket.number]), {"satisfaction": 1}).status_code == 404
