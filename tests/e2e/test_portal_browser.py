"""The customer portal in a real Chromium against Daphne over the seeded demo: a new customer signs up with an SMS
code, binds an account with a code sent to the phone on file, reads the bill and the usage chart, pays the arrears
by card through localstripe (the Stripe stand-in: its Stripe.js draws plain inputs for the card element, and it signs
and POSTs its events to the live server's webhook, which alone credits the ledger), sees the balance cleared, reads
the inbox, files a fault report and follows its timeline. SMS codes are read from the Message table (no SMS provider
is configured, so the messages are recorded, not sent). Screenshots go to var/screenshots/portal-<run time>/ (the
3-D Secure payment's into its 3ds/ folder)."""
from __future__ import annotations

import json
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.money import format_yuan
from tests.browser import chromium
from scripts.localstripe_server import LocalStripe, localstripe_running

NEW_CUSTOMER_PHONE = "13987654321"
# Stripe's test cards, which localstripe knows: one paid at once, one that asks for 3-D Secure first.
CARD_PAID = "4242424242424242"
CARD_3DS = "4000002760003184"
# A billed postpaid account in arrears whose holder has a mobile number on file (the binding code goes there), with
# what paying it off today takes.
ACCOUNT_QUERY = (
    "import json; from django.utils import timezone; from core.models import Account, Bill; "
    "from core.selectors.accounts import account_amount_due; "
    "billed = Account.objects.filter(pk__in=Bill.objects.values('account_id'), billing_mode='postpaid', "
    "status='active').exclude(customer__phone='').select_related('customer').order_by('number'); "
    "a, due = next((a, d) for a in billed for d in [account_amount_due(account=a, as_of=timezone.localdate())] "
    "if d.total_due > 0 and not d.prepaid_credit); "
    "print(json.dumps({'number': a.number, 'name': a.name, 'phone': a.customer.phone, "
    "'total_due': str(due.total_due)}))"
)


@pytest.fixture(scope="module")
def account_to_bind(seeded_sqlite, shell_answer) -> dict:
    """The account the customer will bind, read from the seeded database."""
    return json.loads(shell_answer(seeded_sqlite.path, ACCOUNT_QUERY))


@pytest.fixture
def localstripe(tmp_path) -> LocalStripe:
    """A localstripe of the test's own: no intents or webhooks left over from another test."""
    with localstripe_running(tmp_path) as server:
        yield server


@pytest.fixture
def portal(tmp_path, seeded_sqlite, account_to_bind, localstripe, daphne_over):
    """Daphne over a copy of the seeded database, tasks run inline, payments through localstripe, whose events go
    to the server's webhook; returns (base URL, database file, account)."""
    base_url = daphne_over(seeded_sqlite.path, CELERY_TASK_ALWAYS_EAGER="1", **localstripe.environment())
    localstripe.webhook_register(f"{base_url}/payments/stripe/webhook/")
    return base_url, tmp_path / "db.sqlite3", account_to_bind


@pytest.fixture
def page():
    with chromium() as browser:
        # A phone-sized window: the portal is built mobile first.
        yield browser.new_page(viewport={"width": 412, "height": 915}, locale="zh-CN")


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


def card_fill(page: Page, number: str) -> None:
    """localstripe's card element: plain inputs named by their placeholders (the year in two digits)."""
    card = page.locator("#card-element")
    expect(card).to_contain_text("localstripe")
    for field, value in (("number", number), ("exp_month", "12"), ("exp_year", "30"), ("cvc", "123")):
        card.locator(f"input[placeholder={field}]").fill(value)


def pay_arrears_by_card(page: Page, base_url: str, folder: Path, account: dict, *, card: str, names: list[str]) -> None:
    """From the dashboard's amount due through the pay pages to localstripe's card element, filled with `card` and
    submitted. names: the 3 screenshots (pay, amount, card)."""
    due = Decimal(account["total_due"])
    page.goto(f"{base_url}/portal/")
    expect(page.locator(".amount--due strong")).to_have_text(format_yuan(due))
    page.locator("section[aria-labelledby=due-title]").get_by_role("link", name="交电费").click()
    page.wait_for_url(f"{base_url}/portal/pay/")
    row = page.locator(".pay-account", has_text=account["number"])
    expect(row.locator("strong")).to_have_text(f"{due}")
    shot(page, folder, names[0])
    row.get_by_role("link", name="立即缴费").click()
    page.wait_for_url(f"{base_url}/portal/pay/{account['number']}/")
    expect(page.locator(".pay-due strong")).to_have_text(f"{due}")
    shot(page, folder, names[1])
    page.get_by_role("button", name="去支付").click()
    page.wait_for_url(re.compile(rf"/portal/pay/{account['number']}/\d+/$"))
    submit = page.get_by_role("button", name=f"支付 {due} 元")
    expect(submit).to_be_visible()
    card_fill(page, card)
    shot(page, folder, names[2])
    submit.click()


def payment_credited(page: Page, base_url: str, folder: Path, account: dict, *, names: list[str]) -> None:
    """The status page (it reloads itself until the webhook has come) shows the payment credited, and the
    dashboard's balance and payment record follow the ledger."""
    due = Decimal(account["total_due"])
    page.wait_for_url(re.compile(rf"/portal/pay/{account['number']}/\d+/status/$"))
    credited = page.locator(".pay-credited")
    expect(credited).to_have_text("已入账。 当前应缴金额 0.00 元 · 预存余额 0.00 元", timeout=30_000)
    expect(page.locator(".pay-status")).to_contain_text(f"{due} 元")
    expect(page.locator(".pay-state")).to_have_text("支付成功")
    shot(page, folder, names[0])
    page.goto(f"{base_url}/portal/")
    expect(page.locator(".amount--clear")).to_have_text("当前无欠费")
    expect(page.locator(".amount--due")).to_have_count(0)
    newest = page.locator(".payment-table tbody tr").first
    expect(newest.locator("td").nth(1)).to_have_text(format_yuan(due))
    expect(newest.locator("td").nth(2)).to_have_text("网上缴费")
    expect(newest.locator("td").nth(3)).to_have_text("已入账")
    shot(page, folder, names[1])


def read_inbox(page: Page, base_url: str, folder: Path) -> None:
    page.goto(f"{base_url}/portal/inbox/")
    expect(page.get_by_role("heading", name="消息中心")).to_be_visible()
    expect(page.locator(".inbox__unread")).to_be_visible()
    shot(page, folder, "12-inbox")
    page.get_by_role("link", name="通知设置").click()
    expect(page.get_by_role("heading", name="通知设置")).to_be_visible()
    # One row per channel (SMS, email, inbox): its switch and its five topics; then the paperless-bill switch.
    rows = page.locator(".preferences__grid tbody tr")
    expect(rows).to_have_count(3)
    for index in range(3):
        expect(rows.nth(index).locator("input[type=checkbox]")).to_have_count(6)
    expect(page.locator("input[type=checkbox]")).to_have_count(19)
    shot(page, folder, "13-preferences")


def report_fault_and_follow_it(page: Page, base_url: str, folder: Path, account: dict) -> None:
    page.goto(f"{base_url}/portal/requests/fault/")
    page.locator("select[name=account]").select_option(account["number"])
    page.locator("textarea[name=description]").fill("家中突然停电，邻居家也没有电。")
    page.locator("input[name=phone]").fill(NEW_CUSTOMER_PHONE)
    # On a phone every field is thumb-high with 16 px text (smaller text makes the phone zoom in on focus).
    for field in ("select[name=account]", "select[name=branch]", "input[name=address]", "textarea[name=description]",
                  "input[name=phone]"):
        height, font_size = page.locator(field).evaluate(
            "element => [element.getBoundingClientRect().height, parseFloat(getComputedStyle(element).fontSize)]"
        )
        assert height >= 44 and font_size >= 16, (field, height, font_size)
    expect(page.locator("select[name=branch] option").first).to_have_text("请选择县公司")
    shot(page, folder, "14-fault-report")
    page.locator("main form").get_by_role("button").last.click()
    expect(page.get_by_role("heading", name="报修已受理")).to_be_visible()
    ticket_number = page.locator(".ticket-number strong").inner_text()
    assert ticket_number, "no ticket number shown"
    shot(page, folder, "15-fault-accepted")
    page.get_by_role("link", name="查看抢修进度").click()
    page.wait_for_url(f"**/portal/tickets/{ticket_number}/")
    timeline = page.locator(".timeline")
    expect(timeline).to_be_visible()
    expect(timeline.locator("li").first).to_be_visible()
    shot(page, folder, "16-fault-timeline")


def every_page_fits_the_phone(page: Page, base_url: str, account: dict) -> None:
    """No portal page is wider than the phone it is read on (nothing to scroll sideways but a table's own strip)."""
    width = page.viewport_size["width"]
    number = account["number"]
    wider = {}
    for path in ("/portal/", f"/portal/{number}/bills/", f"/portal/{number}/payments/", "/portal/accounts/", f"/portal/accounts/{number}/settings/",
                 "/portal/accounts/add/", "/portal/pay/", f"/portal/pay/{number}/", "/portal/requests/apply/",
                 "/portal/requests/feedback/", "/portal/requests/fault/", "/portal/tickets/", "/portal/inbox/",
                 "/portal/inbox/preferences/", "/accounts/sessions/"):
        page.goto(f"{base_url}{path}")
        page_width = page.evaluate("document.documentElement.scrollWidth")
        if page_width > width:
            wider[path] = page_width
    assert wider == {}, f"wider than the {width} px screen: {wider}"


def test_a_new_customer_signs_up_binds_reads_the_bill_pays_it_and_reports_a_fault(portal, page, screenshots):
    base_url, database, account = portal

    sign_up_by_sms(page, base_url, database, screenshots)
    bind_by_sms_code(page, base_url, database, screenshots, account)
    read_bill_and_chart(page, base_url, screenshots, account)
    pay_arrears_by_card(
        page, base_url, screenshots, account, card=CARD_PAID, names=["07-pay", "08-pay-amount", "09-pay-card"]
    )
    payment_credited(page, base_url, screenshots, account, names=["10-pay-credited", "11-dashboard-paid"])
    read_inbox(page, base_url, screenshots)
    report_fault_and_follow_it(page, base_url, screenshots, account)
    every_page_fits_the_phone(page, base_url, account)

    assert sorted(path.name for path in screenshots.glob("*.png")) == [
        "01-signup.png", "02-signup-code.png", "03-portal-no-account.png", "04-bind.png", "05-bound.png",
        "06-dashboard.png", "07-pay.png", "08-pay-amount.png", "09-pay-card.png", "10-pay-credited.png",
        "11-dashboard-paid.png", "12-inbox.png", "13-preferences.png", "14-fault-report.png",
        "15-fault-accepted.png", "16-fault-timeline.png",
    ]


def test_a_card_that_asks_for_3d_secure_is_paid_once_the_cardholder_authenticates(portal, page, screenshots):
    """The server's confirm answers requires_action; pay.js hands the intent to confirmCardPayment, whose challenge
    (localstripe's dialog) the cardholder completes; the webhook then credits the ledger as for any card."""
    base_url, database, account = portal
    folder = screenshots / "3ds"
    folder.mkdir(exist_ok=True)

    sign_up_by_sms(page, base_url, database, folder)
    bind_by_sms_code(page, base_url, database, folder, account)
    pay_arrears_by_card(
        page, base_url, folder, account, card=CARD_3DS, names=["06-pay", "07-pay-amount", "08-pay-card"]
    )
    challenge = page.get_by_role("button", name="Complete authentication")
    expect(challenge).to_be_visible()
    shot(page, folder, "09-3ds-challenge")
    challenge.click()
    payment_credited(page, base_url, folder, account, names=["10-pay-credited", "11-dashboard-paid"])

    assert sorted(path.name for path in folder.glob("*.png")) == [
        "01-signup.png", "02-signup-code.png", "03-portal-no-account.png", "04-bind.png", "05-bound.png",
        "06-pay.png", "07-pay-amount.png", "08-pay-card.png", "09-3ds-challenge.png", "10-pay-credited.png",
        "11-dashboard-paid.png",
    ]
