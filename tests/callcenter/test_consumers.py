"""The call centre's socket through the real ASGI application: who may connect, the screen-pop when core offers
a call, call updates, and the agent's state buttons reaching core and the PBX group."""
import datetime

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from callcenter.wallboard.tasks import wallboard_push
from config.asgi import application
from core.call_facts import CallAnswered, CallEnded, CallOffered, CallQueued, CallStarted
from core.models import AgentPresence, AgentState, AgentStateChange
from core.services.calls import call_facts_apply
from tests.callcenter.factories import agent_presence, call_agent_user
from tests.factories import AccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
KEY = "1763860000.42"
INTERFACE = "Local/1001@agents/n"


def _headers(user=None) -> list[tuple[bytes, bytes]]:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if user is not None:
        client = Client()
        client.force_login(user)
        session_id = client.cookies[settings.SESSION_COOKIE_NAME].value
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_id}".encode()))
    return headers


async def _connected(user) -> tuple[WebsocketCommunicator, list[dict]]:
    """A connected socket and the greeting messages it received (hello, pbx_status, and agent_state and
    queue_state for agents)."""
    communicator = WebsocketCommunicator(application, "/ws/callcenter/", headers=await sync_to_async(_headers)(user))
    connected, _ = await communicator.connect()
    assert connected
    greeting = [await communicator.receive_json_from(timeout=5), await communicator.receive_json_from(timeout=5)]
    if greeting[0]["agent"]:
        greeting.append(await communicator.receive_json_from(timeout=5))
        greeting.append(await communicator.receive_json_from(timeout=5))
    return communicator, greeting


async def _receive_about_calls(communicator) -> dict:
    """The next message that is not the queue's state (every call change also pushes that to every agent)."""
    while True:
        message = await communicator.receive_json_from(timeout=5)
        if message["kind"] != "queue_state":
            return message


async def _kinds_received(communicator) -> set[str]:
    kinds = set()
    while not await communicator.receive_nothing(timeout=0.3):
        kinds.add((await communicator.receive_json_from(timeout=1))["kind"])
    return kinds


def test_customers_anonymous_visitors_and_staff_without_a_call_centre_role_are_refused():
    async_to_sync(_refused)()


async def _refused():
    customer = await sync_to_async(get_user_model().objects.create_user)("customer1")
    clerk = await sync_to_async(get_user_model().objects.create_user)("clerk1", is_staff=True)
    for user in (None, customer, clerk):
        communicator = WebsocketCommunicator(
            application, "/ws/callcenter/", headers=await sync_to_async(_headers)(user)
        )
        assert await communicator.connect() == (False, 4403)


def test_an_agent_is_greeted_with_state_and_pbx_status_and_a_supervisor_with_the_wallboard_group():
    async_to_sync(_greetings)()


async def _greetings():
    agent = await sync_to_async(call_agent_user)()
    await sync_to_async(agent_presence)(agent, interface=INTERFACE, state=AgentState.NOT_READY, reason="培训")
    communicator, greeting = await _connected(agent)
    assert greeting[0] == {"kind": "hello", "agent": True, "supervisor": False}
    assert greeting[1] == {"kind": "pbx_status", "connected": False, "at": None}
    state = greeting[2]
    assert (state["kind"], state["state"], state["state_label"], state["reason"], state["interface"]) == (
        "agent_state", "not_ready", "未就绪", "培训", INTERFACE
    )
    assert greeting[3] == {"kind": "queue_state", "waiting": 0, "longest_wait_seconds": 0, "agents_ready": 0}
    # The queue now reaches every agent's console with each wallboard push.
    await sync_to_async(wallboard_push)()
    assert await communicator.receive_json_from(timeout=5) == {
        "kind": "queue_state", "waiting": 0, "longest_wait_seconds": 0, "agents_ready": 0
    }
    await communicator.disconnect()

    supervisor = await sync_to_async(call_agent_user)(supervisor=True)
    communicator, greeting = await _connected(supervisor)
    assert greeting[0] == {"kind": "hello", "agent": False, "supervisor": True}
    payload = {"kind": "wallboard", "calls_waiting": 3}
    await get_channel_layer().group_send("callcenter.wallboard", {"type": "callcenter.message", "payload": payload})
    assert await communicator.receive_json_from(timeout=5) == payload
    await communicator.disconnect()


def test_a_call_offered_to_the_agent_pops_the_callers_profile_then_updates_it():
    async_to_sync(_screen_pop)()


def _offer_call(account) -> None:
    at = timezone.now()
    call_facts_apply(facts=[
        CallStarted(KEY, "asterisk", account.customer.phone, "95598", at - datetime.timedelta(seconds=40)),
        CallQueued(KEY, "hotline", at - datetime.timedelta(seconds=10)),
    ])
    call_facts_apply(facts=[CallOffered(KEY, "hotline", INTERFACE, at)])


async def _screen_pop():
    agent = await sync_to_async(call_agent_user)()
    await sync_to_async(agent_presence)(agent, interface=INTERFACE)
    other = await sync_to_async(call_agent_user)()
    await sync_to_async(agent_presence)(other, interface="Local/1002@agents/n")
    account = await sync_to_async(AccountFactory)(customer=await sync_to_async(CustomerFactory)(
        name="李四", phone="13900001111"))
    communicator, _greeting = await _connected(agent)
    bystander, _greeting = await _connected(other)

    await sync_to_async(_offer_call)(account)

    pop = await _receive_about_calls(communicator)
    assert (pop["kind"], pop["call_key"]) == ("screen_pop", KEY)
    assert pop["profile"]["call"]["caller_number_masked"] == "139****1111"
    assert pop["profile"]["call"]["state"] == "ringing"
    assert pop["profile"]["customer"] is None
    assert [candidate["account_number"] for candidate in pop["profile"]["candidates"]] == [account.number]
    assert datetime.datetime.fromisoformat(pop["event_at"]).tzinfo is not None

    answered_at = timezone.now()
    await sync_to_async(call_facts_apply)(facts=[CallAnswered(KEY, "hotline", INTERFACE, answered_at, hold_seconds=10)])
    # Core puts the agent on the call first, then the call update follows.
    messages = [await _receive_about_calls(communicator), await _receive_about_calls(communicator)]
    by_kind = {message["kind"]: message for message in messages}
    assert by_kind["agent_state"]["state"] == "on_call"
    update = by_kind["call_update"]
    assert (update["change"], update["call_id"], update["call"]["state"], update["call"]["queue_wait_seconds"]) == (
        "answered", pop["call_id"], "talking", 10
    )

    await sync_to_async(call_facts_apply)(facts=[CallEnded(KEY, 16, "Normal Clearing", timezone.now())])
    messages = [await _receive_about_calls(communicator), await _receive_about_calls(communicator)]
    by_kind = {message["kind"]: message for message in messages}
    assert by_kind["agent_state"]["state"] == "after_call_work"
    assert (by_kind["call_update"]["change"], by_kind["call_update"]["call"]["state"]) == ("ended", "ended")

    # Nothing of this call reached the other agent, only the queue's state.
    assert await _kinds_received(bystander) <= {"queue_state"}
    await communicator.disconnect()
    await bystander.disconnect()


def test_the_state_buttons_sign_in_pause_and_sign_out_through_core_and_the_pbx():
    async_to_sync(_state_buttons)()


async def _state_buttons():
    agent = await sync_to_async(call_agent_user)(username="agent-zhao")
    await sync_to_async(agent_presence)(agent, interface=INTERFACE, state=AgentState.LOGGED_OUT)
    layer = get_channel_layer()
    pbx = await layer.new_channel()
    await layer.group_add("callcenter.pbx", pbx)
    communicator, _greeting = await _connected(agent)

    async def state(state: str, reason: str = "") -> tuple[dict, dict]:
        await communicator.send_json_to({"action": "agent_state", "state": state, "reason": reason})
        replies = []
        while not any("request_id" in reply for reply in replies):
            replies.append(await communicator.receive_json_from(timeout=5))
        reply = next(reply for reply in replies if "request_id" in reply)
        command = await layer.receive(pbx)
        assert command["request_id"] == reply["request_id"]
        assert command["reply_to_agent_id"] == agent.pk
        return reply, command

    reply, command = await state("not_ready", "培训")
    assert (reply["state"], reply["reason"]) == ("not_ready", "培训")
    assert (command["action"], command["fields"]) == ("QueueAdd", {
        "Queue": "hotline", "Interface": INTERFACE, "Paused": "true", "MemberName": "agent-zhao", "Reason": "培训",
    })
    reply, command = await state("ready")
    assert reply["state"] == "ready"
    assert (command["action"], command["fields"]) == ("QueuePause", {
        "Queue": "hotline", "Interface": INTERFACE, "Paused": "false",
    })
    reply, command = await state("logged_out")
    assert reply["state"] == "logged_out"
    assert (command["action"], command["fields"]) == ("QueueRemove", {"Queue": "hotline", "Interface": INTERFACE})
    changes = await sync_to_async(lambda: list(AgentStateChange.objects.filter(agent=agent).values_list(
        "state", flat=True)))()
    assert changes == ["ready", "not_ready", "ready", "logged_out"]
    await layer.group_discard("callcenter.pbx", pbx)
    await communicator.disconnect()


def test_refused_state_changes_and_unknown_messages_answer_an_error_and_change_nothing():
    async_to_sync(_refusals)()


async def _refusals():
    agent = await sync_to_async(call_agent_user)()
    communicator, _greeting = await _connected(agent)
    await communicator.send_json_to({"action": "agent_state", "state": "ready"})
    assert await communicator.receive_json_from(timeout=5) == {
        "kind": "error", "message": "尚未配置坐席分机，请联系班长", "field": "interface",
    }
    await sync_to_async(agent_presence)(agent, interface=INTERFACE, state=AgentState.LOGGED_OUT)
    await communicator.send_json_to({"action": "agent_state", "state": "on_call"})
    assert (await communicator.receive_json_from(timeout=5))["message"] == "无效的坐席状态"
    await communicator.send_to(text_data="not json")
    assert (await communicator.receive_json_from(timeout=5))["message"] == "无法识别的消息"
    await communicator.send_json_to({"action": "dial", "number": "110"})
    assert (await communicator.receive_json_from(timeout=5))["message"] == "无法识别的操作"
    await communicator.send_json_to({"action": "heartbeat"})
    assert (await communicator.receive_json_from(timeout=5))["kind"] == "heartbeat"
    presence = await sync_to_async(AgentPresence.objects.get)(agent=agent)
    assert presence.state == "logged_out"
    await communicator.disconnect()


def test_a_supervisor_cannot_press_agent_state_buttons():
    async_to_sync(_supervisor_buttons)()


async def _supervisor_buttons():
    supervisor = await sync_to_async(call_agent_user)(supervisor=True)
    communicator, _greeting = await _connected(supervisor)
    await communicator.send_json_to({"action": "agent_state", "state": "ready"})
    assert (await communicator.receive_json_from(timeout=5))["message"] == "只有坐席可以设置坐席状态"
    await communicator.disconnect()
