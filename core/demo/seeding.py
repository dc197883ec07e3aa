"""demo_seed: the organisation, topology and customers of the 恩施 demo, added in chunks up to N customers."""
from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from core.errors import TariffNotFound
from core.models import Branch, CollectionPolicy, Company, Feeder, ServicePoint, ServiceStation, Substation, Tariff
from core.models import TransformerArea

from .generator import (
    DEMO_PREFIX,
    PATTERN,
    TARIFF_MIX,
    area_code,
    customer_plan,
    feeder_code,
    last_complete_month,
    month_starts,
    station_for_area,
    substation_code,
    topology_for_area,
)
from .history_writer import TABLES, HistoryContext, IdBlock, RowSink, chunk_rows_build
from .places import AREA_SIZE, BRANCHES, COMPANY_CODE, COMPANY_NAME

Progress = Callable[[str, str, int, int, int, str], None]


@dataclass
class DemoSeedResult:
    customers_total: int
    customers_added: int
    rows_written: int
    months: list[datetime.date]
    table_counts: dict[str, int]
    seconds: float


def branch_counts(customers: int) -> list[int]:
    """How many of the first `customers` demo customers each branch holds (same order as BRANCHES)."""
    cycles, rest = divmod(customers, len(PATTERN))
    counts = [cycles * b.population for b in BRANCHES]
    for slot in PATTERN[:rest]:
        counts[slot] += 1
    return counts


def organisation_ensure() -> tuple[dict[str, int], dict[str, int]]:
    """The company, its 8 county branches and their service stations; returns ids by code."""
    company, _created = Company.objects.get_or_create(code=COMPANY_CODE, defaults={"name": COMPANY_NAME})
    branch_ids, station_ids = {}, {}
    for spec in BRANCHES:
        branch, _created = Branch.objects.get_or_create(
            code=spec.code, defaults={"company": company, "name": spec.name, "area_kind": spec.area_kind}
        )
        branch_ids[spec.code] = branch.pk
        for station_spec in spec.stations:
            station, _created = ServiceStation.objects.get_or_create(
                code=station_spec.code,
                defaults={"branch": branch, "name": station_spec.name, "area_kind": station_spec.area_kind},
            )
            station_ids[station_spec.code] = station.pk
    return branch_ids, station_ids


def topology_ensure(*, customers: int, branch_ids: dict[str, int]) -> dict[str, int]:
    """Substations (110/35 kV), 10 kV feeders and transformer areas enough for `customers`; ids of areas by code."""
    for spec, count in zip(BRANCHES, branch_counts(customers)):
        areas_needed = -(-count // AREA_SIZE[spec.area_kind])
        existing = set(TransformerArea.objects.filter(code__startswith=f"{spec.code}-TA").values_list("code", flat=True))
        missing = [a for a in range(areas_needed) if area_code(spec, a) not in existing]
        if not missing:
            continue
        substations = {s.code: s for s in Substation.objects.filter(branch_id=branch_ids[spec.code])}
        feeders = {f.code: f for f in Feeder.objects.filter(substation__branch_id=branch_ids[spec.code])}
        new_areas = []
        for area in missing:
            feeder_no, substation_no = topology_for_area(spec, area)
            station = station_for_area(spec, area)
            s_code = substation_code(spec, substation_no)
            if s_code not in substations:
                town = spec.stations[substation_no % len(spec.stations)].town
                voltage = "110kV" if substation_no % 3 == 0 else "35kV"
                substations[s_code] = Substation.objects.create(
                    branch_id=branch_ids[spec.code], code=s_code, name=f"{voltage}{town[:-1] or town}变电站"
                )
            f_code = feeder_code(spec, feeder_no)
            if f_code not in feeders:
                feeders[f_code] = Feeder.objects.create(
                    substation=substations[s_code],
                    code=f_code,
                    name=f"10kV{station.town[:2]}{feeder_no + 1:02d}线",
                )
            place = station.places[area % len(station.places)]
            new_areas.append(
                TransformerArea(
                    feeder=feeders[f_code],
                    code=area_code(spec, area),
                    name=f"{place}{area // len(station.places) + 1}号台区",
                    capacity_kva=400 if station.area_kind == "city" else 200,
                )
            )
        TransformerArea.objects.bulk_create(new_areas, batch_size=500)
    return dict(TransformerArea.objects.filter(code__contains="-TA").values_list("code", "id"))


def demo_customers_existing() -> int:
    """Demo customers already there: they are added in index order, one transaction per chunk."""
    return ServicePoint.objects.filter(code__startswith=f"{DEMO_PREFIX}SP").count()


def demo_seed(
    *,
    customers: int,
    seed: int,
    today: datetime.date,
    chunk_size: int | None = None,
    progress: Progress | None = None,
) -> DemoSeedResult:
    """Bring the demo up to `customers` customers; what is already there is left as it is.

    Each chunk of customers is written in its own transaction, so an interrupted run resumes where it stopped.
    Not for concurrent runs: ids are handed out above the tables' maxima read at the start.
    """
    started = time.monotonic()
    months = month_starts(last_complete_month(today))
    if chunk_size is None:
        chunk_size = 2000 if connection.vendor == "postgresql" else 500
    tariff_codes = {code for _cat, code, _p in TARIFF_MIX}
    tariffs = {t.code: t for t in Tariff.objects.filter(code__in=tariff_codes)}
    if set(tariffs) != tariff_codes:
        raise TariffNotFound(
            _("电价目录缺少演示所需的电价：%(codes)s") % {"codes": ", ".join(sorted(tariff_codes - set(tariffs)))}
        )
    policies = {p.category: p for p in CollectionPolicy.objects.all()}

    with transaction.atomic():
        branch_ids, station_ids = organisation_ensure()
        existing = demo_customers_existing()
        area_ids = topology_ensure(customers=max(customers, existing), branch_ids=branch_ids)
    ctx = HistoryContext(
        today=today,
        months=months,
        branch_ids=branch_ids,
        station_ids=station_ids,
        area_ids=area_ids,
        tariffs=tariffs,
        policies=policies,
    )
    ctx.prices_preload()
    sink = RowSink()
    to_add = max(0, customers - existing)
    done = 0
    if progress and to_add:
        progress("customers", "客户与历史", 0, to_add, 0, "户")
    try:
        ids = IdBlock()
        for start in range(existing, customers, chunk_size):
            stop = min(customers, start + chunk_size)
            plans = [customer_plan(seed=seed, index=i, months=months) for i in range(start, stop)]
            sink.chunk_write(chunk_rows_build(plans=plans, ctx=ctx, ids=ids))
            done += stop - start
            if progress:
                progress("customers", "客户与历史", done, to_add, sink.rows_written, "户")
    finally:
        sink.close()

    counts = {model._meta.db_table: model.objects.count() for model in TABLES}
    return DemoSeedResult(
        customers_total=existing + to_add,
        customers_added=to_add,
        rows_written=sink.rows_written,
        months=months,
        table_counts=counts,
        seconds=time.monotonic() - started,
    )
