"""The set-based reading import: the same outcomes as reading_record row by row, in a constant number of queries
per chunk."""
import datetime
import io
import random
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command

from core.errors import InvalidReading
from core.models import MeterReading
from core.services.readings import ImportReport, ReadingRow, reading_record, readings_import
from core.services.readings_batch import readings_batch_import
from tests.factories import MeterFactory

pytestmark = pytest.mark.django_db
AMI = MeterReading.Source.AMI
JAN31 = datetime.date(2026, 1, 31)


def stored():
    return list(
        MeterReading.objects.order_by("meter__asset_number", "read_on").values_list(
            "meter__asset_number", "read_on", "total", "consumption", "consumption_peak", "consumption_valley",
            "status", "status_reason", "source",
        )
    )


def outcome(report):
    return [(row.row_number, row.status, row.reason) for row in report.rows]


def test_each_row_gets_its_result_and_bad_rows_change_nothing():
    MeterFactory(asset_number="A1", initial_reading=D("100"))
    MeterFactory(asset_number="A2", initial_reading=D("500"))
    MeterFactory(asset_number="OFF", removed_on=datetime.date(2025, 12, 31))
    rows = [
        ReadingRow(meter_asset_number="A1", read_on="2026-01-31", total="250"),
        ReadingRow(meter_asset_number="A1", read_on="2026-01-31", total="250"),
        ReadingRow(meter_asset_number="ZZ", read_on="2026-01-31", total="1"),
        ReadingRow(meter_asset_number="A2", read_on="2026-01-31", total="abc"),
        ReadingRow(meter_asset_number="A2", read_on="2026-01-31", total="400"),
        ReadingRow(meter_asset_number="A2", read_on="31/01/2026", total="600"),
        ReadingRow(meter_asset_number="A2", read_on="2026-01-31", total="620.5"),
        ReadingRow(meter_asset_number="A2", read_on="2026-01-31", total="621"),
        ReadingRow(meter_asset_number="A2", read_on="2026-01-30", total="630"),
        ReadingRow(meter_asset_number="OFF", read_on="2026-01-31", total="5"),
        ReadingRow(meter_asset_number="A1", read_on="2026-02-28", total="300", peak="100"),
    ]
    seen = []
    report = readings_batch_import(rows=rows, source=AMI, progress=seen.append)
    assert outcome(report) == [
        (1, "accepted", ""),
        (2, "duplicate", ""),
        (3, "rejected", "电能表ZZ不存在"),
        (4, "rejected", "总示数必须是数字"),
        (5, "rejected", "本次示数小于上次示数"),
        (6, "rejected", "抄表日期格式应为YYYY-MM-DD"),
        (7, "accepted", ""),
        (8, "rejected", "该表当日已有不同的示数"),
        (9, "rejected", "抄表日期早于上次抄表日期2026-01-31"),
        (10, "rejected", "电能表OFF在2026-01-31未在运行"),
        (11, "rejected", "分时示数不完整：须填写峰、谷示数"),
    ]
    assert (report.accepted, report.duplicates, report.rejected, report.total) == (2, 1, 8, 11)
    assert seen == [11]
    # The duplicate names the reading its twin created.
    assert report.rows[1].reading_id == report.rows[0].reading_id is not None
    # 250 - 100 = 150 and 620.50 - 500 = 120.50.
    assert [(r[0], r[2], r[3]) for r in stored()] == [
        ("A1", D("250.00"), D("150.00")), ("A2", D("620.50"), D("120.50")),
    ]


def test_unknown_source_refuses_the_whole_batch():
    MeterFactory(asset_number="A1")
    with pytest.raises(InvalidReading) as excinfo:
        readings_batch_import(rows=[ReadingRow("A1", JAN31, "10")], source="bogus")
    assert (str(excinfo.value), excinfo.value.field) == ("未知的示数来源", "source")
    assert MeterReading.objects.count() == 0


def test_several_days_of_one_meter_chain_within_and_across_chunks():
    MeterFactory(asset_number="T1", multiplier=D("40"), tou_capable=True)
    rows = [
        ReadingRow("T1", "2026-01-01", "10", peak="6", valley="4"),
        ReadingRow("T1", "2026-01-02", "12", peak="7", valley="5"),
        ReadingRow("T1", "2026-01-03", "15.5", peak="9", valley="6.5"),
        ReadingRow("T1", "2026-01-04", "16", peak="9.2", valley="6.8"),
        ReadingRow("T1", "2026-01-05", "17", peak="10", valley="7"),
    ]
    report = readings_batch_import(rows=rows, source=AMI, chunk_size=2)
    assert [row.status for row in report.rows] == ["accepted"] * 5
    # Each day counts from the day before, times 40: 10x40=400 (from 0), 2x40=80, 3.5x40=140, 0.5x40=20, 1x40=40.
    assert [(r[3], r[4], r[5]) for r in stored()] == [
        (D("400.00"), D("240.00"), D("160.00")),
        (D("80.00"), D("40.00"), D("40.00")),
        (D("140.00"), D("80.00"), D("60.00")),
        (D("20.00"), D("8.00"), D("12.00")),
        (D("40.00"), D("32.00"), D("8.00")),
    ]


def test_a_jump_is_held_as_suspect_against_history_including_rows_just_accepted():
    meter = MeterFactory(asset_number="S1")
    reading_record(meter=meter, read_on=datetime.date(2026, 1, 31), total="100", source=AMI)
    reading_record(meter=meter, read_on=datetime.date(2026, 2, 28), total="200", source=AMI)
    rows = [
        ReadingRow("S1", "2026-03-31", "300"),
        ReadingRow("S1", "2026-04-30", "1000"),
    ]
    report = readings_batch_import(rows=rows, source=AMI)
    assert [row.status for row in report.rows] == ["accepted", "accepted"]
    last = MeterReading.objects.get(meter=meter, read_on=datetime.date(2026, 4, 30))
    # History 100, 100, 100 (the March row of this batch included): 700 is over 3x100 and 600 above it.
    assert (last.status, last.status_reason) == ("suspect", "电量突增：本次700.00 kWh，近3次平均100.00 kWh")


def test_the_same_file_again_is_all_duplicates_even_for_days_older_than_the_history():
    MeterFactory(asset_number="H1")
    rows = [ReadingRow("H1", datetime.date(2026, 1, 1) + datetime.timedelta(days=day), str(10 * (day + 1)))
            for day in range(9)]
    first = readings_batch_import(rows=rows, source=AMI)
    before = stored()
    again = readings_batch_import(rows=rows, source=AMI, chunk_size=4)
    assert [row.status for row in again.rows] == ["duplicate"] * 9
    assert [row.reading_id for row in again.rows] == [row.reading_id for row in first.rows]
    assert stored() == before
    changed = readings_batch_import(rows=[ReadingRow("H1", "2026-01-02", "21")], source=AMI)
    assert outcome(changed) == [(1, "rejected", "该表当日已有不同的示数")]


def test_large_imports_may_count_accepted_rows_without_holding_them():
    MeterFactory(asset_number="K1")
    rows = [ReadingRow("K1", "2026-01-01", "1"), ReadingRow("K1", "2026-01-02", "0.5")]
    report = readings_batch_import(rows=rows, source=AMI, keep_accepted=False)
    assert (report.accepted, report.rejected) == (1, 1)
    assert outcome(report) == [(2, "rejected", "本次示数小于上次示数")]


def test_queries_do_not_grow_with_the_rows(django_assert_num_queries):
    meters = [MeterFactory(asset_number=f"Q{n}") for n in range(10)]
    for meter in meters:
        reading_record(meter=meter, read_on=JAN31, total="10", source=AMI)
    rows = [ReadingRow(f"Q{n}", f"2026-02-{day:02d}", str(10 + day)) for day in range(1, 6) for n in range(10)]
    # One chunk of 50 rows of 10 meters: savepoint, lock the meters, read their recent readings, one insert
    # (SQLite's 999 parameters hold 52 readings), release.
    with django_assert_num_queries(5):
        report = readings_batch_import(rows=rows, source=AMI)
    assert report.accepted == 50
    assert MeterReading.objects.count() == 60


def test_batch_and_row_by_row_agree_on_every_row():
    """Random files (good, duplicate, conflicting, out-of-order, below-previous, jumping rows) give the same result
    per row and the same stored readings through reading_record one row at a time and through the batch."""
    generator = random.Random(95598)
    for side in ("R", "B"):
        for n in range(6):
            MeterFactory(asset_number=f"{side}{n}", initial_reading=D(n * 10), multiplier=D(1 + n % 3))
    script = []
    totals = {n: D(n * 10) for n in range(6)}
    for index in range(300):
        n = generator.randrange(6)
        day = datetime.date(2026, 1, 1) + datetime.timedelta(days=generator.randrange(60))
        step = D(generator.choice([0, 1, 5, 50, 900, -3])) + D(generator.randrange(100)) / 100
        total = max(totals[n] + step, D(0))
        if generator.random() < 0.8:
            totals[n] = total
        script.append((n, day, total))
        if generator.random() < 0.1:
            script.append(generator.choice(script))
    results = {}
    for side, run in (("R", readings_import), ("B", readings_batch_import)):
        rows = [ReadingRow(f"{side}{n}", day, str(total)) for n, day, total in script]
        kwargs = {"chunk_size": 17} if side == "B" else {}
        report = run(rows=rows, source=AMI, **kwargs)
        results[side] = [(row.status, row.reason.replace(f"{side}", "?")) for row in report.rows]
    assert results["R"] == results["B"]
    assert {status for status, _ in results["B"]} == {"accepted", "duplicate", "rejected"}
    by_side = {side: [(r[0][1:],) + r[1:] for r in stored() if r[0][0] == side] for side in ("R", "B")}
    assert by_side["R"] == by_side["B"]
    assert len(by_side["B"]) == results["B"].count(("accepted", ""))


def run_command(*args) -> str:
    out = io.StringIO()
    call_command("readings_import", *args, stdout=out)
    return out.getvalue()


def test_the_command_imports_a_csv_file_with_progress_lines_and_a_report(tmp_path):
    MeterFactory(asset_number="C1", initial_reading=D("10"))
    MeterFactory(asset_number="C2")
    source = tmp_path / "readings.csv"
    source.write_text(
        "\ufeffmeter,read_on,total\nC1,2026-01-31,30\nC2,2026-01-31,5\nC2,2026-01-31,5\nC3,2026-01-31,1\n"
        "C1,2026-02-28,20\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.csv"
    output = run_command(str(source), "--chunk-size", "2", "--report", str(report))
    lines = output.splitlines()
    assert [line.split("] ")[1].split()[:2] for line in lines[:3]] == [
        ["40%", "2/5"], ["80%", "4/5"], ["100%", "5/5"],
    ]
    assert lines[0].startswith("[############------------------]")
    assert lines[3:7] == [
        "第4行 重复 ",
        "第5行 拒绝 电能表C3不存在",
        "第6行 拒绝 本次示数小于上次示数",
        f"未接受的行已写入{report}",
    ]
    assert lines[7].startswith("共5行：接受2，重复1，拒绝2；用时")
    assert report.read_text(encoding="utf-8").splitlines()[1:] == [
        f"4,duplicate,,{MeterReading.objects.get(meter__asset_number='C2').pk}",
        "5,rejected,电能表C3不存在,",
        "6,rejected,本次示数小于上次示数,",
    ]
    assert sorted(MeterReading.objects.values_list("meter__asset_number", "consumption", "source")) == [
        ("C1", D("20.00"), "ami"), ("C2", D("5.00"), "ami"),
    ]


def test_the_command_refuses_a_malformed_file_whole(tmp_path):
    MeterFactory(asset_number="C1")
    source = tmp_path / "readings.csv"
    source.write_text("meter,read_on,total\nC1,2026-01-31,30\nC1,2026-02-28,40,9\n", encoding="utf-8")
    with pytest.raises(CommandError) as excinfo:
        run_command(str(source))
    assert str(excinfo.value) == "line 3: 列数多于表头"
    source.write_text("meter,total\nC1,30\n", encoding="utf-8")
    with pytest.raises(CommandError) as excinfo:
        run_command(str(source))
    assert str(excinfo.value) == "header: 缺少列：read_on"
    assert MeterReading.objects.count() == 0


def test_the_command_reads_json_with_its_source(tmp_path):
    MeterFactory(asset_number="J1")
    source = tmp_path / "readings.json"
    source.write_text('{"source": "manual", "readings": [{"meter": "J1", "read_on": "2026-01-31", "total": 12.34}]}',
                      encoding="utf-8")
    output = run_command(str(source))
    assert "共1行：接受1，重复0，拒绝0" in output
    assert list(MeterReading.objects.values_list("total", "source")) == [(D("12.34"), "manual")]
