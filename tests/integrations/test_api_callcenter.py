"""The call-centre API through HTTP with real keys: account lookup (masked), bills and charges, ticket query and
acceptance (idempotent), and the paginated fee-reminder list, each with its refusals."""
from __future__ import annotations

import datetime
import json
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import (
    Account, Bill, BusinessType, Channel, LateFee, Outage, OutageArea, OutageKind, Payment, Ticket,
)
from core.selectors.portal_bills import month_add
from core.services.late_fees import late_fees_assess
from core.services.payments import payment_post
from core.services.tickets import ticket_open
from integrations.clients import api_client_create
from integrations.models import ApiRequestLog
from integrations.scopes import CALLCENTER_READ, CALLCENTER_WRITE, FINANCE_READ
from tests.factories import (
    AccountFactory,
    BranchFactory,
    CustomerFactory,
    ServicePointFactory,
    ServiceStationFactory,
)
from tests.portal.factories import billed_months, residential_policy
from tests.ticket_factories import sample_process

pytestmark = pytest.mark.django_db

ADDRESS = "湖北省恩施市舞阳坝街道施州大道12号"
UNKNOWN = "9999999999"  # a valid number (its check digit holds) that no factory reaches


@pytest.fixture(autouse=True)
def policy():
    residential_policy()


def today() -> datetime.date:
    return timezone.localdate()


def auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def queries_of(client, path: str, params: dict, key: str) -> int:
    """How many queries one answer takes (the key's once-a-minute last-used write is made beforehand)."""
    client.get(path, params, **auth(key))
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, params, **auth(key)).status_code == 200
    return len(captured.captured_queries)


@pytest.fixture
def reader() -> str:
    return api_client_create(name="cc-read", system="callcenter", scopes=[CALLCENTER_READ]).key


@pytest.fixture
def writer() -> str:
    return api_client_create(name="cc-write", system="callcenter", scopes=[CALLCENTER_READ, CALLCENTER_WRITE]).key


@pytest.fixture
def outsider() -> str:
    return api_client_create(name="finance", system="finance", scopes=[FINANCE_READ]).key


def overdue_account(kwhs, *, account=None, **account_fields):
    """An account whose bills (one per kWh figure, the last for two months ago) were issued 40 days ago, so they
    fell due 10 days ago."""
    account = account or AccountFactory(address=ADDRESS, **account_fields)
    billed_months(
        account, [D(kwh) for kwh in kwhs], last_period=month_add(today().replace(day=1), -2),
        issued_on=today() - datetime.timedelta(days=40),
    )
    return account


# --- auth -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/v1/callcenter/accounts/?phone=13812345678"),
        ("get", "/api/v1/callcenter/accounts/1000000018/bills/"),
        ("get", "/api/v1/callcenter/tickets/?account=1000000018"),
        ("get", "/api/v1/callcenter/tickets/26112400001/"),
        ("get", "/api/v1/callcenter/fee-reminders/?branch=B001"),
        ("post", "/api/v1/callcenter/tickets/"),
    ],
)
def test_every_endpoint_wants_a_key_and_its_scope(client, outsider, reader, method, path):
    # The body is checked against the schema before the view asks for the scope, so send a valid one.
    body = json.dumps({"reference": "R1", "business_type": "complaint", "summary": "x"}) if method == "post" else None

    def call(**headers):
        if body:
            return client.post(path, body, content_type="application/json", **headers)
        return client.get(path, **headers)

    missing = call()
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthenticated"
    wrong = call(**auth(outsider))
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "scope_missing"
    if method == "post":
        read_only = call(**auth(reader))
        assert read_only.status_code == 403
        assert "callcenter:write" in read_only.json()["error"]["message"]


# --- account lookup ---------------------------------------------------------------------------------------------


def test_lookup_by_calling_number_lists_the_open_accounts_masked(client, reader):
    customer = CustomerFactory(name="张三丰", phone="13812345678")
    branch = BranchFactory(code="ES01", name="恩施市")
    station = ServiceStationFactory(branch=branch)
    second = AccountFactory(customer=customer, station=station, name="张三丰", address=ADDRESS)
    first = overdue_account([180], customer=customer, station=station, name="张三丰")
    AccountFactory(customer=customer, station=station, status=Account.Status.CLOSED)

    response = client.get("/api/v1/callcenter/accounts/", {"phone": "+86 138-1234-5678"}, **auth(reader))

    assert response.status_code == 200
    accounts = response.json()["accounts"]
    assert [row["number"] for row in accounts] == sorted([first.number, second.number])
    row = next(row for row in accounts if row["number"] == first.number)
    # One bill of 180 kWh (100.44), due 10 days ago: 10 days at 1 per mille is 1.0044, charged as 1.00.
    assert row == {
        "number": first.number,
        "name_masked": "张**",
        "address_masked": "恩施市舞阳坝街道***",
        "phone_masked": "138****5678",
        "category": "residential",
        "category_label": "居民生活",
        "billing_mode": "postpaid",
        "billing_mode_label": "后付费",
        "status": "active",
        "status_label": "正常用电",
        "branch": {"code": "ES01", "name": "恩施市"},
        "total_due": "101.44",
        "arrears": "101.44",
        "prepaid_credit": "0.00",
        "latest_bill": {
            "period": f"{month_add(today().replace(day=1), -2):%Y-%m}",
            "kwh": "180.00",
            "total": "100.44",
            "due_date": (today() - datetime.timedelta(days=10)).isoformat(),
        },
        "outage_now": None,
    }
    assert response.json()["more"] is False
    body = response.content.decode()
    assert "张三丰" not in body and "13812345678" not in body and "施州大道12号" not in body


def test_lookup_tells_of_an_outage_on_now_over_the_account(client, reader):
    point = ServicePointFactory()
    account = point.account
    now = timezone.now().replace(microsecond=0)
    outage = Outage.objects.create(
        branch=account.branch, kind=OutageKind.TEMPORARY, title="临时检修", reason="设备消缺",
        starts_at=now - datetime.timedelta(hours=1), ends_at=now + datetime.timedelta(hours=2),
        announced_at=now - datetime.timedelta(days=1),
    )
    OutageArea.objects.create(outage=outage, transformer_area=point.transformer_area)
    response = client.get("/api/v1/callcenter/accounts/", {"number": account.number}, **auth(reader))
    found = response.json()["accounts"][0]["outage_now"]
    assert (found["title"], found["reason"]) == ("临时检修", "设备消缺")
    assert datetime.datetime.fromisoformat(found["starts_at"]) == outage.starts_at
    assert datetime.datetime.fromisoformat(found["ends_at"]) == outage.ends_at
    assert found["past_expected_end"] is False

    Outage.objects.filter(pk=outage.pk).update(ends_at=now - datetime.timedelta(minutes=30))  # overrunning
    found = client.get("/api/v1/callcenter/accounts/", {"number": account.number}, **auth(reader)).json()
    assert found["accounts"][0]["outage_now"]["past_expected_end"] is True


def test_a_number_on_file_for_many_accounts_answers_the_first_ten(client, reader):
    customer = CustomerFactory(phone="13512340000")
    station = ServiceStationFactory()
    accounts = sorted(AccountFactory.create_batch(12, customer=customer, station=station), key=lambda a: a.number)
    response = client.get("/api/v1/callcenter/accounts/", {"phone": "13512340000"}, **auth(reader))
    assert [row["number"] for row in response.json()["accounts"]] == [account.number for account in accounts[:10]]
    assert response.json()["more"] is True


def test_lookup_by_account_number_and_its_refusals(client, reader):
    account = AccountFactory()
    found = client.get("/api/v1/callcenter/accounts/", {"number": account.number}, **auth(reader))
    assert found.status_code == 200
    assert [row["number"] for row in found.json()["accounts"]] == [account.number]
    assert found.json()["accounts"][0]["latest_bill"] is None

    nobody = client.get("/api/v1/callcenter/accounts/", {"phone": "13900000000"}, **auth(reader))
    assert nobody.status_code == 200 and nobody.json() == {"accounts": [], "more": False}

    wrong_digit = account.number[:-1] + str((int(account.number[-1]) + 1) % 10)
    typo = client.get("/api/v1/callcenter/accounts/", {"number": wrong_digit}, **auth(reader))
    assert typo.status_code == 422
    assert typo.json()["error"]["fields"] == {"number": ["户号校验位不正确，请核对后重新输入"]}

    neither = client.get("/api/v1/callcenter/accounts/", **auth(reader))
    assert neither.status_code == 422
    assert set(neither.json()["error"]["fields"]) == {"number", "phone"}
    both = client.get("/api/v1/callcenter/accounts/", {"number": account.number, "phone": "1"}, **auth(reader))
    assert both.status_code == 422

    letters = client.get("/api/v1/callcenter/accounts/", {"phone": "abc"}, **auth(reader))
    assert letters.status_code == 422
    assert letters.json()["error"]["fields"] == {"phone": ["来电号码应包含数字"]}


# --- bills and charges ----------------------------------------------------------------------------------------


def test_bills_and_charges_with_lines_and_late_fees(client, reader):
    account = overdue_account([180, 200])
    late_fees_assess(account=account, through=today() - datetime.timedelta(days=5))
    first, second = month_add(today().replace(day=1), -3), month_add(today().replace(day=1), -2)
    due = today() - datetime.timedelta(days=10)

    response = client.get(f"/api/v1/callcenter/accounts/{account.number}/bills/", **auth(reader))

    assert response.status_code == 200
    body = response.json()
    assert body["account_number"] == account.number
    assert body["as_of"] == today().isoformat()
    # 5 days assessed and 5 more accruing: 100.44 x 0.005 = 0.50 and 112.60 x 0.005 = 0.56 each time.
    assert body["amount_due"] == {
        "bills_outstanding": "213.04",
        "late_fees_outstanding": "1.06",
        "late_fees_accruing": "1.06",
        "prepaid_credit": "0.00",
        "total_due": "215.16",
    }
    assert [bill["number"] for bill in body["bills"]] == [
        f"{second:%Y%m}{account.number}", f"{first:%Y%m}{account.number}",
    ]
    newest = body["bills"][0]
    assert {key: newest[key] for key in (
        "period", "kind", "state", "issued_on", "due_date", "kwh", "total", "amount_paid", "outstanding",
    )} == {
        "period": f"{second:%Y-%m}", "kind": "regular", "state": newest["state"],
        "issued_on": (today() - datetime.timedelta(days=40)).isoformat(), "due_date": due.isoformat(),
        "kwh": "200.00", "total": "112.60", "amount_paid": "0.00", "outstanding": "112.60",
    }
    assert newest["lines"] == [
        {"kind": "tier", "label": "第1档电量", "quantity": "180.00", "unit_price": "0.5580", "amount": "100.44"},
        {"kind": "tier", "label": "第2档电量", "quantity": "20.00", "unit_price": "0.6080", "amount": "12.16"},
    ]
    assert newest["summary"] == (
        f"{second.year}年{second.month}月用电200千瓦时，其中第1档电量180千瓦时×0.558元=100.44元，"
        "第2档电量20千瓦时×0.608元=12.16元，合计112.60元。"
    )
    start = (due + datetime.timedelta(days=1)).isoformat()
    end = (today() - datetime.timedelta(days=5)).isoformat()
    assert body["late_fees"] == [
        {"bill_number": f"{first:%Y%m}{account.number}", "accrued_from": start, "accrued_to": end, "days": 5,
         "amount": "0.50", "amount_paid": "0.00", "amount_waived": "0.00", "outstanding": "0.50"},
        {"bill_number": f"{second:%Y%m}{account.number}", "accrued_from": start, "accrued_to": end, "days": 5,
         "amount": "0.56", "amount_paid": "0.00", "amount_waived": "0.00", "outstanding": "0.56"},
    ]

    limited = client.get(f"/api/v1/callcenter/accounts/{account.number}/bills/", {"limit": 1}, **auth(reader))
    assert [bill["number"] for bill in limited.json()["bills"]] == [f"{second:%Y%m}{account.number}"]
    assert [fee["bill_number"] for fee in limited.json()["late_fees"]] == [f"{second:%Y%m}{account.number}"]
    path = f"/api/v1/callcenter/accounts/{account.number}/bills/"
    assert queries_of(client, path, {"limit": 1}, reader) == queries_of(client, path, {"limit": 2}, reader)


def test_bills_refusals(client, reader):
    unknown = client.get(f"/api/v1/callcenter/accounts/{UNKNOWN}/bills/", **auth(reader))
    assert unknown.status_code == 404
    assert unknown.json() == {"error": {"code": "not_found", "message": "户号不存在", "fields": {}}}
    typo = client.get("/api/v1/callcenter/accounts/1000000019/bills/", **auth(reader))
    assert typo.status_code == 422
    assert typo.json()["error"]["code"] == "invalid_account_number"
    too_many = client.get(f"/api/v1/callcenter/accounts/{UNKNOWN}/bills/", {"limit": 0}, **auth(reader))
    assert too_many.status_code == 422
    assert list(too_many.json()["error"]["fields"]) == ["limit"]


# --- tickets: acceptance --------------------------------------------------------------------------------------


def accept(client, key: str, body: dict, **headers):
    return client.post("/api/v1/callcenter/tickets/", json.dumps(body), content_type="application/json",
                       **auth(key), **headers)


def test_accepting_a_ticket_opens_it_once_per_reference(client, writer):
    sample_process()
    account = AccountFactory(address=ADDRESS)
    body = {
        "reference": "CC-20261124-0001", "business_type": BusinessType.METER_ACCURACY_CHECK,
        "summary": "电表走得太快", "account_number": account.number, "contact_name": "李四",
        "contact_phone": "13912345678", "call_id": "call-77",
    }

    created = accept(client, writer, body)

    assert created.status_code == 201
    ticket = Ticket.objects.get()
    out = created.json()
    assert out["number"] == ticket.number and len(ticket.number) == 11
    assert (ticket.channel, ticket.account_id, ticket.branch_id) == (Channel.AGENT, account.pk, account.branch_id)
    assert ticket.data == {"callcenter_reference": "CC-20261124-0001", "call_id": "call-77", "api_client": "cc-write"}
    assert {key: out[key] for key in (
        "business_type", "business_type_label", "channel", "state", "summary", "account_number",
        "contact_name_masked", "contact_phone_masked", "progress", "duplicate",
    )} == {
        "business_type": "meter_accuracy_check", "business_type_label": "计量异常", "channel": "agent",
        "state": "open", "summary": "电表走得太快", "account_number": account.number,
        "contact_name_masked": "李*", "contact_phone_masked": "139****5678",
        "progress": f"您的工单{ticket.number}正在处理中：您的诉求已受理。", "duplicate": False,
    }
    assert [entry["text"] for entry in out["timeline"]] == [
        f"您的计量异常申请已受理，工单号{ticket.number}", "您的诉求已受理",
    ]

    again = accept(client, writer, {**body, "summary": "重复提交"})
    assert again.status_code == 200
    assert again.json()["number"] == ticket.number and again.json()["duplicate"] is True
    assert Ticket.objects.count() == 1

    other_type = accept(client, writer, {**body, "business_type": BusinessType.COMPLAINT})
    assert other_type.status_code == 422
    assert other_type.json()["error"]["code"] == "ticket_idempotency_conflict"
    assert Ticket.objects.count() == 1


def test_an_idempotency_key_replays_the_first_answer(client, writer):
    sample_process()
    account = AccountFactory()
    body = {"reference": "CC-1", "business_type": "meter_accuracy_check", "summary": "表计异常",
            "account_number": account.number}

    first = accept(client, writer, body, HTTP_IDEMPOTENCY_KEY="k-1")
    replay = accept(client, writer, body, HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 1
    reused = accept(client, writer, {**body, "reference": "CC-2"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert Ticket.objects.count() == 1
    assert ApiRequestLog.objects.filter(path="/api/v1/callcenter/tickets/", idempotency_key="k-1").count() == 3


def test_bad_acceptances_name_the_field_and_change_nothing(client, writer):
    sample_process(requires_account=True)
    account = AccountFactory()
    base = {"reference": "CC-9", "business_type": "meter_accuracy_check", "summary": "表计异常"}

    cases = [
        ({**base, "summary": ""}, "summary"),
        ({key: value for key, value in base.items() if key != "summary"}, "summary"),
        ({**base, "business_type": "teleport"}, "business_type"),
        ({**base, "reference": "bad reference!"}, "reference"),
        ({**base, "account_number": "1234567890"}, "account_number"),
        ({**base, "account_number": UNKNOWN}, "account_number"),
        ({**base, "branch_code": "NOPE"}, "branch_code"),
        ({**base, "complaint_class": "loud"}, "complaint_class"),
        (base, "account_number"),  # this process requires an account
        ({**base, "summary": "   "}, "summary"),
    ]
    for body, field in cases:
        response = accept(client, writer, body)
        assert response.status_code == 422, body
        assert field in response.json()["error"]["fields"], (body, response.json())
    not_json = client.post("/api/v1/callcenter/tickets/", "summary=x", content_type="application/json", **auth(writer))
    assert not_json.status_code == 422
    assert not_json.json()["error"]["code"] == "invalid_request"
    assert Ticket.objects.count() == 0

    fine = accept(client, writer, {**base, "account_number": account.number})
    assert fine.status_code == 201


def test_a_ticket_without_account_goes_to_the_named_branch(client, writer):
    sample_process()
    branch = BranchFactory(code="LC01")
    response = accept(client, writer, {"reference": "CC-5", "business_type": "meter_accuracy_check",
                                       "summary": "咨询表计", "branch_code": "LC01"})
    assert response.status_code == 201
    assert Ticket.objects.get().branch_id == branch.pk
    nowhere = accept(client, writer, {"reference": "CC-6", "business_type": "meter_accuracy_check",
                                      "summary": "咨询表计"})
    assert nowhere.status_code == 422
    assert nowhere.json()["error"]["fields"] == {"branch_code": ["请指定受理的县公司"]}


# --- tickets: query -------------------------------------------------------------------------------------------


def test_ticket_by_number_and_by_account(client, reader):
    sample_process()
    account = AccountFactory()
    other = AccountFactory()
    at = timezone.now()
    older = ticket_open(business_type="meter_accuracy_check", channel=Channel.PORTAL, summary="旧工单",
                        account=account, at=at - datetime.timedelta(hours=2))
    newer = ticket_open(business_type="meter_accuracy_check", channel=Channel.IVR, summary="新工单",
                        account=account, at=at - datetime.timedelta(hours=1))
    ticket_open(business_type="meter_accuracy_check", channel=Channel.PORTAL, summary="别人的", account=other)

    one = client.get(f"/api/v1/callcenter/tickets/{older.number}/", **auth(reader))
    assert one.status_code == 200
    assert one.json()["number"] == older.number
    assert one.json()["summary"] == "旧工单"
    assert one.json()["progress"] == f"您的工单{older.number}正在处理中：您的诉求已受理。"

    listed = client.get("/api/v1/callcenter/tickets/", {"account": account.number}, **auth(reader))
    assert listed.status_code == 200
    assert listed.json()["account_number"] == account.number
    assert [row["number"] for row in listed.json()["tickets"]] == [newer.number, older.number]
    assert [row["channel"] for row in listed.json()["tickets"]] == ["ivr", "portal"]

    closed_only = client.get("/api/v1/callcenter/tickets/", {"account": account.number, "state": "closed"},
                             **auth(reader))
    assert closed_only.json()["tickets"] == []
    limited = client.get("/api/v1/callcenter/tickets/", {"account": account.number, "limit": 1}, **auth(reader))
    assert [row["number"] for row in limited.json()["tickets"]] == [newer.number]
    path = "/api/v1/callcenter/tickets/"
    assert queries_of(client, path, {"account": account.number, "limit": 1}, reader) == queries_of(
        client, path, {"account": account.number, "limit": 2}, reader
    )

    assert client.get("/api/v1/callcenter/tickets/99999999999/", **auth(reader)).status_code == 404
    assert client.get("/api/v1/callcenter/tickets/abc/", **auth(reader)).status_code == 404
    assert client.get("/api/v1/callcenter/tickets/", {"account": UNKNOWN}, **auth(reader)).status_code == 404
    bad_state = client.get("/api/v1/callcenter/tickets/", {"account": account.number, "state": "x"}, **auth(reader))
    assert bad_state.status_code == 422 and list(bad_state.json()["error"]["fields"]) == ["state"]
    no_account = client.get("/api/v1/callcenter/tickets/", **auth(reader))
    assert no_account.status_code == 422 and list(no_account.json()["error"]["fields"]) == ["account"]


# --- fee reminders ------------------------------------------------------------------------------------------------


def test_fee_reminders_list_a_branchs_overdue_accounts_page_by_page(client, reader):
    branch = BranchFactory(code="JS01", name="建始县")
    station = ServiceStationFactory(branch=branch)
    owes_two = overdue_account([180, 200], station=station, customer=CustomerFactory(phone="13700001111"))
    part_paid = overdue_account([180], station=station)
    payment_post(account=part_paid, amount="40.00", channel=Payment.Channel.COUNTER, idempotency_key="p-part",
                 received_at=timezone.now() - datetime.timedelta(days=39))
    paid = overdue_account([180], station=station)
    payment_post(account=paid, amount="100.44", channel=Payment.Channel.COUNTER, idempotency_key="p-full",
                 received_at=timezone.now() - datetime.timedelta(days=39))
    not_yet_due = AccountFactory(station=station)
    billed_months(not_yet_due, [D(180)], last_period=month_add(today().replace(day=1), -1), issued_on=today())
    closed = overdue_account([180], station=station)
    Account.objects.filter(pk=closed.pk).update(status=Account.Status.CLOSED)
    overdue_account([180])  # another branch
    expected = sorted([owes_two, part_paid], key=lambda account: account.number)

    first = client.get("/api/v1/callcenter/fee-reminders/", {"branch": "JS01", "page_size": 1}, **auth(reader))

    assert first.status_code == 200
    page = first.json()
    assert {key: page[key] for key in ("branch", "as_of", "count", "page", "page_size", "pages", "total_amount")} == {
        "branch": {"code": "JS01", "name": "建始县"}, "as_of": today().isoformat(), "count": 2, "page": 1,
        "page_size": 1, "pages": 2, "total_amount": "273.48",
    }
    second = client.get("/api/v1/callcenter/fee-reminders/", {"branch": "JS01", "page_size": 1, "page": 2},
                        **auth(reader)).json()
    rows = page["results"] + second["results"]
    assert [row["account_number"] for row in rows] == [account.number for account in expected]
    by_number = {row["account_number"]: row for row in rows}
    assert by_number[owes_two.number] == {
        "account_number": owes_two.number, "name_masked": owes_two.name[0] + "*" * (len(owes_two.name) - 1),
        "phone_masked": "137****1111", "address_masked": "恩施市舞阳坝街道***", "billing_mode": "postpaid",
        "overdue_amount": "213.04", "overdue_bills": 2,
        "oldest_due_date": (today() - datetime.timedelta(days=10)).isoformat(), "days_overdue": 10,
    }
    assert (by_number[part_paid.number]["overdue_amount"], by_number[part_paid.number]["overdue_bills"]) == (
        "60.44", 1,
    )

    beyond = client.get("/api/v1/callcenter/fee-reminders/", {"branch": "JS01", "page": 3, "page_size": 1},
                        **auth(reader)).json()
    assert (beyond["count"], beyond["results"]) == (2, [])
    above = client.get("/api/v1/callcenter/fee-reminders/", {"branch": "JS01", "min_amount": "100"},
                       **auth(reader)).json()
    assert [row["account_number"] for row in above["results"]] == [owes_two.number]
    assert above["total_amount"] == "213.04"
    path = "/api/v1/callcenter/fee-reminders/"
    assert queries_of(client, path, {"branch": "JS01", "page_size": 1}, reader) == queries_of(
        client, path, {"branch": "JS01", "page_size": 2}, reader
    )


def test_fee_reminder_refusals(client, reader):
    BranchFactory(code="XE01")
    unknown = client.get("/api/v1/callcenter/fee-reminders/", {"branch": "NOPE"}, **auth(reader))
    assert unknown.status_code == 422
    assert unknown.json()["error"]["fields"] == {"branch": ["县公司编码不存在"]}
    for params, field in (
        ({}, "branch"),
        ({"branch": "XE01", "page": 0}, "page"),
        ({"branch": "XE01", "page_size": 201}, "page_size"),
        ({"branch": "XE01", "min_amount": "abc"}, "min_amount"),
    ):
        response = client.get("/api/v1/callcenter/fee-reminders/", params, **auth(reader))
        assert response.status_code == 422, params
        assert list(response.json()["error"]["fields"]) == [field], params
    empty = client.get("/api/v1/callcenter/fee-reminders/", {"branch": "XE01"}, **auth(reader)).json()
    assert (empty["count"], empty["pages"], empty["total_amount"], empty["results"]) == (0, 0, "0.00", [])
    assert Bill.objects.count() == 0 and LateFee.objects.count() == 0
