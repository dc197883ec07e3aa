"""Run (or resume) the billing run of one county branch for one month, with a progress line per batch."""
from __future__ import annotations

import datetime
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.models import BillingRun, Branch
from core.services.billing import billing_run_execute

BAR_WIDTH = 30


def _period_parse(text: str) -> datetime.date:
    try:
        return datetime.datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise CommandError(_("账期格式应为YYYY-MM，例如2026-01")) from None


class Command(BaseCommand):
    help = "抄核收：对一个县公司的一个电费年月执行（或断点续跑）批量出账。"

    def add_arguments(self, parser):
        parser.add_argument("--branch", required=True, help="县公司编码")
        parser.add_argument("--period", required=True, help="电费年月 YYYY-MM")
        parser.add_argument("--batch-size", type=int, default=None, help="每批户数")

    def handle(self, *args, branch: str, period: str, batch_size: int | None, **options):
        month = _period_parse(period)
        if batch_size is not None and batch_size < 1:
            raise CommandError(_("每批户数必须大于0"))
        found = Branch.objects.filter(code=branch).first()
        if found is None:
            raise CommandError(_("县公司编码%(code)s不存在") % {"code": branch})
        # A resumed run counts its speed from what this invocation did, not from the earlier attempt.
        done_before = (
            BillingRun.objects.filter(branch=found, period=month).values_list("accounts_done", flat=True).first() or 0
        )
        started = time.monotonic()

        def progress(run: BillingRun) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            filled = BAR_WIDTH * run.progress_percent // 100
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stdout.write(
                f"[{bar}] {run.progress_percent:3d}% {run.accounts_done}/{run.accounts_total} "
                f"{(run.accounts_done - done_before) / elapsed:,.0f} 户/秒"
            )

        try:
            run = billing_run_execute(branch=found, period=month, batch_size=batch_size, progress=progress)
        except DomainError as error:
            raise CommandError(str(error)) from error
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "%(branch)s %(period)s：状态%(status)s，处理%(done)s户，出账%(issued)s张，"
                    "挂起%(held)s户，跳过%(skipped)s户，用时%(seconds).1f秒"
                )
                % {
                    "branch": found.name,
                    "period": f"{month:%Y-%m}",
                    "status": run.get_status_display(),
                    "done": run.accounts_done,
                    "issued": run.bills_issued,
                    "held": run.accounts_held,
                    "skipped": run.accounts_skipped,
                    "seconds": elapsed,
                }
            )
        )
