"""Import a bank's collection (代收) file: every line posted once to its account."""
from __future__ import annotations

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.management.bank_commands import BankCommand
from core.services.bank_exchange import bank_collection_import


class Command(BankCommand):
    help = "代收：导入银行的代收明细文件并入账（每个流水号只入账一次）。有误的文件整体退回并指明行号。"

    def add_arguments(self, parser):
        self.add_bank_argument(parser)
        parser.add_argument("file", help="代收明细文件")

    def handle(self, *args, bank: str, file: str, **options):
        found = self.bank(bank)
        content = self.file_read(file)
        try:
            report = bank_collection_import(bank=found, content=content, progress=self.progress_printer(_("笔/秒")))
        except DomainError as error:
            raise CommandError(str(error)) from None
        self.import_summary(report)
