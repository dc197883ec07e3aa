"""An agent never misses their call's screen-pop: a pop lost on the way (the channel layer dropped it, the socket
was away) comes again when the agent connects, with the next queue push, or with the next heartbeat; a pop
already shown is not sent twice, another agent's call never, and the browser never sees the map of every agent's
call that the queue push carries for the sockets."""
import datetime

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone

from callcenter.console.receivers import call_changed_to_console
from callcenter.wallboard.receivers import wallboard_on_call_changed
from callcenter.wallboard.tasks import wallboard_push
from core.call_facts import CallAnswered, CallEnded, CallOffered, CallQueued, CallStarted
from core.models import AgentState, Call, CallState
from core.selectors.caller_profile import RINGING_HORIZON, agents_current_calls
from core.services.calls import call_facts_apply
from core.signals import call_changed
from tests.callcenter.factories import agent_presence, call_agent_user
from tests.callcenter.test_consumers import _connected, _kinds_received
from tests.factories import AccountFactory, CustomerFactory

INTERFACE = "Local/1001@agents/n"
OTHER_INTERFACE = "Local/1002@agents/n"


def _offer(key: str, *, interface: str = INTERFACE, phone: str = "13900001111") -> Call:
    at = timezone.now()
    call_facts_apply(facts=[
        CallStarted(key, "asterisk", phone, "95598", at - datetime.timedelta(seconds=30)),
        CallQueued(key, "hotline", at - datetime.timedelta(seconds=10)),
        CallOffered(key, "hotline", interface, at),
    ])
    return Call.objects.get(call_key=key)


def _offer_with_the_pop_lost(key: str, *, interface: str = INTERFACE) -> Call:
    """The call is offered and committed, but neither its screen-pop nor the queue pushes it asks for leave (the
    test's eager Celery would run those at once): as when the channel layer drops them."""
    receivers = ((call_changed_to_console, "callcenter.console.call_changed"),
                 (wallboard_on_call_changed, "callcenter.wallboard.call_changed"))
    for function, uid in receivers:
        call_changed.disconnect(function, dispatch_uid=uid)
    try:
        return _offer(key, interface=interface)
    finally:
        for function, uid in receivers:
            call_changed.connect(function, dispatch_uid=uid)


async def _next_kinds(communicator, count: int) -> list[dict]:
    return [await communicator.receive_json_from(timeout=5) for _ in range(count)]


# --- the selector ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_agents_current_call_is_the_one_ringing_on_them_else_the_one_they_are_on_or_wrapping_up():
    ringing_agent, talking_agent, wrapping_agent, ready_agent, away_agent = (call_agent_user() for _ in range(5))
    agent_presence(ringing_agent, interface=INTERFACE)
    agent_presence(talking_agent, interface=OTHER_INTERFACE)
    agent_presence(wrapping_agent, interface="Local/1003@agents/n")
    agent_presence(ready_agent, interface="Local/1004@agents/n")
    agent_presence(away_agent, interface="Local/1005@agents/n", state=AgentState.LOGGED_OUT)
    ringing = _offer("k.1", interface=INTERFACE)
    talking = _offer("k.2", interface=OTHER_INTERFACE)
    call_facts_apply(facts=[CallAnswered("k.2", "hotline", OTHER_INTERFACE, timezone.now(), hold_seconds=10)])
    wrapped = _offer("k.3", interface="Local/1003@agents/n")
    call_facts_apply(facts=[CallAnswered("k.3", "hotline", "Local/1003@agents/n", timezone.now(), hold_seconds=5),
                            CallEnded("k.3", 16, "Normal Clearing", timezone.now())])
    # A ring that lost its hang-up long ago is nobody's call; neither is one ringing on a signed-out agent.
    stale = _offer("k.4", interface="Local/1004@agents/n")
    Call.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - RINGING_HORIZON - datetime.timedelta(minutes=1))
    _offer("k.5", interface="Local/1005@agents/n")

    calls = agents_current_calls(now=timezone.now())

    assert calls == {ringing_agent.pk: ringing.pk, talking_agent.pk: talking.pk, wrapping_agent.pk: wrapped.pk}
    assert agents_current_calls(now=timezone.now(), agent_id=talking_agent.pk) == {talking_agent.pk: talking.pk}
    assert agents_current_calls(now=timezone.now(), agent_id=ready_agent.pk) == {}


@pytest.mark.django_db
def test_a_call_rung_again_on_another_agent_is_that_agents_call_and_no_longer_the_first_ones():
    first, second = call_agent_user(), call_agent_user()
    agent_presence(first, interface=INTERFACE)
    agent_presence(second, interface=OTHER_INTERFACE)
    call = _offer("k.1", interface=INTERFACE)
    call_facts_apply(facts=[CallOffered("k.1", "hotline", OTHER_INTERFACE, timezone.now())])

    assert agents_current_calls(now=timezone.now()) == {second.pk: call.pk}


@pytest.mark.django_db
def test_the_current_calls_of_every_agent_take_two_queries(django_assert_num_queries):
    for number in range(6):
        agent = call_agent_user()
        agent_presence(agent, interface=f"Local/{2000 + number}@agents/n")
        _offer(f"k.{number}", interface=f"Local/{2000 + number}@agents/n", phone=f"1390000{number:04d}")

    with django_assert_num_queries(2):
        calls = agents_current_calls(now=timezone.now())

    assert len(calls) == 6


# --- the socket ------------------------------------------------------------------------------------------------

socket_test = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@socket_test
def test_an_agent_connecting_while_a_call_rings_on_them_gets_its_pop_after_the_greeting():
    async_to_sync(_pop_on_connect)()


async def _pop_on_connect():
    agent = await sync_to_async(call_agent_user)()
    await sync_to_async(agent_presence)(agent, interface=INTERFACE)
    await sync_to_async(AccountFactory)(customer=await sync_to_async(CustomerFactory)(phone="13900001111"))
    call = await sync_to_async(_offer)("k.connect")

    communicator, greeting = await _connected(agent)

    assert [message["kind"] for message in greeting] == ["hello", "pbx_status", "agent_state", "queue_state"]
    pop = await communicator.receive_json_from(timeout=5)
    assert (pop["kind"], pop["call_id"], pop["call_key"]) == ("screen_pop", call.pk, "k.connect")
    assert pop["profile"]["call"]["caller_number_masked"] == "139****1111"
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


@socket_test
def test_a_pop_lost_on_the_way_comes_with_the_next_queue_push_once_and_only_to_its_agent():
    async_to_sync(_pop_on_queue_push)()


async def _pop_on_queue_push():
    agent, other = await sync_to_async(call_agent_user)(), await sync_to_async(call_agent_user)()
    await sync_to_async(agent_presence)(agent, interface=INTERFACE)
    await sync_to_async(agent_presence)(other, interface=OTHER_INTERFACE)
    communicator, _greeting = await _connected(agent)
    bystander, _greeting = await _connected(other)
    call = await sync_to_async(_offer_with_the_pop_lost)("k.lost")
    assert await communicator.receive_nothing(timeout=0.3)

    await sync_to_async(wallboard_push)()

    queue_state, pop = await _next_kinds(communicator, 2)
    assert queue_state == {"kind": "queue_state", "waiting": 1, "longest_wait_seconds": queue_state[
        "longest_wait_seconds"], "agents_ready": 2}
    assert (pop["kind"], pop["call_id"], pop["profile"]["call"]["state"]) == ("screen_pop", call.pk, "ringing")
    # The next push finds it popped: nothing more; the other agent got the queue's state and no pop.
    await sync_to_async(wallboard_push)()
    assert (await communicator.receive_json_from(timeout=5))["kind"] == "queue_state"
    assert await communicator.receive_nothing(timeout=0.3)
    other_messages = [await bystander.receive_json_from(timeout=5) for _ in range(2)]
    assert [message["kind"] for message in other_messages] == ["queue_state", "queue_state"]
    assert all("calls_by_agent" not in message for message in other_messages + [queue_state])
    assert await bystander.receive_nothing(timeout=0.3)
    await communicator.disconnect()
    await bystander.disconnect()


@socket_test
def test_a_pop_lost_on_the_way_comes_with_the_next_heartbeat():
    async_to_sync(_pop_on_heartbeat)()


async def _pop_on_heartbeat():
    agent = await sync_to_async(call_agent_user)()
    await sync_to_async(agent_presence)(agent, interface=INTERFACE)
    communicator, _greeting = await _connected(agent)
    call = await sync_to_async(_offer_with_the_pop_lost)("k.heartbeat")
    assert await communicator.receive_nothing(timeout=0.3)

    await communicator.send_json_to({"action": "heartbeat"})

    heartbeat, pop = await _next_kinds(communicator, 2)
    assert heartbeat["kind"] == "heartbeat"
    assert (pop["kind"], pop["call_id"]) == ("screen_pop", call.pk)
    await communicator.send_json_to({"action": "heartbeat"})
    assert (await communicator.receive_json_from(timeout=5))["kind"] == "heartbeat"
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


@socket_test
def test_a_pop_that_arrived_is_not_sent_again_by_the_heartbeat_or_the_queue_push():
    async_to_sync(_no_second_pop)()


async def _no_second_pop():
    agent = await sync_to_async(call_agent_user)()
    await sync_to_async(agent_presence)(agent, interface=INTERFACE)
    communicator, _greeting = await _connected(agent)
    await sync_to_async(_offer)("k.once")
    assert "screen_pop" in await _kinds_received(communicator)

    await communicator.send_json_to({"action": "heartbeat"})
    await sync_to_async(wallboard_push)()

    kinds = [(await communicator.receive_json_from(timeout=5))["kind"] for _ in range(2)]
    assert sorted(kinds) == ["heartbeat", "queue_state"]
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


@socket_test
def test_an_agent_reconnecting_during_after_call_work_gets_the_call_they_are_wrapping_up():
    async_to_sync(_pop_during_wrap_up)()


async def _pop_during_wrap_up():
    agent = await sync_to_async(call_agent_user)()
    await sync_to_async(agent_presence)(agent, interface=INTERFACE)
    call = await sync_to_async(_offer)("k.wrap")
    await sync_to_async(call_facts_apply)(facts=[
        CallAnswered("k.wrap", "hotline", INTERFACE, timezone.now(), hold_seconds=8),
        CallEnded("k.wrap", 16, "Normal Clearing", timezone.now()),
    ])

    communicator, greeting = await _connected(agent)

    assert greeting[2]["state"] == AgentState.AFTER_CALL_WORK
    pop = await communicator.receive_json_from(timeout=5)
    assert (pop["kind"], pop["call_id"], pop["profile"]["call"]["state"]) == ("screen_pop", call.pk, CallState.ENDED)
    await communicator.disconnect()
