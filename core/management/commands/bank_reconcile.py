"""Reconcile a bank's daily statement against the ledger: import the statement file (or use the one already
imported for --date) and print matched, missing at bank, missing in ledger and amounts that differ."""
from __future__ import annotations

import datetime

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.management.bank_commands import BankCommand
from core.services.bank_exchange import bank_reconciliation_build, bank_statement_import


class Command(BankCommand):
    help = "银行对账：导入银行对账文件（或用已导入的某日对账文件），与账务记录逐笔比对并列出差异。"

    def add_arguments(self, parser):
        self.add_bank_argument(parser)
        parser.add_argument("file", nargs="?", help="对账文件；省略时用 --date 当日已导入的对账文件")
        parser.add_argument("--date", help="对账日期 YYYY-MM-DD（省略文件时必填）")

    def handle(self, *args, bank: str, file: str | None, date: str | None, **options):
        found = self.bank(bank)
        if file is None and not date:
            raise CommandError(_("请给出对账文件或 --date"))
        try:
            if file is not None:
                self.stdout.write(_("正在导入对账文件 %(path)s") % {"path": file})
                content = self.file_read(file)
                statement = bank_statement_import(bank=found, content=content, progress=self.progress_printer(_("笔/秒")))
                day = statement.business_date
            else:
                try:
                    day = datetime.date.fromisoformat(date)
                except ValueError:
                    raise CommandError(_("日期格式应为 YYYY-MM-DD")) from None
            report = bank_reconciliation_build(bank=found, business_date=day)
        except DomainError as error:
            raise CommandError(str(error)) from None
        self.reconciliation_summary(report)
