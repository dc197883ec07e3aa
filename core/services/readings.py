"""Meter readings: recording with horizontal and vertical checks, bulk import, meter replacement."""
from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import (
    DomainError,
    InvalidReading,
    MeterNotActive,
    ReadingBelowPrevious,
    ReadingConflict,
    ReadingOutOfOrder,
)
from core.models import Meter, MeterReading
from core.money import CENT, to_kwh
from core.services.tariffs import quantity_parse

REGISTERS = ("peak", "flat", "valley")
# A jump is implausible only when it is both several times the usual and large in absolute terms,
# so a small household going from 20 to 90 kWh is not held.
SUSPECT_FACTOR = Decimal("3")
SUSPECT_MARGIN_KWH = Decimal("500")
SUSPECT_HISTORY = 6


@dataclass(frozen=True)
class ReadingResult:
    reading: MeterReading
    created: bool


@dataclass(frozen=True)
class ReadingRow:
    """One line of an imported reading file (集抄 / 人工抄表 batch)."""

    meter_asset_number: str
    read_on: datetime.date | str
    total: Decimal | str | int
    peak: Decimal | str | int | None = None
    flat: Decimal | str | int | None = None
    valley: Decimal | str | int | None = None
    max_demand_kw: Decimal | str | int | None = None
    power_factor: Decimal | str | int | None = None
    row_number: int | None = None


@dataclass(frozen=True)
class RowResult:
    row_number: int
    status: str
    reason: str = ""
    reading_id: int | None = None


@dataclass
class ImportReport:
    """Per-row results of an import and their counts. A large import may keep only the rows that were not accepted
    (keep_accepted=False), so a million accepted rows are counted, not held in memory."""

    rows: list[RowResult] = field(default_factory=list)
    keep_accepted: bool = True
    counts: dict[str, int] = field(default_factory=dict)

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"

    def add(self, row: RowResult) -> None:
        self.counts[row.status] = self.counts.get(row.status, 0) + 1
        if self.keep_accepted or row.status != self.ACCEPTED:
            self.rows.append(row)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def accepted(self) -> int:
        return self.counts.get(self.ACCEPTED, 0)

    @property
    def duplicates(self) -> int:
        return self.counts.get(self.DUPLICATE, 0)

    @property
    def rejected(self) -> int:
        return self.counts.get(self.REJECTED, 0)


@dataclass(frozen=True)
class ReadingFigures:
    """What a new reading adds to its meter's history: the energy since the last reading and its review status."""

    consumption: Decimal
    consumption_peak: Decimal | None
    consumption_flat: Decimal | None
    consumption_valley: Decimal | None
    status: str
    status_reason: str


def _date_parse(value, *, field_name: str) -> datetime.date:
    if isinstance(value, datetime.datetime):
        raise InvalidReading(_("抄表日期格式应为YYYY-MM-DD"), field=field_name)
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidReading(_("抄表日期格式应为YYYY-MM-DD"), field=field_name)


def _power_factor_parse(value) -> Decimal | None:
    number = quantity_parse(value, field="power_factor", label=_("功率因数"), allow_none=True)
    if number is not None and number > 1:
        raise InvalidReading(_("功率因数应在0到1之间"), field="power_factor")
    return number


def reading_suspect_reason(*, consumption: Decimal, history: Sequence[Decimal]) -> str:
    """Why a consumption is held for review against the meter's last SUSPECT_HISTORY consumptions (most recent
    first), or "" when it is plausible."""
    history = list(history[:SUSPECT_HISTORY])
    if not history:
        return ""
    average = sum(history, Decimal("0")) / len(history)
    if consumption > average * SUSPECT_FACTOR and consumption - average > SUSPECT_MARGIN_KWH:
        return gettext("电量突增：本次%(kwh)s kWh，近%(count)s次平均%(average)s kWh") % {
            "kwh": consumption,
            "count": len(history),
            "average": to_kwh(average),
        }
    return ""


# Field labels stay lazy: a batch of a million rows translates them only for the rows that are refused.
def reading_values_clean(
    *, read_on, total, peak=None, flat=None, valley=None, max_demand_kw=None, power_factor=None
) -> tuple[datetime.date, dict[str, Decimal | None]]:
    """The reading's own values parsed and checked against each other (horizontal checks)."""
    values = {
        "total": quantity_parse(total, field="total", label=_("总示数")),
        "peak": quantity_parse(peak, field="peak", label=_("峰示数"), allow_none=True),
        "flat": quantity_parse(flat, field="flat", label=_("平示数"), allow_none=True),
        "valley": quantity_parse(valley, field="valley", label=_("谷示数"), allow_none=True),
        "max_demand_kw": quantity_parse(
            max_demand_kw, field="max_demand_kw", label=_("最大需量"), allow_none=True
        ),
        "power_factor": _power_factor_parse(power_factor),
    }
    read_on = _date_parse(read_on, field_name="read_on")
    registers = [values[name] for name in REGISTERS if values[name] is not None]
    # Residential TOU meters have no flat register, so peak and valley alone are a complete split.
    if registers and (values["peak"] is None or values["valley"] is None):
        raise InvalidReading(_("分时示数不完整：须填写峰、谷示数"), field="peak")
    if registers and abs(sum(registers) - values["total"]) > CENT:
        raise InvalidReading(_("峰、平、谷示数之和与总示数不符"), field="total")
    return read_on, values


def reading_check(
    *, meter, read_on: datetime.date, values: dict, latest, same_day, history: Sequence[Decimal]
) -> ReadingFigures | None:
    """The vertical checks of a new reading against its meter and the meter's history: None when `same_day` (the
    reading already held for that day, if any) carries these very values, else the new reading's figures.

    `meter` has asset_number, installed_on, removed_on, initial_reading and multiplier; `latest` and `same_day`
    have a reading's read_on and register values; `history` is the last consumptions, most recent first. Shared by
    reading_record (one row, locked meter) and core.services.readings_batch (a chunk of rows, locked meters).
    """
    if read_on < meter.installed_on or (meter.removed_on is not None and read_on > meter.removed_on):
        raise MeterNotActive(
            _("电能表%(meter)s在%(date)s未在运行") % {"meter": meter.asset_number, "date": read_on.isoformat()},
            field="read_on",
        )
    if same_day is not None:
        if all(getattr(same_day, name) == value for name, value in values.items()):
            return None
        raise ReadingConflict(_("该表当日已有不同的示数"), field="total")
    if latest is not None and read_on < latest.read_on:
        raise ReadingOutOfOrder(
            _("抄表日期早于上次抄表日期%(date)s") % {"date": latest.read_on.isoformat()}, field="read_on"
        )
    previous_total = latest.total if latest is not None else meter.initial_reading
    if values["total"] < previous_total:
        raise ReadingBelowPrevious(_("本次示数小于上次示数"), field="total")

    consumption = to_kwh((values["total"] - previous_total) * meter.multiplier)
    register_consumption = {}
    for name in REGISTERS:
        current = values[name]
        if latest is not None:
            before = getattr(latest, name)
        else:
            # A new meter's registers start at zero only when its total does; otherwise the split is unknown.
            before = Decimal("0") if meter.initial_reading == 0 else None
        if current is None or before is None:
            register_consumption[name] = None
            continue
        if current < before:
            raise ReadingBelowPrevious(_("本次示数小于上次示数"), field=name)
        register_consumption[name] = to_kwh((current - before) * meter.multiplier)
    reason = reading_suspect_reason(consumption=consumption, history=history)
    return ReadingFigures(
        consumption=consumption,
        consumption_peak=register_consumption["peak"],
        consumption_flat=register_consumption["flat"],
        consumption_valley=register_consumption["valley"],
        status=MeterReading.Status.SUSPECT if reason else MeterReading.Status.VALID,
        status_reason=reason[:200],
    )


def reading_record(
    *,
    meter: Meter,
    read_on: datetime.date,
    total,
    peak=None,
    flat=None,
    valley=None,
    source: str,
    period: datetime.date | None = None,
    max_demand_kw=None,
    power_factor=None,
) -> ReadingResult:
    """Record one reading after checking it against itself and the meter's history.

    Locks the meter row (select_for_update) so two readings of one meter are checked one after the other.
    The same values again for a day already read are the same reading (created=False), whichever day it is.
    """
    read_on, values = reading_values_clean(
        read_on=read_on, total=total, peak=peak, flat=flat, valley=valley, max_demand_kw=max_demand_kw,
        power_factor=power_factor,
    )
    if source not in MeterReading.Source.values:
        raise InvalidReading(_("未知的示数来源"), field="source")
    period = (period or read_on).replace(day=1)

    with transaction.atomic():
        meter = Meter.objects.select_for_update().select_related("service_point").get(pk=meter.pk)
        recent = list(MeterReading.objects.filter(meter=meter).order_by("-read_on")[:SUSPECT_HISTORY])
        latest = recent[0] if recent else None
        same_day = next((reading for reading in recent if reading.read_on == read_on), None)
        if same_day is None and latest is not None and read_on < latest.read_on:
            same_day = MeterReading.objects.filter(meter=meter, read_on=read_on).first()
        figures = reading_check(
            meter=meter, read_on=read_on, values=values, latest=latest, same_day=same_day,
            history=[reading.consumption for reading in recent],
        )
        if figures is None:
            return ReadingResult(reading=same_day, created=False)
        try:
            with transaction.atomic():
                reading = MeterReading.objects.create(
                    meter=meter,
                    account_id=meter.service_point.account_id,
                    read_on=read_on,
                    period=period,
                    source=source,
                    **dataclasses.asdict(figures),
                    **values,
                )
        except IntegrityError:
            raise ReadingConflict(_("该表当日已有不同的示数"), field="total") from None
    return ReadingResult(reading=reading, created=True)


def readings_import(
    *,
    rows: Iterable[ReadingRow],
    source: str,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Record each row on its own (a savepoint per row): a bad row is reported and changes nothing."""
    report = ImportReport()
    meters: dict[str, Meter | None] = {}
    for index, row in enumerate(rows, start=1):
        row_number = row.row_number or index
        try:
            with transaction.atomic():
                asset = (row.meter_asset_number or "").strip()
                if asset not in meters:
                    meters[asset] = Meter.objects.filter(asset_number=asset).first()
                meter = meters[asset]
                if meter is None:
                    raise InvalidReading(_("电能表%(meter)s不存在") % {"meter": asset}, field="meter")
                result = reading_record(
                    meter=meter,
                    read_on=row.read_on,
                    total=row.total,
                    peak=row.peak,
                    flat=row.flat,
                    valley=row.valley,
                    source=source,
                    max_demand_kw=row.max_demand_kw,
                    power_factor=row.power_factor,
                )
        except DomainError as error:
            report.add(RowResult(row_number=row_number, status=ImportReport.REJECTED, reason=str(error)))
        else:
            status = ImportReport.ACCEPTED if result.created else ImportReport.DUPLICATE
            report.add(RowResult(row_number=row_number, status=status, reading_id=result.reading.pk))
        if progress is not None:
            progress(index)
    return report


def meter_replace(
    *,
    meter: Meter,
    removed_on: datetime.date,
    final_reading,
    new_asset_number: str,
    new_initial_reading,
    multiplier=None,
) -> Meter:
    """Take a meter off with its final reading and put a new one on the same service point.

    Locks the old meter row. The period's consumption of the account sums all its meters' readings,
    so a change in the middle of a period bills the energy of both meters.
    """
    new_asset_number = (new_asset_number or "").strip()
    if not new_asset_number:
        raise InvalidReading(_("新表资产编号不能为空"), field="new_asset_number")
    initial = quantity_parse(new_initial_reading, field="new_initial_reading", label=gettext("新表装表示数"))
    new_multiplier = None
    if multiplier is not None:
        new_multiplier = quantity_parse(multiplier, field="multiplier", label=gettext("倍率"))
        if new_multiplier == 0:
            raise InvalidReading(_("倍率必须大于0"), field="multiplier")
    with transaction.atomic():
        old = Meter.objects.select_for_update().get(pk=meter.pk)
        if old.removed_on is not None:
            raise MeterNotActive(_("电能表%(meter)s已拆除") % {"meter": old.asset_number}, field="meter")
        if Meter.objects.filter(asset_number=new_asset_number).exists():
            raise InvalidReading(_("资产编号%(asset)s已存在") % {"asset": new_asset_number}, field="new_asset_number")
        reading_record(
            meter=old, read_on=removed_on, total=final_reading, source=MeterReading.Source.INSTALL
        )
        old.removed_on = removed_on
        old.save(update_fields=["removed_on"])
        new = Meter.objects.create(
            service_point=old.service_point,
            asset_number=new_asset_number,
            multiplier=new_multiplier if new_multiplier is not None else old.multiplier,
            tou_capable=old.tou_capable,
            installed_on=removed_on,
            initial_reading=initial,
        )
    meter.removed_on = removed_on
    return new
