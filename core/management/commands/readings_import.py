"""Import a reading file (CSV or JSON, as POST /api/v1/readings/ takes them) set-based, with a progress line per
chunk and every row that was not accepted reported (on screen, and in full with --report)."""
from __future__ import annotations

import csv
import json
import time
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.models import MeterReading
from core.services.readings import ImportReport, ReadingRow
from core.services.readings_batch import CHUNK_SIZE, ReadingFileInvalid, readings_batch_import, readings_csv_rows

BAR_WIDTH = 30
READING_KEYS = ("total", "peak", "flat", "valley", "max_demand_kw", "power_factor")


def _json_rows(path: Path) -> tuple[str | None, list[ReadingRow]]:
    """{"source": ..., "readings": [...]} or a bare list of readings; numbers read as decimals."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            data = json.load(handle, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as error:
        raise CommandError(_("JSON文件无法解析：%(error)s") % {"error": error}) from None
    source = None
    if isinstance(data, dict):
        source = data.get("source")
        data = data.get("readings")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise CommandError(_("JSON文件应为读数列表，或带 readings 列表的对象"))
    rows = [
        ReadingRow(
            meter_asset_number=str(item.get("meter") or ""),
            read_on=item.get("read_on"),
            row_number=index,
            **{key: item.get(key) for key in READING_KEYS},
        )
        for index, item in enumerate(data, start=1)
    ]
    return source, rows


class Command(BaseCommand):
    help = "导入抄表示数文件（CSV或JSON，格式同 POST /api/v1/readings/），逐行给出结果。"

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV（首行表头 meter,read_on,total[,peak,flat,valley,...]）或JSON文件")
        parser.add_argument("--format", choices=["csv", "json"], default=None, help="默认按扩展名判断")
        parser.add_argument("--source", default=None, help="来源：ami（默认）、manual、estimate")
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="每批行数")
        parser.add_argument("--report", default=None, help="把未接受的行（行号、结果、原因）写入此CSV文件")
        parser.add_argument("--show", type=int, default=20, help="屏幕上最多列出多少条未接受的行")

    def handle(self, *args, file: str, format: str | None, source: str | None, chunk_size: int,
               report: str | None, show: int, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("文件不存在：%(path)s") % {"path": file})
        if chunk_size < 1:
            raise CommandError(_("每批行数必须大于0"))
        kind = format or ("json" if path.suffix.lower() == ".json" else "csv")
        if kind == "json":
            file_source, rows = _json_rows(path)
            total = len(rows)
            source = source or file_source or MeterReading.Source.AMI
        else:
            source = source or MeterReading.Source.AMI
            total = self._csv_check(path)
            rows = None
        if source not in ("ami", "manual", "estimate"):
            raise CommandError(_("未知的示数来源：%(source)s") % {"source": source})
        if total == 0:
            raise CommandError(_("文件中没有数据行"))

        started = time.monotonic()

        def progress(done: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            filled = BAR_WIDTH * done // total
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stdout.write(
                f"[{bar}] {100 * done // total:3d}% {done:,}/{total:,} " + _("%(rate)s 行/秒")
                % {"rate": f"{done / elapsed:,.0f}"}
            )

        try:
            if rows is None:
                with path.open(encoding="utf-8-sig", newline="") as handle:
                    result = readings_batch_import(
                        rows=readings_csv_rows(lines=handle), source=source, progress=progress,
                        keep_accepted=False, chunk_size=chunk_size,
                    )
            else:
                result = readings_batch_import(
                    rows=rows, source=source, progress=progress, keep_accepted=False, chunk_size=chunk_size
                )
        except DomainError as error:
            raise CommandError(str(error)) from error
        elapsed = time.monotonic() - started
        self._rows_show(result, show)
        if report:
            self._report_write(Path(report), result)
        self.stdout.write(self.style.SUCCESS(
            _("共%(total)s行：接受%(accepted)s，重复%(duplicates)s，拒绝%(rejected)s；用时%(seconds).1f秒，%(rate)s行/秒")
            % {
                "total": f"{result.total:,}", "accepted": f"{result.accepted:,}",
                "duplicates": f"{result.duplicates:,}", "rejected": f"{result.rejected:,}",
                "seconds": elapsed, "rate": f"{result.total / max(elapsed, 1e-6):,.0f}",
            }
        ))

    def _csv_check(self, path: Path) -> int:
        """Read the file through once: a malformed file is refused whole before anything is imported."""
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return sum(1 for _row in readings_csv_rows(lines=handle))
        except UnicodeDecodeError:
            raise CommandError(_("CSV文件应为UTF-8编码")) from None
        except ReadingFileInvalid as error:
            where = "" if error.field == "__all__" else f"{error.field}: "
            raise CommandError(f"{where}{error}") from None

    def _rows_show(self, result: ImportReport, show: int) -> None:
        for row in result.rows[:show]:
            label = _("重复") if row.status == ImportReport.DUPLICATE else _("拒绝")
            self.stdout.write(_("第%(row)s行 %(status)s %(reason)s") % {
                "row": row.row_number, "status": label, "reason": row.reason,
            })
        if len(result.rows) > show:
            self.stdout.write(_("……另有%(count)s行未列出") % {"count": len(result.rows) - show})

    def _report_write(self, path: Path, result: ImportReport) -> None:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "status", "reason", "reading_id"])
            for row in result.rows:
                writer.writerow([row.row_number, row.status, row.reason, row.reading_id or ""])
        self.stdout.write(_("未接受的行已写入%(path)s") % {"path": path})
