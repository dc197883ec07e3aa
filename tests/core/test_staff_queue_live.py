"""The queue page's live refresh (core/static/core/staff/queue.js) in a real Chromium: a ticket alert on the
staff websocket reloads the queue tables from the server and shows a toast. The websocket is replaced in the page
by a stand-in the test drives, so this checks the script, not Channels (tested in tests/notifications)."""
import datetime

import pytest
from django.test import Client

from tests import ticket_factories
from tests.browser import chromium
from tests.core.test_staff_queue import ticket_at_step, viewer
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

HOUR = datetime.timedelta(hours=1)
# Records the socket the page opens and lets the test deliver a message to it.
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
"""


def test_a_ticket_alert_refreshes_the_queue_and_shows_a_toast(live_server, monkeypatch):
    branch = BranchFactory()
    process = ticket_factories.sample_process()
    surveyor = viewer(ticket_factories.staff_user("surveyor", branch))
    first = ticket_at_step(process.survey, branch=branch, due_in=5 * HOUR)
    browser_client = Client()
    browser_client.force_login(surveyor)
    session = browser_client.cookies["sessionid"].value
    # Playwright's sync API runs an event loop on this thread, so Django would refuse the ORM call made while the
    # page is open; nothing async shares that connection.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with chromium() as browser:
        context = browser.new_context(locale="zh-CN")
        context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        context.add_init_script(FAKE_WEBSOCKET)
        page = context.new_page()
        page.goto(f"{live_server.url}/staff/queue/")
        assert page.evaluate("window.__sockets.map(s => s.url)") == [
            live_server.url.replace("http://", "ws://") + "/ws/staff/alerts/"
        ]
        assert page.locator("#queue-pool tbody tr").count() == 1

        arrived = ticket_at_step(process.survey, branch=branch, due_in=-HOUR)
        page.evaluate("""window.__deliver({type: "alert", message_id: 1, event: "ticket_arrival",
                                            subject: "工单到达岗位", body: "现场勘查待领取"})""")

        page.wait_for_function("document.querySelectorAll('#queue-pool tbody tr').length === 2")
        rows = page.locator("#queue-pool tbody tr")
        assert rows.nth(0).locator("td").first.inner_text() == arrived.number
        assert rows.nth(0).locator(".badge").inner_text() == "已超时"
        assert rows.nth(1).locator("td").first.inner_text() == first.number
        assert page.locator(".toast--ticket_arrival").inner_text().split() == ["工单到达岗位", "现场勘查待领取"]

        page.evaluate("""window.__deliver({type: "alert", message_id: 2, event: "payment_received",
                                            subject: "缴费", body: ""})""")
        assert page.locator(".toast").count() == 1
