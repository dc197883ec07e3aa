"""A customer's own data export from the portal: usage and bills as CSV and a Green-Button-like JSON, linked from
the dashboard, for a bound account only (anyone else's, or an unbound one, is 404)."""
from __future__ import annotations

import calendar
import datetime
import json
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.selectors.portal_bills import month_add
from tests.factories import MeterFactory
from tests.portal.factories import AccountBindingFactory, PortalUserFactory, billed_months, residential_policy

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def policy():
    residential_policy()


def today() -> datetime.date:
    return timezone.localdate()


def periods() -> tuple[datetime.date, datetime.date]:
    last = month_add(today().replace(day=1), -1)
    return month_add(last, -1), last


def month_end(period: datetime.date) -> datetime.date:
    return period.replace(day=calendar.monthrange(period.year, period.month)[1])


@pytest.fixture
def binding():
    """A bound account with a meter fitted on the first day of the month before last and two billed months:
    180 kWh (100.44) and 200 kWh (180 x 0.558 + 20 x 0.608 = 112.60)."""
    binding = AccountBindingFactory()
    first, last = periods()
    meter = MeterFactory(service_point__account=binding.account, asset_number="M-EXPORT-1", installed_on=first)
    billed_months(binding.account, [D(180), D(200)], last_period=last, issued_on=today(), meter=meter)
    return binding


def urls(number: str) -> dict[str, str]:
    return {
        "usage": reverse("portal:export_usage_csv", args=[number]),
        "bills": reverse("portal:export_bills_csv", args=[number]),
        "json": reverse("portal:export_green_button", args=[number]),
    }


def test_the_dashboard_links_the_three_downloads(client, binding):
    client.force_login(binding.user)
    html = client.get("/portal/").content.decode()
    links = urls(binding.account.number)
    assert links["usage"] == f"/portal/export/{binding.account.number}/usage.csv"
    for url in links.values():
        assert html.count(f'href="{url}" download') == 1
    assert html.count('id="export-title"') == 1 and "导出我的数据" in html


def test_each_accounts_dashboard_links_that_accounts_downloads(client, binding):
    """The links are drawn with the account's cached panel: the second account's page links its own files."""
    other = AccountBindingFactory(user=binding.user)
    client.force_login(binding.user)
    client.get("/portal/")  # the first account's panel, now kept
    html = client.get(reverse("portal:account_dashboard", args=[other.account.number])).content.decode()
    for url in urls(other.account.number).values():
        assert html.count(f'href="{url}" download') == 1
    for url in urls(binding.account.number).values():
        assert url not in html


def test_usage_csv_has_one_row_per_reading_with_the_days_it_covers(client, binding):
    client.force_login(binding.user)
    first, last = periods()

    response = client.get(urls(binding.account.number)["usage"])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="usage-{binding.account.number}.csv"'
    assert response["Cache-Control"] == "private, no-store"
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    assert text[1:].split("\r\n") == [
        "电能表,起始日期,抄表日期,天数,电费年月,总示数,电量(kWh),峰电量(kWh),平电量(kWh),谷电量(kWh),来源,状态",
        f"M-EXPORT-1,{first.isoformat()},{month_end(first).isoformat()},{month_end(first).day},{first:%Y-%m},"
        "180.00,180.00,,,,人工抄表,有效",
        f"M-EXPORT-1,{last.isoformat()},{month_end(last).isoformat()},{month_end(last).day},{last:%Y-%m},"
        "380.00,200.00,,,,人工抄表,有效",
        "",
    ]


def test_bills_csv_lists_every_bill_oldest_first(client, binding):
    client.force_login(binding.user)
    first, last = periods()
    number = binding.account.number
    due = (today() + datetime.timedelta(days=30)).isoformat()

    response = client.get(urls(number)["bills"])

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="bills-{number}.csv"'
    assert response.content.decode("utf-8")[1:].split("\r\n") == [
        "账单号,电费年月,类型,发行日期,缴费截止日,电量(kWh),应收金额(元),已收金额(元),冲减金额(元),尚欠金额(元),状态",
        f"{first:%Y%m}{number},{first:%Y-%m},正常电费,{today().isoformat()},{due},180.00,100.44,0.00,0.00,100.44,已发行",
        f"{last:%Y%m}{number},{last:%Y-%m},正常电费,{today().isoformat()},{due},200.00,112.60,0.00,0.00,112.60,已发行",
        "",
    ]


def start_of(day: datetime.date) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).timestamp())


def test_green_button_json_holds_intervals_and_usage_summaries(client, binding):
    client.force_login(binding.user)
    first, last = periods()
    number = binding.account.number

    response = client.get(urls(number)["json"])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="green-button-{number}.json"'
    document = json.loads(response.content)
    assert datetime.datetime.fromisoformat(document.pop("generated_at")).utcoffset() == datetime.timedelta(hours=8)
    first_days, last_days = month_end(first).day, month_end(last).day
    assert document["format"] == "green-button-like" and document["version"] == 1
    assert document["usage_point"] == {
        "account_number": number, "service_kind": "electricity", "customer_category": "residential",
        "billing_mode": "postpaid", "time_zone": "Asia/Shanghai",
    }
    assert document["reading_type"] == {
        "commodity": "electricity", "unit": "kWh", "accumulation": "delta_data",
        "interval_basis": "meter_reading", "currency": "CNY",
    }
    assert document["interval_blocks"] == [
        {
            "meter": "M-EXPORT-1",
            "interval": {
                "start": start_of(first), "duration": (first_days + last_days) * 86400,
                "first_day": first.isoformat(), "last_day": month_end(last).isoformat(),
            },
            "interval_readings": [
                {
                    "time_period": {"start": start_of(first), "duration": first_days * 86400,
                                    "first_day": first.isoformat(), "last_day": month_end(first).isoformat()},
                    "value": "180.00", "tou": {"peak": None, "flat": None, "valley": None},
                    "register_total": "180.00", "billing_period": f"{first:%Y-%m}", "quality": "valid",
                    "source": "manual",
                },
                {
                    "time_period": {"start": start_of(last), "duration": last_days * 86400,
                                    "first_day": last.isoformat(), "last_day": month_end(last).isoformat()},
                    "value": "200.00", "tou": {"peak": None, "flat": None, "valley": None},
                    "register_total": "380.00", "billing_period": f"{last:%Y-%m}", "quality": "valid",
                    "source": "manual",
                },
            ],
        }
    ]
    summaries = document["usage_summaries"]
    assert [summary["bill_number"] for summary in summaries] == [f"{first:%Y%m}{number}", f"{last:%Y%m}{number}"]
    assert summaries[1] == {
        "bill_number": f"{last:%Y%m}{number}",
        "billing_period": {"start": start_of(last), "duration": last_days * 86400,
                           "first_day": last.isoformat(), "last_day": month_end(last).isoformat()},
        "kind": "regular", "state": "issued", "issued_on": today().isoformat(),
        "due_date": (today() + datetime.timedelta(days=30)).isoformat(),
        "consumption_kwh": "200.00", "bill_amount": "112.60", "amount_paid": "0.00", "amount_adjusted": "0.00",
        "outstanding": "112.60",
        "lines": [
            {"kind": "tier", "label": "第1档电量", "quantity": "180.00", "unit_price": "0.5580", "amount": "100.44"},
            {"kind": "tier", "label": "第2档电量", "quantity": "20.00", "unit_price": "0.6080", "amount": "12.16"},
        ],
    }


def test_only_the_accounts_own_user_may_download(client, binding):
    number = binding.account.number
    for url in urls(number).values():
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")

    client.force_login(PortalUserFactory())  # bound nothing
    for url in list(urls(number).values()) + list(urls("9999999999").values()) + list(urls("not-a-number").values()):
        assert client.get(url).status_code == 404

    someone_else = AccountBindingFactory()  # has an account of their own, not this one
    client.force_login(someone_else.user)
    for url in urls(number).values():
        assert client.get(url).status_code == 404
    assert client.get(urls(someone_else.account.number)["bills"]).status_code == 200

    client.force_login(binding.user)
    assert client.post(urls(number)["bills"]).status_code == 405
    binding.unbound_at = timezone.now()
    binding.save(update_fields=["unbound_at"])
    for url in urls(number).values():
        assert client.get(url).status_code == 404


def test_an_export_takes_the_same_queries_whatever_the_history(client, binding):
    client.force_login(binding.user)
    number = binding.account.number

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    before = {name: queries(url) for name, url in urls(number).items()}
    longer = AccountBindingFactory(user=binding.user)
    billed_months(longer.account, [D(150)] * 8, last_period=periods()[1], issued_on=today())
    assert longer.account.bills.count() == 8
    assert {name: queries(url) for name, url in urls(longer.account.number).items()} == before
