"""Build the 恩施 demo: organisation, grid topology, customers and 24 months of history, deterministically."""
from __future__ import annotations

import datetime
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.demo.calls import demo_calls_seed
from core.demo.operations import demo_operations_seed, demo_reports_prepare
from core.demo.seeding import DemoSeedResult, demo_seed
from core.demo.tickets import demo_tickets_seed
from core.errors import DomainError
from core.services.demo_logins import demo_customer_accounts_bind, demo_users_ensure
from core.signals import demo_data_seeded


class ProgressBar:
    """One line per phase: percent, items and rows per second; redrawn in place on a terminal."""

    def __init__(self, stream, label: str, total: int, unit: str) -> None:
        self.stream = stream
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
        self.started = time.monotonic()
        self.tty = getattr(stream, "isatty", lambda: False)()
        self.last_tenth = -1

    def update(self, done: int, rows: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        percent = done * 100 // self.total
        filled = percent * 30 // 100
        line = (
            f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {percent:3d}% {done}/{self.total} {self.unit} "
            f"{done / elapsed:,.0f} {self.unit}/s {rows / elapsed:,.0f} rows/s"
        )
        if self.tty:
            self.stream.write("\r" + line, ending="")
            self.stream.flush()
        elif percent // 10 != self.last_tenth or done >= self.total:
            self.stream.write(line)
        self.last_tenth = percent // 10

    def close(self) -> None:
        if self.tty:
            self.stream.write("")


def _positive_int(raw, name: str) -> int:
    text = str(raw).strip()
    if not text.lstrip("-").isdigit():
        raise CommandError(_("%(name)s 必须是正整数，收到“%(value)s”") % {"name": name, "value": raw})
    value = int(text)
    if value <= 0:
        raise CommandError(_("%(name)s 必须是正整数，收到“%(value)s”") % {"name": name, "value": raw})
    return value


class Command(BaseCommand):
    help = "Seed the deterministic 恩施 demo (organisation, topology, customers, 24 months of readings and history)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", default="2000", help="number of demo customers (default 2000)")
        parser.add_argument("--seed", default="95598", help="random seed (default 95598)")
        parser.add_argument("--chunk-size", default="", help="customers per transaction (default 2000, SQLite 500)")
        parser.add_argument(
            "--today", default="", help="pretend today is YYYY-MM-DD (history ends with the month before it)"
        )

    def handle(self, *args, **options):
        customers = _positive_int(options["customers"], "--customers")
        seed = _positive_int(options["seed"], "--seed")
        chunk_size = _positive_int(options["chunk_size"], "--chunk-size") if options["chunk_size"] else None
        today = timezone.localdate()
        if options["today"]:
            try:
                today = datetime.date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError(_("--today 应为 YYYY-MM-DD 格式的日期")) from None
        bars: dict[str, ProgressBar] = {}

        def progress(phase: str, label: str, done: int, total: int, rows: int, unit: str) -> None:
            if phase not in bars:
                bars[phase] = ProgressBar(self.stdout, label, total, unit)
            bars[phase].update(done, rows)
            if done >= total:
                bars[phase].close()

        started = time.monotonic()
        try:
            result: DemoSeedResult = demo_seed(
                customers=customers, seed=seed, today=today, chunk_size=chunk_size, progress=progress
            )
        except DomainError as error:
            raise CommandError(str(error)) from error
        # The demo's staff logins and the portal's CMS home page belong to a ready-to-show demo too.
        demo_users_ensure(allow_fixed_passwords=True)
        demo_data_seeded.send(sender=self.__class__, stdout=self.stdout)
        elapsed = time.monotonic() - started
        if result.customers_added == 0:
            self.stdout.write(
                _("演示数据已存在：%(n)s 户客户，未新增任何数据。") % {"n": result.customers_total}
            )
        else:
            self.stdout.write(
                _("新增 %(added)s 户客户（共 %(total)s 户），写入 %(rows)s 行。")
                % {"added": result.customers_added, "total": result.customers_total, "rows": result.rows_written}
            )
        for table, count in result.table_counts.items():
            self.stdout.write(f"  {table:<24} {count:>12,}")
        rate = result.customers_added / elapsed if elapsed else 0
        self.stdout.write(
            _("用时 %(s).1f 秒（%(rate).0f 户/秒）；历史月份 %(first)s ~ %(last)s，%(last)s 的抄表示数待计费。")
            % {"s": elapsed, "rate": rate, "first": f"{result.months[0]:%Y-%m}", "last": f"{result.months[-1]:%Y-%m}"}
        )
        # Tickets in the demo staff's queues, worked through the engine (needs the demo logins above).
        tickets = demo_tickets_seed(stdout=self.stdout)
        # The hotline's demo: agents on the queue and the last 24 hours of calls, so the wallboard has a day to show.
        demo_calls_seed(stdout=self.stdout)
        # The business hall's counter days and the withholding agreements (needs the demo cashier and accountant).
        operations = demo_operations_seed(stdout=self.stdout)
        # The demo customer signs in to a home account with a bill to pay and a smart-prepaid one already bound
        # (chosen once the counter days above have taken their payments).
        demo_customer_accounts_bind()
        # Last, over everything above: the audit work list and the decision-support summaries (which calls do not
        # feed: the sliding day of calls alone does not call for a rebuild).
        changed = bool(result.customers_added or tickets.added or operations.added)
        demo_reports_prepare(changed=changed, stdout=self.stdout)
        self.stdout.write(
            _("接口密钥：为外部系统生成一把（只显示一次），例如 %(command)s")
            % {"command": "manage.py api_client_create --name 用电信息采集系统 --system acquisition "
                          "--scope readings:write --scope meter_events:write"}
        )
        sys.stdout.flush()
