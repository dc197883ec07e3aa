"""Export a bank's withholding (代扣) requests for one business day to a file in the bank's layout."""
from __future__ import annotations

import datetime
from pathlib import Path

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.management.bank_commands import BankCommand
from core.services.bank_exchange import bank_batch_file_name, bank_batch_render, withholding_batch_create


class Command(BankCommand):
    help = "代扣：为某银行生成某业务日期的代扣请求批次并写出文件（有有效代扣协议且欠费的用电户）。"

    def add_arguments(self, parser):
        self.add_bank_argument(parser)
        parser.add_argument("--date", help="业务日期 YYYY-MM-DD，默认今天（北京时间）")
        parser.add_argument("--out", required=True, help="输出文件或目录（目录时用批次文件名）")

    def handle(self, *args, bank: str, date: str | None, out: str, **options):
        try:
            day = datetime.date.fromisoformat(date) if date else timezone.localdate()
        except ValueError:
            raise CommandError(_("日期格式应为 YYYY-MM-DD")) from None
        found = self.bank(bank)
        try:
            batch = withholding_batch_create(bank=found, business_date=day, progress=self.progress_printer(_("户/秒")))
        except DomainError as error:
            raise CommandError(str(error)) from None
        target = Path(out)
        if target.is_dir():
            target = target / bank_batch_file_name(batch=batch)
        try:
            target.write_bytes(bank_batch_render(batch=batch))
        except OSError as error:
            raise CommandError(_("无法写入文件%(path)s：%(error)s") % {"path": target, "error": error.strerror}) from None
        self.stdout.write(
            self.style.SUCCESS(
                _("%(bank)s 代扣请求批次%(number)s：%(count)d笔，总金额%(total)s元，已写入%(path)s")
                % {
                    "bank": found.name,
                    "number": batch.batch_number,
                    "count": batch.record_count,
                    "total": f"{batch.total_amount:.2f}",
                    "path": target,
                }
            )
        )
