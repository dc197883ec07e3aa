"""Finance figures per branch and bill month, checked against sums worked out by hand on a small crafted book."""
import csv
import datetime
import io
from dataclasses import dataclass
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from core.models import LedgerEntry, Payment
from core.selectors.finance import FinanceFigures, finance_summary
from core.services.billing import bill_correct, bill_write_off
from core.services.late_fees import late_fee_waive, late_fees_assess
from core.services.payments import payment_post, payment_reverse
from core.services.tariffs import Usage
from tests.core.test_late_fees import bill_charge, policies_set
from tests.factories import AccountFactory, BranchFactory, ServiceStationFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
JAN = datetime.date(2026, 1, 1)
FEB = datetime.date(2026, 2, 1)
DEC = datetime.date(2025, 12, 1)
pytestmark = pytest.mark.django_db


def at(year, month, day, hour=10) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, tzinfo=SHANGHAI)


def _pay(account, amount, key, received_at) -> Payment:
    payment = payment_post(
        account=account, amount=amount, channel=Payment.Channel.COUNTER, idempotency_key=key, received_at=received_at
    ).payment
    # The ledger stamps postings with the real clock; the crafted book books each on the day it was received.
    LedgerEntry.objects.filter(payment=payment, kind=LedgerEntry.Kind.PAYMENT).update(created_at=received_at)
    return payment


@dataclass
class Book:
    north: object
    south: object
    quiet: object


def book_build() -> Book:
    """Branch N01 (north), N02 (south) and N03 (quiet, nothing billed), with the January 2026 figures:

    north: four January bills (100.00 paid; 200.00 with a 2.00 late fee, 50.00 paid; 80.00 written off;
    112.60 credited and re-billed at 100.44) and a December bill; 20.00 paid and reversed; 100.00 + 20.00 booked
    in January, 50.00 booked and 20.00 reversed in February.
    south: one 300.00 January bill, a 6.00 late fee of which 2.00 is waived.
    """
    policies_set()
    user = get_user_model().objects.create_user(username="账务员", password="x")
    north = BranchFactory(code="N01", name="恩施市")
    south = BranchFactory(code="N02", name="利川市")
    quiet = BranchFactory(code="N03", name="鹤峰县")
    north_station = ServiceStationFactory(branch=north)
    south_station = ServiceStationFactory(branch=south)

    paid = AccountFactory(station=north_station)
    bill_charge(account=paid, period=JAN, total="100.00", due_date=datetime.date(2026, 2, 28))
    _pay(paid, "100.00", "fin-paid", at(2026, 1, 20))

    late = AccountFactory(station=north_station)
    bill_charge(account=late, period=JAN, total="200.00", due_date=datetime.date(2026, 1, 31))
    # 200.00 x 1‰ x 10 days (02-01..02-10) = 2.00 late fee, settled first; 48.00 to the bill.
    _pay(late, "50.00", "fin-late", at(2026, 2, 10))

    written = AccountFactory(station=north_station)
    bill_write_off(
        bill=bill_charge(account=written, period=JAN, total="80.00", due_date=datetime.date(2026, 2, 28)),
        user=user,
        reason="户主迁出，无法追缴",
    )

    corrected = AccountFactory(station=north_station)
    bill_correct(
        bill=bill_charge(account=corrected, period=JAN, total="112.60", due_date=datetime.date(2026, 2, 28)),
        reason="抄错表",
        user=user,
        corrected_usage=Usage(kwh=D("180")),  # 180 x 0.558 = 100.44
    )

    earlier = AccountFactory(station=north_station)
    bill_charge(account=earlier, period=DEC, total="30.00", due_date=datetime.date(2026, 1, 31))

    bounced = AccountFactory(station=north_station)
    reversed_payment = _pay(bounced, "20.00", "fin-bounced", at(2026, 1, 25))
    payment_reverse(payment=reversed_payment, user=user, reason="银行退票")
    LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT_REVERSAL).update(created_at=at(2026, 2, 3))

    waived = AccountFactory(station=south_station)
    bill_charge(account=waived, period=JAN, total="300.00", due_date=datetime.date(2026, 1, 31))
    # 300.00 x 1‰ x 20 days (02-01..02-20) = 6.00
    (fee,) = late_fees_assess(account=waived, through=datetime.date(2026, 2, 20))
    late_fee_waive(late_fee=fee, amount="2.00", user=user, reason="系统故障未能缴费")
    return Book(north=north, south=south, quiet=quiet)


def figures(bills, receivable, received, written_off, outstanding, late_fees, late_received, late_waived, collected):
    return FinanceFigures(
        bills=bills,
        receivable=D(receivable),
        received=D(received),
        written_off=D(written_off),
        outstanding=D(outstanding),
        late_fees=D(late_fees),
        late_fees_received=D(late_received),
        late_fees_waived=D(late_waived),
        collected=D(collected),
    )


NORTH_JAN = figures(4, "480.44", "148.00", "80.00", "252.44", "2.00", "2.00", "0.00", "120.00")
SOUTH_JAN = figures(1, "300.00", "0.00", "0.00", "300.00", "6.00", "0.00", "2.00", "0.00")
QUIET = figures(0, "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00")
TOTAL_JAN = figures(5, "780.44", "148.00", "80.00", "552.44", "8.00", "2.00", "2.00", "120.00")


def test_january_figures_per_branch_and_totals(django_assert_num_queries):
    book_build()
    with django_assert_num_queries(4):  # branches, then one aggregate each over bills, late fees, the ledger
        summary = finance_summary(period=JAN)
    assert summary.period == JAN
    assert [(row.code, row.name, row.figures) for row in summary.branches] == [
        ("N01", "恩施市", NORTH_JAN),
        ("N02", "利川市", SOUTH_JAN),
        ("N03", "鹤峰县", QUIET),
    ]
    assert summary.totals == TOTAL_JAN
    for row in summary.branches:
        assert row.figures.receivable == row.figures.received + row.figures.written_off + row.figures.outstanding


def test_cash_is_counted_in_the_month_it_was_booked():
    book = book_build()
    february = finance_summary(period=FEB, branch=book.north)
    # 50.00 received on 02-10, the January 20.00 reversed on 02-03; no February bills.
    assert [(row.code, row.figures) for row in february.branches] == [
        ("N01", figures(0, "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "30.00"))
    ]
    december = finance_summary(period=DEC, branch=book.north)
    assert december.totals == figures(1, "30.00", "0.00", "0.00", "30.00", "0.00", "0.00", "0.00", "0.00")


def test_month_boundary_is_the_local_day():
    book = book_build()
    account = AccountFactory(station=ServiceStationFactory(branch=book.south))
    # 2026-02-01 00:30 in Shanghai is still 2026-01-31 in UTC: it belongs to February.
    _pay(account, "9.99", "fin-midnight", at(2026, 2, 1, hour=0).replace(minute=30))
    assert finance_summary(period=JAN, branch=book.south).totals.collected == D("0.00")
    assert finance_summary(period=FEB, branch=book.south).totals.collected == D("9.99")


def test_monthly_file_has_a_line_per_branch_and_a_totals_line(tmp_path):
    book_build()
    out = tmp_path / "finance-2026-01.csv"
    stdout = io.StringIO()
    call_command("finance_monthly_file", "--period", "2026-01", "--out", str(out), stdout=stdout)
    rows = list(csv.reader(out.read_text(encoding="utf-8").splitlines()))
    assert rows == [
        ["电费年月", "县公司编码", "县公司", "账单张数", "应收电费", "实收电费", "核销", "欠费", "违约金", "违约金实收",
         "违约金减免", "当月入账缴费"],
        ["2026-01", "N01", "恩施市", "4", "480.44", "148.00", "80.00", "252.44", "2.00", "2.00", "0.00", "120.00"],
        ["2026-01", "N02", "利川市", "1", "300.00", "0.00", "0.00", "300.00", "6.00", "0.00", "2.00", "0.00"],
        ["2026-01", "N03", "鹤峰县", "0", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00"],
        ["2026-01", "TOTAL", "合计", "5", "780.44", "148.00", "80.00", "552.44", "8.00", "2.00", "2.00", "120.00"],
    ]
    lines = stdout.getvalue().splitlines()
    assert lines[:3] == ["[1/3] N01 恩施市", "[2/3] N02 利川市", "[3/3] N03 鹤峰县"]
    assert lines[3] == (
        f"2026-01财务月报已写入{out}：3个县公司，应收780.44元，实收148.00元，欠费552.44元"
    )
    assert [path.name for path in tmp_path.iterdir()] == ["finance-2026-01.csv"]


def test_monthly_file_for_one_branch(tmp_path):
    book_build()
    out = tmp_path / "south.csv"
    call_command("finance_monthly_file", "--period", "2026-01", "--branch", "N02", "--out", str(out), stdout=io.StringIO())
    rows = list(csv.reader(out.read_text(encoding="utf-8").splitlines()))
    assert [row[1] for row in rows[1:]] == ["N02", "TOTAL"]
    assert rows[-1][4:8] == ["300.00", "0.00", "0.00", "300.00"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--period", "2026-13"], "账期格式应为YYYY-MM，例如2026-01"),
        (["--period", "2026-01", "--branch", "X99"], "县公司编码X99不存在"),
    ],
)
def test_monthly_file_refuses_bad_arguments(tmp_path, arguments, message):
    out = tmp_path / "f.csv"
    with pytest.raises(CommandError) as excinfo:
        call_command("finance_monthly_file", *arguments, "--out", str(out), stdout=io.StringIO())
    assert str(excinfo.value) == message
    assert not out.exists()


def test_monthly_file_refuses_a_missing_directory(tmp_path):
    missing = tmp_path / "nowhere" / "f.csv"
    with pytest.raises(CommandError) as excinfo:
        call_command("finance_monthly_file", "--period", "2026-01", "--out", str(missing), stdout=io.StringIO())
    assert str(excinfo.value) == f"输出目录{missing.parent}不存在"
