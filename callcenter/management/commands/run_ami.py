"""The Asterisk worker: stays logged in to the PBX's manager interface, records calls from its events, runs the IVR
over AsyncAGI and the console's PBX commands. Ends cleanly on SIGTERM/SIGINT (logoff, facts written, exit 0)."""
from __future__ import annotations

import asyncio
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from callcenter.adapters.ami import AmiLoginRefused
from callcenter.worker import AmiWorker, ami_settings_from_django

# Exit codes: 1 configuration missing (Django's CommandError default), 2 the PBX keeps refusing the login.
EXIT_LOGIN_REFUSED = 2


class Command(BaseCommand):
    help = "呼叫中心：连接Asterisk管理接口（AMI），记录来电、运行语音导航并执行坐席的话务指令。"

    def add_arguments(self, parser):
        parser.add_argument("--max-login-refusals", type=int, default=5,
                            help="连续登录被拒多少次后退出（0表示一直重试）")
        parser.add_argument("--progress-seconds", type=float, default=60.0, help="每隔多少秒输出一行统计")
        parser.add_argument("--lanes", type=int, default=None,
                            help="并行写入呼叫事实的数据库线程数（默认：PostgreSQL为2，SQLite为1）")

    def handle(self, *args, max_login_refusals: int, progress_seconds: float, lanes: int | None, **options):
        if not settings.AMI_HOST:
            raise CommandError(_("未设置AMI_HOST：请在环境变量中配置Asterisk管理接口的地址（以及AMI_PORT、"
                                 "AMI_USERNAME、AMI_SECRET）"))
        if not settings.AMI_USERNAME:
            raise CommandError(_("未设置AMI_USERNAME：请配置Asterisk管理接口的登录用户"))
        if max_login_refusals < 0 or progress_seconds <= 0 or (lanes is not None and lanes < 1):
            raise CommandError(_("参数必须为正数"))
        worker = AmiWorker(ami=ami_settings_from_django(max_login_refusals=max_login_refusals), lanes=lanes)
        self.stdout.write(_("连接Asterisk管理接口 %(host)s:%(port)s，用户 %(user)s") % {
            "host": settings.AMI_HOST, "port": settings.AMI_PORT, "user": settings.AMI_USERNAME})
        try:
            asyncio.run(self._run(worker, progress_seconds))
        except AmiLoginRefused as error:
            raise CommandError(
                _("Asterisk连续%(count)d次拒绝登录（%(error)s）：请检查AMI_USERNAME和AMI_SECRET") % {
                    "count": worker.session.login_refusals, "error": error},
                returncode=EXIT_LOGIN_REFUSED,
            ) from error
        self.stdout.write(self.style.SUCCESS(_("已注销并退出：%(summary)s") % {"summary": self._summary(worker)}))

    async def _run(self, worker: AmiWorker, progress_seconds: float) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop)
        progress = asyncio.create_task(self._progress(worker, progress_seconds))
        try:
            await worker.run()
        finally:
            progress.cancel()

    async def _progress(self, worker: AmiWorker, seconds: float) -> None:
        connects = 0
        started = time.monotonic()
        while True:
            await asyncio.sleep(min(seconds, 0.5) if connects == worker.session.connects else 0)
            if worker.session.connects != connects:
                connects = worker.session.connects
                self.stdout.write(_("已登录（第%(count)d次连接）") % {"count": connects})
                self.stdout.flush()
            if time.monotonic() - started >= seconds:
                started = time.monotonic()
                self.stdout.write(self._summary(worker))
                self.stdout.flush()

    def _summary(self, worker: AmiWorker) -> str:
        stats = worker.stats
        return _("事件%(events)d条，写入呼叫事实%(facts)d条，在途通话%(calls)d通，话务指令%(commands)d条") % {
            "events": stats.events, "facts": stats.facts, "calls": worker.tracker.live_calls,
            "commands": stats.commands}
