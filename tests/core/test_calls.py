"""core.services.calls: call facts become call records once however often they come, agents' presence follows
their calls and choices, wrap-up, ticket links and identification by the agent."""
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.call_facts import (
    AgentMemberState,
    CallAnswered,
    CallEnded,
    CallIdentified,
    CallLeftQueue,
    CallLegEnded,
    CallLegStarted,
    CallOffered,
    CallQueued,
    CallStarted,
    IvrStep,
    StormInformed,
)
from core.models import (
    AgentPresence,
    AgentState,
    AgentStateChange,
    Call,
    CallLeg,
    CallOutcome,
    CallState,
    CallTicket,
    IdentifiedBy,
    Outage,
    OutageKind,
)
from core.services.calls import (
    AgentInterfaceInvalid,
    AgentInterfaceTaken,
    AgentNotSignedIn,
    AgentOnCall,
    AgentStateInvalid,
    CallNotAnswered,
    CallNotFound,
    CallNotYours,
    CallTicketRelationInvalid,
    WrapUpCode,
    WrapUpInvalid,
    agent_sign_in,
    agent_state_set,
    agents_wrap_up_expire,
    call_facts_apply,
    call_identify,
    call_ticket_link,
    call_wrap_up,
)
from core.services.tickets import ticket_open
from core.signals import agent_state_changed, call_changed
from tests.callcenter.factories import agent_presence, call_agent_user
from tests.factories import AccountFactory, BranchFactory
from tests.ticket_factories import local

pytestmark = pytest.mark.django_db

T0 = local(2026, 11, 23, 9, 0)
INTERFACE = "Local/1001@agents/n"
KEY = "1763859600.10"


def at(seconds: int) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


class Sent(list):
    """The signals as ("call"|"agent", kind or state, agent_id); `moments` holds each call_changed's `at`."""

    def __init__(self):
        super().__init__()
        self.moments = []

    def clear(self):
        super().clear()
        self.moments.clear()


@pytest.fixture
def sent():
    """Every call_changed and agent_state_changed sent, as tuples, in order."""
    received = Sent()
    moments = received.moments

    def on_call(sender, call_id, kind, agent_id, at, **kwargs):
        received.append(("call", kind, agent_id))
        moments.append(at)

    def on_agent(sender, agent_id, state, reason, **kwargs):
        received.append(("agent", state, agent_id))

    call_changed.connect(on_call, dispatch_uid="test-calls-call")
    agent_state_changed.connect(on_agent, dispatch_uid="test-calls-agent")
    yield received
    call_changed.disconnect(dispatch_uid="test-calls-call")
    agent_state_changed.disconnect(dispatch_uid="test-calls-agent")


@pytest.fixture
def agent():
    user = call_agent_user()
    agent_presence(user, interface=INTERFACE, since=at(-600))
    return user


def answered_call_facts(account_number: str) -> list:
    return [
        CallStarted(KEY, "asterisk", "13800000001", "95598", at(0)),
        CallLegStarted(KEY, KEY, "PJSIP/trunk-00000001", "13800000001", at(0)),
        IvrStep(KEY, "language", "1", at(3), data={"language": "zh-hans"}),
        CallIdentified(KEY, account_number, IdentifiedBy.CALLER_ID, at(4)),
        IvrStep(KEY, "main_menu", "0", at(9), data={"intent": "agent"}),
        CallQueued(KEY, "hotline", at(10)),
        CallOffered(KEY, "hotline", INTERFACE, at(20)),
        CallLegStarted(KEY, "1763859620.12", "Local/1001@agents-00000002;1", "", at(20)),
        CallAnswered(KEY, "hotline", INTERFACE, at(22), hold_seconds=12),
        CallLegEnded(KEY, "1763859620.12", 16, "Normal Clearing", at(142)),
        CallLegEnded(KEY, KEY, 16, "Normal Clearing", at(142)),
        CallEnded(KEY, 16, "Normal Clearing", at(142)),
    ]


def test_an_answered_call_is_recorded_from_ring_to_hang_up(agent, sent, django_capture_on_commit_callbacks):
    account = AccountFactory()
    with django_capture_on_commit_callbacks(execute=True):
        call_facts_apply(facts=answered_call_facts(account.number))

    call = Call.objects.get()
    assert (call.call_key, call.transport, call.caller_number, call.dialled_number) == (
        KEY, "asterisk", "13800000001", "95598"
    )
    assert (call.state, call.outcome, call.language) == (CallState.ENDED, CallOutcome.ANSWERED, "zh-hans")
    assert (call.account, call.customer, call.identified_by) == (account, account.customer, IdentifiedBy.CALLER_ID)
    assert [(step["node"], step["input"]) for step in call.ivr_path] == [("language", "1"), ("main_menu", "0")]
    assert call.ivr_data == {"language": "zh-hans", "intent": "agent"}
    assert (call.queue, call.agent, call.agent_interface) == ("hotline", agent, INTERFACE)
    assert (call.started_at, call.queued_at, call.answered_at, call.ended_at) == (at(0), at(10), at(22), at(142))
    assert (call.queue_wait_seconds, call.talk_seconds) == (12, 120)
    assert (call.hangup_cause, call.hangup_cause_text) == (16, "Normal Clearing")
    legs = list(CallLeg.objects.values_list("unique_id", "channel", "ended_at", "hangup_cause"))
    assert legs == [
        (KEY, "PJSIP/trunk-00000001", at(142), 16),
        ("1763859620.12", "Local/1001@agents-00000002;1", at(142), 16),
    ]
    presence = AgentPresence.objects.get(agent=agent)
    assert (presence.state, presence.since, presence.current_call) == (AgentState.AFTER_CALL_WORK, at(142), call)
    assert list(AgentStateChange.objects.values_list("state", "at")) == [
        (AgentState.ON_CALL, at(22)), (AgentState.AFTER_CALL_WORK, at(142)),
    ]
    assert sent == [
        ("agent", AgentState.ON_CALL, agent.pk),
        ("agent", AgentState.AFTER_CALL_WORK, agent.pk),
        ("call", "started", None),
        ("call", "identified", None),
        ("call", "queued", None),
        ("call", "offered", agent.pk),
        ("call", "answered", agent.pk),
        ("call", "ended", agent.pk),
    ]
    # Each with the moment it happened at the PBX (the screen-pop's event time).
    assert sent.moments == [at(0), at(4), at(10), at(20), at(22), at(142)]


def test_the_same_facts_again_change_nothing_and_send_nothing(agent, sent, django_capture_on_commit_callbacks):
    account = AccountFactory()
    facts = answered_call_facts(account.number)
    with django_capture_on_commit_callbacks(execute=True):
        call_facts_apply(facts=facts)
    before = Call.objects.values().get()
    sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        call_facts_apply(facts=facts)
        # A resync re-reports facts one at a time too.
        for fact in facts:
            call_facts_apply(facts=[fact])

    assert sent == []
    assert Call.objects.values().get() == before
    assert CallLeg.objects.count() == 2
    assert AgentStateChange.objects.count() == 2


def test_a_live_call_screen_pops_at_the_offer_and_the_agent_is_on_call_at_the_answer(
    agent, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_facts_apply(facts=[CallStarted(KEY, "asterisk", "13800000001", "95598", at(0)),
                                CallQueued(KEY, "hotline", at(5))])
        call_facts_apply(facts=[CallOffered(KEY, "hotline", INTERFACE, at(9))])
    call = Call.objects.get()
    assert (call.state, call.agent_interface, call.agent, call.outcome) == (CallState.RINGING, INTERFACE, None, "")
    assert AgentPresence.objects.get(agent=agent).state == AgentState.READY
    assert sent[-1] == ("call", "offered", agent.pk)

    with django_capture_on_commit_callbacks(execute=True):
        call_facts_apply(facts=[CallAnswered(KEY, "hotline", INTERFACE, at(11))])
    call.refresh_from_db()
    assert (call.state, call.agent, call.queue_wait_seconds) == (CallState.TALKING, agent, 6)
    presence = AgentPresence.objects.get(agent=agent)
    assert (presence.state, presence.current_call) == (AgentState.ON_CALL, call)


def test_a_caller_who_leaves_the_queue_abandoned_after_their_wait(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_facts_apply(facts=[
            CallStarted(KEY, "asterisk", "13800000001", "95598", at(0)),
            CallQueued(KEY, "hotline", at(10)),
            CallLeftQueue(KEY, "hotline", at(35)),
        ])
    call = Call.objects.get()
    assert (call.state, call.queue_wait_seconds, call.outcome) == (CallState.IVR, 25, "")

    with django_capture_on_commit_callbacks(execute=True):
        call_facts_apply(facts=[CallEnded(KEY, 16, "Normal Clearing", at(36))])
    call.refresh_from_db()
    assert (call.state, call.outcome, call.queue_wait_seconds, call.talk_seconds) == (
        CallState.ENDED, CallOutcome.ABANDONED, 25, None
    )
    assert [kind for _what, kind, _agent in sent] == ["started", "queued", "left_queue", "ended"]


def test_a_hang_up_while_waiting_counts_the_wait_to_the_hang_up():
    call_facts_apply(facts=[
        CallStarted(KEY, "asterisk", "13800000001", "95598", at(0)),
        CallQueued(KEY, "hotline", at(10)),
        CallEnded(KEY, 16, "Normal Clearing", at(50)),
    ])
    call = Call.objects.get()
    assert (call.outcome, call.queue_wait_seconds) == (CallOutcome.ABANDONED, 40)


@pytest.mark.parametrize(
    ("data", "storm", "outcome"),
    [
        ({"self_served": True}, False, CallOutcome.IVR_RESOLVED),
        ({"intent": "balance"}, False, CallOutcome.IVR_ABANDONED),
        ({}, True, CallOutcome.STORM_INFORMED),
    ],
)
def test_a_call_that_never_queued_ends_as_the_ivr_left_it(data, storm, outcome):
    outage = Outage.objects.create(
        branch=BranchFactory(), kind=OutageKind.FAULT, title="线路故障", reason="雷击", starts_at=at(-3600),
        ends_at=at(3600), announced_at=at(-3600),
    )
    facts = [CallStarted(KEY, "asterisk", "13800000001", "95598", at(0)), IvrStep(KEY, "menu", "1", at(5), data=data)]
    if storm:
        facts.append(StormInformed(KEY, outage.pk, at(2)))
    call_facts_apply(facts=[*facts, CallEnded(KEY, 16, "Normal Clearing", at(60))])
    call = Call.objects.get()
    assert (call.outcome, call.storm_informed, call.outage) == (outcome, storm, outage if storm else None)


def test_facts_out_of_order_make_one_call_and_whole_legs():
    call_facts_apply(facts=[CallLegEnded(KEY, KEY, 16, "Normal Clearing", at(60))])
    call_facts_apply(facts=[
        CallStarted(KEY, "asterisk", "13800000001", "95598", at(0)),
        CallLegStarted(KEY, KEY, "PJSIP/trunk-00000001", "13800000001", at(0)),
    ])
    call = Call.objects.get()
    assert (call.started_at, call.caller_number) == (at(0), "13800000001")
    leg = CallLeg.objects.get()
    assert (leg.channel, leg.started_at, leg.ended_at, leg.hangup_cause_text) == (
        "PJSIP/trunk-00000001", at(0), at(60), "Normal Clearing"
    )


def test_a_twilio_call_first_seen_by_a_later_fact_is_a_twilio_call():
    call_facts_apply(facts=[CallQueued("twilio:CA123", "hotline", at(10))])
    call = Call.objects.get()
    assert (call.transport, call.started_at, call.state) == ("twilio", at(10), CallState.QUEUED)


def test_an_answer_on_an_unknown_interface_is_recorded_without_an_agent(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_facts_apply(facts=[
            CallStarted(KEY, "asterisk", "13800000001", "95598", at(0)),
            CallAnswered(KEY, "hotline", "PJSIP/9999", at(8)),
            CallEnded(KEY, 16, "Normal Clearing", at(20)),
        ])
    call = Call.objects.get()
    assert (call.agent, call.agent_interface, call.outcome, call.talk_seconds) == (
        None, "PJSIP/9999", CallOutcome.ANSWERED, 12
    )
    assert ("call", "answered", None) in sent


def test_a_stronger_identification_is_kept(agent):
    confirmed, suggested = AccountFactory(), AccountFactory()
    call_facts_apply(facts=[
        CallStarted(KEY, "asterisk", "13800000001", "95598", at(0)),
        CallAnswered(KEY, "hotline", INTERFACE, at(8)),
    ])
    call = call_identify(call_id=Call.objects.get().pk, account=confirmed, agent=agent)
    call_facts_apply(facts=[CallIdentified(KEY, suggested.number, IdentifiedBy.CALLER_ID, at(9)),
                            CallIdentified(KEY, "0000000000", IdentifiedBy.AGENT, at(9))])
    call.refresh_from_db()
    assert (call.account, call.customer, call.identified_by) == (confirmed, confirmed.customer, IdentifiedBy.AGENT)


def test_one_query_budget_for_a_new_call():
    with CaptureQueriesContext(connection) as queries:
        call_facts_apply(facts=[CallStarted(KEY, "asterisk", "13800000001", "95598", at(0)),
                                CallLegStarted(KEY, KEY, "PJSIP/trunk-00000001", "13800000001", at(0))])
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements.count("SELECT") == 3
    assert statements.count("INSERT") == 2


# --- the PBX's view of queue members -----------------------------------------------------------------------


def member(*, logged_in=True, paused=False, reason="", seconds=0):
    return AgentMemberState(INTERFACE, "hotline", logged_in, paused, reason, at(seconds))


def test_the_pbx_keeps_presence_honest(agent, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_facts_apply(facts=[member(paused=True, reason="培训", seconds=1)])
        assert AgentPresence.objects.get(agent=agent).state == AgentState.NOT_READY
        call_facts_apply(facts=[member(paused=False, seconds=2)])
        assert AgentPresence.objects.get(agent=agent).state == AgentState.READY
        call_facts_apply(facts=[member(logged_in=False, seconds=3)])
        presence = AgentPresence.objects.get(agent=agent)
        assert (presence.state, presence.since) == (AgentState.LOGGED_OUT, at(3))
        # Older than the last change: stale.
        call_facts_apply(facts=[member(paused=False, seconds=2)])
        assert AgentPresence.objects.get(agent=agent).state == AgentState.LOGGED_OUT
        # Members the hotline does not know are skipped.
        call_facts_apply(facts=[AgentMemberState("PJSIP/7777", "hotline", True, False, "", at(4))])
    assert sent == [
        ("agent", AgentState.NOT_READY, agent.pk),
        ("agent", AgentState.READY, agent.pk),
        ("agent", AgentState.LOGGED_OUT, agent.pk),
    ]
    assert AgentPresence.objects.get(agent=agent).reason == ""
    assert list(AgentStateChange.objects.values_list("reason", flat=True)) == ["培训", "", ""]


def test_an_unpaused_member_does_not_end_a_call_or_after_call_work(agent):
    call_facts_apply(facts=[
        CallStarted(KEY, "asterisk", "13800000001", "95598", at(0)),
        CallAnswered(KEY, "hotline", INTERFACE, at(8)),
    ])
    call_facts_apply(facts=[member(seconds=9)])
    assert AgentPresence.objects.get(agent=agent).state == AgentState.ON_CALL
    call_facts_apply(facts=[CallEnded(KEY, 16, "Normal Clearing", at(20)), member(paused=True, seconds=21)])
    assert AgentPresence.objects.get(agent=agent).state == AgentState.AFTER_CALL_WORK


# --- signing in and choosing a state -----------------------------------------------------------------------


def test_signing_in_makes_the_agent_ready_on_the_queue(sent, django_capture_on_commit_callbacks):
    user = call_agent_user()
    with django_capture_on_commit_callbacks(execute=True):
        presence = agent_sign_in(agent=user, interface=INTERFACE, queue="hotline", at=at(0))
        again = agent_sign_in(agent=user, interface=INTERFACE, queue="hotline", at=at(5))
    assert (presence.interface, presence.queue, presence.state, presence.since) == (
        INTERFACE, "hotline", AgentState.READY, at(0)
    )
    assert again.since == at(0)
    assert sent == [("agent", AgentState.READY, user.pk)]


def test_an_interface_is_one_signed_in_agents_at_a_time():
    first, second = call_agent_user(), call_agent_user()
    agent_sign_in(agent=first, interface=INTERFACE, queue="hotline", at=at(0))
    with pytest.raises(AgentInterfaceTaken) as refused:
        agent_sign_in(agent=second, interface=INTERFACE, queue="hotline", at=at(1))
    assert str(refused.value) == f"分机{INTERFACE}已由其他坐席签入"
    assert not AgentPresence.objects.filter(agent=second).exists()

    agent_state_set(agent=first, state=AgentState.LOGGED_OUT, at=at(2))
    agent_sign_in(agent=second, interface=INTERFACE, queue="hotline", at=at(3))
    assert AgentPresence.objects.get(agent=first).interface == ""
    assert AgentPresence.objects.get(agent=second).state == AgentState.READY


@pytest.mark.parametrize(("interface", "queue", "message"), [
    ("", "hotline", "坐席分机无效"), ("Local/1001 @agents", "hotline", "坐席分机无效"), ("x" * 81, "hotline", "坐席分机无效"),
    (INTERFACE, "", "队列名称无效"),
])
def test_a_bad_interface_or_queue_is_refused(interface, queue, message):
    with pytest.raises(AgentInterfaceInvalid) as refused:
        agent_sign_in(agent=call_agent_user(), interface=interface, queue=queue)
    assert str(refused.value) == message
    assert not AgentPresence.objects.exists()


def test_agent_state_choices_and_refusals(agent):
    presence = agent_state_set(agent=agent, state=AgentState.NOT_READY, reason="  午餐 ", at=at(0))
    assert (presence.state, presence.reason, presence.since) == (AgentState.NOT_READY, "午餐", at(0))
    presence = agent_state_set(agent=agent, state=AgentState.NOT_READY, reason="培训", at=at(5))
    assert (presence.reason, presence.since) == ("培训", at(0))
    presence = agent_state_set(agent=agent, state=AgentState.READY, reason="ignored", at=at(9))
    assert (presence.state, presence.reason) == (AgentState.READY, "")

    for state, error, message in (
        (AgentState.ON_CALL, AgentStateInvalid, "坐席状态无效"),
        ("dancing", AgentStateInvalid, "坐席状态无效"),
    ):
        with pytest.raises(error) as refused:
            agent_state_set(agent=agent, state=state)
        assert str(refused.value) == message
    with pytest.raises(AgentStateInvalid) as refused:
        agent_state_set(agent=agent, state=AgentState.NOT_READY, reason="长" * 81)
    assert str(refused.value) == "未就绪原因不能超过80个字"
    with pytest.raises(AgentNotSignedIn) as refused:
        agent_state_set(agent=call_agent_user(), state=AgentState.READY)
    assert str(refused.value) == "请先签入队列"

    agent_state_set(agent=agent, state=AgentState.LOGGED_OUT, at=at(20))
    with pytest.raises(AgentNotSignedIn):
        agent_state_set(agent=agent, state=AgentState.READY)
    assert AgentPresence.objects.get(agent=agent).state == AgentState.LOGGED_OUT
    assert list(AgentStateChange.objects.values_list("state", flat=True)) == [
        AgentState.NOT_READY, AgentState.READY, AgentState.LOGGED_OUT,
    ]


def test_no_state_change_on_a_call(agent):
    call_facts_apply(facts=[CallAnswered(KEY, "hotline", INTERFACE, at(8))])
    for state in (AgentState.READY, AgentState.NOT_READY, AgentState.LOGGED_OUT, AgentState.AFTER_CALL_WORK):
        with pytest.raises(AgentOnCall) as refused:
            agent_state_set(agent=agent, state=state)
        assert str(refused.value) == "通话中不能更改状态，请在通话结束后操作"
    assert AgentPresence.objects.get(agent=agent).state == AgentState.ON_CALL


# --- after-call work and wrap-up ---------------------------------------------------------------------------


def ended_call(agent_user) -> Call:
    call_facts_apply(facts=[
        CallStarted(KEY, "asterisk", "13800000001", "95598", at(0)),
        CallQueued(KEY, "hotline", at(5)),
        CallAnswered(KEY, "hotline", INTERFACE, at(10)),
        CallEnded(KEY, 16, "Normal Clearing", at(100)),
    ])
    return Call.objects.get(call_key=KEY)


def test_after_call_work_ends_by_itself_after_the_wrap_up_time(agent, settings):
    settings.CALLCENTER_WRAP_UP_SECONDS = 30
    call = ended_call(agent)
    assert agents_wrap_up_expire(now=at(129)) == 0
    assert AgentPresence.objects.get(agent=agent).state == AgentState.AFTER_CALL_WORK

    assert agents_wrap_up_expire(now=at(137)) == 1
    presence = AgentPresence.objects.get(agent=agent)
    assert (presence.state, presence.since, presence.current_call) == (AgentState.READY, at(130), None)
    call.refresh_from_db()
    assert call.wrap_up_ended_at == at(130)
    assert agents_wrap_up_expire(now=at(200)) == 0


def test_the_agent_may_end_after_call_work_by_saying_ready(agent):
    call = ended_call(agent)
    agent_state_set(agent=agent, state=AgentState.READY, at=at(110))
    call.refresh_from_db()
    assert call.wrap_up_ended_at == at(110)
    assert AgentPresence.objects.get(agent=agent).state == AgentState.READY


def test_wrapping_up_records_the_code_and_makes_the_agent_ready(agent, sent, django_capture_on_commit_callbacks):
    call = ended_call(agent)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        wrapped = call_wrap_up(call_id=call.pk, agent=agent, code=WrapUpCode.RESOLVED, note=" 已告知余额 ", at=at(120))
    assert (wrapped.wrap_up_code, wrapped.wrap_up_note, wrapped.wrap_up_ended_at) == ("resolved", "已告知余额", at(120))
    assert AgentPresence.objects.get(agent=agent).state == AgentState.READY
    assert sent == [("agent", AgentState.READY, agent.pk), ("call", "wrapped_up", agent.pk)]
    assert sent.moments == [at(120)]

    # Correcting the code later changes the code, not the end of the wrap-up.
    corrected = call_wrap_up(call_id=call.pk, agent=agent, code=WrapUpCode.COMPLAINT, at=at(300))
    assert (corrected.wrap_up_code, corrected.wrap_up_note, corrected.wrap_up_ended_at) == ("complaint", "", at(120))


def test_a_call_wrapped_up_while_talking_needs_no_after_call_work(agent):
    call_facts_apply(facts=[CallAnswered(KEY, "hotline", INTERFACE, at(10))])
    call = Call.objects.get()
    call_wrap_up(call_id=call.pk, agent=agent, code=WrapUpCode.INFORMATION, at=at(50))
    assert AgentPresence.objects.get(agent=agent).state == AgentState.ON_CALL
    call_facts_apply(facts=[CallEnded(KEY, 16, "Normal Clearing", at(60))])
    call.refresh_from_db()
    presence = AgentPresence.objects.get(agent=agent)
    assert (presence.state, presence.since, call.wrap_up_ended_at) == (AgentState.READY, at(60), at(60))


def test_wrap_up_refusals_change_nothing(agent):
    call = ended_call(agent)
    other = call_agent_user()
    cases = (
        (dict(call_id=call.pk, agent=agent, code="bogus"), WrapUpInvalid, "请选择小结代码"),
        (dict(call_id=call.pk, agent=agent, code="resolved", note="长" * 501), WrapUpInvalid, "小结备注不能超过500个字"),
        (dict(call_id=call.pk, agent=other, code="resolved"), CallNotYours, "这通电话不是您接听的"),
        (dict(call_id=call.pk + 100, agent=agent, code="resolved"), CallNotFound, "呼叫记录不存在"),
    )
    for kwargs, error, message in cases:
        with pytest.raises(error) as refused:
            call_wrap_up(**kwargs)
        assert str(refused.value) == message
    call.refresh_from_db()
    assert call.wrap_up_code == ""
    assert AgentPresence.objects.get(agent=agent).state == AgentState.AFTER_CALL_WORK


def test_an_unanswered_call_has_no_wrap_up(agent):
    call_facts_apply(facts=[CallStarted(KEY, "asterisk", "13800000001", "95598", at(0))])
    call = Call.objects.get()
    Call.objects.filter(pk=call.pk).update(agent=agent)
    with pytest.raises(CallNotAnswered) as refused:
        call_wrap_up(call_id=call.pk, agent=agent, code="resolved")
    assert str(refused.value) == "这通电话尚未接通"


# --- tickets and identification ----------------------------------------------------------------------------


def test_a_call_links_each_ticket_once_per_relation(agent, sent, django_capture_on_commit_callbacks):
    call = ended_call(agent)
    ticket = ticket_open(
        business_type="praise", channel="agent", summary="表扬抢修班", branch=BranchFactory(),
        contact_phone="13800000001", at=at(60),
    )
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        link = call_ticket_link(call_id=call.pk, ticket=ticket, relation="opened", by=agent, at=at(61))
        again = call_ticket_link(call_id=call.pk, ticket=ticket, relation="opened", by=agent, at=at(70))
        asked = call_ticket_link(call_id=call.pk, ticket=ticket, relation="asked", at=at(71))
    assert link == again
    assert (link.relation, link.at, link.by) == ("opened", at(61), agent)
    assert list(CallTicket.objects.order_by("id").values_list("relation", flat=True)) == ["opened", "asked"]
    assert asked.by is None
    assert sent == [("call", "ticket_linked", agent.pk), ("call", "ticket_linked", agent.pk)]

    with pytest.raises(CallTicketRelationInvalid) as refused:
        call_ticket_link(call_id=call.pk, ticket=ticket, relation="closed")
    assert str(refused.value) == "呼叫与工单的关系无效"
    with pytest.raises(CallNotFound):
        call_ticket_link(call_id=call.pk + 100, ticket=ticket, relation="added")


def test_the_agent_who_answered_confirms_the_caller(agent, sent, django_capture_on_commit_callbacks):
    call = ended_call(agent)
    account = AccountFactory()
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        call_identify(call_id=call.pk, account=account, agent=agent)
        call_identify(call_id=call.pk, account=account, agent=agent)
    call.refresh_from_db()
    assert (call.account, call.customer, call.identified_by) == (account, account.customer, IdentifiedBy.AGENT)
    assert sent == [("call", "identified", agent.pk)]
    with pytest.raises(CallNotYours):
        call_identify(call_id=call.pk, account=AccountFactory(), agent=call_agent_user())
    call.refresh_from_db()
    assert call.account == account
