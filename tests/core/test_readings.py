"""Meter readings: checks, idempotency, import reports and meter replacement."""
import datetime
from decimal import Decimal as D

import pytest
from django.db.models import Sum

from core.errors import (
    InvalidReading,
    MeterNotActive,
    ReadingBelowPrevious,
    ReadingConflict,
    ReadingOutOfOrder,
)
from core.models import Meter, MeterReading
from core.services.readings import ImportReport, ReadingRow, meter_replace, reading_record, readings_import
from tests.factories import MeterFactory

pytestmark = pytest.mark.django_db
MANUAL = MeterReading.Source.MANUAL
JAN31 = datetime.date(2026, 1, 31)
FEB28 = datetime.date(2026, 2, 28)


def snapshot():
    return list(MeterReading.objects.order_by("id").values_list("meter_id", "read_on", "total", "consumption"))


def test_first_reading_counts_from_the_initial_reading():
    meter = MeterFactory(initial_reading=D("1000"))
    result = reading_record(meter=meter, read_on=JAN31, total="1180.50", source=MANUAL)
    assert result.created is True
    reading = result.reading
    # 1180.50 - 1000 = 180.50 kWh, billed in January.
    assert (reading.consumption, reading.period, reading.status) == (D("180.50"), datetime.date(2026, 1, 1), "valid")
    assert reading.account_id == meter.service_point.account_id
    # Next month counts from the last reading: 1400 - 1180.50 = 219.50.
    second = reading_record(meter=meter, read_on=FEB28, total=1400, source=MANUAL).reading
    assert second.consumption == D("219.50")
    assert second.period == datetime.date(2026, 2, 1)


def test_multiplier_and_tou_registers():
    meter = MeterFactory(multiplier=D("40"), tou_capable=True)
    first = reading_record(meter=meter, read_on=JAN31, total="100", peak="40", flat="35", valley="25", source=MANUAL)
    # Each register from zero times 40: 100 x 40 = 4000; 40 x 40 = 1600; 35 x 40 = 1400; 25 x 40 = 1000.
    r = first.reading
    assert (r.consumption, r.consumption_peak, r.consumption_flat, r.consumption_valley) == (
        D("4000.00"), D("1600.00"), D("1400.00"), D("1000.00")
    )
    second = reading_record(
        meter=meter, read_on=FEB28, total="130.01", peak="52", flat="45", valley="33", source=MANUAL
    ).reading
    # 30.01 x 40 = 1200.40; peak 12 x 40 = 480; flat 10 x 40 = 400; valley 8 x 40 = 320 (sum 130 is within 0.01 of 130.01).
    assert (second.consumption, second.consumption_peak, second.consumption_flat, second.consumption_valley) == (
        D("1200.40"), D("480.00"), D("400.00"), D("320.00")
    )


def test_period_can_be_given_and_is_the_first_of_its_month():
    meter = MeterFactory()
    reading = reading_record(
        meter=meter, read_on=datetime.date(2026, 2, 2), total="50", source=MANUAL, period=datetime.date(2026, 1, 15)
    ).reading
    assert reading.period == datetime.date(2026, 1, 1)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"total": "-5"}, InvalidReading, "总示数不能为负数"),
        ({"total": "abc"}, InvalidReading, "总示数必须是数字"),
        ({"total": 1200.5}, InvalidReading, "总示数必须是数字"),
        ({"total": "NaN"}, InvalidReading, "总示数必须是数字"),
        ({"total": "1e27"}, InvalidReading, "总示数数值过大"),
        ({"total": "1200.123"}, InvalidReading, "总示数最多保留两位小数"),
        ({"total": "1099.99"}, ReadingBelowPrevious, "本次示数小于上次示数"),
        ({"total": "1300", "read_on": datetime.date(2026, 1, 30)}, ReadingOutOfOrder, "抄表日期早于上次抄表日期2026-01-31"),
        ({"total": "1300", "read_on": JAN31}, ReadingConflict, "该表当日已有不同的示数"),
        ({"total": "1300", "read_on": datetime.date(2019, 12, 31)}, MeterNotActive, "电能表M-1在2019-12-31未在运行"),
        ({"total": "1300", "peak": "100", "flat": "100", "valley": "100"}, InvalidReading, "峰、平、谷示数之和与总示数不符"),
        ({"total": "1300", "peak": "1300"}, InvalidReading, "分时示数不完整：须填写峰、谷示数"),
        ({"total": "1300", "peak": "700", "flat": "600"}, InvalidReading, "分时示数不完整：须填写峰、谷示数"),
        ({"total": "1300", "power_factor": "1.2"}, InvalidReading, "功率因数应在0到1之间"),
        ({"total": "1300", "source": "bogus"}, InvalidReading, "未知的示数来源"),
    ],
)
def test_bad_readings_are_refused_and_change_nothing(kwargs, error, message):
    meter = MeterFactory(asset_number="M-1", initial_reading=D("1000"))
    reading_record(meter=meter, read_on=JAN31, total="1100", source=MANUAL)
    before = snapshot()
    arguments = {"meter": meter, "read_on": FEB28, "source": MANUAL} | kwargs
    with pytest.raises(error) as excinfo:
        reading_record(**arguments)
    assert str(excinfo.value) == message
    assert snapshot() == before


def test_removed_meter_takes_no_more_readings():
    meter = MeterFactory(asset_number="M-2", removed_on=datetime.date(2026, 1, 31))
    with pytest.raises(MeterNotActive) as excinfo:
        reading_record(meter=meter, read_on=FEB28, total="10", source=MANUAL)
    assert str(excinfo.value) == "电能表M-2在2026-02-28未在运行"
    assert MeterReading.objects.count() == 0


def test_same_reading_twice_is_one_reading():
    meter = MeterFactory()
    first = reading_record(meter=meter, read_on=JAN31, total="120", source=MANUAL)
    again = reading_record(meter=meter, read_on=JAN31, total=D("120.00"), source=MeterReading.Source.AMI)
    assert (again.created, again.reading.pk) == (False, first.reading.pk)
    assert MeterReading.objects.count() == 1


def make_history(meter, monthly_kwh: int, months: int = 6) -> datetime.date:
    """One reading at the end of each month from January, each `monthly_kwh` above the last."""
    total = meter.initial_reading
    day = datetime.date(2026, 1, 31)
    for month in range(1, months + 1):
        day = datetime.date(2026, month + 1, 1) - datetime.timedelta(days=1)
        total += monthly_kwh
        reading_record(meter=meter, read_on=day, total=total, source=MANUAL)
    return day


def test_implausible_jump_is_stored_as_suspect():
    meter = MeterFactory()
    make_history(meter, 100)
    # Average of the last 6 = 100; 700 is over 3 x 100 and 600 above it (more than 500): suspect.
    reading = reading_record(meter=meter, read_on=datetime.date(2026, 7, 31), total="1300", source=MANUAL).reading
    assert reading.status == MeterReading.Status.SUSPECT
    assert reading.status_reason == "电量突增：本次700.00 kWh，近6次平均100.00 kWh"


def test_large_relative_but_small_absolute_jump_is_valid():
    meter = MeterFactory()
    make_history(meter, 100)
    # 550 is over 3 x 100 but only 450 above the average: not held.
    reading = reading_record(meter=meter, read_on=datetime.date(2026, 7, 31), total="1150", source=MANUAL).reading
    assert (reading.status, reading.status_reason) == (MeterReading.Status.VALID, "")


def test_import_reports_each_row_and_a_bad_row_stops_nothing():
    MeterFactory(asset_number="A1", initial_reading=D("100"))
    MeterFactory(asset_number="A2", initial_reading=D("500"))
    rows = [
        ReadingRow(meter_asset_number="A1", read_on="2026-01-31", total="250"),
        ReadingRow(meter_asset_number="A1", read_on="2026-01-31", total="250"),
        ReadingRow(meter_asset_number="ZZ", read_on="2026-01-31", total="1"),
        ReadingRow(meter_asset_number="A2", read_on="2026-01-31", total="abc"),
        ReadingRow(meter_asset_number="A2", read_on="2026-01-31", total="400"),
        ReadingRow(meter_asset_number="A2", read_on="31/01/2026", total="600"),
        ReadingRow(meter_asset_number="A2", read_on="2026-01-31", total="620.5"),
    ]
    seen = []
    report = readings_import(rows=rows, source=MeterReading.Source.AMI, progress=seen.append)
    assert [(r.row_number, r.status, r.reason) for r in report.rows] == [
        (1, ImportReport.ACCEPTED, ""),
        (2, ImportReport.DUPLICATE, ""),
        (3, ImportReport.REJECTED, "电能表ZZ不存在"),
        (4, ImportReport.REJECTED, "总示数必须是数字"),
        (5, ImportReport.REJECTED, "本次示数小于上次示数"),
        (6, ImportReport.REJECTED, "抄表日期格式应为YYYY-MM-DD"),
        (7, ImportReport.ACCEPTED, ""),
    ]
    assert (report.accepted, report.duplicates, report.rejected) == (2, 1, 4)
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    # 250 - 100 = 150 and 620.50 - 500 = 120.50.
    assert sorted(MeterReading.objects.values_list("meter__asset_number", "consumption")) == [
        ("A1", D("150.00")),
        ("A2", D("120.50")),
    ]


def test_same_file_twice_gives_duplicates_and_no_new_rows():
    MeterFactory(asset_number="B1")
    MeterFactory(asset_number="B2")
    rows = [
        ReadingRow(meter_asset_number="B1", read_on=JAN31, total="80", row_number=2),
        ReadingRow(meter_asset_number="B2", read_on=JAN31, total="90", peak="30", flat="30", valley="30", row_number=3),
    ]
    first = readings_import(rows=rows, source=MeterReading.Source.AMI)
    assert [(r.row_number, r.status) for r in first.rows] == [(2, "accepted"), (3, "accepted")]
    before = snapshot()
    second = readings_import(rows=rows, source=MeterReading.Source.AMI)
    assert [(r.row_number, r.status) for r in second.rows] == [(2, "duplicate"), (3, "duplicate")]
    assert [r.reading_id for r in second.rows] == [r.reading_id for r in first.rows]
    assert snapshot() == before


def test_meter_change_mid_period_bills_both_meters():
    old = MeterFactory(asset_number="OLD-1", multiplier=D("1"))
    reading_record(meter=old, read_on=JAN31, total="100", source=MANUAL)
    new = meter_replace(
        meter=old,
        removed_on=datetime.date(2026, 2, 15),
        final_reading="160",
        new_asset_number="NEW-1",
        new_initial_reading="5",
    )
    reading_record(meter=new, read_on=FEB28, total="45", source=MANUAL)

    old.refresh_from_db()
    assert old.removed_on == datetime.date(2026, 2, 15)
    assert (new.service_point_id, new.installed_on, new.initial_reading, new.multiplier) == (
        old.service_point_id, datetime.date(2026, 2, 15), D("5"), D("1")
    )
    final = MeterReading.objects.get(meter=old, read_on=datetime.date(2026, 2, 15))
    assert (final.source, final.consumption) == (MeterReading.Source.INSTALL, D("60.00"))
    # February: 160 - 100 = 60 on the old meter plus 45 - 5 = 40 on the new one = 100.
    account_id = old.service_point.account_id
    february = MeterReading.objects.filter(account_id=account_id, period=datetime.date(2026, 2, 1))
    assert february.aggregate(kwh=Sum("consumption"))["kwh"] == D("100.00")
    with pytest.raises(MeterNotActive):
        reading_record(meter=old, read_on=FEB28, total="170", source=MANUAL)


def test_meter_change_with_bad_final_reading_changes_nothing():
    old = MeterFactory(asset_number="OLD-2")
    reading_record(meter=old, read_on=JAN31, total="100", source=MANUAL)
    MeterFactory(asset_number="TAKEN")
    before = snapshot()
    with pytest.raises(ReadingBelowPrevious):
        meter_replace(
            meter=old, removed_on=FEB28, final_reading="90", new_asset_number="NEW-2", new_initial_reading="0"
        )
    with pytest.raises(InvalidReading) as excinfo:
        meter_replace(
            meter=old, removed_on=FEB28, final_reading="120", new_asset_number="TAKEN", new_initial_reading="0"
        )
    assert str(excinfo.value) == "资产编号TAKEN已存在"
    old.refresh_from_db()
    assert old.removed_on is None
    assert not Meter.objects.filter(asset_number="NEW-2").exists()
    assert snapshot() == before


def test_two_register_meter_records_peak_and_valley_only():
    meter = MeterFactory(tou_capable=True)
    reading = reading_record(meter=meter, read_on=JAN31, total="100", peak="60", valley="40", source=MANUAL).reading
    assert (reading.consumption_peak, reading.consumption_flat, reading.consumption_valley) == (
        D("60.00"), None, D("40.00")
    )
