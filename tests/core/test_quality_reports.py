"""Quality reports on small crafted data, every figure checked against a hand-computed expectation: SLA compliance,
complaint statistics and repeat complainers, call-centre KPIs with first-contact resolution across channels,
collection rate and arrears ageing, self-service share by channel."""
import datetime
import itertools
from decimal import Decimal

import pytest

from core.models import (
    Bill,
    BusinessType,
    CallOutcome,
    CallTicket,
    CallTicketRelation,
    Channel,
    ComplaintClass,
    Payment,
    Ticket,
    TicketStep,
)
from core.selectors.quality_reports import (
    ComplaintFilters,
    ReportPeriod,
    call_centre_report,
    collection_report,
    complaint_list,
    complaint_report,
    self_service_report,
    sla_report,
)
from core.services.calls import WrapUpCode
from tests import ticket_factories
from tests.callcenter.factories import finished_call
from tests.core.quality_factories import bill_record, payment_record
from tests.factories import AccountFactory, BranchFactory, CustomerFactory, ServiceStationFactory
from tests.ticket_factories import local

pytestmark = pytest.mark.django_db
D = Decimal
DAY = datetime.timedelta(days=1)
OCTOBER = ReportPeriod.month(datetime.date(2026, 10, 1))
_numbers = itertools.count(1)


def ticket_record(definition, *, branch, opened_at, channel=Channel.PORTAL, customer=None, state=Ticket.State.OPEN,
                  closed_at=None, due_at=None, **fields) -> Ticket:
    return Ticket.objects.create(
        number=f"26{next(_numbers):09d}", definition=definition, business_type=definition.business_type,
        channel=channel, branch=branch, customer=customer, summary="测试", opened_at=opened_at, state=state,
        closed_at=closed_at, due_at=due_at, **fields,
    )


def step_record(step_definition, *, branch, due_at, finished_at=None, state=TicketStep.State.COMPLETED,
                assignee=None) -> TicketStep:
    ticket = ticket_record(step_definition.definition, branch=branch, opened_at=due_at - 5 * DAY)
    return TicketStep.objects.create(
        ticket=ticket, step_definition=step_definition, sequence=1, state=state, post=step_definition.post,
        branch=branch, assignee=assignee, arrived_at=due_at - 2 * DAY, due_at=due_at, warn_at=due_at - DAY,
        finished_at=finished_at,
    )


def rows(items, *names):
    return [tuple(str(getattr(item, name)) for name in names) for item in items]


def test_report_period_of_a_month():
    february = ReportPeriod.month(datetime.date(2028, 2, 17))
    assert (february.first, february.last, february.label) == (
        datetime.date(2028, 2, 1), datetime.date(2028, 2, 29), "2028-02-01 ~ 2028-02-29"
    )
    assert february.end == local(2028, 3, 1)
    assert ReportPeriod.previous_month(today=datetime.date(2027, 1, 5)) == ReportPeriod(
        datetime.date(2026, 12, 1), datetime.date(2026, 12, 31)
    )


class TestSla:
    @pytest.fixture
    def world(self):
        enshi, lichuan = BranchFactory(name="恩施市"), BranchFactory(name="利川市")
        p = ticket_factories.sample_process()
        zhang = ticket_factories.staff_user("agent", enshi, username="a-zhang", last_name="张", first_name="三")
        wang = ticket_factories.staff_user("surveyor", enshi, username="b-wang", last_name="王", first_name="五")
        due = local(2026, 10, 10, 17)
        step_record(p.accept, branch=enshi, due_at=due, finished_at=due - DAY, assignee=zhang)
        step_record(p.accept, branch=enshi, due_at=due, finished_at=due + DAY, assignee=zhang)
        step_record(p.survey, branch=enshi, due_at=due, finished_at=due - datetime.timedelta(hours=1),
                    assignee=wang)
        step_record(p.follow_up, branch=lichuan, due_at=due, finished_at=due + 2 * DAY,
                    state=TicketStep.State.SKIPPED)
        # Finished in September, and not finished at all: outside the report.
        step_record(p.archive, branch=enshi, due_at=local(2026, 9, 20), finished_at=local(2026, 9, 19))
        step_record(p.archive, branch=enshi, due_at=due, state=TicketStep.State.ACTIVE)
        # Tickets closed in October: one within its commitment, one after; one closed in November.
        for closed, due_at in ((local(2026, 10, 12), local(2026, 10, 15)), (local(2026, 10, 20), local(2026, 10, 15)),
                               (local(2026, 11, 2), local(2026, 11, 5))):
            ticket_record(p.definition, branch=enshi, opened_at=closed - 5 * DAY, state=Ticket.State.CLOSED,
                          closed_at=closed, due_at=due_at)
        return {"enshi": enshi, "lichuan": lichuan}

    def test_compliance_by_business_type_step_post_and_person(self, world, django_assert_max_num_queries):
        with django_assert_max_num_queries(6):
            report = sla_report(period=OCTOBER)

        names = ("label", "finished", "on_time", "late", "skipped", "compliance")
        assert rows([report.totals], *names) == [("合计", "4", "2", "1", "1", "50.0%")]
        assert rows(report.by_business_type, *names) == [("计量异常", "4", "2", "1", "1", "50.0%")]
        assert rows(report.by_step, *names) == [
            ("计量异常 · 受理", "2", "1", "1", "0", "50.0%"),
            ("计量异常 · 现场勘查", "1", "1", "0", "0", "100.0%"),
            ("计量异常 · 回访", "1", "0", "0", "1", "0.0%"),
        ]
        assert rows(report.by_post, *names) == [
            ("95598坐席", "3", "1", "1", "1", "33.3%"),
            ("勘查员", "1", "1", "0", "0", "100.0%"),
        ]
        assert rows(report.by_person, *names) == [
            ("张三", "2", "1", "1", "0", "50.0%"),
            ("王五", "1", "1", "0", "0", "100.0%"),
        ]
        assert rows(report.tickets, "label", "closed", "within_commitment", "compliance") == [
            ("计量异常", "2", "1", "50.0%")
        ]

    def test_one_branch(self, world):
        report = sla_report(period=OCTOBER, branch_id=world["lichuan"].pk)

        assert rows([report.totals], "finished", "on_time", "skipped", "compliance") == [("1", "0", "1", "0.0%")]
        assert report.tickets == []

    def test_nothing_finished_has_no_rate(self):
        report = sla_report(period=OCTOBER)
        assert rows([report.totals], "finished", "compliance") == [("0", "—")]


class TestComplaints:
    @pytest.fixture
    def world(self):
        enshi, lichuan = BranchFactory(name="恩施市"), BranchFactory(name="利川市")
        complaint = ticket_factories.sample_process(business_type=BusinessType.COMPLAINT).definition
        other = ticket_factories.sample_process().definition
        x = CustomerFactory(name="向女士", phone="13800001234")
        y = CustomerFactory(name="杨先生")
        closed = Ticket.State.CLOSED
        tickets = {
            "c1": ticket_record(complaint, branch=enshi, customer=x, opened_at=local(2026, 9, 3, 9),
                                complaint_class=ComplaintClass.SERVICE, state=closed, closed_at=local(2026, 9, 5),
                                due_at=local(2026, 9, 10)),
            "c2": ticket_record(complaint, branch=enshi, customer=x, opened_at=local(2026, 10, 2, 9),
                                complaint_class=ComplaintClass.TARIFF_BILLING, state=closed,
                                closed_at=local(2026, 10, 20), due_at=local(2026, 10, 9), appealed_to_regulator=True),
            "c3": ticket_record(complaint, branch=lichuan, customer=y, opened_at=local(2026, 10, 15, 9),
                                complaint_class=ComplaintClass.SERVICE, due_at=local(2026, 10, 22)),
            "c4": ticket_record(complaint, branch=lichuan, opened_at=local(2026, 10, 16, 9), anonymous=True,
                                contact_phone="13900001111", complaint_class=ComplaintClass.POWER_QUALITY),
            # 23:30 on 31 October in Beijing is 15:30 UTC: still October.
            "c5": ticket_record(complaint, branch=lichuan, opened_at=local(2026, 10, 31, 23, 30),
                                contact_phone="13900001111", contact_name="匿名用户",
                                complaint_class=ComplaintClass.SERVICE),
        }
        # Outside the two months, and not a complaint.
        ticket_record(complaint, branch=enshi, customer=x, opened_at=local(2026, 8, 20),
                      complaint_class=ComplaintClass.SERVICE)
        ticket_record(other, branch=lichuan, customer=y, opened_at=local(2026, 10, 5))
        period = ReportPeriod(datetime.date(2026, 9, 1), datetime.date(2026, 10, 31))
        return {"enshi": enshi, "lichuan": lichuan, "x": x, "tickets": tickets, "period": period}

    def test_by_class_branch_month_and_repeat_complainers(self, world, django_assert_max_num_queries):
        with django_assert_max_num_queries(5):
            report = complaint_report(period=world["period"])

        names = ("label", "count", "closed", "closed_in_time", "appealed", "in_time_rate")
        assert rows([report.totals], *names) == [("合计", "5", "2", "1", "1", "50.0%")]
        assert rows(report.by_class, *names) == [
            ("供电质量类", "1", "0", "0", "0", "—"),
            ("服务类", "3", "1", "1", "0", "100.0%"),
            ("电价电费类", "1", "1", "0", "1", "0.0%"),
        ]
        assert rows(report.by_branch, *names) == [
            ("恩施市", "2", "2", "1", "1", "50.0%"),
            ("利川市", "3", "0", "0", "0", "—"),
        ]
        assert rows(report.by_month, "key", *names) == [
            ("2026-09-01", "2026-09", "1", "1", "1", "0", "100.0%"),
            ("2026-10-01", "2026-10", "4", "1", "0", "1", "0.0%"),
        ]
        assert rows(report.repeat_complainers, "key", "name", "phone_masked", "count", "classes") == [
            ("p13900001111", "匿名用户", "139****1111", "2", "2"),
            (f"c{world['x'].pk}", "向女士", "138****1234", "2", "2"),
        ]
        assert report.repeat_complainers[1].first_at == local(2026, 9, 3, 9)

    def test_one_branch(self, world):
        report = complaint_report(period=world["period"], branch_id=world["enshi"].pk)
        assert rows([report.totals], "count", "closed") == [("2", "2")]
        assert rows(report.repeat_complainers, "name", "count") == [("向女士", "2")]

    def test_the_complaints_behind_a_figure(self, world, django_assert_max_num_queries):
        t, period = world["tickets"], world["period"]

        with django_assert_max_num_queries(2):
            by_class = complaint_list(period=period, filters=ComplaintFilters(complaint_class=ComplaintClass.SERVICE))
        assert [ticket.number for ticket in by_class.tickets] == [t["c5"].number, t["c3"].number, t["c1"].number]
        assert (by_class.total, by_class.truncated) == (3, False)
        september = complaint_list(period=period, filters=ComplaintFilters(month=datetime.date(2026, 9, 1)))
        assert [ticket.number for ticket in september.tickets] == [t["c1"].number]
        by_phone = complaint_list(period=period, filters=ComplaintFilters(complainer="p13900001111"))
        assert [ticket.number for ticket in by_phone.tickets] == [t["c5"].number, t["c4"].number]
        in_lichuan = complaint_list(period=period, filters=ComplaintFilters(branch_id=world["lichuan"].pk), limit=2)
        assert ([ticket.number for ticket in in_lichuan.tickets], in_lichuan.total, in_lichuan.truncated) == (
            [t["c5"].number, t["c4"].number], 3, True
        )


class TestCallCentre:
    @pytest.fixture
    def world(self):
        branch = BranchFactory()
        x, y, z = CustomerFactory(), CustomerFactory(), CustomerFactory()
        repair = ticket_factories.sample_process(business_type=BusinessType.FAULT_REPAIR).definition
        complaint = ticket_factories.sample_process(business_type=BusinessType.COMPLAINT).definition

        def call(at, customer=None, outcome=CallOutcome.ANSWERED, intent="", wrap_up_code="", **timing):
            made = finished_call(started_at=at, outcome=outcome, **timing)
            made.customer = customer
            made.ivr_data = {"intent": intent} if intent else {}
            made.wrap_up_code = wrap_up_code
            made.save(update_fields=["customer", "ivr_data", "wrap_up_code"])
            return made

        # X reports a fault to an agent, who opens a repair ticket; X calls again three days later about the fault.
        a1 = call(local(2026, 10, 5, 10), x, wait=10, talk=100, wrap_up=20)
        repair_ticket = ticket_record(repair, branch=branch, customer=x, channel=Channel.AGENT,
                                      opened_at=local(2026, 10, 5, 10, 2))
        CallTicket.objects.create(call=a1, ticket=repair_ticket, relation=CallTicketRelation.OPENED, at=a1.started_at)
        call(local(2026, 10, 8, 9), x, intent="fault_report", wait=30, talk=200, wrap_up=10)
        # Y asks about the bill (answered at exactly 20 s, no after-call work), gives up waiting once, then
        # checks the balance in the IVR two days later: the same matter.
        call(local(2026, 10, 10, 9), y, intent="bill", wait=20, talk=60, wrap_up=None)
        call(local(2026, 10, 10, 10, 5), y, outcome=CallOutcome.ABANDONED, wait=40)
        call(local(2026, 10, 12, 9), y, outcome=CallOutcome.IVR_RESOLVED, intent="balance")
        # Z hears about an outage in the IVR and reports the fault at the counter 14 days later: not within 7 days.
        call(local(2026, 10, 20, 9), z, outcome=CallOutcome.IVR_RESOLVED, intent="outage")
        ticket_record(repair, branch=branch, customer=z, channel=Channel.COUNTER, opened_at=local(2026, 11, 3, 9))
        # An unidentified storm-mode caller: counted in the KPIs, not a contact.
        call(local(2026, 10, 21, 9), outcome=CallOutcome.STORM_INFORMED)
        # X complains to an agent, then files a complaint on the portal late on 31 October.
        call(local(2026, 10, 25, 9), x, wrap_up_code=WrapUpCode.COMPLAINT, wait=5, talk=52, wrap_up=10)
        ticket_record(complaint, branch=branch, customer=x, channel=Channel.PORTAL, opened_at=local(2026, 10, 31, 23))
        # Before the period, and a system ticket: neither counts.
        call(local(2026, 9, 30, 23, 59), y, intent="bill", wait=5, talk=30, wrap_up=5)
        ticket_record(complaint, branch=branch, customer=x, channel=Channel.SYSTEM, opened_at=local(2026, 10, 26))

    def test_kpis_and_first_contact_resolution(self, world, django_assert_max_num_queries, settings):
        settings.CALLCENTER_SERVICE_LEVEL_SECONDS = 20
        with django_assert_max_num_queries(3):
            report = call_centre_report(period=OCTOBER)

        assert (report.calls, report.ivr_resolved, report.queued, report.answered, report.abandoned,
                report.answered_within_level, report.handled) == (8, 3, 5, 4, 1, 3, 4)
        assert (str(report.answer_rate), str(report.service_level), str(report.abandonment)) == (
            "80.0%", "60.0%", "20.0%"
        )
        # (100 + 20) + (200 + 10) + 60 + (52 + 10) = 452 s over 4 answered calls.
        assert (report.handle_seconds, report.average_handle_seconds) == (452, 113)
        fcr = ("label", "contacts", "repeated", "resolved", "rate")
        assert rows(report.fcr_by_channel, *fcr) == [
            ("网站", "1", "0", "1", "100.0%"),
            ("语音自助", "2", "0", "2", "100.0%"),
            ("95598坐席", "4", "3", "1", "25.0%"),
        ]
        assert rows([report.fcr_totals], *fcr) == [("合计", "7", "3", "4", "57.1%")]

    def test_an_empty_period(self):
        report = call_centre_report(period=OCTOBER)
        assert (report.calls, str(report.answer_rate), report.average_handle_seconds, report.fcr_by_channel) == (
            0, "—", None, []
        )


class TestCollection:
    def test_collection_rate_and_arrears_ageing(self, django_assert_max_num_queries):
        enshi = ServiceStationFactory(branch=BranchFactory(name="恩施市", code="B1"))
        lichuan = ServiceStationFactory(branch=BranchFactory(name="利川市", code="B2"))
        corrected = AccountFactory(station=enshi)

        def e():
            return AccountFactory(station=enshi)

        def l():
            return AccountFactory(station=lichuan)

        october, september = datetime.date(2026, 10, 1), datetime.date(2026, 9, 1)
        as_of = datetime.date(2026, 11, 24)
        # October's bills in 恩施市: paid, partly paid (due today: not overdue yet), and one corrected by a credit
        # note whose re-bill counts instead.
        bill_record(account=e(), period=october, total="100.00", paid="100.00", due_date=datetime.date(2026, 11, 20))
        bill_record(account=e(), period=october, total="200.00", paid="50.00", due_date=as_of)
        bill_record(account=corrected, period=october, total="80.00", adjusted="80.00",
                    due_date=datetime.date(2026, 11, 25), state=Bill.State.CREDITED)
        bill_record(account=corrected, period=october, total="-80.00", kind=Bill.Kind.CREDIT_NOTE,
                    state=Bill.State.PAID, due_date=datetime.date(2026, 11, 1))
        bill_record(account=corrected, period=october, total="60.00", kind=Bill.Kind.REBILL,
                    due_date=datetime.date(2026, 11, 30))
        # Older open bills in 恩施市: 35 days past due, 157 days past due (partly paid), one written off.
        bill_record(account=e(), period=september, total="500.00", due_date=datetime.date(2026, 10, 20),
                    state=Bill.State.OVERDUE)
        bill_record(account=e(), period=datetime.date(2026, 5, 1), total="80.00", paid="30.00",
                    due_date=datetime.date(2026, 6, 20), state=Bill.State.OVERDUE)
        bill_record(account=e(), period=datetime.date(2026, 4, 1), total="70.00", adjusted="70.00",
                    due_date=datetime.date(2026, 5, 20), state=Bill.State.WRITTEN_OFF)
        # 利川市: October unpaid, 24 days past due; exactly 30 days past due; 492 days past due.
        bill_record(account=l(), period=october, total="150.50", due_date=datetime.date(2026, 10, 31),
                    state=Bill.State.OVERDUE)
        bill_record(account=l(), period=september, total="10.00", due_date=datetime.date(2026, 10, 25),
                    state=Bill.State.OVERDUE)
        bill_record(account=l(), period=datetime.date(2025, 6, 1), total="300.00", due_date=datetime.date(2025, 7, 20),
                    state=Bill.State.OVERDUE)

        with django_assert_max_num_queries(4):
            report = collection_report(period=OCTOBER, as_of=as_of)

        names = ("label", "bills", "receivable", "collected", "outstanding", "rate")
        assert rows([report.totals], *names) == [("合计", "4", "510.50", "150.00", "360.50", "29.4%")]
        assert rows(report.by_branch, *names) == [
            ("恩施市", "3", "360.00", "150.00", "210.00", "41.7%"),
            ("利川市", "1", "150.50", "0.00", "150.50", "0.0%"),
        ]
        assert report.ageing_labels == ["未到期", "逾期1-30天", "逾期31-90天", "逾期91-180天", "逾期181-365天", "逾期一年以上"]

        def ageing(row):
            return (row.label, [str(amount) for amount in row.amounts], str(row.total), row.bills)

        assert ageing(report.ageing_totals) == (
            "合计", ["210.00", "160.50", "500.00", "50.00", "0.00", "300.00"], "1220.50", 7
        )
        assert [ageing(row) for row in report.ageing_by_branch] == [
            ("恩施市", ["210.00", "0.00", "500.00", "50.00", "0.00", "0.00"], "760.00", 4),
            ("利川市", ["0.00", "160.50", "0.00", "0.00", "0.00", "300.00"], "460.50", 3),
        ]
        one_branch = collection_report(period=OCTOBER, as_of=as_of, branch_id=lichuan.branch_id)
        assert rows([one_branch.totals], *names) == [("合计", "1", "150.50", "0.00", "150.50", "0.0%")]
        assert str(one_branch.ageing_totals.total) == "460.50"


class TestSelfService:
    def test_share_by_channel(self, django_assert_max_num_queries):
        branch = BranchFactory()
        account = AccountFactory(station=ServiceStationFactory(branch=branch))
        at = local(2026, 10, 15, 10)
        for channel in ("online", "online", "mobile", "counter", "counter", "bank_withholding"):
            payment_record(account=account, amount="10.00", channel=channel, received_at=at)
        payment_record(account=account, amount="10.00", channel=Payment.Channel.IVR, received_at=at,
                       status=Payment.Status.REVERSED)
        payment_record(account=account, amount="10.00", channel=Payment.Channel.ONLINE,
                       received_at=local(2026, 11, 1, 0, 5))
        definition = ticket_factories.sample_process().definition
        for channel in (Channel.PORTAL, Channel.PORTAL, Channel.IVR, Channel.AGENT, Channel.COUNTER, Channel.SYSTEM):
            ticket_record(definition, branch=branch, opened_at=at, channel=channel)
        for outcome in (CallOutcome.ANSWERED, CallOutcome.ANSWERED, CallOutcome.IVR_RESOLVED,
                        CallOutcome.STORM_INFORMED, CallOutcome.ABANDONED):
            finished_call(started_at=at, outcome=outcome)

        with django_assert_max_num_queries(3):
            report = self_service_report(period=OCTOBER)

        assert rows(report.rows, "activity", "label", "count", "self_service") == [
            ("payments", "银行代扣", "1", "False"),
            ("payments", "营业厅", "2", "False"),
            ("payments", "移动支付", "1", "True"),
            ("payments", "网上缴费", "2", "True"),
            ("tickets", "95598坐席", "1", "False"),
            ("tickets", "营业厅", "1", "False"),
            ("tickets", "语音自助", "1", "True"),
            ("tickets", "网站", "2", "True"),
            ("calls", "语音自助", "2", "True"),
            ("calls", "95598坐席", "2", "False"),
        ]
        assert rows(report.activities, "label", "total", "self_service", "share") == [
            ("缴费", "6", "3", "50.0%"),
            ("业务受理", "5", "3", "60.0%"),
            ("热线来电", "4", "2", "50.0%"),
        ]
        assert rows([report.overall], "total", "self_service", "share") == [("15", "8", "53.3%")]
