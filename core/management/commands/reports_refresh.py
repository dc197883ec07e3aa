"""Refresh the decision-support summary tables: what changed since the last refresh, or everything with --full."""
from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from core.services.report_refresh import reports_refresh


class Command(BaseCommand):
    help = "Refresh the decision-support summary tables (incremental; --full rebuilds them)."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="re-compute every period of every summary")

    def handle(self, *args, full: bool = False, **options):
        def progress(summary: str, done: int, total: int) -> None:
            self.stdout.write(f"  {summary:<14} {done}/{total} {_('期间')}")

        self.stdout.write(_("正在刷新决策支持汇总表（%(mode)s）") % {"mode": _("全量") if full else _("增量")})
        report = reports_refresh(full=full, progress=progress)
        for summary, periods in report.periods.items():
            shown = _("全部") if periods == ["*"] else (", ".join(periods) or _("无变化"))
            self.stdout.write(f"  {summary:<14} {shown}")
        self.stdout.write(self.style.SUCCESS(
            _("完成：%(mode)s，写入 %(rows)s 行，用时 %(seconds)s 秒")
            % {"mode": _("全量") if report.full else _("增量"), "rows": report.rows, "seconds": report.seconds}
        ))
