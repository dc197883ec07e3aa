"""The demo's counter days, withholding agreements, audit flags and dashboard figures (core.demo.operations): made
once however often the seed runs, and what the demo cashier, accountant and supervisor then open."""
import datetime
import io
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import OutputWrapper
from django.test import Client
from django.utils import timezone

from core.demo.operations import demo_operations_seed, demo_reports_prepare
from core.models import AuditFlag, Branch, Payment, ReportRefresh
from core.models.banks import WithholdingAgreement
from core.models.counter import CounterCashier, CounterOutlet, CounterReceipt, CounterSettlement, DepositAccount
from core.services.demo_logins import demo_users_ensure
from tests.factories import AccountFactory, BranchFactory, ServiceStationFactory
from tests.ticket_factories import local

pytestmark = pytest.mark.django_db
NOW = local(2026, 11, 23, 15, 7)
TODAY, YESTERDAY = datetime.date(2026, 11, 23), datetime.date(2026, 11, 22)
MODELS = (CounterOutlet, DepositAccount, CounterCashier, CounterReceipt, CounterSettlement, WithholdingAgreement,
          AuditFlag, Payment, ReportRefresh)


def _counts() -> dict:
    return {model: model.objects.count() for model in MODELS}


@pytest.fixture
def world():
    """Three county branches with accounts, and the demo logins (whose posts are in the first branch, A01)."""
    branches = [BranchFactory(code=code, name=name) for code, name in (("C03", "建始县"), ("A01", "巴东县"),
                                                                          ("B02", "利川市"))]
    accounts = []
    for branch in branches:
        station = ServiceStationFactory(branch=branch)
        accounts += [AccountFactory(station=station) for _n in range(3)]
    accounts[7].balance = D("48.60")  # owes money: signs a withholding agreement first
    accounts[7].save(update_fields=["balance"])
    demo_users_ensure(allow_fixed_passwords=True)
    return accounts


def test_a_hall_per_branch_yesterday_settled_and_reviewed_today_open(world):
    result = demo_operations_seed(now=NOW)

    assert list(CounterOutlet.objects.order_by("code").values_list("code", "name")) == [
        ("A01-HALL", "巴东县供电公司营业厅"), ("B02-HALL", "利川市供电公司营业厅"), ("C03-HALL", "建始县供电公司营业厅"),
    ]
    assert list(DepositAccount.objects.order_by("account_number").values_list(
        "branch__code", "bank_name", "account_number")) == [
        ("A01", "中国工商银行巴东县支行", "1809010409024001"),
        ("B02", "中国工商银行利川市支行", "1809020409024002"),
        ("C03", "中国工商银行建始县支行", "1809030409024003"),
    ]
    seat = CounterCashier.objects.get()
    assert (seat.user.username, seat.outlet.code) == ("demo-cashier", "A01-HALL")

    yesterday = list(CounterReceipt.objects.filter(business_day=YESTERDAY).order_by("id"))
    assert [(r.number, r.kind, r.method, r.amount, r.slip_reference) for r in yesterday] == [
        ("A01-HALL-20261122-0001", "payment", "cash", D("120.00"), ""),
        ("A01-HALL-20261122-0002", "payment", "bank_slip", D("300.00"), "JZ2026112202"),
        ("A01-HALL-20261122-0003", "payment", "cash", D("86.50"), ""),
        ("A01-HALL-20261122-0004", "reversal", "cash", D("-86.50"), ""),
        ("A01-HALL-20261122-0005", "payment", "list_slip", D("1250.00"), "LZ2026112204"),
        ("A01-HALL-20261122-0006", "payment", "cash", D("86.50"), ""),
    ]
    # Any county's account at the first branch's hall: the first account of each branch, in branch code order.
    first_of_branch = [world[3], world[6], world[0]]
    assert [r.account for r in yesterday if r.kind == "payment"] == [*first_of_branch, *first_of_branch[:2]]
    assert yesterday[3].reverses == yesterday[2]
    settlement = CounterSettlement.objects.get(business_day=YESTERDAY)
    assert (settlement.cash_amount, settlement.bank_slip_amount, settlement.list_slip_amount, settlement.total,
            settlement.receipt_count, settlement.state, settlement.reviewed_by.username,
            settlement.deposit_account.branch.code) == (
        D("206.50"), D("300.00"), D("1250.00"), D("1756.50"), 6, "reviewed", "demo-accountant", "A01",
    )

    today = CounterReceipt.objects.filter(business_day=TODAY).order_by("id")
    assert list(today.values_list("kind", "method", "amount")) == [
        ("payment", "cash", D("200.00")), ("payment", "cash", D("65.30")), ("reversal", "cash", D("-65.30")),
        ("payment", "bank_slip", D("500.00")),
    ]
    assert max(today.values_list("taken_at", flat=True)) <= NOW
    assert not CounterSettlement.objects.filter(business_day=TODAY).exists()
    assert Payment.objects.filter(channel="counter").count() == 8

    agreements = WithholdingAgreement.objects.filter(status="active").order_by("signed_on")
    assert [a.account for a in agreements] == [
        *[world[i] for i in (4, 3, 2, 1, 0)], world[7],
    ]
    assert set(agreements.values_list("bank__code", flat=True)) == {"ICBC"}
    assert agreements.last().signed_on == TODAY - datetime.timedelta(days=40)
    assert agreements.last().bank_account_number == f"6222{world[7].number}000"

    assert (result.outlets_added, result.receipts_added, result.reversals_added, result.settlements_added,
            result.reviews_added, result.agreements_added, result.skipped) == (3, 8, 2, 1, 1, 6, [])


def test_running_again_adds_nothing_and_a_later_day_settles_the_open_one_first(world):
    demo_operations_seed(now=NOW)
    counts = _counts()
    again = demo_operations_seed(now=NOW + datetime.timedelta(minutes=30))
    assert (again.added, again.receipts_existing) == (0, 8)
    assert _counts() == counts

    later = demo_operations_seed(now=NOW + datetime.timedelta(days=2))
    assert (later.settlements_added, later.reviews_added, later.receipts_added, later.reversals_added,
            later.agreements_added) == (2, 2, 8, 2, 0)
    assert list(CounterSettlement.objects.order_by("business_day").values_list("business_day", "state", "total")) == [
        (YESTERDAY, "reviewed", D("1756.50")),
        (TODAY, "reviewed", D("700.00")),
        (TODAY + datetime.timedelta(days=1), "reviewed", D("1756.50")),
    ]


def test_without_the_demo_cashier_nothing_is_taken():
    BranchFactory(code="A01", name="巴东县")
    AccountFactory()
    result = demo_operations_seed(now=NOW)
    assert (result.outlets_added, result.receipts_added) == (2, 0)
    assert result.skipped == ["营业厅收费：缺少演示收费员、营业厅或用电户，未生成收费记录"]
    assert not CounterReceipt.objects.exists()


def test_the_audit_flags_the_two_reversals_and_the_summaries_are_rebuilt_only_on_change(world):
    demo_operations_seed(now=NOW)
    out = io.StringIO()
    first = demo_reports_prepare(changed=True, now=NOW, stdout=OutputWrapper(out))
    assert (first.flags_raised, first.flags_open, first.refreshed) == (2, 2, True)
    assert sorted(AuditFlag.objects.values_list("rule", "amount", "state")) == [
        ("payment_reversed", D("65.30"), "open"), ("payment_reversed", D("86.50"), "open"),
    ]
    assert out.getvalue().splitlines()[0] == "业务稽查：新增疑点 2 条，待核查共 2 条。"
    assert out.getvalue().splitlines()[1].startswith("决策支持汇总：全量刷新 6 张汇总表，写入 ")

    out = io.StringIO()
    again = demo_reports_prepare(changed=False, now=NOW, stdout=OutputWrapper(out))
    assert (again.flags_raised, again.flags_open, again.refreshed) == (0, 2, False)
    assert out.getvalue().splitlines() == ["业务稽查：新增疑点 0 条，待核查共 2 条。", "决策支持汇总：演示数据未变，无需刷新。"]
    assert ReportRefresh.objects.count() == 1


def _signed_in(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def test_seed_demo_shows_the_new_features_to_the_demo_logins_and_a_second_seed_adds_nothing():
    """Through the command, as `make run` does: then each demo login opens its pages with the demo's figures."""
    out = io.StringIO()
    call_command("seed_demo", customers="12", stdout=out)
    output = out.getvalue()
    assert "演示营业厅收费：新增营业厅 8 个、收据 8 张（已有 0 张）、冲正 2 笔、日结解款 1 份、审核 1 份；代扣协议新增 6 份。" in output
    assert "业务稽查：新增疑点 2 条，待核查共 2 条。" in output
    assert "决策支持汇总：全量刷新 6 张汇总表" in output
    assert output.rstrip().splitlines()[-1] == (
        "接口密钥：为外部系统生成一把（只显示一次），例如 manage.py api_client_create --name 用电信息采集系统 "
        "--system acquisition --scope readings:write --scope meter_events:write"
    )
    first_branch = Branch.objects.order_by("code").first()
    assert CounterCashier.objects.get().outlet.branch == first_branch
    counts = _counts()

    again = io.StringIO()
    call_command("seed_demo", customers="12", stdout=again)
    assert _counts() == counts
    assert "决策支持汇总：演示数据未变，无需刷新。" in again.getvalue()

    cashier = _signed_in("demo-cashier")
    search = cashier.get("/staff/counter/")
    assert search.status_code == 200
    assert search.context["seat"].outlet.name == f"{first_branch.name}供电公司营业厅"
    day = cashier.get("/staff/counter/day/")
    assert day.status_code == 200
    assert (day.context["day"].totals.total, day.context["day"].totals.count, day.context["day"].earlier_open_days) == (
        D("700.00"), 4, []
    )
    assert cashier.get("/staff/reports/").status_code == 403

    review = _signed_in("demo-accountant").get("/staff/counter/review/")
    assert review.status_code == 200

    supervisor = _signed_in("demo-supervisor")
    reports = supervisor.get("/staff/reports/")
    assert reports.status_code == 200
    html = reports.content.decode()
    assert '<a href="/staff/reports/">决策支持</a>' in html
    assert '<a href="/staff/reports/quality/">质量管理</a>' in html
    overview = reports.context["overview"]
    figures = {figure.label: figure.value for figure in overview.figures}
    assert figures["户数"] == "12"
    assert len(overview.unit_rows) == 8
    billed = next(value for label, value in figures.items() if label.endswith("应收电费"))
    assert billed != "0.00" and any(digit in billed for digit in "123456789")
    audit = supervisor.get("/staff/reports/quality/audit/")
    assert audit.status_code == 200
    assert audit.context["work"].total == 2
    assert timezone.now() >= max(CounterReceipt.objects.values_list("taken_at", flat=True))
