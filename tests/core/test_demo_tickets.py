"""The demo tickets seed_demo ends with: made through the engine, in several states, in the demo staff's queues."""
from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Max
from django.utils import timezone

from core.demo.tickets import demo_tickets_seed
from core.models import BusinessType, Evaluation, Ticket, TicketEvent, TicketStep
from core.selectors.ticket_queue import work_queue_for

pytestmark = pytest.mark.django_db
CUSTOMERS = 60
KEYS = [f"demo:{n}" for n in range(1, 41)]


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", customers=str(CUSTOMERS), stdout=out)
    return out.getvalue()


def _user(username: str):
    return get_user_model().objects.get(username=username)


def test_seed_demo_adds_forty_tickets_of_five_business_types_in_several_states():
    started = timezone.now()
    output = _seed()

    assert "演示工单：新增 40 张，已存在 0 张" in output
    tickets = Ticket.objects.filter(idempotency_key__in=KEYS)
    assert tickets.count() == 40
    assert set(tickets.values_list("business_type", flat=True)) == {
        BusinessType.FAULT_REPAIR, BusinessType.COMPLAINT, BusinessType.LV_RESIDENTIAL_CONNECTION,
        BusinessType.NAME_CHANGE, BusinessType.METER_ACCURACY_CHECK,
    }
    # All in the branch where the demo logins hold their posts, opened over the last 14 days, nothing in the future.
    assert tickets.values("branch").distinct().count() == 1
    assert tickets.filter(opened_at__lt=started - timezone.timedelta(days=14)).count() == 0
    assert TicketEvent.objects.aggregate(last=Max("at"))["last"] <= timezone.now()
    states = set(tickets.values_list("state", flat=True))
    assert states == {Ticket.State.OPEN, Ticket.State.CLOSED, Ticket.State.SUSPENDED}
    closed = tickets.filter(state=Ticket.State.CLOSED)
    assert closed.count() >= 15
    assert closed.filter(satisfaction__isnull=False).count() >= 15
    assert tickets.filter(business_type=BusinessType.COMPLAINT).exclude(complaint_class="").count() == 8
    # Name changes and meter checks belong to real demo accounts.
    needs_account = tickets.filter(business_type__in=[BusinessType.NAME_CHANGE, BusinessType.METER_ACCURACY_CHECK])
    assert needs_account.count() == 7 and not needs_account.filter(account__isnull=True).exists()
    # Every ticket went through the engine: opened, arrived at its first step, each change an event.
    assert TicketEvent.objects.filter(ticket__in=tickets, kind=TicketEvent.Kind.OPENED).count() == 40
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.RETURNED).count() == 1
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.SUSPENDED).count() == 1
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.RATED).count() == 1


def test_the_sla_scan_has_marked_warnings_overdue_steps_and_an_auto_skip():
    output = _seed()

    overdue = TicketStep.objects.filter(state=TicketStep.State.ACTIVE, overdue_at__isnull=False)
    assert overdue.count() >= 4
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.OVERDUE).count() >= 4
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.WARNED).exists()
    assert Evaluation.objects.filter(reason=Evaluation.Reason.OVERDUE).count() >= 4
    # The fault whose follow-up call was left a day and a half is skipped by the scan, with an evaluation.
    assert Evaluation.objects.filter(reason=Evaluation.Reason.SKIPPED, step__step_definition__code="follow_up").exists()
    assert "时限扫描预警" in output


def test_the_demo_staff_have_work_in_their_queues_and_pages(client):
    _seed()
    agent, clerk, supervisor = _user("demo-agent"), _user("demo-clerk"), _user("demo-supervisor")

    for user in (agent, clerk, supervisor):
        queue = work_queue_for(user=user)
        assert queue.mine, user.username
        assert queue.pool, user.username
    agent_queue = work_queue_for(user=agent)
    assert agent_queue.badge_counts["overdue"] >= 1

    client.force_login(agent)
    response = client.get("/staff/queue/")
    assert response.status_code == 200
    assert agent_queue.mine[0].ticket.number in response.content.decode()

    client.force_login(supervisor)
    response = client.get("/staff/supervision/")
    assert response.status_code == 200
    assert "故障报修" in response.content.decode()


def test_seeding_again_adds_no_tickets_and_changes_nothing():
    _seed()
    counts = (Ticket.objects.count(), TicketStep.objects.count(), TicketEvent.objects.count())

    output = _seed()

    assert "演示工单：新增 0 张，已存在 40 张" in output
    assert (Ticket.objects.count(), TicketStep.objects.count(), TicketEvent.objects.count()) == counts


def _snapshot() -> list[tuple]:
    rows = Ticket.objects.filter(idempotency_key__in=KEYS).values_list(
        "idempotency_key", "business_type", "state", "current_step__step_definition__code",
        "current_step__assignee__username", "satisfaction", "opened_at",
    )
    return sorted(rows)


def test_the_demo_tickets_are_the_same_for_the_same_clock():
    _seed()
    now = timezone.now()
    Evaluation.objects.all().delete()
    Ticket.objects.all().delete()

    first = demo_tickets_seed(now=now)
    snapshot = _snapshot()
    Evaluation.objects.all().delete()
    Ticket.objects.all().delete()
    second = demo_tickets_seed(now=now)

    assert (first.added, second.added) == (40, 40)
    assert first.skipped == second.skipped == []
    assert _snapshot() == snapshot
