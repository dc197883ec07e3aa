"""The billing engine: one bill, the batch run (resumable, idempotent, flat query count), corrections,
overdue marking and write-offs. Amounts are worked by hand in the comments."""
import datetime
import io
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.errors import BillingError, PeriodOutOfOrder
from core.models import (
    Bill,
    BillingRun,
    BillLine,
    CollectionPolicy,
    LedgerEntry,
    MeterReading,
    Payment,
    PowerFactorBand,
    Tariff,
    TariffTier,
    TariffVersion,
)
from core.models.customers import CustomerCategory
from core.services.billing import (
    bill_correct,
    bill_issue,
    bill_write_off,
    billing_run_execute,
    bills_mark_overdue,
)
from core.services.payments import payment_post
from core.services.readings import meter_replace, reading_record
from core.services.tariffs import Usage
from core.tasks import bills_mark_overdue as bills_mark_overdue_task
from tests.factories import AccountFactory, MeterFactory, ServiceStationFactory

pytestmark = pytest.mark.django_db
JAN = datetime.date(2026, 1, 1)
FEB = datetime.date(2026, 2, 1)
JAN31 = datetime.date(2026, 1, 31)
FEB28 = datetime.date(2026, 2, 28)
ISSUED = datetime.date(2026, 2, 5)
MANUAL = MeterReading.Source.MANUAL


@pytest.fixture(autouse=True)
def policies():
    for category, term in ((CustomerCategory.RESIDENTIAL, 30), (CustomerCategory.LARGE_INDUSTRY, 20)):
        CollectionPolicy.objects.update_or_create(
            category=category,
            defaults={
                "payment_term_days": term,
                "daily_rate_current_year": D("0.0010"),
                "daily_rate_prior_years": D("0.0010"),
            },
        )


def account_with_kwh(*, station=None, kwh=None, read_on=JAN31, **account_fields):
    account = AccountFactory(station=station or ServiceStationFactory(), **account_fields)
    meter = MeterFactory(service_point__account=account)
    if kwh is not None:
        reading_record(meter=meter, read_on=read_on, total=kwh, source=MANUAL)
    return account, meter


def ledger(account):
    return list(account.ledger_entries.order_by("id").values_list("kind", "amount", "balance_after"))


def test_bill_issue_prices_lines_number_due_date_and_ledger():
    account, _ = account_with_kwh(kwh="200")
    bill = bill_issue(account=account, period=JAN, issued_on=ISSUED)
    # 180 x 0.558 = 100.44; 20 x 0.608 = 12.16; total 112.60; due 30 days after 2026-02-05.
    assert list(bill.lines.values_list("position", "kind", "quantity", "amount")) == [
        (1, BillLine.Kind.TIER, D("180.00"), D("100.44")),
        (2, BillLine.Kind.TIER, D("20.00"), D("12.16")),
    ]
    assert (bill.number, bill.kind, bill.kwh, bill.total, bill.state) == (
        f"202601{account.number}", Bill.Kind.REGULAR, D("200.00"), D("112.60"), Bill.State.ISSUED
    )
    assert bill.due_date == datetime.date(2026, 3, 7)
    assert ledger(account) == [(LedgerEntry.Kind.BILL, D("112.60"), D("112.60"))]
    account.refresh_from_db()
    assert account.balance == D("112.60")


def test_bill_issue_refusals_change_nothing():
    account, meter = account_with_kwh(kwh="200")
    with pytest.raises(BillingError) as excinfo:
        bill_issue(account=account, period=FEB, issued_on=ISSUED)
    assert str(excinfo.value) == "该户2026-02没有抄表示数"

    bill_issue(account=account, period=JAN, issued_on=ISSUED)
    with pytest.raises(BillingError) as excinfo:
        bill_issue(account=account, period=JAN, issued_on=ISSUED)
    assert str(excinfo.value) == "该户2026-01的电费已发行"

    # Six months of 200 kWh, then a 1500 kWh jump: 1500 > 3 x 200 and 1300 above it, so held.
    total = D("200")
    for month in range(2, 8):
        total += 200
        last_day = datetime.date(2026, month + 1, 1) - datetime.timedelta(days=1)
        reading_record(meter=meter, read_on=last_day, total=total, source=MANUAL)
    reading_record(meter=meter, read_on=datetime.date(2026, 8, 31), total=total + 1500, source=MANUAL)
    with pytest.raises(BillingError) as excinfo:
        bill_issue(account=account, period=datetime.date(2026, 8, 1), issued_on=ISSUED)
    assert str(excinfo.value) == f"示数待复核，暂不出账：{meter.asset_number} 2026-08-31"

    bill_issue(account=account, period=datetime.date(2026, 3, 1), issued_on=ISSUED)
    with pytest.raises(PeriodOutOfOrder) as excinfo:
        bill_issue(account=account, period=FEB, issued_on=ISSUED)
    assert str(excinfo.value) == "该户已发行2026-03的电费，不能再发行更早的2026-02"
    assert Bill.objects.count() == 2
    assert [kind for kind, _, _ in ledger(account)] == [LedgerEntry.Kind.BILL, LedgerEntry.Kind.BILL]


def test_bill_for_an_account_in_credit_is_paid_from_the_credit():
    account, _ = account_with_kwh(kwh="200")
    payment_post(
        account=account,
        amount="50.00",
        channel=Payment.Channel.ONLINE,
        idempotency_key="prepay-1",
        received_at=datetime.datetime(2026, 1, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")),
    )
    # Issued today, so the bill is within its payment term whatever day the suite runs.
    bill = bill_issue(account=account, period=JAN, issued_on=timezone.localdate())
    # 112.60 owed, 50.00 prepaid applied: 62.60 left on the bill and on the account.
    assert (bill.amount_paid, bill.outstanding, bill.state) == (D("50.00"), D("62.60"), Bill.State.PARTLY_PAID)
    assert ledger(account) == [
        (LedgerEntry.Kind.PAYMENT, D("-50.00"), D("-50.00")),
        (LedgerEntry.Kind.BILL, D("112.60"), D("62.60")),
    ]
    assert Payment.objects.get().unallocated == D("0.00")


def test_meter_change_mid_period_bills_the_sum_of_both_meters():
    account, old = account_with_kwh(kwh="100")
    bill_issue(account=account, period=JAN, issued_on=ISSUED)
    new = meter_replace(
        meter=old, removed_on=datetime.date(2026, 2, 15), final_reading="160", new_asset_number="NEW-9", new_initial_reading="5"
    )
    reading_record(meter=new, read_on=FEB28, total="45", source=MANUAL)
    bill = bill_issue(account=account, period=FEB, issued_on=datetime.date(2026, 3, 5))
    # (160 - 100) + (45 - 5) = 100 kWh, all tier 1: 100 x 0.558 = 55.80.
    assert (bill.kwh, bill.total) == (D("100.00"), D("55.80"))


def annual_tariff() -> Tariff:
    tariff, _ = Tariff.objects.get_or_create(
        code="test-res-annual", defaults={"name": "居民年度阶梯", "category": CustomerCategory.RESIDENTIAL}
    )
    version, created = TariffVersion.objects.get_or_create(
        tariff=tariff,
        effective_from=datetime.date(2012, 7, 1),
        defaults={"structure": TariffVersion.Structure.TIERED, "tier_basis": TariffVersion.TierBasis.ANNUAL},
    )
    if created:
        for number, upper, price in ((1, D("2160"), "0.5580"), (2, D("4800"), "0.6080"), (3, None, "0.8580")):
            TariffTier.objects.create(version=version, number=number, upper_kwh=upper, price=D(price))
    return tariff


def test_annual_tiers_count_earlier_bills_of_the_year():
    account, meter = account_with_kwh(kwh="2000", tariff=annual_tariff())
    january = bill_issue(account=account, period=JAN, issued_on=ISSUED)
    # 2000 x 0.558 = 1116.00, all tier 1.
    assert january.total == D("1116.00")
    reading_record(meter=meter, read_on=FEB28, total="2300", source=MANUAL)
    february = bill_issue(account=account, period=FEB, issued_on=datetime.date(2026, 3, 5))
    # 2000 already this year: 160 x 0.558 = 89.28 in tier 1, 140 x 0.608 = 85.12 in tier 2 -> 174.40.
    assert list(february.lines.values_list("quantity", "amount")) == [
        (D("160.00"), D("89.28")),
        (D("140.00"), D("85.12")),
    ]
    assert february.total == D("174.40")


def test_large_industry_capacity_and_power_factor_bonus_from_the_reading():
    tariff, _ = Tariff.objects.get_or_create(
        code="test-ind-capacity", defaults={"name": "大工业按容量", "category": CustomerCategory.LARGE_INDUSTRY}
    )
    TariffVersion.objects.get_or_create(
        tariff=tariff,
        effective_from=datetime.date(2020, 1, 1),
        defaults={
            "structure": TariffVersion.Structure.FLAT,
            "flat_price": D("0.6500"),
            "capacity_basis": TariffVersion.CapacityBasis.CAPACITY,
            "capacity_price": D("25.0000"),
            "power_factor_standard": D("0.90"),
        },
    )
    PowerFactorBand.objects.get_or_create(
        standard=D("0.90"), pf_from=D("0.95"), defaults={"pf_to": D("1.00"), "percent": D("-0.75")}
    )
    account = AccountFactory(
        category=CustomerCategory.LARGE_INDUSTRY, tariff=tariff, contracted_capacity_kva=D("800")
    )
    meter = MeterFactory(service_point__account=account, multiplier=D("100"))
    reading_record(meter=meter, read_on=JAN31, total="1000", power_factor="0.96", source=MANUAL)
    bill = bill_issue(account=account, period=JAN, issued_on=ISSUED)
    # 1000 x 100 = 100000 kWh x 0.65 = 65000.00; 800 kVA x 25 = 20000.00; 85000.00 x -0.75% = -637.50.
    assert list(bill.lines.values_list("kind", "amount")) == [
        (BillLine.Kind.ENERGY, D("65000.00")),
        (BillLine.Kind.CAPACITY, D("20000.00")),
        (BillLine.Kind.POWER_FACTOR, D("-637.50")),
    ]
    assert bill.total == D("84362.50")
    # Large industry pays within 20 days.
    assert bill.due_date == datetime.date(2026, 2, 25)


def branch_world():
    """Five accounts in one branch: 180, 200 and 550 kWh, one suspect reading, one with no reading."""
    station = ServiceStationFactory()
    accounts = [account_with_kwh(station=station, kwh=kwh)[0] for kwh in ("180", "200", "550")]
    suspect, meter = account_with_kwh(station=station, kwh="100")
    MeterReading.objects.filter(meter=meter).update(status=MeterReading.Status.SUSPECT, status_reason="人工标记")
    quiet, _ = account_with_kwh(station=station)
    return station.branch, accounts, suspect, quiet


def run_outcome(branch):
    return sorted(
        Bill.objects.filter(account__branch=branch).values_list("account__number", "number", "total", "kwh")
    )


def expected_outcome(accounts):
    # 180 -> 100.44; 200 -> 100.44 + 12.16 = 112.60; 550 -> 100.44 + 133.76 + 128.70 = 362.90.
    return sorted(
        (a.number, f"202601{a.number}", D(total), D(kwh))
        for a, total, kwh in zip(accounts, ("100.44", "112.60", "362.90"), ("180.00", "200.00", "550.00"))
    )


def test_billing_run_bills_holds_and_skips():
    branch, accounts, suspect, quiet = branch_world()
    seen = []
    run = billing_run_execute(branch=branch, period=JAN, batch_size=2, progress=lambda r: seen.append(r.accounts_done))
    assert (run.status, run.accounts_total, run.accounts_done) == (BillingRun.Status.FINISHED, 5, 5)
    assert (run.bills_issued, run.accounts_held, run.accounts_skipped) == (3, 1, 1)
    assert run.error == f"{suspect.number}: 示数待复核：{suspect.service_points.get().meters.get().asset_number} 2026-01-31\n"
    assert seen == [2, 4, 5, 5]
    assert run_outcome(branch) == expected_outcome(accounts)
    assert set(Bill.objects.filter(account__branch=branch).values_list("run_id", flat=True)) == {run.pk}
    # Each bill posted once to its account's ledger with the running balance.
    for account, total in zip(accounts, ("100.44", "112.60", "362.90")):
        assert ledger(account) == [(LedgerEntry.Kind.BILL, D(total), D(total))]
        account.refresh_from_db()
        assert account.balance == D(total)
    assert ledger(suspect) == [] and ledger(quiet) == []
    assert BillLine.objects.filter(bill__account=accounts[2]).count() == 3


def test_billing_run_resumes_after_stopping_with_the_same_result():
    branch, accounts, _, _ = branch_world()
    first = billing_run_execute(branch=branch, period=JAN, batch_size=2, stop_after_batches=1)
    assert (first.status, first.accounts_done, first.bills_issued) == (BillingRun.Status.RUNNING, 2, 2)
    assert first.cursor_account_id == accounts[1].pk
    assert Bill.objects.filter(account__branch=branch).count() == 2

    resumed = billing_run_execute(branch=branch, period=JAN, batch_size=2)
    assert (resumed.pk, resumed.status, resumed.accounts_done) == (first.pk, BillingRun.Status.FINISHED, 5)
    assert (resumed.bills_issued, resumed.accounts_held, resumed.accounts_skipped) == (3, 1, 1)
    assert run_outcome(branch) == expected_outcome(accounts)
    assert LedgerEntry.objects.filter(account__branch=branch).count() == 3


def test_billing_run_rerun_never_bills_twice():
    branch, accounts, _, _ = branch_world()
    run = billing_run_execute(branch=branch, period=JAN, batch_size=2)
    assert billing_run_execute(branch=branch, period=JAN).pk == run.pk
    # Even a run whose cursor were lost skips the bills it already issued.
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRun.Status.RUNNING, cursor_account_id=0)
    again = billing_run_execute(branch=branch, period=JAN, batch_size=2)
    assert again.status == BillingRun.Status.FINISHED
    assert run_outcome(branch) == expected_outcome(accounts)
    assert LedgerEntry.objects.filter(account__branch=branch).count() == 3


def test_billing_run_skips_accounts_billed_outside_it():
    branch, accounts, _, _ = branch_world()
    bill_issue(account=accounts[0], period=JAN, issued_on=ISSUED)
    run = billing_run_execute(branch=branch, period=JAN, batch_size=10)
    assert (run.bills_issued, run.accounts_held, run.accounts_skipped) == (2, 1, 2)
    assert run_outcome(branch) == expected_outcome(accounts)


def test_billing_run_refuses_a_period_before_the_last_finished_run():
    branch, _, _, _ = branch_world()
    billing_run_execute(branch=branch, period=FEB)
    with pytest.raises(PeriodOutOfOrder) as excinfo:
        billing_run_execute(branch=branch, period=JAN)
    assert str(excinfo.value) == f"{branch.name}已完成2026-02的抄核收，不能再执行更早的2026-01"
    assert not BillingRun.objects.filter(branch=branch, period=JAN).exists()


def queries_for_run(accounts: int) -> int:
    station = ServiceStationFactory()
    for index in range(accounts):
        account_with_kwh(station=station, kwh=str(150 + 100 * index))
    with CaptureQueriesContext(connection) as captured:
        run = billing_run_execute(branch=station.branch, period=JAN, batch_size=100)
    assert run.bills_issued == accounts
    return len(captured.captured_queries)


def test_billing_run_queries_do_not_grow_with_accounts():
    assert queries_for_run(2) == queries_for_run(12)


def test_bill_correct_credit_note_and_rebill_in_the_ledger():
    account, _ = account_with_kwh(kwh="200")
    bill = bill_issue(account=account, period=JAN, issued_on=timezone.localdate())
    payment_post(
        account=account,
        amount="50.00",
        channel=Payment.Channel.COUNTER,
        idempotency_key="pay-1",
        received_at=datetime.datetime(2026, 2, 10, 9, tzinfo=ZoneInfo("Asia/Shanghai")),
    )
    with pytest.raises(BillingError) as excinfo:
        bill_correct(bill=bill, reason="  ", user=None, corrected_usage=Usage(kwh=D("180")))
    assert str(excinfo.value) == "更正原因不能为空"
    assert Bill.objects.count() == 1

    credit, rebill = bill_correct(bill=bill, reason="抄错表", user=None, corrected_usage=Usage(kwh=D("180")))
    bill.refresh_from_db()
    # The 50.00 paid is released from the original, which is credited for the 112.60 then outstanding.
    assert (bill.state, bill.amount_paid, bill.amount_adjusted, bill.outstanding) == (
        Bill.State.CREDITED, D("0.00"), D("112.60"), D("0.00")
    )
    assert (credit.number, credit.kind, credit.total, credit.corrects_id) == (
        f"{bill.number}C", Bill.Kind.CREDIT_NOTE, D("-112.60"), bill.pk
    )
    assert list(credit.lines.values_list("amount", flat=True)) == [D("-100.44"), D("-12.16")]
    # Re-bill at 180 kWh = 100.44, paid 50.00 from the released credit: 50.44 left.
    assert (rebill.number, rebill.kind, rebill.total, rebill.amount_paid, rebill.state) == (
        f"{bill.number}R", Bill.Kind.REBILL, D("100.44"), D("50.00"), Bill.State.PARTLY_PAID
    )
    assert ledger(account) == [
        (LedgerEntry.Kind.BILL, D("112.60"), D("112.60")),
        (LedgerEntry.Kind.PAYMENT, D("-50.00"), D("62.60")),
        (LedgerEntry.Kind.CREDIT_NOTE, D("-112.60"), D("-50.00")),
        (LedgerEntry.Kind.BILL, D("100.44"), D("50.44")),
    ]
    with pytest.raises(BillingError) as excinfo:
        bill_correct(bill=bill, reason="再次更正", user=None, corrected_usage=Usage(kwh=D("170")))
    assert str(excinfo.value) == f"账单{bill.number}不能更正"


def test_bills_mark_overdue_and_write_off():
    paid, _ = account_with_kwh(kwh="180")
    unpaid, _ = account_with_kwh(kwh="200")
    paid_bill = bill_issue(account=paid, period=JAN, issued_on=ISSUED)
    unpaid_bill = bill_issue(account=unpaid, period=JAN, issued_on=ISSUED)
    payment_post(
        account=paid,
        amount="100.44",
        channel=Payment.Channel.BANK_COLLECTION,
        idempotency_key="pay-full",
        received_at=datetime.datetime(2026, 2, 10, 9, tzinfo=ZoneInfo("Asia/Shanghai")),
    )
    # Due 2026-03-07: still in time on that day, overdue from the next.
    assert bills_mark_overdue(as_of=datetime.date(2026, 3, 7)) == 0
    assert bills_mark_overdue(as_of=datetime.date(2026, 3, 8)) == 1
    paid_bill.refresh_from_db()
    unpaid_bill.refresh_from_db()
    assert (paid_bill.state, unpaid_bill.state) == (Bill.State.PAID, Bill.State.OVERDUE)
    assert bills_mark_overdue(as_of=datetime.date(2026, 3, 9)) == 0

    with pytest.raises(BillingError):
        bill_write_off(bill=unpaid_bill, user=None, reason="")
    entry = bill_write_off(bill=unpaid_bill, user=None, reason="客户失联，经审批核销")
    unpaid_bill.refresh_from_db()
    assert (entry.kind, entry.amount, entry.balance_after) == (LedgerEntry.Kind.WRITE_OFF, D("-112.60"), D("0.00"))
    assert (unpaid_bill.state, unpaid_bill.amount_adjusted, unpaid_bill.outstanding) == (
        Bill.State.WRITTEN_OFF, D("112.60"), D("0.00")
    )
    with pytest.raises(BillingError) as excinfo:
        bill_write_off(bill=paid_bill, user=None, reason="误操作")
    assert str(excinfo.value) == f"账单{paid_bill.number}没有欠费，无需核销"


def test_overdue_task_uses_today():
    account, _ = account_with_kwh(kwh="200", read_on=datetime.date(2020, 1, 31))
    bill = bill_issue(account=account, period=datetime.date(2020, 1, 1), issued_on=datetime.date(2020, 2, 5))
    assert bills_mark_overdue_task.delay().get() == 1
    bill.refresh_from_db()
    assert bill.state == Bill.State.OVERDUE


def test_billing_run_command_prints_progress_and_summary():
    branch, _, _, _ = branch_world()
    out = io.StringIO()
    call_command("billing_run", branch=branch.code, period="2026-01", batch_size=2, stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split("] ")[1].split()[:2] for line in lines[:4]] == [
        ["40%", "2/5"], ["80%", "4/5"], ["100%", "5/5"], ["100%", "5/5"]
    ]
    assert lines[4].startswith(f"{branch.name} 2026-01：状态已完成，处理5户，出账3张，挂起1户，跳过1户，用时")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"branch": "NOPE", "period": "2026-01"}, "县公司编码NOPE不存在"),
        ({"branch": "X", "period": "2026-13"}, "账期格式应为YYYY-MM，例如2026-01"),
        ({"branch": "X", "period": "2026-01", "batch_size": 0}, "每批户数必须大于0"),
    ],
)
def test_billing_run_command_bad_arguments(options, message):
    with pytest.raises(CommandError) as excinfo:
        call_command("billing_run", **options)
    assert str(excinfo.value) == message
