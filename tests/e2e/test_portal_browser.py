"""The customer portal in a real Chromium against Daphne over the seeded demo: a new customer signs up with an SMS
code, binds an account with a code sent to the phone on file, reads the bill and the usage chart, reads the inbox,
files a fault report and follows its timeline. SMS codes are read from the Message table (no SMS provider is
configured, so the messages are recorded, not sent). Screenshots go to var/screenshots/portal-<run time>/."""
from __future__ import annotations

import datetime
import json
import re
import sqlite3
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.servers import BASE_DIR, database_copy, dev_env, free_loopback_port, manage, start, stop, wait_until
from tests.e2e.test_browser_smoke import CHROMIUM, CHROMIUM_ARGS, answers

DEMO_CUSTOMERS = "24"
NEW_CUSTOMER_PHONE = "13987654321"
# A billed postpaid account whose holder has a mobile number on file (the binding code goes there).
ACCOUNT_QUERY = (
    "import json; from core.models import Account, Bill; "
    "a = Account.objects.filter(pk__in=Bill.objects.values('account_id'), billing_mode='postpaid', "
    "status='active').exclude(customer__phone='').select_related('customer').order_by('number').first(); "
    "print(json.dumps({'number': a.number, 'name': a.name, 'phone': a.customer.phone}))"
)


@pytest.fixture(scope="module")
def seeded_portal(migrated_sqlite, tmp_path_factory) -> tuple[Path, dict]:
    """The migrated database with the demo seeded; returns it and the account the customer will bind."""
    var_dir = tmp_path_factory.mktemp("portal-seeded")
    database_copy(migrated_sqlite, var_dir)
    env = dev_env(var_dir, keep_redis=False)
    manage(env, "seed_demo", "--customers", DEMO_CUSTOMERS)
    # The last line: Django's shell may first say how many objects it imported.
    account = json.loads(manage(env, "shell", "-c", ACCOUNT_QUERY).stdout.strip().splitlines()[-1])
    return var_dir / "db.sqlite3", account


@pytest.fixture(scope="module")
def screenshots() -> Path:
    """One folder per test run, named after the run's start time."""
    folder = BASE_DIR / "var" / "screenshots" / f"portal-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    return folder


@pytest.fixture
def portal(tmp_path, seeded_portal):
    """Daphne over a copy of the seeded database, tasks run inline; yields (base URL, database file, account)."""
    database, account = seeded_portal
    database_copy(database, tmp_path)
    env = dev_env(tmp_path, keep_redis=False)
    env["CELERY_TASK_ALWAYS_EAGER"] = "1"
    port = free_loopback_port()
    log = tmp_path / "daphne.log"
    server = start(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"], env, log
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{base_url}/healthz/"), "daphne answers", server, log)
        yield base_url, tmp_path / "db.sqlite3", account
    finally:
        stop(server)


@pytest.fixture
def page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            # A phone-sized window: the portal is built mobile first.
            yield browser.new_page(viewport={"width": 412, "height": 915}, locale="zh-CN")
        finally:
            browser.close()


def latest_sms_code(database: Path, *, phone: str, event: str) -> str:
    """The six-digit code in the newest SMS of `event` to `phone`, as the customer would read it off the phone."""
    with sqlite3.connect(database) as connection:
        row = connection.execute(
            'SELECT body FROM notifications_message WHERE channel = ? AND event = ? AND "to" LIKE ? '
            "ORDER BY id DESC LIMIT 1",
            ("sms", event, f"%{phone[-11:]}"),
        ).fetchone()
    assert row is not None, f"no {event} SMS to {phone}"
    match = re.search(r"(?<!\d)\d{6}(?!\d)", row[0])
    assert match, row[0]
    return match.group(0)


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def sign_up_by_sms(page: Page, base_url: str, database: Path, folder: Path) -> None:
    page.goto(f"{base_url}/accounts/signup/")
    page.locator("input[name=phone]").fill(NEW_CUSTOMER_PHONE)
    shot(page, folder, "01-signup")
    page.locator("main form").get_by_role("button", name="注册").click()
    expect(page.get_by_role("heading", name="验证手机号码")).to_be_visible()
    page.locator("input[name=code]").fill(latest_sms_code(database, phone=NEW_CUSTOMER_PHONE, event="login_code"))
    shot(page, folder, "02-signup-code")
    page.get_by_role("button", name="确认").click()
    page.wait_for_url(f"{base_url}/portal/")
    # No account bound yet: the dashboard asks for one.
    expect(page.get_by_role("link", name="绑定户号").first).to_be_visible()
    shot(page, folder, "03-portal-no-account")


def bind_by_sms_code(page: Page, base_url: str, database: Path, folder: Path, account: dict) -> None:
    page.goto(f"{base_url}/portal/accounts/add/")
    page.locator("input[name=account_number]").fill(account["number"])
    page.locator("input[name=holder_name]").fill(account["name"])
    page.locator("input[name=method][value=sms_code]").check()
    page.get_by_role("button", name="发送验证码").click()
    expect(page.get_by_text("验证码已发送到该户号预留的手机")).to_be_visible()
    page.locator("input[name=sms_code]").fill(latest_sms_code(database, phone=account["phone"], event="binding_code"))
    page.locator("input[name=label]").fill("家里")
    shot(page, folder, "04-bind")
    page.get_by_role("button", name="绑定", exact=True).click()
    page.wait_for_url(f"{base_url}/portal/accounts/")
    expect(page.get_by_text(f"户号{account['number']}绑定成功")).to_be_visible()
    shot(page, folder, "05-bound")


def read_bill_and_chart(page: Page, base_url: str, folder: Path, account: dict) -> None:
    page.goto(f"{base_url}/portal/")
    expect(page.get_by_role("heading", name=f"户号 {account['number']}")).to_be_visible()
    # The latest bill explained in words, with its kWh and yuan.
    words = page.locator(".bill-words")
    expect(words).to_contain_text("千瓦时")
    expect(words).to_contain_text("元")
    # The 24-month usage chart is drawn by the server: an SVG with one bar per month.
    chart = page.locator("#usage-title ~ * svg").first
    expect(chart).to_be_visible()
    shot(page, folder, "06-dashboard")


def read_inbox(page: Page, base_url: str, folder: Path) -> None:
    page.goto(f"{base_url}/portal/inbox/")
    expect(page.get_by_role("heading", name="消息中心")).to_be_visible()
    expect(page.locator(".inbox__unread")).to_be_visible()
    shot(page, folder, "07-inbox")
    page.get_by_role("link", name="通知设置").click()
    expect(page.get_by_role("heading", name="通知设置")).to_be_visible()
    expect(page.locator("input[type=checkbox]")).to_have_count(4)
    shot(page, folder, "08-preferences")


def report_fault_and_follow_it(page: Page, base_url: str, folder: Path, account: dict) -> None:
    page.goto(f"{base_url}/portal/requests/fault/")
    page.locator("select[name=account]").select_option(account["number"])
    page.locator("textarea[name=description]").fill("家中突然停电，邻居家也没有电。")
    page.locator("input[name=phone]").fill(NEW_CUSTOMER_PHONE)
    shot(page, folder, "09-fault-report")
    page.locator("main form").get_by_role("button").last.click()
    expect(page.get_by_role("heading", name="报修已受理")).to_be_visible()
    ticket_number = page.locator(".ticket-number strong").inner_text()
    assert ticket_number, "no ticket number shown"
    shot(page, folder, "10-fault-accepted")
    page.get_by_role("link", name="查看抢修进度").click()
    page.wait_for_url(f"**/portal/tickets/{ticket_number}/")
    timeline = page.locator(".timeline")
    expect(timeline).to_be_visible()
    expect(timeline.locator("li").first).to_be_visible()
    shot(page, folder, "11-fault-timeline")


def test_a_new_customer_signs_up_binds_reads_the_bill_and_reports_a_fault(portal, page, screenshots):
    base_url, database, account = portal

    sign_up_by_sms(page, base_url, database, screenshots)
    bind_by_sms_code(page, base_url, database, screenshots, account)
    read_bill_and_chart(page, base_url, screenshots, account)
    read_inbox(page, base_url, screenshots)
    report_fault_and_follow_it(page, base_url, screenshots, account)

    assert sorted(path.name for path in screenshots.iterdir()) == [
        "01-signup.png", "02-signup-code.png", "03-portal-no-account.png", "04-bind.png", "05-bound.png",
        "06-dashboard.png", "07-inbox.png", "08-preferences.png", "09-fault-report.png", "10-fault-accepted.png",
        "11-fault-timeline.png",
    ]
