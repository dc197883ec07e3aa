"""The agent console in a real Chromium against Daphne: the demo agent signs in (password and TOTP), goes ready,
a call arrives through the signed Twilio voice webhook and leaves the IVR for an agent (0 at the main menu), the
screen-pop shows the caller masked, the agent opens the phone number (logged), opens a ticket from the pop, the call
is answered and ends, and the agent wraps up and is ready again. Screenshots go to var/screenshots/console-<run
time>/."""
from __future__ import annotations

import sqlite3
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from playwright.sync_api import Page, expect
from twilio.request_validator import RequestValidator

from core.services.demo_logins import DEMO_PASSWORD, DEMO_TOTP_SECRET
from tests.e2e.servers import database_copy, dev_env, manage
from tests.browser import chromium

AUTH_TOKEN = "console-e2e-twilio-token"
CALL_SID = "CA" + "c0ffee" * 5 + "42"
CALLER = "13700001234"
# The demo agent answers through Twilio in this test (no PBX): signed out, on the hotline queue.
SETUP = (
    "from django.utils import timezone; from core.models import AgentPresence; "
    "from core.services.demo_logins import demo_users_ensure; from django.contrib.auth import get_user_model; "
    "from tests.factories import AccountFactory, CustomerFactory; "
    "demo_users_ensure(allow_fixed_passwords=True); agent = get_user_model().objects.get(username='demo-agent'); "
    "AgentPresence.objects.update_or_create(agent=agent, defaults={'interface': 'twilio:demo-agent', "
    "'queue': 'hotline', 'state': 'logged_out', 'since': timezone.now()}); "
    f"AccountFactory(customer=CustomerFactory(name='陈小明', phone='{CALLER}'), "
    "address='湖北省恩施市舞阳坝街道施州大道88号')"
)


@pytest.fixture(scope="module")
def prepared_sqlite(migrated_sqlite, tmp_path_factory) -> Path:
    var_dir = tmp_path_factory.mktemp("console-prepared")
    database_copy(migrated_sqlite, var_dir)
    manage(dev_env(var_dir, keep_redis=False), "shell", "-c", SETUP)
    return var_dir / "db.sqlite3"


@pytest.fixture
def server(tmp_path, prepared_sqlite, daphne_over):
    """Daphne over a copy of the prepared database, tasks inline, Twilio requests signed with AUTH_TOKEN."""
    base_url = daphne_over(prepared_sqlite, CELERY_TASK_ALWAYS_EAGER="1", TWILIO_AUTH_TOKEN=AUTH_TOKEN)
    return base_url, tmp_path / "db.sqlite3"


@pytest.fixture
def page():
    with chromium() as browser:
        yield browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")


def twilio_post(base_url: str, path: str, **fields: str) -> str:
    """A webhook request as Twilio sends it: form-encoded, signed over the URL and the fields."""
    url = f"{base_url}/callcenter/twilio/{path}"
    params = {"CallSid": CALL_SID, "From": CALLER, "To": "95598", **fields}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(params).encode(), headers={"X-Twilio-Signature": signature}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def query(database: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql, args).fetchall()


def sign_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/accounts/login/?next=/callcenter/console/")
    page.locator("input[name=login]").fill("demo-agent")
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.locator("input[name=code]").fill(format_hotp_value(hotp_value(DEMO_TOTP_SECRET, int(time.time()) // 30)))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(f"{base_url}/callcenter/console/")


def test_an_agent_receives_a_screen_pop_opens_the_phone_opens_a_ticket_and_wraps_up(server, page, screenshots):
    base_url, database = server
    sign_in(page, base_url)
    expect(page.locator("#console-link")).to_have_text("已连接")
    expect(page.locator("#state-label")).to_have_text("未签入")
    shot(page, screenshots, "01-console-signed-out")

    page.locator("#state-ready").click()
    expect(page.locator("#state-label")).to_have_text("就绪")
    shot(page, screenshots, "02-ready")

    # The caller dials in, chooses Mandarin, then asks for an agent.
    assert "<Gather" in twilio_post(base_url, "voice/", CallStatus="ringing")
    assert "<Gather" in twilio_post(base_url, "gather/", Digits="1")
    assert "<Enqueue" in twilio_post(base_url, "gather/", Digits="0")

    pop = page.locator("#pop")
    expect(pop).to_be_visible()
    expect(page.locator("#pop-caller")).to_have_text("137****1234")
    expect(page.locator("#pop-field-name")).to_have_text("陈**")
    expect(page.locator("#pop-field-phone")).to_have_text("137****1234")
    expect(page.locator("#pop-identified")).to_have_text("来电号码")
    shot(page, screenshots, "03-screen-pop")

    page.locator("#pop-reveal").click()
    expect(page.locator("#pop-field-phone")).to_have_text(CALLER)
    expect(page.locator("#pop-field-address")).to_have_text("湖北省恩施市舞阳坝街道施州大道88号")
    [(fields, context)] = query(database, "SELECT fields, context FROM core_personaldataaccess")
    [(call_id,)] = query(database, "SELECT id FROM core_call WHERE call_key = ?", f"twilio:{CALL_SID}")
    assert context == f"call:{call_id}" and '"phone"' in fields
    shot(page, screenshots, "04-phone-opened")

    page.locator("#ticket-type").select_option("opinion")
    page.locator("#ticket-summary").fill("建议增加夜间抢修电话回访")
    page.locator("#pop-ticket-open button[type=submit]").click()
    expect(page.locator("#pop-result")).to_contain_text("已新建工单")
    [(number, channel, phone)] = query(database, "SELECT number, channel, contact_phone FROM core_ticket")
    assert (channel, phone) == ("agent", CALLER)
    expect(page.locator("#pop-result")).to_have_text(f"已新建工单 {number}")
    assert query(database, "SELECT relation FROM core_callticket") == [("opened",)]
    shot(page, screenshots, "05-ticket-opened")

    twilio_post(base_url, "queue/", QueueResult="bridged", QueueTime="6")
    expect(page.locator("#state-label")).to_have_text("通话中")
    expect(page.locator("#pop-call-state")).to_have_text("通话中")
    twilio_post(base_url, "status/", CallStatus="completed")
    expect(page.locator("#state-label")).to_have_text("话后处理")
    expect(page.locator("#pop-result")).to_have_text("通话已结束，请提交小结")
    shot(page, screenshots, "06-call-ended")

    page.locator("#wrap-up-code").select_option("ticket_opened")
    page.locator("#wrap-up-note").fill("客户建议已记录")
    page.locator("#pop-wrap-up button[type=submit]").click()
    expect(page.locator("#pop-result")).to_have_text("小结已保存")
    expect(page.locator("#state-label")).to_have_text("就绪")
    assert query(database, "SELECT wrap_up_code, state, outcome, queue_wait_seconds FROM core_call") == [
        ("ticket_opened", "ended", "answered", 6)
    ]
    shot(page, screenshots, "07-wrapped-up")
