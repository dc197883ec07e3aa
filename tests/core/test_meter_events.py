"""Meter power-off / power-restore events: recorded once, an area's outage marked and restored by the rule held as
data, and a repair ticket's "restore" step finished through the ticket engine on the evidence."""
import datetime

import pytest

from core.models import (
    BusinessType,
    Channel,
    MeterEvent,
    Outage,
    OutageArea,
    OutageDetectionRule,
    OutageKind,
    OutageState,
    Ticket,
    TicketEvent,
    TicketStep,
)
from core.services.meter_events import (
    SYSTEM_USERNAME,
    MeterEventInvalid,
    MeterEventRow,
    meter_events_record,
)
from core.services.outages import outage_announce, outage_restore
from core.services.tickets import ticket_claim, ticket_open, ticket_step_submit
from tests.factories import BranchFactory, FeederFactory, MeterFactory, SubstationFactory, TransformerAreaFactory
from tests.ticket_factories import local, staff_user

pytestmark = pytest.mark.django_db
OFF, ON = MeterEvent.Kind.POWER_OFF, MeterEvent.Kind.POWER_RESTORE
ACQ = MeterEvent.Source.ACQUISITION
NOW = local(2026, 11, 23, 10, 30)


class World:
    def __init__(self):
        self.branch = BranchFactory(name="利川市")
        feeder = FeederFactory(substation=SubstationFactory(branch=self.branch))
        self.area = TransformerAreaFactory(feeder=feeder, code="TA-A", name="南坪1号台区")
        self.other_area = TransformerAreaFactory(feeder=feeder, code="TA-B", name="南坪2号台区")
        self.meters = [
            MeterFactory(asset_number=f"A{n}", service_point__transformer_area=self.area,
                         service_point__account__station__branch=self.branch)
            for n in range(1, 5)
        ]
        self.others = [
            MeterFactory(asset_number=f"B{n}", service_point__transformer_area=self.other_area,
                         service_point__account__station__branch=self.branch)
            for n in range(1, 3)
        ]


@pytest.fixture
def world():
    return World()


def rows(*events):
    return [MeterEventRow(asset, kind, at) for asset, kind, at in events]


def outcome(report):
    return [(row.row_number, row.status, row.reason) for row in report.rows]


def test_each_event_is_recorded_once_and_bad_ones_say_why(world):
    MeterFactory(asset_number="GONE", removed_on=datetime.date(2026, 1, 1))
    report = meter_events_record(rows=rows(
        ("A1", OFF, local(2026, 11, 23, 10, 0)),
        ("A1", OFF, local(2026, 11, 23, 10, 0).isoformat()),
        ("ZZ", OFF, local(2026, 11, 23, 10, 0)),
        ("A2", "blink", local(2026, 11, 23, 10, 0)),
        ("A2", OFF, "2026-11-23T10:00:00"),
        ("A2", OFF, "yesterday"),
        ("A2", OFF, local(2026, 11, 23, 10, 40)),
        ("GONE", OFF, local(2026, 11, 23, 10, 0)),
        ("A2", OFF, local(2026, 11, 23, 10, 34)),
    ), source=ACQ, now=NOW)
    assert outcome(report) == [
        (1, "accepted", ""),
        (2, "duplicate", ""),
        (3, "rejected", "电能表ZZ不存在"),
        (4, "rejected", "未知的事件类型：blink"),
        (5, "rejected", "发生时间须带时区"),
        (6, "rejected", "发生时间格式应为ISO 8601（带时区）"),
        (7, "rejected", "发生时间晚于当前时间"),
        (8, "rejected", "电能表GONE在2026-11-23未在运行"),
        (9, "accepted", ""),
    ]
    assert report.rows[1].event_id == report.rows[0].event_id
    recorded = MeterEvent.objects.order_by("pk").values_list("meter__asset_number", "kind", "source", "received_at")
    assert list(recorded) == [
        ("A1", OFF, ACQ, NOW), ("A2", OFF, ACQ, NOW),
    ]
    # Two of four meters off is under the rule's three: no outage.
    assert (report.outages_marked, Outage.objects.count()) == ([], 0)


def test_unknown_source_refuses_the_batch(world):
    with pytest.raises(MeterEventInvalid) as excinfo:
        meter_events_record(rows=rows(("A1", OFF, NOW)), source="scada", now=NOW)
    assert (str(excinfo.value), excinfo.value.field) == ("未知的来源系统", "source")
    assert MeterEvent.objects.count() == 0


def test_enough_meters_off_together_mark_a_fault_outage_on_the_area(world):
    first = meter_events_record(rows=rows(
        ("A1", OFF, local(2026, 11, 23, 9, 0)),  # long before the others: not the same outage
        ("A2", OFF, local(2026, 11, 23, 10, 2)),
        ("A3", OFF, local(2026, 11, 23, 10, 10)),
    ), source=ACQ, now=NOW)
    assert first.outages_marked == []
    report = meter_events_record(rows=rows(("A4", OFF, local(2026, 11, 23, 10, 16))), source=ACQ, now=NOW)
    # A2, A3, A4 off within 15 minutes: 3 meters (the rule's minimum) and 3 of 4 (over 50%).
    [outage] = report.outages_marked
    outage.refresh_from_db()
    assert (outage.kind, outage.state, outage.branch, outage.starts_at, outage.ends_at) == (
        OutageKind.FAULT, OutageState.ANNOUNCED, world.branch, local(2026, 11, 23, 10, 2),
        NOW + datetime.timedelta(minutes=240),
    )
    assert (outage.title, outage.reason) == ("南坪1号台区故障停电", "用电信息采集系统监测到台区3/4块电能表失电")
    assert outage.source_key == f"acquisition:TA-A:{int(local(2026, 11, 23, 10, 2).timestamp())}"
    assert outage.announced_by.username == SYSTEM_USERNAME
    assert outage.affected_accounts == 4
    assert list(OutageArea.objects.values_list("transformer_area__code", flat=True)) == ["TA-A"]
    assert MeterEvent.objects.get(meter__asset_number="A4").outage == outage
    # The same batch again changes nothing.
    again = meter_events_record(rows=rows(("A4", OFF, local(2026, 11, 23, 10, 16))), source=ACQ, now=NOW)
    assert (outcome(again), again.outages_marked, Outage.objects.count()) == ([(1, "duplicate", "")], [], 1)


def test_a_branch_rule_held_as_data_overrides_the_default(world):
    assert OutageDetectionRule.objects.filter(branch=None).count() == 1
    OutageDetectionRule.objects.create(branch=world.branch, min_meters=1, off_share_percent=50)
    report = meter_events_record(rows=rows(("B1", OFF, local(2026, 11, 23, 10, 0))), source=ACQ, now=NOW)
    [outage] = report.outages_marked
    assert outage.reason == "用电信息采集系统监测到台区1/2块电能表失电"


def test_an_area_under_a_known_outage_is_not_marked_again(world):
    outage_announce(
        branch=world.branch, kind=OutageKind.FAULT, title="线路故障", reason="10kV线路跳闸", streets="",
        starts_at=local(2026, 11, 23, 9, 50), ends_at=local(2026, 11, 23, 13, 0),
        transformer_area_ids=[world.area.pk], now=local(2026, 11, 23, 9, 55),
    )
    report = meter_events_record(
        rows=rows(*[(f"A{n}", OFF, local(2026, 11, 23, 10, n)) for n in range(1, 5)]), source=ACQ, now=NOW
    )
    assert (report.accepted, report.outages_marked, Outage.objects.count()) == (4, [], 1)


def test_an_area_under_a_known_outage_past_its_expected_end_is_not_marked_again_until_it_is_restored(world):
    known = outage_announce(
        branch=world.branch, kind=OutageKind.FAULT, title="线路故障", reason="10kV线路跳闸", streets="",
        starts_at=local(2026, 11, 23, 7, 0), ends_at=local(2026, 11, 23, 9, 0),
        transformer_area_ids=[world.area.pk], now=local(2026, 11, 23, 7, 5),
    )
    off = rows(*[(f"A{n}", OFF, local(2026, 11, 23, 10, n)) for n in range(1, 5)])
    report = meter_events_record(rows=off, source=ACQ, now=NOW)
    # Expected back at 9:00, still off at 10:30: the same outage, not a new one.
    assert (report.accepted, report.outages_marked, Outage.objects.count()) == (4, [], 1)

    outage_restore(outage=known, restored_at=local(2026, 11, 23, 9, 30), now=NOW)
    again = rows(*[(f"A{n}", OFF, local(2026, 11, 23, 10, 20 + n)) for n in range(1, 5)])
    [marked] = meter_events_record(rows=again, source=ACQ, now=NOW).outages_marked
    assert marked != known and marked.starts_at == local(2026, 11, 23, 10, 21)


def mark_area_off():
    return meter_events_record(
        rows=rows(*[(f"A{n}", OFF, local(2026, 11, 23, 10, n)) for n in range(1, 4)]), source=ACQ, now=NOW
    ).outages_marked[0]


def test_power_back_on_enough_meters_restores_the_outage(world):
    outage = mark_area_off()
    later = NOW + datetime.timedelta(hours=2)
    partly = meter_events_record(rows=rows(
        ("A1", ON, local(2026, 11, 23, 12, 0)), ("A2", ON, local(2026, 11, 23, 12, 5)),
    ), source=ACQ, now=later)
    # 2 of the 3 meters that went off: under 80%.
    assert partly.outages_restored == []
    report = meter_events_record(rows=rows(("A3", ON, local(2026, 11, 23, 12, 7))), source=ACQ, now=later)
    assert report.outages_restored == [outage]
    outage.refresh_from_db()
    assert (outage.state, outage.restored_at, outage.restored_by.username) == (
        OutageState.RESTORED, local(2026, 11, 23, 12, 7), SYSTEM_USERNAME
    )
    assert MeterEvent.objects.get(meter__asset_number="A3", kind=ON).outage == outage


def repair_ticket_at_restore(*, account=None, area=None, branch, arrived_at):
    """A fault-repair ticket (the real process) dispatched and with its crew on site: waiting at "restore"."""
    ticket = ticket_open(
        business_type=BusinessType.FAULT_REPAIR, channel=Channel.AGENT, summary="家中停电", account=account,
        branch=branch if account is None else None, transformer_area=area, contact_phone="13900000000",
        at=local(2026, 11, 23, 10, 5),
    )
    dispatcher = staff_user("dispatcher")
    ticket_step_submit(step_id=ticket.current_step_id, user=dispatcher,
                       data={"crew": "抢修一班", "fault_kind": "low_voltage"}, at=local(2026, 11, 23, 10, 8))
    crew = staff_user("repair_crew")
    ticket.refresh_from_db()
    ticket_step_submit(step_id=ticket.current_step_id, user=crew, data={"arrived_at": arrived_at.isoformat()},
                       at=arrived_at)
    ticket.refresh_from_db()
    assert ticket.current_step.step_definition.code == "restore"
    return ticket, crew


def test_a_customers_meter_back_on_finishes_their_tickets_restore_step(world):
    account = world.meters[0].service_point.account
    ticket, crew = repair_ticket_at_restore(account=account, branch=world.branch,
                                            arrived_at=local(2026, 11, 23, 10, 40))
    # The crew member has claimed the step: the system's evidence still finishes it.
    ticket_claim(step_id=ticket.current_step_id, user=crew, at=local(2026, 11, 23, 10, 41))
    step_id = ticket.current_step_id
    later = local(2026, 11, 23, 11, 30)
    report = meter_events_record(rows=rows(("A1", ON, local(2026, 11, 23, 11, 20))), source=ACQ, now=later)
    assert [t.number for t in report.tickets_closed] == [ticket.number]
    step = TicketStep.objects.get(pk=step_id)
    assert (step.state, step.finished_at, step.finished_by.username) == ("completed", later, SYSTEM_USERNAME)
    assert step.data == {
        "restored_at": local(2026, 11, 23, 11, 20).isoformat(), "cause": "other",
        "repair_actions": "用电信息采集系统：电能表A1于2026-11-23 11:20上报复电",
    }
    ticket.refresh_from_db()
    assert ticket.current_step.step_definition.code == "report_back"
    submitted = TicketEvent.objects.get(step_id=step_id, kind=TicketEvent.Kind.SUBMITTED)
    assert (submitted.actor_label, submitted.note) == ("用电信息采集系统", "用电信息采集系统：电能表A1于2026-11-23 11:20上报复电")


def test_power_back_before_the_crew_arrived_leaves_the_ticket_with_the_reason(world):
    account = world.meters[1].service_point.account
    ticket, _crew = repair_ticket_at_restore(account=account, branch=world.branch,
                                             arrived_at=local(2026, 11, 23, 10, 40))
    report = meter_events_record(rows=rows(("A2", ON, local(2026, 11, 23, 10, 30))), source=ACQ,
                                 now=local(2026, 11, 23, 11, 0))
    assert report.tickets_closed == []
    assert [(t.number, reason) for t, reason in report.tickets_left] == [
        (ticket.number, "恢复送电时间不能早于到达现场时间")
    ]
    ticket.refresh_from_db()
    assert ticket.current_step.step_definition.code == "restore"
    assert ticket.current_step.state == TicketStep.State.ACTIVE


def test_an_area_ticket_closes_when_the_areas_outage_is_restored(world):
    mark_area_off()
    ticket, _crew = repair_ticket_at_restore(area=world.area, branch=world.branch,
                                             arrived_at=local(2026, 11, 23, 10, 40))
    untouched, _ = repair_ticket_at_restore(area=world.other_area, branch=world.branch,
                                            arrived_at=local(2026, 11, 23, 10, 40))
    later = local(2026, 11, 23, 12, 30)
    report = meter_events_record(
        rows=rows(*[(f"A{n}", ON, local(2026, 11, 23, 12, n)) for n in range(1, 4)]), source=ACQ, now=later
    )
    assert len(report.outages_restored) == 1
    assert [t.number for t in report.tickets_closed] == [ticket.number]
    assert Ticket.objects.get(pk=ticket.pk).current_step.step_definition.code == "report_back"
    assert Ticket.objects.get(pk=untouched.pk).current_step.step_definition.code == "restore"
    step = TicketStep.objects.get(ticket=ticket, step_definition__code="restore")
    assert step.data["repair_actions"] == "用电信息采集系统：台区南坪1号台区于2026-11-23 12:03恢复送电"
