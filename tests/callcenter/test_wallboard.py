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


@pytest.fixture(autouse=True)
def _no_push_scheduled_here():
    """Each test starts as a fresh process would: this process has scheduled no push."""
    tasks._scheduled_here.set(float("-inf"))


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


# --- the page's script in a real Chromium; the websocket is a stand-in the test drives -----------------------

FAKE_WEBSOCKET = """
window.__sockets = [];
window.WebSocket = function (url) {
  this.url = url;
  window.__sockets.push(this);
  var socket = this;
  setTimeout(function () { if (socket.onopen) { socket.onopen({}); } }, 0);
};
window.__deliver = function (payload) {
  window.__sockets.forEach(function (socket) { socket.onmessage({ data: JSON.stringify(payload) }); });
};
window.__drop = function () {
  window.__sockets.forEach(function (socket) { socket.onclose({ code: 1006 }); });
};
"""


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_wallboard_draws_its_charts_and_follows_pushed_snapshots(live_server, monkeypatch, tmp_path):
    from tests.browser import chromium

    from core.selectors.call_kpis import wallboard_snapshot

    now = timezone.localtime()
    agent = call_agent_user(username="wang")
    agent_presence(agent, state=AgentState.READY, since=timezone.now())
    finished_call(started_at=now.replace(hour=0, minute=1), wait=10, talk=100, agent=agent)
    finished_call(started_at=now.replace(hour=0, minute=2), outcome=CallOutcome.ABANDONED, wait=40)
    session = client_for(call_agent_user(supervisor=True)).cookies[settings.SESSION_COOKIE_NAME].value
    pushed = wallboard_snapshot(now=timezone.now())
    pushed["queue"] = {"waiting": 3, "longest_wait_seconds": 42}
    pushed["today"] = {**pushed["today"], "calls": 7, "service_level_percent": 87.5}
    pushed["agents_by_state"] = {**pushed["agents_by_state"], "ready": 0, "on_call": 1}
    pushed["agents"] = [{**pushed["agents"][0], "state": "on_call", "state_label": "通话中", "seconds_in_state": 5}]
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with chromium() as browser:
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1000})
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
        context.add_init_script(FAKE_WEBSOCKET)
        page = context.new_page()
        page.goto(f"{live_server.url}{URL}")
        assert page.evaluate("window.__sockets.map(s => s.url)") == [
            live_server.url.replace("http://", "ws://") + "/ws/callcenter/"
        ]
        page.wait_for_function("document.getElementById('wallboard').dataset.connected === 'true'")
        assert page.locator("#wallboard-link").inner_text() == "实时更新中"
        # Hour 0: one answered and one abandoned call, stacked; the service level point at 50 %.
        assert page.locator("#hours-plot rect.bar--answered").count() == 1
        assert page.locator("#hours-plot rect.bar--abandoned").count() == 1
        assert page.locator("#hours-plot circle.chart__level-point").count() == 1
        assert page.locator("#agents-plot rect").count() == 4
        assert page.locator("#tile-service_level").inner_text() == "50.0%"

        # Taken now: newer than the page's own figures and than its catch-up answer, wherever that is.
        pushed["at"] = timezone.now().isoformat()
        page.evaluate("payload => window.__deliver({kind: 'wallboard', snapshot: payload})", pushed)
        assert page.locator("#tile-waiting").inner_text() == "3"
        # Figures older than those shown (a slow catch-up answer) are ignored.
        stale = {**pushed, "at": (timezone.now() - datetime.timedelta(minutes=1)).isoformat(),
                 "queue": {"waiting": 9, "longest_wait_seconds": 1}}
        page.evaluate("payload => window.__deliver({kind: 'wallboard', snapshot: payload})", stale)
        assert page.locator("#tile-waiting").inner_text() == "3"
        assert page.locator("#tile-longest_wait").inner_text() in {"0:42", "0:43"}
        assert page.locator("#tile-calls").inner_text() == "7"
        assert page.locator("#tile-service_level").inner_text() == "87.5%"
        assert page.locator("#agents-table tbody tr").first.locator("td").nth(1).inner_text() == "通话中"
        assert page.locator("#agents-plot text.chart__value").all_text_contents() == ["0", "1", "0", "0"]
        page.wait_for_function("document.getElementById('tile-longest_wait').textContent === '0:44'")

        page.evaluate("window.__deliver({kind: 'pbx_status', connected: true})")
        assert page.locator("#wallboard-pbx").inner_text() == "交换机已连接"
        page.screenshot(path=str(tmp_path / "wallboard.png"), full_page=True)

        page.evaluate("window.__drop()")
        assert page.locator("#wallboard").get_attribute("data-connected") == "false"
        assert page.locator("#wallboard-link").inner_text().startswith("连接已断开，1秒后重连")
        # The reconnect opens a new socket and catches up from the server's figures.
        page.wait_for_function("window.__sockets.length === 2")
        page.wait_for_function("document.getElementById('tile-waiting').textContent === '0'")
        assert page.locator("#tile-calls").inner_text() == "2"
