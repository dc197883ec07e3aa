"""Distribution-network topology import (配网信息): substations, feeders, transformer areas and which transformer
area feeds each service point, sent by the network system and applied as a diff.

A document is either *full* (everything the network system has, company-wide or for one branch: what it no longer
lists is retired) or *partial* (only what it lists changes; an element marked `retired` is retired). The diff
reports what was created, updated (name, capacity, a retired element back in service), moved (to another parent;
for a service point: its customers re-mapped to another transformer area) and retired.

A document that would leave anything hanging — a service point on a retired transformer area, an area on a retired
feeder, a feeder on a retired substation — or that names something unknown is refused whole: nothing changes, and
every problem comes back with where it is in the document.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.models import Branch, Company, Feeder, ServicePoint, Substation, TopologyImport, TransformerArea

CHUNK = 500
PROGRESS_EVERY = 10_000
CODE_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.\-]*$")
CODE_MAX = 32
NAME_MAX = 100
CAPACITY_MAX = Decimal("99999999.99")
# How many codes a refusal names before it says "and N more".
CODES_NAMED = 5

Progress = Callable[[str, int, int], None]


class TopologyImportRefused(DomainError):
    """The document was not applied; `errors` maps where in the document to what is wrong there."""

    code = "topology_refused"

    def __init__(self, message, *, errors: dict[str, list[str]]):
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True)
class GridRow:
    """A substation, feeder or transformer area as the document gives it; `parent` is the code one level up
    (branch, substation, feeder). Absent fields keep what is stored."""

    code: str
    name: str | None = None
    parent: str | None = None
    capacity_kva: Decimal | None = None
    retired: bool = False


@dataclass(frozen=True)
class ServicePointRow:
    code: str
    transformer_area: str


@dataclass(frozen=True)
class TopologyDocument:
    mode: str
    branch: str | None
    substations: tuple[GridRow, ...]
    feeders: tuple[GridRow, ...]
    transformer_areas: tuple[GridRow, ...]
    service_points: tuple[ServicePointRow, ...]
    sha256: str


@dataclass(frozen=True)
class _Level:
    key: str  # the document's list
    model: type
    parent_key: str  # the row's parent field in the document
    parent_attname: str  # the model's parent column
    label: Any
    parent_label: Any


LEVELS = (
    _Level("substations", Substation, "branch", "branch_id", _("变电站"), _("县公司")),
    _Level("feeders", Feeder, "substation", "substation_id", _("线路"), _("变电站")),
    _Level("transformer_areas", TransformerArea, "feeder", "feeder_id", _("台区"), _("线路")),
)


class _Errors:
    def __init__(self) -> None:
        self.by_path: dict[str, list[str]] = defaultdict(list)

    def add(self, path: str, message) -> None:
        self.by_path[path].append(str(message))

    def raise_if_any(self) -> None:
        if self.by_path:
            count = sum(len(messages) for messages in self.by_path.values())
            raise TopologyImportRefused(
                _("配网拓扑文档未导入：发现%(count)s处问题，未做任何修改") % {"count": count}, errors=dict(self.by_path)
            )


# ----------------------------------------------------------------------------------------------------- parsing


def _text(errors: _Errors, path: str, value: Any, *, max_length: int, code: bool, required: bool) -> str | None:
    if value is None:
        if required:
            errors.add(path, _("必填"))
        return None
    if not isinstance(value, str):
        errors.add(path, _("应为文本"))
        return None
    value = value.strip()
    if not value or len(value) > max_length:
        errors.add(path, _("应为1到%(max)s个字符") % {"max": max_length})
        return None
    if code and not CODE_PATTERN.match(value):
        errors.add(path, _("编码只能含字母、数字、点、下划线和短横线"))
        return None
    if not code and any(ord(char) < 32 for char in value):
        errors.add(path, _("不能含控制字符"))
        return None
    return value


def _capacity(errors: _Errors, path: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal, float)):
        errors.add(path, _("应为数字"))
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors.add(path, _("应为数字"))
        return None
    if not number.is_finite() or number <= 0 or number > CAPACITY_MAX or number != number.quantize(Decimal("0.01")):
        errors.add(path, _("容量应大于0、不超过99999999.99，最多两位小数"))
        return None
    return number.quantize(Decimal("0.01"))


def _rows(errors: _Errors, data: dict, key: str) -> list[tuple[str, dict]]:
    rows = data.get(key) or []
    if not isinstance(rows, list):
        errors.add(key, _("应为列表"))
        return []
    result = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.add(f"{key}.{index}", _("应为对象"))
            continue
        result.append((f"{key}.{index}", row))
    return result


def _grid_rows(errors: _Errors, data: dict, level: _Level) -> tuple[GridRow, ...]:
    parsed = []
    for path, row in _rows(errors, data, level.key):
        code = _text(errors, f"{path}.code", row.get("code"), max_length=CODE_MAX, code=True, required=True)
        name = _text(errors, f"{path}.name", row.get("name"), max_length=NAME_MAX, code=False, required=False)
        parent = _text(
            errors, f"{path}.{level.parent_key}", row.get(level.parent_key), max_length=CODE_MAX, code=True, required=False
        )
        capacity = _capacity(errors, f"{path}.capacity_kva", row.get("capacity_kva")) if level.model is TransformerArea else None
        retired = row.get("retired", False)
        if not isinstance(retired, bool):
            errors.add(f"{path}.retired", _("应为true或false"))
        parsed.append(GridRow(code=code or "", name=name, parent=parent, capacity_kva=capacity, retired=retired is True))
    return tuple(parsed)


def _document_sha256(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def topology_document_parse(*, data: Any) -> TopologyDocument:
    """Check a document's shape (a dict as decoded from JSON); every problem is named by its path, e.g.
    `feeders.2.substation`."""
    errors = _Errors()
    if not isinstance(data, dict):
        errors.add("__all__", _("文档应为JSON对象"))
        errors.raise_if_any()
    mode = data.get("mode")
    if mode not in TopologyImport.Mode.values:
        errors.add("mode", _("应为full（全量）或partial（增量）"))
    branch = _text(errors, "branch", data.get("branch"), max_length=16, code=True, required=False)
    if branch is not None and mode == TopologyImport.Mode.PARTIAL:
        errors.add("branch", _("县公司范围只用于全量导入"))
    grids = {level.key: _grid_rows(errors, data, level) for level in LEVELS}
    points = []
    for path, row in _rows(errors, data, "service_points"):
        code = _text(errors, f"{path}.code", row.get("code"), max_length=CODE_MAX, code=True, required=True)
        area = _text(
            errors, f"{path}.transformer_area", row.get("transformer_area"), max_length=CODE_MAX, code=True, required=True
        )
        points.append(ServicePointRow(code=code or "", transformer_area=area or ""))
    errors.raise_if_any()
    return TopologyDocument(
        mode=mode,
        branch=branch,
        substations=grids["substations"],
        feeders=grids["feeders"],
        transformer_areas=grids["transformer_areas"],
        service_points=tuple(points),
        sha256=_document_sha256(data),
    )


# ------------------------------------------------------------------------------------------------------ planning


@dataclass
class _Stored:
    pk: int
    name: str
    parent: str  # parent code
    capacity_kva: Decimal | None
    retired: bool


@dataclass
class _Final:
    name: str
    parent: str
    capacity_kva: Decimal | None
    active: bool
    stored: _Stored | None
    path: str | None  # where the document names it, if it does


@dataclass
class _PointMove:
    pk: int
    code: str
    account: str
    area_from: str
    area_to: str


@dataclass
class _Plan:
    finals: dict[str, dict[str, _Final]] = field(default_factory=dict)
    point_moves: list[_PointMove] = field(default_factory=list)
    points_unchanged: int = 0


def _stored_level(level: _Level, parent_codes: dict[int, str]) -> dict[str, _Stored]:
    columns = ["pk", "code", "name", level.parent_attname, "retired_at"]
    if level.model is TransformerArea:
        columns.append("capacity_kva")
    stored = {}
    for row in level.model.objects.values_list(*columns):
        stored[row[1]] = _Stored(
            pk=row[0],
            name=row[2],
            parent=parent_codes[row[3]],
            capacity_kva=row[5] if len(row) > 5 else None,
            retired=row[4] is not None,
        )
    return stored


def _in_scope(stored: _Stored, scope: set[str] | None) -> bool:
    return scope is None or stored.parent in scope


def _codes_named(codes: Iterable[str]) -> str:
    codes = sorted(codes)
    named = "、".join(codes[:CODES_NAMED])
    if len(codes) > CODES_NAMED:
        named += gettext("等%(count)s个") % {"count": len(codes)}
    return named


def _plan_level(
    *,
    errors: _Errors,
    document: TopologyDocument,
    level: _Level,
    stored: dict[str, _Stored],
    parent_finals: dict[str, Any],
    scope: set[str] | None,
) -> dict[str, _Final]:
    rows: tuple[GridRow, ...] = getattr(document, level.key)
    finals: dict[str, _Final] = {
        code: _Final(item.name, item.parent, item.capacity_kva, not item.retired, item, None)
        for code, item in stored.items()
    }
    seen: set[str] = set()
    for index, row in enumerate(rows):
        path = f"{level.key}.{index}"
        if row.code in seen:
            errors.add(f"{path}.code", _("编码%(code)s在文档中重复") % {"code": row.code})
            continue
        seen.add(row.code)
        current = stored.get(row.code)
        if row.parent is not None and row.parent not in parent_finals:
            errors.add(
                f"{path}.{level.parent_key}",
                _("未知的%(parent)s编码%(code)s") % {"parent": level.parent_label, "code": row.parent},
            )
        if row.retired:
            if current is None:
                errors.add(f"{path}.code", _("%(kind)s%(code)s不存在，不能退运") % {"kind": level.label, "code": row.code})
                continue
            finals[row.code] = _Final(current.name, current.parent, current.capacity_kva, False, current, path)
            continue
        if current is None:
            if row.name is None:
                errors.add(f"{path}.name", _("新建的%(kind)s须填写名称") % {"kind": level.label})
            if row.parent is None:
                errors.add(f"{path}.{level.parent_key}", _("新建的%(kind)s须填写所属%(parent)s") % {
                    "kind": level.label, "parent": level.parent_label,
                })
            capacity = row.capacity_kva
            if capacity is None and level.model is TransformerArea:
                capacity = TransformerArea._meta.get_field("capacity_kva").default
            finals[row.code] = _Final(row.name or "", row.parent or "", capacity, True, None, path)
            continue
        finals[row.code] = _Final(
            row.name if row.name is not None else current.name,
            row.parent if row.parent is not None else current.parent,
            row.capacity_kva if row.capacity_kva is not None else current.capacity_kva,
            True,
            current,
            path,
        )
    if document.mode == TopologyImport.Mode.FULL:
        for code, item in stored.items():
            if code not in seen and not item.retired and _in_scope(item, scope):
                finals[code] = _Final(item.name, item.parent, item.capacity_kva, False, item, None)
    return finals


def _orphans_check(*, errors: _Errors, level: _Level, parent_level: _Level, finals, parent_finals) -> None:
    """Every element in service must hang from a parent in service."""
    hanging: dict[str, list[str]] = defaultdict(list)
    for code, item in finals.items():
        if not item.active:
            continue
        parent = parent_finals.get(item.parent)
        if parent is None or parent.active:
            continue
        if parent.path is None and parent.stored is not None and parent.stored.retired:
            # The parent was out of service before this document: only what the document names under it is its
            # doing; anything already hanging there is older than this import and not its to refuse.
            if item.path is not None:
                errors.add(
                    f"{item.path}.{level.parent_key}",
                    _("%(parent)s%(code)s已退运") % {"parent": parent_level.label, "code": item.parent},
                )
            continue
        hanging[item.parent].append(code)
    for parent_code, children in sorted(hanging.items()):
        parent = parent_finals[parent_code]
        errors.add(
            f"{parent.path}.retired" if parent.path else f"{parent_level.key}.{parent_code}",
            _("%(parent)s%(code)s退运后，%(kind)s%(children)s将失去所属%(parent)s")
            % {"parent": parent_level.label, "code": parent_code, "kind": level.label, "children": _codes_named(children)},
        )


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _plan_points(*, errors: _Errors, document: TopologyDocument, plan: _Plan, area_stored: dict[str, _Stored]) -> None:
    """Service points named in the document move to their transformer area; the ones left on a retiring area
    would be orphaned."""
    areas = plan.finals["transformer_areas"]
    area_codes = {item.pk: code for code, item in area_stored.items()}
    listed: dict[str, tuple[str, ServicePointRow]] = {}
    for index, row in enumerate(document.service_points):
        path = f"service_points.{index}"
        if row.code in listed:
            errors.add(f"{path}.code", _("编码%(code)s在文档中重复") % {"code": row.code})
            continue
        listed[row.code] = (path, row)
        target = areas.get(row.transformer_area)
        if target is None:
            errors.add(f"{path}.transformer_area", _("未知的台区编码%(code)s") % {"code": row.transformer_area})
        elif not target.active:
            errors.add(f"{path}.transformer_area", _("台区%(code)s已退运") % {"code": row.transformer_area})
    existing: dict[str, tuple[int, int, str]] = {}
    for codes in _chunks(list(listed)):
        for pk, code, area_id, account in ServicePoint.objects.filter(code__in=codes).values_list(
            "pk", "code", "transformer_area_id", "account__number"
        ):
            existing[code] = (pk, area_id, account)
    for code, (path, row) in listed.items():
        found = existing.get(code)
        if found is None:
            errors.add(f"{path}.code", _("计量点%(code)s不存在") % {"code": code})
            continue
        pk, area_id, account = found
        if area_codes[area_id] == row.transformer_area:
            plan.points_unchanged += 1
        else:
            plan.point_moves.append(_PointMove(pk, code, account, area_codes[area_id], row.transformer_area))
    retiring = [item.stored.pk for item in areas.values() if item.stored and not item.stored.retired and not item.active]
    left: dict[str, list[str]] = defaultdict(list)
    for pks in _chunks(retiring):
        for code, area_id in ServicePoint.objects.filter(transformer_area_id__in=pks).values_list(
            "code", "transformer_area_id"
        ):
            if code not in listed:
                left[area_codes[area_id]].append(code)
    for area_code, codes in sorted(left.items()):
        area = areas[area_code]
        errors.add(
            f"{area.path}.retired" if area.path else f"transformer_areas.{area_code}",
            _("台区%(code)s退运后，计量点%(points)s将失去所属台区；请先在文档中把它们迁到其他台区")
            % {"code": area_code, "points": _codes_named(codes)},
        )


def _plan(*, document: TopologyDocument, errors: _Errors) -> _Plan:
    plan = _Plan()
    branch_codes = dict(Branch.objects.values_list("pk", "code"))
    parent_finals: dict[str, Any] = {code: _Final(code, "", None, True, None, None) for code in branch_codes.values()}
    scope: set[str] | None = None
    if document.branch is not None:
        if document.branch not in parent_finals:
            errors.add("branch", _("县公司编码%(code)s不存在") % {"code": document.branch})
            errors.raise_if_any()
        scope = {document.branch}
        for index, row in enumerate(document.substations):
            if row.parent is not None and row.parent != document.branch:
                errors.add(f"substations.{index}.branch", _("全量导入限于县公司%(code)s") % {"code": document.branch})
    parent_codes = branch_codes
    stored_by_level: dict[str, dict[str, _Stored]] = {}
    for position, level in enumerate(LEVELS):
        stored = _stored_level(level, parent_codes)
        stored_by_level[level.key] = stored
        finals = _plan_level(
            errors=errors, document=document, level=level, stored=stored, parent_finals=parent_finals, scope=scope
        )
        if position:
            _orphans_check(
                errors=errors, level=level, parent_level=LEVELS[position - 1], finals=finals, parent_finals=parent_finals
            )
        plan.finals[level.key] = finals
        if scope is not None:
            scope = {code for code, item in stored.items() if item.parent in scope}
        parent_finals = finals
        parent_codes = {item.pk: code for code, item in stored.items()}
    _plan_points(errors=errors, document=document, plan=plan, area_stored=stored_by_level["transformer_areas"])
    errors.raise_if_any()
    return plan


# ------------------------------------------------------------------------------------------------ report & write


def _level_report(level: _Level, finals: dict[str, _Final]) -> dict:
    created, updated, moved, retired, unchanged = [], [], [], [], 0
    for code in sorted(finals):
        item = finals[code]
        stored = item.stored
        if stored is None:
            created.append(code)
        elif not item.active:
            if not stored.retired:
                retired.append(code)
            elif item.path is not None:
                unchanged += 1  # retired again: already out of service
        elif item.path is not None:
            changes = {}
            if item.name != stored.name:
                changes["name"] = [stored.name, item.name]
            if level.model is TransformerArea and item.capacity_kva != stored.capacity_kva:
                changes["capacity_kva"] = [str(stored.capacity_kva), str(item.capacity_kva)]
            if stored.retired:
                changes["retired"] = [True, False]
            if changes:
                updated.append({"code": code, "changes": changes})
            if item.parent != stored.parent:
                moved.append({"code": code, "from": stored.parent, "to": item.parent})
            if not changes and item.parent == stored.parent:
                unchanged += 1
    return {"created": created, "updated": updated, "moved": moved, "retired": retired, "unchanged": unchanged}


def _report(*, document: TopologyDocument, plan: _Plan, dry_run: bool) -> dict:
    report: dict[str, Any] = {"mode": document.mode, "branch": document.branch, "dry_run": dry_run}
    counts = {"created": 0, "updated": 0, "moved": 0, "retired": 0, "unchanged": 0}
    for level in LEVELS:
        section = _level_report(level, plan.finals[level.key])
        report[level.key] = section
        for name in ("created", "updated", "moved", "retired"):
            counts[name] += len(section[name])
        counts["unchanged"] += section["unchanged"]
    moves = sorted(plan.point_moves, key=lambda move: move.code)
    report["service_points"] = {
        "moved": [{"code": m.code, "account": m.account, "from": m.area_from, "to": m.area_to} for m in moves],
        "unchanged": plan.points_unchanged,
    }
    counts["moved"] += len(moves)
    counts["unchanged"] += plan.points_unchanged
    counts["accounts_remapped"] = len({move.account for move in moves})
    report["counts"] = counts
    return report


def _write(*, plan: _Plan, progress: Progress | None) -> None:
    now = timezone.now()
    ids: dict[str, int] = dict(Branch.objects.values_list("code", "pk"))
    for level in LEVELS:
        finals = plan.finals[level.key]
        new = [code for code, item in finals.items() if item.stored is None]
        level.model.objects.bulk_create(
            [
                level.model(
                    code=code,
                    name=finals[code].name,
                    **{level.parent_attname: ids[finals[code].parent]},
                    **({"capacity_kva": finals[code].capacity_kva} if level.model is TransformerArea else {}),
                )
                for code in sorted(new)
            ],
            batch_size=CHUNK,
        )
        level_ids = {}
        for codes in _chunks(sorted(finals)):
            level_ids.update(level.model.objects.filter(code__in=codes).values_list("code", "pk"))
        changed = []
        for code, item in finals.items():
            stored = item.stored
            if stored is None:
                continue
            if (
                item.name == stored.name
                and item.parent == stored.parent
                and item.capacity_kva == stored.capacity_kva
                and item.active != stored.retired
            ):
                continue
            row = level.model(pk=stored.pk, code=code, name=item.name, **{level.parent_attname: ids[item.parent]})
            row.retired_at = None if item.active else now
            if level.model is TransformerArea:
                row.capacity_kva = item.capacity_kva
            changed.append(row)
        fields = ["name", level.parent_key, "retired_at"] + (["capacity_kva"] if level.model is TransformerArea else [])
        level.model.objects.bulk_update(changed, fields, batch_size=CHUNK)
        ids = level_ids
        if progress is not None:
            progress(str(level.label), len(finals), len(finals))
    # One plain UPDATE per target area (and chunk): far cheaper than bulk_update's CASE over every row.
    by_target: dict[str, list[int]] = defaultdict(list)
    for move in plan.point_moves:
        by_target[move.area_to].append(move.pk)
    total, done, reported = len(plan.point_moves), 0, 0
    for area_code in sorted(by_target):
        for pks in _chunks(by_target[area_code]):
            ServicePoint.objects.filter(pk__in=pks).update(transformer_area_id=ids[area_code])
            done += len(pks)
            if progress is not None and (done - reported >= PROGRESS_EVERY or done == total):
                progress(gettext("计量点"), done, total)
                reported = done


def topology_import_apply(
    *, document: TopologyDocument, source: str, dry_run: bool = False, progress: Progress | None = None
) -> TopologyImport:
    """Apply a parsed document as a diff (or only work out the diff, for a dry run) and record the report.

    Locks the company rows (select_for_update) for the whole check-and-write, so two imports never interleave and
    each is checked against the topology it changes. Raises TopologyImportRefused, changing nothing.
    """
    with transaction.atomic():
        list(Company.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
        errors = _Errors()
        plan = _plan(document=document, errors=errors)
        report = _report(document=document, plan=plan, dry_run=dry_run)
        if not dry_run:
            _write(plan=plan, progress=progress)
        counts = report["counts"]
        return TopologyImport.objects.create(
            mode=document.mode,
            status=TopologyImport.Status.DRY_RUN if dry_run else TopologyImport.Status.APPLIED,
            source=source[:120],
            scope_branch=Branch.objects.filter(code=document.branch).first() if document.branch else None,
            document_sha256=document.sha256,
            created=counts["created"],
            updated=counts["updated"],
            moved=counts["moved"],
            retired=counts["retired"],
            unchanged=counts["unchanged"],
            accounts_remapped=counts["accounts_remapped"],
            report=report,
        )
