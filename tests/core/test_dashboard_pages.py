"""The decision-support pages (/staff/reports/): who may see them, the drill-down company -> branch -> station, the
tables and the JSON the charts draw, bad filters, and a flat query count per page.

The summary rows are laid down by hand here (test_report_summaries checks how the refresh computes them), so
every figure on the pages is worked out from the rows below."""
import datetime
import json
import re
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.models import (
    BillingSummary,
    CustomerSummary,
    FaultReportSummary,
    OutageSummary,
    ReportRefresh,
    TicketSummary,
    TierSummary,
)
from core.services.report_refresh import reports_refresh
from core.services.roles import ROLE_AUDITOR, ROLE_COUNTER_CLERK, ROLE_SUPERVISOR, role_group
from tests.factories import BranchFactory, FeederFactory, ServiceStationFactory

pytestmark = pytest.mark.django_db
PAGES = ("index", "consumption", "customers", "tiers", "arrears", "tickets", "outages")
THIS_MONTH = timezone.localdate().replace(day=1)


def months_back(count: int) -> datetime.date:
    index = THIS_MONTH.year * 12 + THIS_MONTH.month - 1 - count
    return datetime.date(index // 12, index % 12 + 1, 1)


LAST, BEFORE = months_back(1), months_back(2)


def url(name: str) -> str:
    return "/staff/reports/" if name == "index" else f"/staff/reports/{name}/"


def user_with_role(code: str | None, username: str):
    user = get_user_model().objects.create_user(username=username, password="x", is_staff=True)
    if code:
        user.groups.add(role_group(code=code))
    return user


@pytest.fixture
def supervisor():
    return user_with_role(ROLE_SUPERVISOR, "boss")


@pytest.fixture
def units():
    a = BranchFactory(code="A", name="恩施市")
    b = BranchFactory(code="B", name="利川市")
    return {
        "A": a, "B": b,
        "A1": ServiceStationFactory(branch=a, code="A1", name="舞阳坝供电所"),
        "A2": ServiceStationFactory(branch=a, code="A2", name="小渡船供电所"),
        "B1": ServiceStationFactory(branch=b, code="B1", name="都亭供电所"),
    }


def billing_row(units, period, station, category, kwh, billed, paid, outstanding, arrears, bills=1):
    unit = units[station]
    BillingSummary.objects.create(
        period=period, branch=unit.branch, station=unit, category=category, bills=bills,
        kwh=D(kwh), billed=D(billed), paid=D(paid), outstanding=D(outstanding), accounts_in_arrears=arrears,
    )


@pytest.fixture
def figures(units):
    billing_row(units, BEFORE, "A1", "residential", "100.00", "55.80", "55.80", "0.00", 0)
    billing_row(units, LAST, "A1", "residential", "300.00", "168.40", "112.60", "55.80", 1, bills=2)
    billing_row(units, LAST, "A2", "residential", "500.00", "320.00", "100.00", "220.00", 1)
    billing_row(units, LAST, "A2", "non_residential", "1000.00", "700.00", "700.00", "0.00", 0)
    billing_row(units, LAST, "B1", "residential", "50.00", "27.90", "0.00", "27.90", 1)
    for station, tier, bills, kwh in (("A1", 1, 2, "280"), ("A1", 2, 1, "20"), ("A2", 1, 1, "180"),
                                      ("A2", 2, 1, "220"), ("A2", 3, 1, "100"), ("B1", 1, 1, "50")):
        TierSummary.objects.create(period=LAST, branch=units[station].branch, station=units[station], tier=tier,
                                   bills=bills, kwh=D(kwh))
    for period, station, opened in ((datetime.date(2020, 1, 1), "A1", 10), (BEFORE, "A1", 2), (LAST, "A2", 3),
                                    (LAST, "B1", 1)):
        CustomerSummary.objects.create(period=period, branch=units[station].branch, station=units[station],
                                       category="residential", opened=opened)
    TicketSummary.objects.create(period=LAST, branch=units["A"], station=units["A1"], business_type="fault_repair",
                                 opened=10, closed=8, closed_due=8, closed_on_time=6)
    TicketSummary.objects.create(period=LAST, branch=units["A"], station=None, business_type="complaint",
                                 opened=2, closed=1, closed_due=1, closed_on_time=1)
    TicketSummary.objects.create(period=LAST, branch=units["B"], station=units["B1"], business_type="complaint",
                                 opened=4, closed=4, closed_due=4, closed_on_time=4)
    feeder = FeederFactory(substation__branch=units["A"], code="F1", name="10kV舞阳线")
    quiet = FeederFactory(substation__branch=units["B"], code="F2", name="10kV都亭线")
    OutageSummary.objects.create(period=LAST, branch=units["A"], feeder=feeder, kind="fault", outages=1, areas=2,
                                 customers=4, customer_interruption=datetime.timedelta(hours=10))
    OutageSummary.objects.create(period=LAST, branch=units["A"], feeder=feeder, kind="planned", outages=2,
                                 areas=2, customers=4, customer_interruption=datetime.timedelta(hours=6))
    FaultReportSummary.objects.create(period=LAST, branch=units["A"], feeder=feeder, reports=5, closed=4,
                                      closed_on_time=3)
    FaultReportSummary.objects.create(period=LAST, branch=units["B"], feeder=quiet, reports=1, closed=1,
                                      closed_on_time=1)
    ReportRefresh.objects.create(started_at=timezone.now(), finished_at=timezone.now(), full=True)
    return units


def charts(response) -> dict:
    found = re.search(r'<script id="report-charts" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    return {chart["id"]: chart for chart in json.loads(found.group(1))}


def table(response, element_id: str) -> list[list[str]]:
    """The rows of a table as lists of cell texts (tags stripped)."""
    html = response.content.decode()
    body = re.search(rf'<table class="table" id="{element_id}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


# --- who may see them -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, name):
    response = client.get(url(name))
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize("role", [ROLE_COUNTER_CLERK, None])
def test_other_staff_are_refused(client, role):
    client.force_login(user_with_role(role, "clerk"))
    for name in PAGES:
        assert client.get(url(name)).status_code == 403


@pytest.mark.parametrize("role", [ROLE_SUPERVISOR, ROLE_AUDITOR])
def test_supervisors_and_auditors_see_every_page(client, figures, role):
    client.force_login(user_with_role(role, f"user-{role}"))
    for name in PAGES:
        assert client.get(url(name)).status_code == 200, name


@pytest.mark.parametrize("name", PAGES)
def test_each_page_runs_a_fixed_number_of_queries(client, figures, supervisor, django_assert_max_num_queries, name):
    client.force_login(supervisor)
    # The overview also counts the days the online-payment reconciliation found differences on (one query).
    limit = 12 if name == "index" else 11
    for query in ("", "?branch=A", "?branch=A&station=A1"):
        with django_assert_max_num_queries(limit):
            assert client.get(url(name) + query).status_code == 200


# --- figures, charts and drill-down -----------------------------------------------------------------------------


def test_index_drills_from_company_to_branch_to_station(client, figures, supervisor):
    client.force_login(supervisor)

    company = client.get(url("index"))
    assert table(company, "report-units") == [
        ["恩施市", "1,800.00", "¥1,188.40", "¥275.80"],
        ["利川市", "50.00", "¥27.90", "¥27.90"],
    ]
    html = company.content.decode()
    assert '<a href="?branch=A&amp;months=12">恩施市</a>' in html
    # 16 accounts; last month 1,850 kWh, ¥1,216.30 billed, ¥912.60 paid (75.0 %); ¥303.70 owed
    for text in ("16", "1,850.00", "¥1,216.30", "75.0%", "¥303.70"):
        assert f'<span class="total__value">{text}</span>' in html

    branch = client.get(url("index") + "?branch=A")
    assert table(branch, "report-units") == [
        ["舞阳坝供电所", "300.00", "¥168.40", "¥55.80"],
        ["小渡船供电所", "1,500.00", "¥1,020.00", "¥220.00"],
    ]
    assert '<a href="?branch=A&amp;station=A2&amp;months=12">小渡船供电所</a>' in branch.content.decode()

    # The quality-management reports sit beside these, under /staff/reports/quality/.
    assert '<a href="/staff/reports/quality/">' in html

    station = client.get(url("index") + "?branch=A&station=A2")
    assert "小渡船供电所" in station.content.decode()
    assert 'id="report-units"' not in station.content.decode()
    assert '<span class="total__value">3</span>' in station.content.decode()


def test_consumption_tables_and_chart_json(client, figures, supervisor):
    client.force_login(supervisor)

    response = client.get(url("consumption") + "?months=6")

    chart = charts(response)["chart-consumption"]
    labels = [f"{months_back(n):%Y-%m}" for n in range(6, 0, -1)]
    assert chart["labels"] == labels
    assert chart["series"][0] == {"name": "电量(kWh)", "type": "bar", "yAxisIndex": 0,
                                  "data": ["0.00"] * 4 + ["100.00", "1850.00"]}
    assert chart["series"][1]["data"] == ["0.00"] * 4 + ["55.80", "1216.30"]
    by_category = charts(response)["chart-consumption-category"]
    assert [(s["name"], s["data"][-1]) for s in by_category["series"]] == [("居民生活", "850.00"), ("一般工商业", "1000.00")]
    assert by_category["stacked"] is True
    assert table(response, "report-months")[-2:] == [
        [f"{BEFORE:%Y-%m}", "100.00", "¥55.80", "¥55.80"],
        [f"{LAST:%Y-%m}", "1,850.00", "¥1,216.30", "¥912.60"],
    ]
    assert table(response, "report-detail") == [["居民生活", "850.00", "¥516.30"], ["一般工商业", "1,000.00", "¥700.00"]]
    assert table(response, "report-units") == [
        ["恩施市", "1,800.00", "¥1,188.40", "¥912.60"], ["利川市", "50.00", "¥27.90", "¥0.00"],
    ]
    # The tables are in the page for browsers without the script; the script and ECharts come after them.
    html = response.content.decode()
    assert html.index('id="report-months"') < html.index("core/staff/reports.js")
    assert "/static/vendor/echarts/echarts.min.js" in html


def test_customer_growth_counts_accounts_at_each_month_end(client, figures, supervisor):
    client.force_login(supervisor)

    response = client.get(url("customers") + "?months=3")

    chart = charts(response)["chart-customers"]
    # 10 opened in 2020, 2 the month before last, 4 last month, none this month
    assert chart["series"][-1]["data"] == ["12", "16", "16"]
    assert chart["series"][0]["data"] == ["2", "4", "0"]
    assert table(response, "report-units") == [["恩施市", "15", "5"], ["利川市", "1", "1"]]


def test_tier_distribution_by_highest_tier(client, figures, supervisor):
    client.force_login(supervisor)

    response = client.get(url("tiers") + "?months=1&branch=A")

    chart = charts(response)["chart-tiers"]
    # A: 3 bills reach tier 1, 2 reach tier 2, 1 reaches tier 3 -> top tier 1: 1, 2: 1, 3: 1
    assert [(s["name"], s["data"]) for s in chart["series"]] == [("第1档", ["1"]), ("第2档", ["1"]), ("第3档", ["1"])]
    assert table(response, "report-months") == [
        [f"{LAST:%Y-%m}", "1 (33.3%)", "1 (33.3%)", "1 (33.3%)", "460.00 / 240.00 / 100.00"],
    ]
    assert table(response, "report-units") == [["舞阳坝供电所", "2", "1", "0"], ["小渡船供电所", "1", "1", "1"]]


def test_arrears_by_billing_month_with_collection_rate(client, figures, supervisor):
    client.force_login(supervisor)

    response = client.get(url("arrears") + "?months=2")

    chart = charts(response)["chart-arrears"]
    assert chart["series"][0]["data"] == ["0.00", "303.70"]
    # paid / billed: 55.80 / 55.80 = 100 %; 912.60 / 1216.30 = 75.0 %
    assert chart["series"][1]["data"] == ["100.0", "75.0"]
    assert chart["percentAxis"] is True
    assert table(response, "report-months") == [
        [f"{BEFORE:%Y-%m}", "¥55.80", "¥0.00", "0", "100.0%"],
        [f"{LAST:%Y-%m}", "¥1,216.30", "¥303.70", "3", "75.0%"],
    ]


def test_ticket_volumes_on_time_rates_and_the_station_less_row(client, figures, supervisor):
    client.force_login(supervisor)

    response = client.get(url("tickets") + "?months=2&branch=A")

    chart = charts(response)["chart-tickets"]
    assert [s["data"] for s in chart["series"]] == [["12", "0"], ["9", "0"], ["77.8", "0.0"]]
    assert table(response, "report-detail") == [["故障报修", "10", "8", "75.0%"], ["投诉", "2", "1", "100.0%"]]
    assert table(response, "report-units") == [["舞阳坝供电所", "10", "8", "75.0%"], ["未关联供电所", "2", "1", "100.0%"]]


def test_outages_by_feeder(client, figures, supervisor):
    client.force_login(supervisor)

    response = client.get(url("outages") + "?months=2")

    assert table(response, "report-detail") == [
        ["10kV舞阳线", "恩施市", "3", "2", "1", "8", "16.00", "5", "75.0%"],
        ["10kV都亭线", "利川市", "0", "0", "0", "0", "0.00", "1", "100.0%"],
    ]
    feeders = charts(response)["chart-feeders"]
    assert feeders["labels"] == ["10kV舞阳线", "10kV都亭线"]
    assert feeders["series"][0]["data"] == ["16.00", "0.00"]
    by_kind = charts(response)["chart-outages"]
    assert [(s["name"], s["data"]) for s in by_kind["series"]] == [
        ("计划停电", ["2", "0"]), ("临时停电", ["0", "0"]), ("故障停电", ["1", "0"])
    ]
    station = client.get(url("outages") + "?months=2&branch=B&station=B1")
    assert [row[0] for row in table(station, "report-detail")] == ["10kV都亭线"]


# --- bad filters ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query, message", [
    ("?branch=ZZ", "没有编码为“ZZ”的县公司"),
    ("?branch=A&station=B1", "恩施市没有编码为“B1”的供电所"),
    ("?station=A1", "选择供电所时须同时指定县公司"),
    ("?months=0", "月数应为1到36之间的整数"),
    ("?months=abc", "月数应为1到36之间的整数"),
])
def test_a_bad_filter_is_a_clear_message_on_the_company_page(client, figures, supervisor, query, message):
    client.force_login(supervisor)
    for name in PAGES:
        response = client.get(url(name) + query)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert "<h1>" in response.content.decode() and "全公司" in response.content.decode()


def test_pages_without_summaries_say_how_to_build_them(client, supervisor):
    client.force_login(supervisor)
    for name in PAGES:
        response = client.get(url(name))
        assert response.status_code == 200
        assert "reports_refresh" in response.content.decode()


def test_a_refresh_feeds_the_pages(client, supervisor, units):
    CustomerSummary.objects.all().delete()
    from tests.factories import AccountFactory

    AccountFactory(station=units["B1"], opened_on=LAST)
    reports_refresh()
    client.force_login(supervisor)

    response = client.get(url("customers") + "?months=2&branch=B")

    assert charts(response)["chart-customers"]["series"][-1]["data"] == ["1", "1"]
    assert "汇总数据更新于" in response.content.decode()
