"""Set-based import of meter readings (集抄 / 用电信息采集 batches, up to millions of rows).

The rows are taken a chunk at a time: one query locks the chunk's meters, one reads each meter's last readings
(enough for the suspect-jump check), one finds readings already held for older days the chunk names again, then
the accepted rows go in with one INSERT (UNNEST arrays on PostgreSQL, multi-row VALUES elsewhere). Each row gets
the checks of core.services.readings.reading_record (reading_check, the same function), against the meter's
history as it stands after the rows before it, so a file holding several days of one meter is checked day after
day. Each chunk is its own transaction.
"""
from __future__ import annotations

import csv
import datetime
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, InvalidReading
from core.models import Meter, MeterReading
from core.services.readings import (
    SUSPECT_HISTORY,
    ImportReport,
    ReadingRow,
    RowResult,
    reading_check,
    reading_values_clean,
)

CHUNK_SIZE = 2000
# The columns of a reading file (CSV, first line the header), as the acquisition systems send it.
CSV_COLUMNS = ("meter", "read_on", "total", "peak", "flat", "valley", "max_demand_kw", "power_factor")
CSV_REQUIRED = ("meter", "read_on", "total")


class ReadingFileInvalid(InvalidReading):
    """The file itself is malformed (header, columns, quoting): refused whole, before any row is imported."""

    code = "reading_file_invalid"


_VALUE_FIELDS = ("total", "peak", "flat", "valley", "max_demand_kw", "power_factor")


@dataclass(frozen=True)
class _MeterState:
    """What the checks need of a meter (the fields reading_check reads) and where its readings attach."""

    id: int
    asset_number: str
    account_id: int
    installed_on: datetime.date
    removed_on: datetime.date | None
    initial_reading: Decimal
    multiplier: Decimal


@dataclass
class _Known:
    """A reading of a meter, held or accepted earlier in this chunk."""

    meter_id: int
    read_on: datetime.date
    total: Decimal
    peak: Decimal | None
    flat: Decimal | None
    valley: Decimal | None
    max_demand_kw: Decimal | None
    power_factor: Decimal | None
    consumption: Decimal
    id: int | None = None
    # For a reading accepted in this chunk: its place in the chunk's insert, which gives its id.
    pending: int | None = None


def _chunks(rows: Iterable[ReadingRow], size: int) -> Iterator[list[ReadingRow]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def readings_csv_rows(*, lines: Iterable[str]) -> Iterator[ReadingRow]:
    """The rows of a reading file, each numbered by its line (the header is line 1); empty cells are None.

    Raises ReadingFileInvalid naming the header or the line when the file is malformed, as it reaches it: read the
    rows through once before importing to refuse a bad file whole."""
    reader = csv.DictReader(lines)
    try:
        header = [name.strip() for name in (reader.fieldnames or [])]
        missing = [name for name in CSV_REQUIRED if name not in header]
        unknown = [name for name in header if name not in CSV_COLUMNS]
        problems = []
        if missing:
            problems.append(_("缺少列：%(columns)s") % {"columns": ", ".join(missing)})
        if unknown:
            problems.append(_("未知的列：%(columns)s") % {"columns": ", ".join(unknown)})
        if problems:
            raise ReadingFileInvalid("；".join(str(problem) for problem in problems), field="header")
        reader.fieldnames = header
        for record in reader:
            if None in record:
                raise ReadingFileInvalid(_("列数多于表头"), field=f"line {reader.line_num}")
            values = {name: (value or "").strip() or None for name, value in record.items()}
            yield ReadingRow(
                meter_asset_number=values["meter"] or "",
                read_on=values["read_on"] or "",
                total=values["total"],
                peak=values.get("peak"),
                flat=values.get("flat"),
                valley=values.get("valley"),
                max_demand_kw=values.get("max_demand_kw"),
                power_factor=values.get("power_factor"),
                row_number=reader.line_num,
            )
    except csv.Error as error:
        raise ReadingFileInvalid(
            _("第%(line)d行CSV格式有误：%(error)s") % {"line": reader.line_num, "error": error}, field="__all__"
        ) from None


def _meters_lock(assets: set[str]) -> dict[str, _MeterState]:
    """The chunk's meters, locked in id order (as reading_record locks one), so a concurrent reading of the same
    meter waits for this chunk."""
    locked = (
        Meter.objects.select_for_update(of=("self",))
        .filter(asset_number__in=assets)
        .order_by("pk")
        .values_list(
            "pk", "asset_number", "service_point__account_id", "installed_on", "removed_on", "initial_reading",
            "multiplier",
        )
    )
    return {row[1]: _MeterState(*row) for row in locked}


def _recent_readings(meter_ids: list[int]) -> dict[int, list[_Known]]:
    """Each meter's last SUSPECT_HISTORY readings, most recent first, in one query.

    On PostgreSQL a LATERAL join walks each meter's (meter, read_on) index backwards for just those rows, however
    long its history; elsewhere a window over the meters' readings does."""
    recent: dict[int, list[_Known]] = {meter_id: [] for meter_id in meter_ids}
    if not meter_ids:
        return recent
    if connection.vendor == "postgresql":
        opts = MeterReading._meta
        quote = connection.ops.quote_name
        names = ("meter", "id", "read_on", "consumption", *_VALUE_FIELDS)
        columns = ", ".join(f"r.{quote(opts.get_field(name).column)}" for name in names)
        meter, read_on = quote(opts.get_field("meter").column), quote(opts.get_field("read_on").column)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns} FROM UNNEST(%s::bigint[]) AS m(id) CROSS JOIN LATERAL ("
                f"SELECT * FROM {quote(opts.db_table)} WHERE {meter} = m.id ORDER BY {read_on} DESC LIMIT %s"
                f") AS r ORDER BY r.{meter}, r.{read_on} DESC",
                [meter_ids, SUSPECT_HISTORY],
            )
            rows = cursor.fetchall()
    else:
        rows = (
            MeterReading.objects.filter(meter_id__in=meter_ids)
            .annotate(position=Window(RowNumber(), partition_by=[F("meter_id")], order_by=F("read_on").desc()))
            .filter(position__lte=SUSPECT_HISTORY)
            .order_by("meter_id", "-read_on")
            .values_list("meter_id", "pk", "read_on", "consumption", *_VALUE_FIELDS)
        )
    for meter_id, pk, read_on, consumption, *values in rows:
        recent[meter_id].append(_Known(meter_id, read_on, *values, consumption=consumption, id=pk))
    return recent


def _held_on_days(pairs: set[tuple[int, datetime.date]]) -> dict[tuple[int, datetime.date], _Known]:
    """Readings already held for the chunk's (meter, day) pairs that are older than the meter's recent ones."""
    if not pairs:
        return {}
    meter_ids = {meter_id for meter_id, _day in pairs}
    days = {day for _meter_id, day in pairs}
    rows = MeterReading.objects.filter(meter_id__in=meter_ids, read_on__in=days).values_list(
        "meter_id", "pk", "read_on", "consumption", *_VALUE_FIELDS
    )
    held = {}
    for meter_id, pk, read_on, consumption, *values in rows:
        if (meter_id, read_on) in pairs:
            held[(meter_id, read_on)] = _Known(meter_id, read_on, *values, consumption=consumption, id=pk)
    return held


_INSERT_COLUMNS = (
    "meter", "account", "read_on", "period", "source", "status", "status_reason", "recorded_at", "consumption",
    "consumption_peak", "consumption_flat", "consumption_valley", *_VALUE_FIELDS,
)


def _readings_insert(rows: list[list]) -> list[int]:
    """Insert new readings (values in _INSERT_COLUMNS order, in the driver's form) and return their ids in order.

    Written out rather than through bulk_create: preparing every value through its model field costs more than all
    the checks of a row (about 150 µs a row), and the values here are already what the driver takes: ints, dates
    adapted by the backend, decimals quantized to 2 places and short text."""
    opts = MeterReading._meta
    quote = connection.ops.quote_name
    fields = [opts.get_field(name) for name in _INSERT_COLUMNS]
    head = f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(field.column) for field in fields)})"
    returning = f"RETURNING {quote(opts.pk.column)}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array per column: a statement of a few parameters however many rows (as bulk_create does there).
            arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
            columns = [list(column) for column in zip(*rows)]
            cursor.execute(f"{head} SELECT * FROM UNNEST({arrays}) {returning}", columns)
            return [row[0] for row in cursor.fetchall()]
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        batch = max(1, (connection.features.max_query_params or 30_000) // len(fields))
        ids: list[int] = []
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            cursor.execute(
                f"{head} VALUES {', '.join([placeholders] * len(part))} {returning}",
                [value for row in part for value in row],
            )
            ids.extend(row[0] for row in cursor.fetchall())
        return ids


def _row_date(value) -> datetime.date | None:
    """The row's day when it parses, to look up readings held for it before the row is checked in full."""
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _chunk_import(*, chunk: list[ReadingRow], first_index: int, source: str, report: ImportReport) -> None:
    """Check and insert one chunk inside its own transaction; every row gets one result in `report`."""
    results: list[tuple[int, str, str, _Known | None]] = []
    with transaction.atomic():
        meters = _meters_lock({(row.meter_asset_number or "").strip() for row in chunk})
        by_id = {meter.id: meter for meter in meters.values()}
        recent = _recent_readings(sorted(by_id))
        # Days older than a meter's recent readings may still hold a reading: a re-sent old row is a duplicate.
        older_pairs = set()
        for row in chunk:
            meter = meters.get((row.meter_asset_number or "").strip())
            day = _row_date(row.read_on)
            if meter is not None and day is not None:
                known = recent[meter.id]
                if known and day < known[-1].read_on:
                    older_pairs.add((meter.id, day))
        held = _held_on_days(older_pairs)
        for known in recent.values():
            for reading in known:
                held[(reading.meter_id, reading.read_on)] = reading

        pending: list[list] = []
        dates = connection.ops.adapt_datefield_value
        recorded_at = connection.ops.adapt_datetimefield_value(timezone.now())
        for offset, row in enumerate(chunk):
            row_number = row.row_number or first_index + offset
            try:
                asset = (row.meter_asset_number or "").strip()
                meter = meters.get(asset)
                if meter is None:
                    raise InvalidReading(_("电能表%(meter)s不存在") % {"meter": asset}, field="meter")
                read_on, values = reading_values_clean(
                    read_on=row.read_on, total=row.total, peak=row.peak, flat=row.flat, valley=row.valley,
                    max_demand_kw=row.max_demand_kw, power_factor=row.power_factor,
                )
                known = recent[meter.id]
                same_day = held.get((meter.id, read_on))
                figures = reading_check(
                    meter=meter, read_on=read_on, values=values, latest=known[0] if known else None,
                    same_day=same_day, history=[reading.consumption for reading in known],
                )
            except DomainError as error:
                results.append((row_number, ImportReport.REJECTED, str(error), None))
                continue
            if figures is None:
                results.append((row_number, ImportReport.DUPLICATE, "", same_day))
                continue
            reading = [
                meter.id, meter.account_id, dates(read_on), dates(read_on.replace(day=1)), source, figures.status,
                figures.status_reason, recorded_at, figures.consumption, figures.consumption_peak,
                figures.consumption_flat, figures.consumption_valley, *(values[name] for name in _VALUE_FIELDS),
            ]
            pending.append(reading)
            accepted = _Known(meter.id, read_on, *(values[name] for name in _VALUE_FIELDS),
                              consumption=figures.consumption, pending=len(pending) - 1)
            known.insert(0, accepted)
            del known[SUSPECT_HISTORY:]
            held[(meter.id, read_on)] = accepted
            results.append((row_number, ImportReport.ACCEPTED, "", accepted))
        ids = _readings_insert(pending) if pending else []
    for row_number, status, reason, reading in results:
        if reading is None:
            reading_id = None
        else:
            reading_id = ids[reading.pending] if reading.pending is not None else reading.id
        report.add(RowResult(row_number=row_number, status=status, reason=reason, reading_id=reading_id))


def readings_batch_import(
    *,
    rows: Iterable[ReadingRow],
    source: str,
    progress: Callable[[int], None] | None = None,
    keep_accepted: bool = True,
    chunk_size: int = CHUNK_SIZE,
) -> ImportReport:
    """Import readings set-based: per row accepted, duplicate (the same values already held for that meter and
    day) or rejected with the reason. A rejected row changes nothing; the others go in.

    `progress` is called after each chunk with the number of rows done. With keep_accepted=False the report counts
    accepted rows without holding them (a million-row file). Locks each chunk's meter rows.
    """
    if source not in MeterReading.Source.values:
        raise InvalidReading(_("未知的示数来源"), field="source")
    report = ImportReport(keep_accepted=keep_accepted)
    done = 0
    for chunk in _chunks(rows, chunk_size):
        _chunk_import(chunk=chunk, first_index=done + 1, source=source, report=report)
        done += len(chunk)
        if progress is not None:
            progress(done)
    return report
