"""Run the business audit rules (稽查) now, as the daily task does, or over the whole ledger to catch up."""
from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import AuditRule
from core.services.audit_rules import audit_scan


def _day_parse(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(_("日期格式应为YYYY-MM-DD，例如2026-11-05")) from None


class Command(BaseCommand):
    help = "稽查：按稽查规则扫描用电量与账务，生成稽查疑点（重复执行不会重复生成）。"

    def add_arguments(self, parser):
        parser.add_argument("--as-of", default="", help="按该日期所在月及上月的电量扫描（默认今天）YYYY-MM-DD")
        parser.add_argument("--full", action="store_true", help="扫描全部账务流水（默认只扫描最近35天）")

    def handle(self, *args, as_of: str, full: bool, **options):
        day = _day_parse(as_of) if as_of else timezone.localdate()
        result = audit_scan(as_of=day, full=full)
        months = ", ".join(period.strftime("%Y-%m") for period in result.periods)
        self.stdout.write(_("电费年月：%(months)s") % {"months": months})
        labels = dict(AuditRule.choices)
        for rule, count in result.raised.items():
            self.stdout.write(_("%(rule)s：新增%(count)s条") % {"rule": labels[rule], "count": count})
        self.stdout.write(_("共新增稽查疑点%(count)s条") % {"count": result.total})
