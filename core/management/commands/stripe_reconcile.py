"""Reconcile one day of Stripe charges with our online payments and the ledger (what the daily task
core.stripe_reconcile does); print the differences, keep them in VAR_DIR/reconciliation/stripe-<day>.json and store
them for the staff page (网上缴费对账), a re-run of a day replacing its result."""
from __future__ import annotations

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import OnlinePaymentError
from core.services.online_reconciliation import online_reconciliation_run
from portal.payments.stripe_gateway import StripeGateway


class Command(BaseCommand):
    help = "网上缴费对账：比对某日Stripe扣款与在线支付及账务记录，列出差异（默认昨天）。"

    def add_arguments(self, parser):
        parser.add_argument("--day", help="对账日期 YYYY-MM-DD（北京时间），默认昨天")

    def handle(self, *args, day: str | None, **options):
        try:
            when = datetime.date.fromisoformat(day) if day else timezone.localdate() - datetime.timedelta(days=1)
        except ValueError:
            raise CommandError(_("日期格式应为 YYYY-MM-DD")) from None
        if not StripeGateway.configured():
            raise CommandError(_("未配置Stripe密钥，无法对账"))

        def progress(number: int, total: int) -> None:
            if number == total or number % 500 == 0:
                self.stdout.write(_("已核对 %(number)d / %(total)d 笔扣款") % {"number": number, "total": total})

        try:
            run = online_reconciliation_run(
                day=when, gateway=StripeGateway.from_settings(), directory=settings.VAR_DIR / "reconciliation",
                progress=progress,
            )
        except OnlinePaymentError as refusal:
            raise CommandError(f"{refusal.message} {getattr(refusal, 'detail', '')}".strip()) from None
        result = run.result
        self.stdout.write(
            _("%(day)s：Stripe扣款 %(charges)d 笔，本地在线支付 %(payments)d 笔，差异 %(differences)d 项")
            % {"day": when.isoformat(), "charges": result.charges, "payments": result.payments,
               "differences": len(result.differences)}
        )
        for difference in result.differences:
            self.stdout.write(f"  {difference.kind}\t{difference.reference}\t{difference.detail}")
        self.stdout.write(_("差异已保存到 %(path)s") % {"path": run.path})
