"""Run one SLA scan of ticket steps (the code of the beat task core.sla_tick) and print what it raised."""
from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from core.services.ticket_sla import DEFAULT_LIMIT, SlaMark, sla_scan


def _numbers(marks: tuple[SlaMark, ...]) -> str:
    """The tickets concerned, each once, in the order raised."""
    return ", ".join(dict.fromkeys(mark.ticket_number for mark in marks))


class Command(BaseCommand):
    help = "工单时限：执行一次扫描（预警、超时标记、超时自动跳过），列出本次发出的提醒。"

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="每类最多处理的环节数")
        parser.add_argument("--language", default=settings.LANGUAGE_CODE,
                            choices=[code for code, _name in settings.LANGUAGES], help="输出语言")

    def handle(self, *args, limit: int, language: str, **options):
        if limit < 1:
            raise CommandError(_("每类最多处理的环节数必须大于0"))
        result = sla_scan(limit=limit)
        with translation.override(language):
            lines = [
                (_("预警：%(count)d 个环节") % {"count": len(result.warned)}, result.warned),
                (_("超时：%(count)d 个环节") % {"count": len(result.overdue)}, result.overdue),
                (_("超时自动跳过：%(count)d 个环节") % {"count": len(result.skipped)}, result.skipped),
            ]
            for line, marks in lines:
                self.stdout.write(line)
                if marks:
                    self.stdout.write("  " + _("工单号：%(numbers)s") % {"numbers": _numbers(marks)})
            self.stdout.write(_("新增考核记录：%(count)d 条") % {"count": result.evaluations})
            if not result.total:
                self.stdout.write(self.style.SUCCESS(_("没有到期的预警或超时")))
