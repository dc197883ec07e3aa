"""Apply a distribution-network topology document (JSON) from a file, with a progress line per step, then the
diff report's counts; --dry-run only works out the report."""
from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from core.services.topology_import import TopologyImportRefused, topology_document_parse, topology_import_apply

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "配网拓扑导入：读取配网信息系统的JSON文档（全量或增量），按差异应用并输出报告；--dry-run只试算。"

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSON文档路径")
        parser.add_argument("--dry-run", action="store_true", help="只计算差异报告，不修改")

    def handle(self, *args, file: str, dry_run: bool, **options):
        path = Path(file)
        try:
            # Capacities stay decimals: a float would not carry 0.01 exactly.
            data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        except FileNotFoundError:
            raise CommandError(_("文件%(path)s不存在") % {"path": file}) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CommandError(_("文件%(path)s不是UTF-8编码的JSON：%(error)s") % {"path": file, "error": error}) from None
        started = time.monotonic()

        def progress(step: str, done: int, total: int) -> None:
            percent = 100 if not total else done * 100 // total
            filled = BAR_WIDTH * percent // 100
            self.stdout.write(f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {percent:3d}% {step} {done}/{total}")

        try:
            document = topology_document_parse(data=data)
            record = topology_import_apply(
                document=document, source=f"file:{path.name}", dry_run=dry_run, progress=progress
            )
        except TopologyImportRefused as refusal:
            for where, messages in refusal.errors.items():
                for message in messages:
                    self.stderr.write(f"{where}: {message}")
            raise CommandError(str(refusal)) from refusal
        counts = record.report["counts"]
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "%(what)s #%(id)s：新增%(created)s，修改%(updated)s，迁移%(moved)s，退运%(retired)s，未变%(unchanged)s，"
                    "重新挂接用电户%(accounts)s，用时%(seconds).1f秒"
                )
                % {
                    "what": _("试算（未修改）") if dry_run else _("已导入"),
                    "id": record.pk,
                    "created": counts["created"],
                    "updated": counts["updated"],
                    "moved": counts["moved"],
                    "retired": counts["retired"],
                    "unchanged": counts["unchanged"],
                    "accounts": counts["accounts_remapped"],
                    "seconds": time.monotonic() - started,
                }
            )
        )
