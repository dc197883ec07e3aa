"""The decision-support summary tables against figures worked by hand, and the incremental refresh: it
re-computes only the (period, branch) pairs that changed, leaving every other row untouched.

The world: branch A with stations A1 and A2, branch B with station B1; residential tiered accounts (DOMAIN.md's
illustrative tiers: 0-180 kWh at 0.558, 181-400 at 0.608, above 400 at 0.858)."""
import datetime
import io
from decimal import Decimal as D

import pytest
from django.core.management import call_command

from core.models import (
    BillingSummary,
    BusinessType,
    CollectionPolicy,
    CustomerSummary,
    FaultReportSummary,
    MeterReading,
    OutageSummary,
    Payment,
    ReportRefresh,
    TicketSummary,
    TierSummary,
)
from core.models.customers import CustomerCategory
from core.models.outages import OutageKind
from core.services.billing import bill_correct, bill_issue
from core.services.outages import outage_announce, outage_restore
from core.services.payments import payment_post
from core.services.readings import reading_record
from core.services.report_refresh import reports_refresh
from core.services.tariffs import Usage
from core.services.tickets import ticket_open, ticket_step_submit
from core.report_tasks import reports_rebuild as reports_rebuild_task
from core.report_tasks import reports_refresh as reports_refresh_task
from tests.factories import (
    AccountFactory,
    BranchFactory,
    FeederFactory,
    MeterFactory,
    ServicePointFactory,
    ServiceStationFactory,
    TransformerAreaFactory,
)
from tests.ticket_factories import TEST_BUSINESS_TYPE, local, sample_process, staff_user

pytestmark = pytest.mark.django_db
SEP, OCT, NOV = datetime.date(2026, 9, 1), datetime.date(2026, 10, 1), datetime.date(2026, 11, 1)
MANUAL = MeterReading.Source.MANUAL


@pytest.fixture(autouse=True)
def policy():
    CollectionPolicy.objects.update_or_create(
        category=CustomerCategory.RESIDENTIAL,
        defaults={"payment_term_days": 30, "daily_rate_current_year": D("0.0010"),
                  "daily_rate_prior_years": D("0.0010")},
    )


class World:
    def __init__(self):
        self.branch_a = BranchFactory(code="A", name="恩施市")
        self.branch_b = BranchFactory(code="B", name="利川市")
        self.a1 = ServiceStationFactory(branch=self.branch_a, code="A1", name="舞阳坝供电所")
        self.a2 = ServiceStationFactory(branch=self.branch_a, code="A2", name="小渡船供电所")
        self.b1 = ServiceStationFactory(branch=self.branch_b, code="B1", name="都亭供电所")
        self.meters = {}

    def account(self, key, station, opened_on, readings):
        """An account with one meter and its month-end cumulative readings {date: total}."""
        account = AccountFactory(station=station, opened_on=opened_on)
        meter = MeterFactory(service_point__account=account)
        for read_on, total in readings.items():
            reading_record(meter=meter, read_on=read_on, total=total, source=MANUAL)
        self.meters[key] = meter
        return account


def pay(account, amount, key, at):
    return payment_post(account=account, amount=D(amount), channel=Payment.Channel.COUNTER, idempotency_key=key,
                        received_at=at)


@pytest.fixture
def world():
    w = World()
    sep30, oct31 = datetime.date(2026, 9, 30), datetime.date(2026, 10, 31)
    # x: 100 kWh in September, 200 in October (180 x 0.558 + 20 x 0.608 = 112.60)
    w.x = w.account("x", w.a1, datetime.date(2026, 9, 15), {sep30: "100", oct31: "300"})
    # y: 100 kWh in October (55.80)
    w.y = w.account("y", w.a1, datetime.date(2026, 10, 3), {oct31: "100"})
    # z: 500 kWh in October (100.44 + 220 x 0.608 = 133.76 + 100 x 0.858 = 85.80 -> 320.00)
    w.z = w.account("z", w.a2, datetime.date(2026, 10, 20), {oct31: "500"})
    # q: branch B, 50 kWh in October (27.90)
    w.q = w.account("q", w.b1, datetime.date(2025, 12, 31), {oct31: "50"})
    issued_sep, issued_oct = datetime.date(2026, 10, 5), datetime.date(2026, 11, 5)
    w.x_sep = bill_issue(account=w.x, period=SEP, issued_on=issued_sep)  # 100 x 0.558 = 55.80
    w.x_oct = bill_issue(account=w.x, period=OCT, issued_on=issued_oct)
    w.y_oct = bill_issue(account=w.y, period=OCT, issued_on=issued_oct)
    w.z_oct = bill_issue(account=w.z, period=OCT, issued_on=issued_oct)
    w.q_oct = bill_issue(account=w.q, period=OCT, issued_on=issued_oct)
    pay(w.x, "55.80", "x-sep", local(2026, 10, 8, 9))
    pay(w.x, "112.60", "x-oct", local(2026, 11, 8, 9))
    pay(w.z, "100.00", "z-oct", local(2026, 11, 9, 9))
    return w


def billing(period):
    return {
        (row.branch.code, row.station.code, row.category): (
            row.bills, row.kwh, row.billed, row.paid, row.outstanding, row.accounts_in_arrears
        )
        for row in BillingSummary.objects.filter(period=period).select_related("branch", "station")
    }


def tiers(period):
    return {
        (row.station.code, row.tier): (row.bills, row.kwh)
        for row in TierSummary.objects.filter(period=period).select_related("station")
    }


def test_billing_and_tier_figures(world):
    report = reports_refresh()

    assert report.full is True
    res = CustomerCategory.RESIDENTIAL
    assert billing(SEP) == {("A", "A1", res): (1, D("100.00"), D("55.80"), D("55.80"), D("0.00"), 0)}
    assert billing(OCT) == {
        # x 200 kWh 112.60 paid; y 100 kWh 55.80 unpaid
        ("A", "A1", res): (2, D("300.00"), D("168.40"), D("112.60"), D("55.80"), 1),
        # z 500 kWh 320.00, 100.00 paid
        ("A", "A2", res): (1, D("500.00"), D("320.00"), D("100.00"), D("220.00"), 1),
        ("B", "B1", res): (1, D("50.00"), D("27.90"), D("0.00"), D("27.90"), 1),
    }
    # Bills reaching each tier and the kWh charged in it.
    assert tiers(OCT) == {
        ("A1", 1): (2, D("280.00")), ("A1", 2): (1, D("20.00")),
        ("A2", 1): (1, D("180.00")), ("A2", 2): (1, D("220.00")), ("A2", 3): (1, D("100.00")),
        ("B1", 1): (1, D("50.00")),
    }
    assert tiers(SEP) == {("A1", 1): (1, D("100.00"))}
    assert set(report.periods) == {"billing", "tiers", "customers", "tickets", "outages", "fault_reports"}
    assert ReportRefresh.objects.get().finished_at is not None


def test_a_corrected_bill_counts_once_at_its_new_figures(world):
    # y's October bill re-issued at 150 kWh: the credit note cancels 100 kWh / 55.80, the re-bill adds
    # 150 kWh / 150 x 0.558 = 83.70.
    bill_correct(bill=world.y_oct, reason="抄表错误", user=None, corrected_usage=Usage(kwh=D("150")))

    reports_refresh()

    row = billing(OCT)[("A", "A1", CustomerCategory.RESIDENTIAL)]
    # bills: x's, y's re-bill (the credit note is not a bill); kWh 200 + 150; billed 112.60 + 83.70
    assert row == (2, D("350.00"), D("196.30"), D("112.60"), D("83.70"), 1)
    assert tiers(OCT)[("A1", 1)] == (2, D("330.00"))


def test_customer_growth_by_opening_month(world):
    reports_refresh()

    assert {
        (row.period, row.branch.code, row.station.code, row.category, row.opened)
        for row in CustomerSummary.objects.select_related("branch", "station")
    } == {
        (SEP, "A", "A1", "residential", 1),
        (OCT, "A", "A1", "residential", 1),
        (OCT, "A", "A2", "residential", 1),
        (datetime.date(2025, 12, 1), "B", "B1", "residential", 1),
    }


def close_ticket(ticket, agent, clerk, at):
    for user, data in ((agent, {"category": "fast"}), (clerk, {"archived": "on"}), (agent, {})):
        ticket.refresh_from_db()
        ticket_step_submit(step_id=ticket.current_step_id, user=user, data=data, at=at)


def test_ticket_volumes_and_on_time_rates_by_month_of_acceptance(world):
    sample_process()  # 5 working days' commitment
    agent = staff_user("agent", None)
    clerk = staff_user("counter_clerk", None)
    opened = local(2026, 10, 12, 10)  # a Monday

    def open_one(account=None, branch=None, at=opened):
        return ticket_open(business_type=TEST_BUSINESS_TYPE, channel="agent", summary="电表走快", account=account,
                           branch=branch, at=at)

    on_time = open_one(world.x)
    close_ticket(on_time, agent, clerk, local(2026, 10, 13, 10))
    late = open_one(world.z)
    close_ticket(late, agent, clerk, local(2026, 11, 20, 10))
    still_open = open_one(world.y)
    open_one(branch=world.branch_b)  # no account: no station
    # 2026-10-31 23:30 in Shanghai is 15:30 UTC: still October
    open_one(world.x, at=local(2026, 10, 31, 23, 30))

    reports_refresh()

    rows = {
        (row.period, row.branch.code, row.station.code if row.station else None, row.business_type): (
            row.opened, row.closed, row.closed_due, row.closed_on_time, row.cancelled
        )
        for row in TicketSummary.objects.select_related("branch", "station")
    }
    kind = TEST_BUSINESS_TYPE
    assert rows == {
        (OCT, "A", "A1", kind): (3, 1, 1, 1, 0),
        (OCT, "A", "A2", kind): (1, 1, 1, 0, 0),
        (OCT, "B", None, kind): (1, 0, 0, 0, 0),
    }

    # Closing October's open ticket in November re-computes October for branch A only.
    b_row = TicketSummary.objects.get(branch=world.branch_b).pk
    close_ticket(still_open, agent, clerk, local(2026, 11, 23, 10))
    report = reports_refresh()
    assert report.periods["tickets"] == ["2026-10"] and report.periods["billing"] == []
    assert TicketSummary.objects.get(branch=world.branch_b).pk == b_row
    assert TicketSummary.objects.get(station=world.a1).closed == 2


def test_outages_and_fault_reports_by_feeder(world):
    feeder = FeederFactory(substation__branch=world.branch_a, code="F1", name="10kV舞阳线")
    quiet = FeederFactory(substation__branch=world.branch_a, code="F2", name="10kV小渡船线")
    area_1 = TransformerAreaFactory(feeder=feeder)
    area_2 = TransformerAreaFactory(feeder=feeder)
    for _ in range(3):
        ServicePointFactory(transformer_area=area_1, account=world.x)
    ServicePointFactory(transformer_area=area_2, account=world.y)
    TransformerAreaFactory(feeder=quiet)
    starts = local(2026, 10, 14, 8)
    outage = outage_announce(
        branch=world.branch_a, kind=OutageKind.FAULT, title="舞阳线故障", reason="雷击", streets="",
        starts_at=starts, ends_at=local(2026, 10, 14, 12), transformer_area_ids=[area_1.pk, area_2.pk],
        now=starts,
    )
    outage_restore(outage=outage, restored_at=local(2026, 10, 14, 10, 30), now=local(2026, 10, 14, 10, 30))
    sample_process(business_type=BusinessType.FAULT_REPAIR)
    for minute in (5, 10):
        ticket_open(business_type=BusinessType.FAULT_REPAIR, channel="agent", summary="停电", account=world.x,
                    transformer_area=area_1, at=local(2026, 10, 14, 8, minute))

    reports_refresh()

    row = OutageSummary.objects.get()
    # 2 areas, 3 + 1 service points, each cut 2 h 30 min: 4 x 2.5 h = 10 customer-hours
    assert (row.period, row.feeder.code, row.kind, row.outages, row.areas, row.customers,
            row.customer_interruption) == (OCT, "F1", "fault", 1, 2, 4, datetime.timedelta(hours=10))
    assert list(FaultReportSummary.objects.values_list("period", "feeder__code", "reports", "closed")) == [
        (OCT, "F1", 2, 0)
    ]


def ids_by_key(model, *key):
    """{key values: row id}: a row re-computed gets a new id, one left alone keeps its own."""
    return {tuple(values[:-1]): values[-1] for values in model.objects.values_list(*key, "id")}


def test_incremental_refresh_touches_only_the_changed_periods_and_branches(world):
    reports_refresh()
    before = ids_by_key(BillingSummary, "period", "branch__code", "station__code")
    customers_before = ids_by_key(CustomerSummary, "period", "station__code")

    # q (branch B) pays its October bill; a new account opens in A2 in November.
    pay(world.q, "27.90", "q-oct", local(2026, 11, 10, 9))
    AccountFactory(station=world.a2, opened_on=datetime.date(2026, 11, 2))
    report = reports_refresh()

    assert report.full is False
    assert report.periods["billing"] == ["2026-10"]
    assert report.periods["tiers"] == ["2026-10"]
    assert report.periods["customers"] == ["2026-11"]
    assert report.periods["tickets"] == [] and report.periods["outages"] == []
    after = ids_by_key(BillingSummary, "period", "branch__code", "station__code")
    # Branch A's rows (both months) were not re-written; branch B's October row was, with the payment.
    assert {key: after[key] for key in after if key[1] == "A"} == {key: before[key] for key in before if key[1] == "A"}
    assert after[(OCT, "B", "B1")] != before[(OCT, "B", "B1")]
    assert billing(OCT)[("B", "B1", "residential")] == (1, D("50.00"), D("27.90"), D("27.90"), D("0.00"), 0)
    customers_after = ids_by_key(CustomerSummary, "period", "station__code")
    assert {k: v for k, v in customers_after.items() if k[0] != NOV} == customers_before
    assert CustomerSummary.objects.get(period=NOV).opened == 1


def test_each_window_is_read_twice_so_a_late_commit_is_not_lost(world):
    reports_refresh()
    pay(world.q, "27.90", "q-oct", local(2026, 11, 10, 9))
    reports_refresh()

    # Nothing new: the window since the refresh before last is read again (one more pass over October, B only).
    third = reports_refresh()
    assert third.periods["billing"] == ["2026-10"]
    fourth = reports_refresh()
    assert fourth.periods["billing"] == []
    assert billing(OCT)[("B", "B1", "residential")][3] == D("27.90")


def test_full_rebuild_equals_incremental_figures(world):
    reports_refresh()
    pay(world.y, "55.80", "y-oct", local(2026, 11, 10, 9))
    reports_refresh()
    incremental = sorted(BillingSummary.objects.values_list(
        "period", "branch_id", "station_id", "category", "bills", "kwh", "billed", "paid", "outstanding"))

    reports_refresh(full=True)

    assert sorted(BillingSummary.objects.values_list(
        "period", "branch_id", "station_id", "category", "bills", "kwh", "billed", "paid", "outstanding"
    )) == incremental


def test_command_prints_progress_and_the_tasks_refresh():
    out = io.StringIO()
    call_command("reports_refresh", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "正在刷新决策支持汇总表（增量）"
    # The first refresh is a full one: each summary in one statement, then what was re-computed.
    assert lines[1:7] == [f"  {name:<14} 1/1 期间" for name in
                          ("billing", "tiers", "customers", "tickets", "outages", "fault_reports")]
    assert lines[7] == f"  {'billing':<14} 全部"
    assert lines[-1].startswith("完成：全量，写入 0 行，用时 ")
    assert ReportRefresh.objects.count() == 1
    assert reports_refresh_task()["full"] is False
    assert reports_rebuild_task()["full"] is True
    assert ReportRefresh.objects.count() == 3
