"""The counter pages under /staff/counter/ through the test client: search, take a payment (summary then confirm),
receipt and its PDF, reversal, the cashier's day and settlement, the accountant's review; CSRF and permissions."""
import base64
import datetime
import re
import zlib
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from core.models import LedgerEntry, Payment
from core.models.counter import CounterMethod, CounterReceipt, CounterSettlement
from core.services.counter import (
    business_day_of,
    counter_day_close,
    counter_payment_take,
    counter_settlement_review,
)
from core.services.roles import role_group
from tests import ticket_factories
from tests.core.counter_factories import counter_world
from tests.core.test_late_fees import bill_charge, policies_set
from tests.factories import AccountFactory, CustomerFactory, ServiceStationFactory

D = Decimal
pytestmark = pytest.mark.django_db
SEARCH = "/staff/counter/"
DAY = "/staff/counter/day/"
CLOSE = "/staff/counter/day/close/"
REVIEW = "/staff/counter/review/"


@pytest.fixture
def world():
    policies_set()
    return counter_world()


@pytest.fixture
def account(world):
    """利川's account, paid at 恩施's hall: any account of the company, any county."""
    customer = CustomerFactory(name="王小明", phone="13912345678")
    return AccountFactory(customer=customer, name="王小明", station=ServiceStationFactory(branch=world.lichuan))


def signed_in(user, *, csrf=False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def pay_url(account) -> str:
    return f"/staff/counter/accounts/{account.number}/pay/"


def confirm_url(account) -> str:
    return f"/staff/counter/accounts/{account.number}/pay/confirm/"


def counts():
    return (Payment.objects.count(), LedgerEntry.objects.count(), CounterReceipt.objects.count(),
            CounterSettlement.objects.count())


def page_strings(pdf: bytes) -> list[bytes]:
    """The strings drawn on the pages (reportlab writes page streams as /ASCII85Decode /FlateDecode)."""
    strings = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, flags=re.S):
        try:
            content = zlib.decompress(base64.a85decode(match.group(1).strip(), adobe=True))
        except (ValueError, zlib.error):
            continue
        strings.extend(re.findall(rb"\((.*?)\) Tj", content))
    return strings


def token_of(html: str) -> str:
    return re.search(r'name="token" value="([0-9a-f]{32})"', html).group(1)


def confirm_data(amount="100.00", method="cash", slip="", token="a" * 32) -> dict:
    return {"amount": amount, "method": method, "slip_reference": slip, "token": token}


def test_anonymous_visitors_go_to_sign_in_and_staff_without_the_role_are_refused(world, account):
    assert Client().get(SEARCH).status_code == 302
    clerk = ticket_factories.staff_user("counter_clerk", world.enshi, username="clerk")
    clerk.groups.add(role_group(code="counter_clerk"))
    client = signed_in(clerk)
    for url in (SEARCH, pay_url(account), DAY, REVIEW):
        assert client.get(url).status_code == 403
    assert client.post(confirm_url(account), confirm_data()).status_code == 403
    assert client.post(CLOSE, {}).status_code == 403
    assert counts() == (0, 0, 0, 0)


def test_search_finds_any_account_of_the_company_by_number_phone_or_name(world, account, django_assert_max_num_queries):
    AccountFactory(station=ServiceStationFactory(branch=world.enshi))
    client = signed_in(world.cashier)
    for query in (account.number, account.number[:6], "13912345678", "小明"):
        with django_assert_max_num_queries(8):
            page = client.get(SEARCH, {"q": query}).content.decode()
        assert account.number in page and "利川市" in page, query
        assert f'href="{pay_url(account)}"' in page
    page = client.get(SEARCH, {"q": "无此人"}).content.decode()
    assert "没有找到用电户" in page


def test_take_a_payment_with_a_summary_before_confirming_then_print_the_receipt(world, account):
    bill_charge(account=account, period=datetime.date(2026, 9, 1), total="86.40", due_date=datetime.date(2099, 1, 1))
    client = signed_in(world.cashier, csrf=True)
    form = client.get(pay_url(account))
    assert form.status_code == 200
    assert "86.40" in form.content.decode()
    csrf = client.cookies["csrftoken"].value
    summary = client.post(pay_url(account), {"amount": "100.00", "method": "cash", "csrfmiddlewaretoken": csrf})
    html = summary.content.decode()
    assert summary.status_code == 200
    assert all(text in html for text in ("确认收费", "¥100.00", "¥86.40", "¥13.60", "现金"))
    assert counts() == (0, 1, 0, 0)  # only the bill's ledger line: nothing written by the summary
    token = token_of(html)
    data = {**confirm_data(token=token), "csrfmiddlewaretoken": csrf}
    done = client.post(confirm_url(account), data)
    receipt = CounterReceipt.objects.get()
    assert (done.status_code, done["Location"]) == (302, f"/staff/counter/receipts/{receipt.number}/")
    assert (receipt.amount, receipt.method, receipt.cashier, receipt.outlet, receipt.account) == (
        D("100.00"), "cash", world.cashier, world.outlet, account,
    )
    assert receipt.payment.channel == "counter"
    page = client.get(done["Location"]).content.decode()
    assert f"收费成功，收据号 {receipt.number}" in page and "账单" in page
    again = client.post(confirm_url(account), data, follow=True)
    assert f"该笔收费已办理，收据号 {receipt.number}" in again.content.decode()
    assert CounterReceipt.objects.count() == 1
    pdf = client.get(f"/staff/counter/receipts/{receipt.number}/receipt.pdf")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert pdf.content.startswith(b"%PDF-")
    assert set(re.findall(rb"/BaseFont\s*/([^\s/]+)", pdf.content)) == {b"AAAAAA+WenQuanYiMicroHei-0", b"Helvetica"}
    # Figures are drawn in Helvetica: the bill paid, the prepaid rest and the amount (\245 is the yuan sign).
    figures = [s for s in page_strings(pdf.content) if s.startswith(b"\\245")]
    assert figures == [b"\\24586.40", b"\\24513.60", b"\\245100.00"]


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(world, account):
    client = signed_in(world.cashier, csrf=True)
    assert client.post(confirm_url(account), confirm_data()).status_code == 403
    assert client.post(CLOSE, {"business_day": "2026-11-20", "cash_amount": "0"}).status_code == 403
    assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": "abc", "method": "cash"}, "金额格式不正确"),
        ({"amount": "0", "method": "cash"}, "金额必须大于零"),
        ({"amount": "12.345", "method": "cash"}, "金额最多保留两位小数"),
        ({"amount": "", "method": "cash"}, "请填写收费金额"),
        ({"amount": "10.00", "method": "bank_slip"}, "进账单、列账单收费须填写票据号"),
        ({"amount": "10.00", "method": "cheque"}, "请选择收费方式：现金、进账单或列账单"),
    ],
)
def test_bad_payment_input_gives_a_translated_error_and_changes_nothing(world, account, data, message):
    client = signed_in(world.cashier)
    for url in (pay_url(account), confirm_url(account)):
        response = client.post(url, {**confirm_data(), **data})
        assert response.status_code == 200
        assert message in response.content.decode()
    assert counts() == (0, 0, 0, 0)


def test_a_receipt_is_seen_by_its_outlet_and_branch_accountant_only(world, account):
    receipt = counter_payment_take(
        cashier=world.cashier, account=account, amount="10.00", method=CounterMethod.CASH, idempotency_key="r1"
    ).receipt
    url = f"/staff/counter/receipts/{receipt.number}/"
    assert signed_in(world.second_cashier).get(url).status_code == 200
    assert signed_in(world.accountant).get(url).status_code == 200
    assert signed_in(world.lichuan_cashier).get(url).status_code == 404
    assert signed_in(world.lichuan_accountant).get(url + "receipt.pdf").status_code == 404


def test_the_cashiers_day_closes_only_when_each_method_matches(world, account, django_assert_max_num_queries):
    for key, amount, method, slip in (("a", "120.00", "cash", ""), ("b", "80.50", "bank_slip", "JZ7"),
                                      ("c", "30.00", "list_slip", "LZ1")):
        counter_payment_take(cashier=world.cashier, account=account, amount=amount, method=method,
                             slip_reference=slip, idempotency_key=key)
    client = signed_in(world.cashier)
    with django_assert_max_num_queries(14):
        page = client.get(DAY).content.decode()
    assert all(text in page for text in ("¥120.00", "¥80.50", "¥30.00", "¥230.50", "提交解款单", "1809000000000001"))
    assert "1809000000000002" not in page  # 利川's deposit account is not offered to 恩施's cashier
    today = business_day_of(timezone.now()).isoformat()
    data = {"business_day": today, "cash_amount": "100.00", "bank_slip_amount": "80.50", "list_slip_amount": "30",
            "deposit_account": str(world.deposit.pk)}
    refused = client.post(CLOSE, data)
    assert refused.status_code == 200
    assert "解款金额与当日收费不符：现金：解款 ¥100.00，当日收费 ¥120.00" in refused.content.decode()
    bad = client.post(CLOSE, {**data, "cash_amount": "一百"})
    assert "现金金额格式不正确" in bad.content.decode()
    foreign = client.post(CLOSE, {**data, "cash_amount": "120.00", "deposit_account": str(world.lichuan_deposit.pk)})
    assert "请选择本县公司启用的解款账户" in foreign.content.decode()
    assert CounterSettlement.objects.count() == 0
    done = client.post(CLOSE, {**data, "cash_amount": "120.00"})
    assert (done.status_code, done["Location"]) == (302, f"{DAY}?day={today}")
    settlement = CounterSettlement.objects.get()
    assert (settlement.total, settlement.receipt_count, settlement.state) == (D("230.50"), 3, "submitted")
    page = client.get(done["Location"]).content.decode()
    assert "已日结，解款 ¥230.50，等待账务员审核" in page and "待审核" in page and "提交解款单" not in page
    late = client.post(confirm_url(account), confirm_data(token="b" * 32))
    assert "已日结解款，不能再收费或冲正" in late.content.decode()
    assert CounterReceipt.objects.count() == 3


def test_only_the_branch_accountant_reviews_and_the_reviewed_day_is_corrected_on_a_later_day(
    world, account, django_assert_max_num_queries
):
    yesterday = timezone.now() - datetime.timedelta(days=1)
    receipt = counter_payment_take(cashier=world.cashier, account=account, amount="40.00", method="bank_slip",
                                   slip_reference="JZ9", idempotency_key="y1", at=yesterday).receipt
    settlement = counter_day_close(cashier=world.cashier, business_day=business_day_of(yesterday),
                                   amounts={"cash": "0", "bank_slip": "40.00", "list_slip": "0"},
                                   deposit_account_id=world.deposit.pk, at=yesterday)
    detail = f"{REVIEW}{settlement.pk}/"
    # Another branch's cashier, this branch's cashier and another branch's accountant may not review.
    assert signed_in(world.lichuan_cashier).post(detail, {"note": "x"}).status_code == 403
    assert signed_in(world.second_cashier).get(REVIEW).status_code == 403
    assert signed_in(world.lichuan_accountant).post(detail, {"note": "x"}).status_code == 404
    assert "1809000000000001" not in signed_in(world.lichuan_accountant).get(REVIEW).content.decode()
    settlement.refresh_from_db()
    assert settlement.state == "submitted"

    accountant = signed_in(world.accountant, csrf=True)
    with django_assert_max_num_queries(10):
        listing = accountant.get(REVIEW).content.decode()
    assert "¥40.00" in listing and "待审核" in listing
    page = accountant.get(detail).content.decode()
    assert "审核通过" in page and receipt.number in page
    assert accountant.post(detail, {"note": "到账"}).status_code == 403  # no CSRF token
    done = accountant.post(detail, {"note": "到账", "csrfmiddlewaretoken": accountant.cookies["csrftoken"].value})
    assert (done.status_code, done["Location"]) == (302, REVIEW)
    settlement.refresh_from_db()
    assert (settlement.state, settlement.reviewed_by, settlement.review_note) == ("reviewed", world.accountant, "到账")
    assert "审核通过" not in accountant.get(detail).content.decode()

    cashier = signed_in(world.cashier)
    refused = cashier.post(f"/staff/counter/receipts/{receipt.number}/reverse/", {"reason": ""})
    assert "请填写冲正原因" in refused.content.decode()
    reversed_ = cashier.post(f"/staff/counter/receipts/{receipt.number}/reverse/", {"reason": "进账单退票"})
    reversal = CounterReceipt.objects.get(kind="reversal")
    assert (reversed_.status_code, reversed_["Location"]) == (302, f"/staff/counter/receipts/{reversal.number}/")
    assert (reversal.amount, reversal.business_day) == (D("-40.00"), business_day_of(timezone.now()))
    settlement.refresh_from_db()
    assert (settlement.total, settlement.bank_slip_amount, settlement.state) == (D("40.00"), D("40.00"), "reviewed")
    page = cashier.get(reversed_["Location"]).content.decode()
    assert "冲正凭证" in page and receipt.number in page and "进账单退票" in page
    pdf = cashier.get(f"/staff/counter/receipts/{reversal.number}/receipt.pdf")
    assert pdf.content.startswith(b"%PDF")


def test_a_reviewed_settlement_cannot_be_reviewed_twice_through_the_page(world, account):
    counter_payment_take(cashier=world.cashier, account=account, amount="5.00", method="cash", idempotency_key="z")
    today = business_day_of(timezone.now())
    settlement = counter_day_close(cashier=world.cashier, business_day=today,
                                   amounts={"cash": "5.00", "bank_slip": "0", "list_slip": "0"},
                                   deposit_account_id=world.deposit.pk)
    counter_settlement_review(settlement=settlement, accountant=world.accountant)
    response = signed_in(world.accountant).post(f"{REVIEW}{settlement.pk}/", {"note": "again"})
    assert response.status_code == 200
    assert "该解款单已审核" in response.content.decode()
    settlement.refresh_from_db()
    assert settlement.review_note == ""
