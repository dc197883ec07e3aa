"""The monthly quality pack (质量月报): every quality report of a month in one Excel workbook, written at the start
of the next month by beat (core.quality_reports_monthly) and kept under VAR_DIR/reports/quality/ for the quality
pages to offer. A rerun for the same month replaces its file."""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from core.selectors.quality_reports import ReportPeriod

PACK_NAME = re.compile(r"^quality-(\d{4})-(\d{2})\.xlsx$")


def quality_monthly_directory() -> Path:
    return Path(settings.VAR_DIR) / "reports" / "quality"


def _pack_name(month: datetime.date) -> str:
    return f"quality-{month:%Y-%m}.xlsx"


@dataclass(frozen=True)
class MonthlyPack:
    month: datetime.date
    path: Path
    size: int

    @property
    def name(self) -> str:
        return self.path.name


def quality_monthly_pack_write(*, period: ReportPeriod, directory: Path) -> Path:
    """Write the month's workbook (directory/quality-YYYY-MM.xlsx) through a temporary file, so the pages never
    offer half a file."""
    from core.staff.quality_tables import quality_pack, tables_xlsx

    content = tables_xlsx(quality_pack(period=period))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / _pack_name(period.first)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(content)
    temporary.replace(path)
    return path


def quality_monthly_packs(*, directory: Path) -> list[MonthlyPack]:
    """The packs written so far, newest month first."""
    if not directory.is_dir():
        return []
    packs = []
    for path in directory.iterdir():
        match = PACK_NAME.match(path.name)
        if match and path.is_file():
            month = datetime.date(int(match[1]), int(match[2]), 1)
            packs.append(MonthlyPack(month=month, path=path, size=path.stat().st_size))
    return sorted(packs, key=lambda pack: pack.month, reverse=True)


def quality_monthly_pack_path(*, month: datetime.date, directory: Path) -> Path | None:
    path = directory / _pack_name(month)
    return path if path.is_file() else None
