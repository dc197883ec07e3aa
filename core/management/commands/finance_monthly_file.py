"""Write the monthly finance file (财务月报文件): one CSV line per county branch for a bill month, then a totals line."""
from __future__ import annotations

import csv
import datetime
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from core.models import Branch
from core.selectors.finance import FinanceFigures, finance_summary

TOTALS_CODE = "TOTAL"


def _period_parse(text: str) -> datetime.date:
    try:
        return datetime.datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise CommandError(_("账期格式应为YYYY-MM，例如2026-01")) from None


def _header() -> list[str]:
    return [
        _("电费年月"),
        _("县公司编码"),
        _("县公司"),
        _("账单张数"),
        _("应收电费"),
        _("实收电费"),
        _("核销"),
        _("欠费"),
        _("违约金"),
        _("违约金实收"),
        _("违约金减免"),
        _("当月入账缴费"),
    ]


def _line(period: datetime.date, code: str, name: str, figures: FinanceFigures) -> list[str]:
    return [
        f"{period:%Y-%m}",
        code,
        name,
        str(figures.bills),
        *(f"{getattr(figures, field):.2f}" for field in FinanceFigures.money_fields()),
    ]


class Command(BaseCommand):
    help = "财务月报：按县公司输出一个电费年月的应收、实收、核销、欠费、违约金和当月入账，末行为合计（CSV，UTF-8）。"

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="电费年月 YYYY-MM")
        parser.add_argument("--out", required=True, help="输出文件路径")
        parser.add_argument("--branch", default=None, help="县公司编码；不填为全部县公司")

    def handle(self, *args, period: str, out: str, branch: str | None, **options):
        month = _period_parse(period)
        found = None
        if branch is not None:
            found = Branch.objects.filter(code=branch).first()
            if found is None:
                raise CommandError(_("县公司编码%(code)s不存在") % {"code": branch})
        target = Path(out)
        if not target.parent.is_dir():
            raise CommandError(_("输出目录%(path)s不存在") % {"path": str(target.parent)})
        summary = finance_summary(period=month, branch=found)
        # Written beside the target and renamed into place: a reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                writer = csv.writer(stream)
                writer.writerow(_header())
                for index, row in enumerate(summary.branches, start=1):
                    writer.writerow(_line(summary.period, row.code, row.name, row.figures))
                    self.stdout.write(f"[{index}/{len(summary.branches)}] {row.code} {row.name}")
                writer.writerow(_line(summary.period, TOTALS_CODE, _("合计"), summary.totals))
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.stdout.write(
            self.style.SUCCESS(
                _("%(period)s财务月报已写入%(path)s：%(count)s个县公司，应收%(receivable)s元，实收%(received)s元，欠费%(outstanding)s元")
                % {
                    "period": f"{summary.period:%Y-%m}",
                    "path": str(target),
                    "count": len(summary.branches),
                    "receivable": f"{summary.totals.receivable:.2f}",
                    "received": f"{summary.totals.received:.2f}",
                    "outstanding": f"{summary.totals.outstanding:.2f}",
                }
            )
        )
