"""Ensure the demo logins exist and print them as a table: role, username, password, where to log in."""
from __future__ import annotations

import unicodedata

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.services.demo_logins import DEMO_CUSTOMER, demo_customer_accounts, demo_totp_secret, demo_users_ensure


def display_width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def table_render(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(display_width(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell + " " * (width - display_width(cell)) for cell, width in zip(cells, widths)).rstrip()

    return [line(headers), "  ".join("-" * width for width in widths), *(line(row) for row in rows)]


def demo_accounts_lines() -> list[str]:
    """What the demo customer finds bound, and an account they may bind themselves with the answers binding asks."""
    accounts = demo_customer_accounts()
    bound = [account for account in accounts if account.bound]
    lines = []
    if bound:
        lines.append(_("%(user)s 已绑定的户号：") % {"user": DEMO_CUSTOMER} + _("、").join(
            (_("%(number)s（%(label)s，智能交费）") if account.prepaid else _("%(number)s（%(label)s）"))
            % {"number": account.number, "label": account.label or _("未备注")}
            for account in bound
        ))
    to_try = [account for account in accounts if not account.bound]
    if to_try:
        lines.append(_("自行绑定试试：户号 %(number)s，户主姓名 %(name)s，证件号后四位 %(digits)s") % {
            "number": to_try[0].number, "name": to_try[0].holder_name, "digits": to_try[0].id_last4,
        })
    return lines


class Command(BaseCommand):
    help = "Create (idempotently) and list the demo logins for every role."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-fixed-passwords",
            action="store_true",
            help="Create the demo users even with DEBUG off (never on a public server).",
        )
        parser.add_argument("--base-url", default="", help="Prefix for the login addresses, e.g. http://127.0.0.1:8000")

    def handle(self, *args, allow_fixed_passwords: bool, base_url: str, **options):
        try:
            logins = demo_users_ensure(allow_fixed_passwords=allow_fixed_passwords)
        except DomainError as error:
            raise CommandError(str(error)) from error
        base = base_url.rstrip("/")
        rows = [[login.role_label, login.username, login.password, base + login.url] for login in logins]
        for text in table_render([_("角色"), _("用户名"), _("密码"), _("登录地址")], rows):
            self.stdout.write(text)
        for text in demo_accounts_lines():
            self.stdout.write(text)
        secret = demo_totp_secret()
        if secret:
            self.stdout.write(_("员工账号登录需两步验证，身份验证器密钥（TOTP）：%(secret)s") % {"secret": secret})
