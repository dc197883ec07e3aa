"""The distribution-network import: a document applied as a diff, with its report; refused whole when it would
leave a service point (or an area, or a feeder) hanging, or names what does not exist."""
import io
import json
import re
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command

from core.models import Feeder, ServicePoint, Substation, TopologyImport, TransformerArea
from core.services.topology_import import TopologyImportRefused, topology_document_parse, topology_import_apply
from tests.factories import (
    AccountFactory,
    BranchFactory,
    FeederFactory,
    ServicePointFactory,
    SubstationFactory,
    TransformerAreaFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def grid():
    return grid_build()


def grid_build():
    """N01: S1 -> F1 -> A1 (P1, P2), A2 (P3); S1 -> F2 -> A3 (P4). N02: S9 -> F9 -> A9 (P9)."""
    north = BranchFactory(code="N01", name="恩施市")
    south = BranchFactory(code="N02", name="利川市")
    s1 = SubstationFactory(branch=north, code="S1", name="110kV舞阳变")
    f1 = FeederFactory(substation=s1, code="F1", name="10kV舞阳一回")
    f2 = FeederFactory(substation=s1, code="F2", name="10kV舞阳二回")
    a1 = TransformerAreaFactory(feeder=f1, code="A1", name="金桂园台区", capacity_kva=D("400"))
    a2 = TransformerAreaFactory(feeder=f1, code="A2", name="民族路台区", capacity_kva=D("315"))
    a3 = TransformerAreaFactory(feeder=f2, code="A3", name="小渡船台区", capacity_kva=D("500"))
    s9 = SubstationFactory(branch=south, code="S9", name="110kV利川变")
    a9 = TransformerAreaFactory(feeder=FeederFactory(substation=s9, code="F9"), code="A9")
    for code, area, number in (("P1", a1, "1"), ("P2", a1, "2"), ("P3", a2, "3"), ("P4", a3, "4"), ("P9", a9, "9")):
        ServicePointFactory(code=code, transformer_area=area, account=AccountFactory(number=f"000000000{number}"))
    return north


def apply(data, dry_run=False):
    return topology_import_apply(document=topology_document_parse(data=data), source="test", dry_run=dry_run)


def state():
    """The whole topology as (code, parent code, retired?) per level, plus service point -> area."""
    def rows(queryset, *columns):
        return sorted((*row[:-1], row[-1] is None) for row in queryset.values_list(*columns, "retired_at"))

    return (
        rows(Substation.objects, "code", "branch__code"),
        rows(Feeder.objects, "code", "substation__code"),
        rows(TransformerArea.objects, "code", "feeder__code", "name", "capacity_kva"),
        sorted(ServicePoint.objects.values_list("code", "transformer_area__code")),
    )


def refused(data, dry_run=False) -> dict:
    before = state()
    with pytest.raises(TopologyImportRefused) as excinfo:
        apply(data, dry_run=dry_run)
    assert state() == before
    assert not TopologyImport.objects.exists()
    return excinfo.value.errors


GROWTH = {
    "mode": "partial",
    "substations": [{"code": "S2", "name": "35kV七里坪变", "branch": "N01"}],
    "feeders": [{"code": "F3", "name": "10kV七里一回", "substation": "S2"}, {"code": "F2", "substation": "S2"}],
    "transformer_areas": [
        {"code": "A4", "name": "七里坪台区", "feeder": "F3", "capacity_kva": "630"},
        {"code": "A1", "name": "金桂园一期台区"},
    ],
    "service_points": [{"code": "P1", "transformer_area": "A4"}, {"code": "P2", "transformer_area": "A1"}],
}


def test_partial_document_creates_moves_updates_and_remaps(grid):
    record = apply(GROWTH)
    assert record.report == {
        "mode": "partial",
        "branch": None,
        "dry_run": False,
        "substations": {"created": ["S2"], "updated": [], "moved": [], "retired": [], "unchanged": 0},
        "feeders": {
            "created": ["F3"],
            "updated": [],
            "moved": [{"code": "F2", "from": "S1", "to": "S2"}],
            "retired": [],
            "unchanged": 0,
        },
        "transformer_areas": {
            "created": ["A4"],
            "updated": [{"code": "A1", "changes": {"name": ["金桂园台区", "金桂园一期台区"]}}],
            "moved": [],
            "retired": [],
            "unchanged": 0,
        },
        "service_points": {
            "moved": [{"code": "P1", "account": "0000000001", "from": "A1", "to": "A4"}],
            "unchanged": 1,
        },
        "counts": {"created": 3, "updated": 1, "moved": 2, "retired": 0, "unchanged": 1, "accounts_remapped": 1},
    }
    assert (record.status, record.mode, record.source) == (TopologyImport.Status.APPLIED, "partial", "test")
    assert (record.created, record.updated, record.moved, record.retired, record.unchanged, record.accounts_remapped) == (
        3, 1, 2, 0, 1, 1
    )
    substations, feeders, areas, points = state()
    assert ("S2", "N01", True) in substations
    assert sorted(feeders) == [("F1", "S1", True), ("F2", "S2", True), ("F3", "S2", True), ("F9", "S9", True)]
    assert ("A4", "F3", "七里坪台区", D("630.00"), True) in areas
    assert ("A1", "F1", "金桂园一期台区", D("400.00"), True) in areas
    assert points == [("P1", "A4"), ("P2", "A1"), ("P3", "A2"), ("P4", "A3"), ("P9", "A9")]


def test_the_same_document_twice_changes_nothing_the_second_time(grid):
    apply(GROWTH)
    after_first = state()
    second = apply(GROWTH)
    assert state() == after_first
    assert second.report["counts"] == {
        "created": 0, "updated": 0, "moved": 0, "retired": 0, "unchanged": 7, "accounts_remapped": 0
    }
    assert second.document_sha256 == TopologyImport.objects.order_by("pk").first().document_sha256


def test_full_document_retires_what_it_no_longer_lists_in_its_branch(grid):
    record = apply({
        "mode": "full",
        "branch": "N01",
        "substations": [{"code": "S1", "name": "110kV舞阳变", "branch": "N01"}],
        "feeders": [{"code": "F1", "name": "10kV舞阳一回", "substation": "S1"}],
        "transformer_areas": [
            {"code": "A1", "name": "金桂园台区", "feeder": "F1", "capacity_kva": "400.00"},
            {"code": "A2", "name": "民族路台区", "feeder": "F1", "capacity_kva": "400"},
        ],
        "service_points": [{"code": "P4", "transformer_area": "A2"}],
    })
    report = record.report
    assert report["feeders"]["retired"] == ["F2"]
    assert report["transformer_areas"]["retired"] == ["A3"]
    assert report["transformer_areas"]["updated"] == [{"code": "A2", "changes": {"capacity_kva": ["315.00", "400.00"]}}]
    assert report["service_points"]["moved"] == [{"code": "P4", "account": "0000000004", "from": "A3", "to": "A2"}]
    assert report["counts"] == {
        "created": 0, "updated": 1, "moved": 1, "retired": 2, "unchanged": 3, "accounts_remapped": 1
    }
    assert record.scope_branch == grid
    substations, feeders, areas, points = state()
    # The other branch's S9/F9/A9 are outside the document's scope: untouched.
    assert substations == [("S1", "N01", True), ("S9", "N02", True)]
    assert feeders == [("F1", "S1", True), ("F2", "S1", False), ("F9", "S9", True)]
    assert [(code, active) for code, _feeder, _name, _capacity, active in areas] == [
        ("A1", True), ("A2", True), ("A3", False), ("A9", True)
    ]
    assert ("P4", "A2") in points


def test_retired_area_comes_back_into_service(grid):
    apply({"mode": "partial", "service_points": [{"code": "P4", "transformer_area": "A2"}],
           "transformer_areas": [{"code": "A3", "retired": True}]})
    assert TransformerArea.objects.get(code="A3").retired_at is not None
    record = apply({"mode": "partial", "transformer_areas": [{"code": "A3"}]})
    assert record.report["transformer_areas"]["updated"] == [{"code": "A3", "changes": {"retired": [True, False]}}]
    assert TransformerArea.objects.get(code="A3").retired_at is None


def test_full_document_that_would_orphan_service_points_is_refused_whole(grid):
    errors = refused({
        "mode": "full",
        "branch": "N01",
        "substations": [{"code": "S1", "branch": "N01"}, {"code": "S3", "name": "新变电站", "branch": "N01"}],
        "feeders": [{"code": "F1", "substation": "S1"}],
        "transformer_areas": [{"code": "A1", "feeder": "F1"}],
    })
    assert errors == {
        "transformer_areas.A2": ["台区A2退运后，计量点P3将失去所属台区；请先在文档中把它们迁到其他台区"],
        "transformer_areas.A3": ["台区A3退运后，计量点P4将失去所属台区；请先在文档中把它们迁到其他台区"],
    }


def test_retiring_a_feeder_that_still_feeds_an_area_is_refused(grid):
    errors = refused({"mode": "partial", "feeders": [{"code": "F2", "retired": True}]})
    assert errors == {"feeders.0.retired": ["线路F2退运后，台区A3将失去所属线路"]}


def test_retiring_a_substation_and_everything_under_it_still_protects_service_points(grid):
    errors = refused({
        "mode": "partial",
        "substations": [{"code": "S1", "retired": True}],
        "feeders": [{"code": "F1", "retired": True}, {"code": "F2", "retired": True}],
        "transformer_areas": [{"code": code, "retired": True} for code in ("A1", "A2", "A3")],
        "service_points": [{"code": "P3", "transformer_area": "A9"}, {"code": "P4", "transformer_area": "A9"}],
    })
    assert errors == {"transformer_areas.0.retired": ["台区A1退运后，计量点P1、P2将失去所属台区；请先在文档中把它们迁到其他台区"]}


def test_orphan_list_names_five_codes_and_the_count(grid):
    area = TransformerArea.objects.get(code="A3")
    for index in range(6):
        ServicePointFactory(code=f"Q{index}", transformer_area=area)
    errors = refused({"mode": "partial", "transformer_areas": [{"code": "A3", "retired": True}]})
    assert errors == {
        "transformer_areas.0.retired": [
            "台区A3退运后，计量点P4、Q0、Q1、Q2、Q3等7个将失去所属台区；请先在文档中把它们迁到其他台区"
        ]
    }


def test_unknown_and_duplicate_references_are_each_named(grid):
    errors = refused({
        "mode": "partial",
        "substations": [{"code": "S5", "name": "新变", "branch": "X99"}],
        "feeders": [{"code": "F5", "substation": "S404"}, {"code": "F6", "name": "新线"}],
        "transformer_areas": [{"code": "A7", "retired": True}, {"code": "A1"}, {"code": "A1"}],
        "service_points": [{"code": "P404", "transformer_area": "A1"}, {"code": "P1", "transformer_area": "A404"}],
    })
    assert errors == {
        "substations.0.branch": ["未知的县公司编码X99"],
        "feeders.0.substation": ["未知的变电站编码S404"],
        "feeders.0.name": ["新建的线路须填写名称"],
        "feeders.1.substation": ["新建的线路须填写所属变电站"],
        "transformer_areas.0.code": ["台区A7不存在，不能退运"],
        "transformer_areas.2.code": ["编码A1在文档中重复"],
        "service_points.0.code": ["计量点P404不存在"],
        "service_points.1.transformer_area": ["未知的台区编码A404"],
    }


def test_moving_a_service_point_to_a_retired_area_is_refused(grid):
    TransformerArea.objects.filter(code="A9").update(retired_at="2026-01-01T00:00:00+08:00")
    errors = refused({"mode": "partial", "service_points": [{"code": "P1", "transformer_area": "A9"}]})
    assert errors == {"service_points.0.transformer_area": ["台区A9已退运"]}


def test_full_document_for_a_branch_keeps_to_that_branch(grid):
    errors = refused({"mode": "full", "branch": "N01", "substations": [{"code": "S9", "branch": "N02"}]})
    assert errors["substations.0.branch"] == ["全量导入限于县公司N01"]


def test_dry_run_reports_the_same_and_changes_nothing(grid):
    before = state()
    record = apply(GROWTH, dry_run=True)
    assert state() == before
    assert record.status == TopologyImport.Status.DRY_RUN
    assert record.report["dry_run"] is True
    assert record.report["counts"] == {
        "created": 3, "updated": 1, "moved": 2, "retired": 0, "unchanged": 1, "accounts_remapped": 1
    }


def test_dry_run_of_a_bad_document_is_refused_too(grid):
    errors = refused({"mode": "partial", "feeders": [{"code": "F2", "retired": True}]}, dry_run=True)
    assert list(errors) == ["feeders.0.retired"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([], {"__all__": ["文档应为JSON对象"]}),
        ({}, {"mode": ["应为full（全量）或partial（增量）"]}),
        ({"mode": "partial", "branch": "N01"}, {"branch": ["县公司范围只用于全量导入"]}),
        ({"mode": "partial", "feeders": {"code": "F1"}}, {"feeders": ["应为列表"]}),
        ({"mode": "partial", "feeders": ["F1"]}, {"feeders.0": ["应为对象"]}),
        (
            {"mode": "partial", "substations": [{"code": "S 1", "name": "a\x00b", "retired": "yes"}]},
            {
                "substations.0.code": ["编码只能含字母、数字、点、下划线和短横线"],
                "substations.0.name": ["不能含控制字符"],
                "substations.0.retired": ["应为true或false"],
            },
        ),
        (
            {"mode": "partial", "transformer_areas": [{"code": "A1", "capacity_kva": "-5"}, {"code": "A2", "capacity_kva": "1.005"}]},
            {
                "transformer_areas.0.capacity_kva": ["容量应大于0、不超过99999999.99，最多两位小数"],
                "transformer_areas.1.capacity_kva": ["容量应大于0、不超过99999999.99，最多两位小数"],
            },
        ),
        ({"mode": "partial", "service_points": [{"code": "P1"}]}, {"service_points.0.transformer_area": ["必填"]}),
        ({"mode": "partial", "feeders": [{"code": "x" * 33}]}, {"feeders.0.code": ["应为1到32个字符"]}),
    ],
)
def test_document_shape_errors_name_their_path(data, expected):
    with pytest.raises(TopologyImportRefused) as excinfo:
        topology_document_parse(data=data)
    assert excinfo.value.errors == expected
    assert excinfo.value.code == "topology_refused"


def test_command_applies_a_file_with_progress_lines(grid, tmp_path):
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(GROWTH, ensure_ascii=False), encoding="utf-8")
    stdout = io.StringIO()
    call_command("topology_import", str(path), stdout=stdout)
    lines = stdout.getvalue().splitlines()
    record = TopologyImport.objects.get()
    assert lines[:4] == [
        f"[{'#' * 30}] 100% 变电站 3/3",
        f"[{'#' * 30}] 100% 线路 4/4",
        f"[{'#' * 30}] 100% 台区 5/5",
        f"[{'#' * 30}] 100% 计量点 1/1",
    ]
    assert re.fullmatch(
        rf"已导入 #{record.pk}：新增3，修改1，迁移2，退运0，未变1，重新挂接用电户1，用时\d+\.\d秒", lines[4]
    )
    assert (record.source, record.status) == ("file:topology.json", TopologyImport.Status.APPLIED)
    assert ("P1", "A4") in state()[3]


def test_command_dry_run_changes_nothing(grid, tmp_path):
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(GROWTH), encoding="utf-8")
    before = state()
    stdout = io.StringIO()
    call_command("topology_import", str(path), "--dry-run", stdout=stdout)
    assert state() == before
    assert stdout.getvalue().startswith(f"试算（未修改） #{TopologyImport.objects.get().pk}：新增3，修改1，迁移2")


def test_command_reads_capacities_as_decimals(grid, tmp_path):
    path = tmp_path / "topology.json"
    path.write_text('{"mode": "partial", "transformer_areas": [{"code": "A1", "capacity_kva": 630.10}]}', encoding="utf-8")
    call_command("topology_import", str(path), stdout=io.StringIO())
    assert TransformerArea.objects.get(code="A1").capacity_kva == D("630.10")


def test_command_refusal_lists_each_problem_and_changes_nothing(grid, tmp_path):
    path = tmp_path / "topology.json"
    path.write_text(json.dumps({"mode": "partial", "feeders": [{"code": "F2", "retired": True}]}), encoding="utf-8")
    before = state()
    stderr = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("topology_import", str(path), stdout=io.StringIO(), stderr=stderr)
    assert str(excinfo.value) == "配网拓扑文档未导入：发现1处问题，未做任何修改"
    assert stderr.getvalue().splitlines() == ["feeders.0.retired: 线路F2退运后，台区A3将失去所属线路"]
    assert state() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "文件{path}不存在"),
        (b"\xff\xfe{", "文件{path}不是UTF-8编码的JSON：'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
        (b"{mode", "文件{path}不是UTF-8编码的JSON：Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ],
)
def test_command_refuses_unreadable_files(tmp_path, content, message):
    path = tmp_path / "topology.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CommandError) as excinfo:
        call_command("topology_import", str(path), stdout=io.StringIO())
    assert str(excinfo.value) == message.format(path=path)


def test_hanging_an_area_on_a_feeder_already_retired_is_refused(grid):
    Feeder.objects.filter(code="F9").update(retired_at="2026-01-01T00:00:00+08:00")
    errors = refused({"mode": "partial", "transformer_areas": [{"code": "A1", "feeder": "F9"}]})
    assert errors == {"transformer_areas.0.feeder": ["线路F9已退运"]}
