"""core.demo.calls: the demo hotline's agents and last 24 hours of calls, once however often the seed runs."""
import datetime

import pytest
from django.contrib.auth import get_user_model

from core.demo.calls import demo_calls_seed
from core.models import AgentPresence, AgentState, Call, CallOutcome, IdentifiedBy
from core.selectors.call_kpis import agent_ready_longest_idle, wallboard_snapshot
from tests.factories import AccountFactory
from tests.ticket_factories import local

pytestmark = pytest.mark.django_db

NOW = local(2026, 11, 23, 15, 7)


def test_a_day_of_calls_for_the_wallboard_and_nobody_to_offer_real_calls_to():
    demo_agent = get_user_model().objects.create_user("demo-agent", is_staff=True)
    accounts = [AccountFactory() for _ in range(5)]

    result = demo_calls_seed(now=NOW)

    assert (result.agents, result.existing) == (6, 0)
    assert result.added == Call.objects.count() > 300
    assert Call.objects.filter(started_at__lt=NOW - datetime.timedelta(hours=25)).count() == 0
    assert Call.objects.filter(ended_at__gt=NOW).count() == 0
    assert Call.objects.filter(wrap_up_ended_at__gt=NOW).count() == 0
    assert Call.objects.filter(outcome="").count() == 0
    answered = Call.objects.filter(outcome=CallOutcome.ANSWERED)
    assert answered.filter(agent__isnull=True).count() == 0
    assert answered.filter(wrap_up_code="").count() == 0
    assert {call.customer_id for call in Call.objects.filter(identified_by=IdentifiedBy.CALLER_ID)} == {
        account.customer_id for account in accounts
    }
    presence = AgentPresence.objects.get(agent=demo_agent)
    assert (presence.interface, presence.queue, presence.state) == ("Local/1001@agents/n", "hotline", "logged_out")
    assert not AgentPresence.objects.filter(state=AgentState.READY).exists()
    assert agent_ready_longest_idle(queue="hotline") is None
    assert not get_user_model().objects.get(username="demo-agent-02").has_usable_password()

    today = wallboard_snapshot(now=NOW)["today"]
    assert today["calls"] > 150
    assert today["answered"] > 0 and today["abandoned"] > 0 and today["ivr_answered"] > 0
    assert today["service_level_percent"] is not None

    again = demo_calls_seed(now=NOW + datetime.timedelta(minutes=3))
    assert (again.added, again.existing) == (0, result.added)
    later = demo_calls_seed(now=NOW + datetime.timedelta(hours=2))
    assert later.added > 0
    assert later.existing < result.added
    assert Call.objects.count() == result.added + later.added


def test_without_the_demo_agent_the_colleagues_still_answer_the_history():
    result = demo_calls_seed(now=NOW)
    assert (result.agents, result.added > 0) == (5, True)
