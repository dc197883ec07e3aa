"""The supervisors' wallboard: the page and its JSON for supervisors only, and live snapshots pushed to the
wallboard group when calls and agents change — coalesced to one a second — reaching a supervisor's socket."""
import datetime
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from callcenter.wallboard import tasks
from config.asgi import application
from core.call_facts import CallQueued, CallStarted
from core.models import AgentState, CallOutcome
from core.signals import agent_state_changed, call_changed
from tests.callcenter.factories import agent_presence, call_agent_user, finished_call

URL = "/callcenter/wallboard/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_only_supervisors_see_the_wallboard():
    assert Client().get(URL).status_code == 302
    assert Client().get(URL).headers["Location"].startswith("/accounts/login/")
    assert client_for(call_agent_user()).get(URL).status_code == 403
    assert client_for(call_agent_user()).get(URL + "snapshot/").status_code == 403
    clerk = get_user_model().objects.create_user("clerk", is_staff=True)
    assert client_for(clerk).get(URL).status_code == 403
    root = get_user_model().objects.create_superuser("root", password="x")
    assert client_for(root).get(URL).status_code == 200
    assert client_for(call_agent_user(supervisor=True)).post(URL).status_code == 405


@pytest.mark.django_db
def test_the_page_shows_todays_figures_agents_and_hours(django_assert_max_num_queries):
    now = timezone.localtime()
    today_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    agent = call_agent_user(username="wang")
    agent_presence(agent, state=AgentState.NOT_READY, reason="午餐", since=timezone.now())
    finished_call(started_at=today_start, wait=10, talk=100, wrap_up=20, agent=agent)
    finished_call(started_at=today_start + datetime.timedelta(minutes=5), outcome=CallOutcome.ABANDONED, wait=40)
    supervisor = client_for(call_agent_user(supervisor=True))

    with django_assert_max_num_queries(10):
        response = supervisor.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    tiles = {tile.key: tile.value for tile in response.context["tiles"]}
    assert tiles == {
        "waiting": "0", "longest_wait": "0:00", "service_level": "50.0%", "abandonment": "50.0%",
        "average_handle": "2:00", "calls": "2", "answered": "1", "ivr_answered": "0", "storm_informed": "0",
    }
    assert "服务水平（20秒内接通）" in page
    assert [(row.name, row.state_label, row.reason) for row in response.context["agent_rows"]] == [
        ("wang", "未就绪", "午餐")
    ]
    assert [(row.hour, row.calls, row.answered, row.abandoned, row.service_level) for row in
            response.context["hour_rows"]] == [("00:00", 2, 1, 1, "50.0%")]
    assert '<script src="/static/callcenter/wallboard.js" defer></script>' in page
    assert 'id="wallboard-snapshot"' in page
    assert 'data-connected="false">交换机未连接' in page


@pytest.mark.django_db
def test_the_page_says_when_the_pbx_is_connected():
    cache.set("callcenter:pbx_status", {"connected": True, "at": timezone.now().isoformat()})
    page = client_for(call_agent_user(supervisor=True)).get(URL).content.decode()
    assert 'data-connected="true">交换机已连接' in page


@pytest.mark.django_db
def test_the_snapshot_json_for_catching_up_after_a_reconnect():
    finished_call(started_at=timezone.now() - datetime.timedelta(minutes=5), outcome=CallOutcome.IVR_RESOLVED)
    response = client_for(call_agent_user(supervisor=True)).get(URL + "snapshot/")
    body = json.loads(response.content)
    assert (response.status_code, body["kind"], body["pbx_connected"]) == (200, "wallboard", False)
    assert (body["snapshot"]["today"]["calls"], body["snapshot"]["today"]["ivr_answered"]) == (1, 1)
    assert response.headers["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_a_storm_of_changes_makes_one_push_a_second(monkeypatch):
    scheduled = []
    monkeypatch.setattr(tasks.wallboard_push, "apply_async", lambda **options: scheduled.append(options))

    for index in range(50):
        call_changed.send(sender=None, call_id=index, kind="queued", agent_id=None)
        agent_state_changed.send(sender=None, agent_id=index, state="ready", reason="")

    assert scheduled == [{"countdown": 1}]
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("callcenter.wallboard", channel)
    try:
        assert tasks.wallboard_push() == 0
        message = async_to_sync(layer.receive)(channel)
        assert (message["type"], message["payload"]["kind"]) == ("callcenter.message", "wallboard")
        assert message["payload"]["snapshot"]["queue"] == {"waiting": 0, "longest_wait_seconds": 0}
    finally:
        async_to_sync(layer.group_discard)("callcenter.wallboard", channel)
    # The push cleared the mark: the next change schedules the next push.
    call_changed.send(sender=None, call_id=1, kind="ended", agent_id=None)
    assert scheduled == [{"countdown": 1}, {"countdown": 1}]


def _headers(user) -> list[tuple[bytes, bytes]]:
    client = client_for(user)
    session_id = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_id}".encode())]


def _queue_a_call() -> None:
    from core.services.calls import call_facts_apply

    now = timezone.now()
    call_facts_apply(facts=[
        CallStarted("1763860000.77", "asterisk", "13800000001", "95598", now - datetime.timedelta(seconds=20)),
        CallQueued("1763860000.77", "hotline", now - datetime.timedelta(seconds=15)),
    ])


async def _live_wallboard():
    supervisor = await sync_to_async(call_agent_user)(supervisor=True)
    communicator = WebsocketCommunicator(application, "/ws/callcenter/", headers=await sync_to_async(_headers)(supervisor))
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["kind"] == "hello"
    assert (await communicator.receive_json_from(timeout=5))["kind"] == "pbx_status"

    await sync_to_async(_queue_a_call)()

    pushed = [await communicator.receive_json_from(timeout=5)]
    while not await communicator.receive_nothing(timeout=0.5):
        pushed.append(await communicator.receive_json_from(timeout=5))
    assert {message["kind"] for message in pushed} == {"wallboard"}
    latest = pushed[-1]["snapshot"]
    assert latest["queue"]["waiting"] == 1
    assert 15 <= latest["queue"]["longest_wait_seconds"] <= 25
    assert (latest["today"]["calls"], latest["today"]["queued"]) == (1, 1)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_queued_call_reaches_the_supervisors_socket():
    async_to_sync(_live_wallboard)()
