"""What the bank file commands share: the bank option, reading the file, a progress bar, the import summary."""
from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.models.banks import Bank
from core.services.bank_exchange import BankImportReport, ReconciliationReport, bank_get

BAR_WIDTH = 30


class BankCommand(BaseCommand):
    def add_bank_argument(self, parser) -> None:
        parser.add_argument("--bank", required=True, help="银行编码，例如ICBC")

    def bank(self, code: str) -> Bank:
        try:
            return bank_get(code=code)
        except DomainError as error:
            raise CommandError(str(error)) from None

    def file_read(self, path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as error:
            raise CommandError(_("无法读取文件%(path)s：%(error)s") % {"path": path, "error": error.strerror}) from None

    def progress_printer(self, unit: str):
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            percent = 100 * done // total if total else 100
            filled = BAR_WIDTH * percent // 100
            rate = done / max(time.monotonic() - started, 1e-6)
            self.stdout.write(f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {percent:3d}% {done}/{total} {rate:,.0f} {unit}")

        return progress

    def import_summary(self, report: BankImportReport) -> None:
        batch = report.batch
        if report.replayed:
            self.stdout.write(_("批次%(number)s已导入过，以下为首次导入的结果") % {"number": batch.batch_number})
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "%(bank)s 批次%(number)s（%(day)s）：%(lines)d笔，入账%(posted)d笔 %(posted_amount)s元，"
                    "重复%(duplicates)d笔，扣款失败%(failed)d笔 %(failed_amount)s元"
                )
                % {
                    "bank": batch.bank.name,
                    "number": batch.batch_number,
                    "day": batch.business_date.isoformat(),
                    "lines": report.lines,
                    "posted": report.posted,
                    "posted_amount": f"{report.posted_amount:.2f}",
                    "duplicates": report.duplicates,
                    "failed": report.failed,
                    "failed_amount": f"{report.failed_amount:.2f}",
                }
            )
        )

    def reconciliation_summary(self, report: ReconciliationReport) -> None:
        self.stdout.write(
            _("%(bank)s %(day)s 对账（对账文件批次%(number)s）")
            % {"bank": report.bank.name, "day": report.business_date.isoformat(), "number": report.statement.batch_number}
        )
        for label, group in (
            (_("相符"), report.matched),
            (_("银行无记录"), report.missing_at_bank),
            (_("账务无记录"), report.missing_in_ledger),
            (_("金额不符"), report.amount_differs),
        ):
            self.stdout.write(
                _("%(label)s：%(count)d笔，银行%(bank)s元，账务%(ledger)s元")
                % {"label": label, "count": group.count, "bank": f"{group.bank_amount:.2f}", "ledger": f"{group.ledger_amount:.2f}"}
            )
            if group is report.matched:
                continue
            for item in group.items:
                bank_amount = "-" if item.bank_amount is None else f"{item.bank_amount:.2f}"
                ledger_amount = "-" if item.ledger_amount is None else f"{item.ledger_amount:.2f}"
                self.stdout.write(f"  {item.serial}\t{item.account_number}\t{bank_amount}\t{ledger_amount}")
        if report.balanced:
            self.stdout.write(self.style.SUCCESS(_("对账平衡")))
        else:
            self.stdout.write(self.style.WARNING(_("对账不平衡，请核查以上差异")))
