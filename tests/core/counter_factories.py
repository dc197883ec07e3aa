"""A small business-hall world for the counter tests: two branches, an outlet each, cashiers and accountants."""
from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model

from core.models import Branch, StaffAssignment
from core.models.counter import CounterCashier, CounterOutlet, DepositAccount
from core.services.roles import ROLE_BRANCH_ACCOUNTANT, ROLE_CASHIER, role_group
from tests.factories import BranchFactory
from tests.ticket_factories import post

SHANGHAI = ZoneInfo("Asia/Shanghai")
_codes = itertools.count(1)


def at(year, month, day, hour=10, minute=0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def outlet_create(*, branch: Branch, name: str = "营业厅") -> CounterOutlet:
    return CounterOutlet.objects.create(branch=branch, code=f"YYT{next(_codes):02d}", name=name)


def deposit_account_create(*, branch: Branch, number: str | None = None) -> DepositAccount:
    return DepositAccount.objects.create(
        branch=branch, bank_name="中国工商银行恩施分行", account_number=number or f"1809{next(_codes):012d}"
    )


def cashier_create(*, outlet: CounterOutlet, username: str):
    """A staff user in the 收费员 role, holding the post in the outlet's branch, seated at the outlet."""
    user = get_user_model().objects.create_user(username=username, password="x", is_staff=True)
    user.groups.add(role_group(code=ROLE_CASHIER))
    StaffAssignment.objects.create(user=user, post=post(ROLE_CASHIER), branch=outlet.branch)
    CounterCashier.objects.create(user=user, outlet=outlet)
    return get_user_model().objects.get(pk=user.pk)


def accountant_create(*, branch: Branch | None, username: str):
    """A staff user in the 账务员 role for one branch (None: every branch)."""
    user = get_user_model().objects.create_user(username=username, password="x", is_staff=True)
    user.groups.add(role_group(code=ROLE_BRANCH_ACCOUNTANT))
    StaffAssignment.objects.create(user=user, post=post(ROLE_BRANCH_ACCOUNTANT), branch=branch)
    return get_user_model().objects.get(pk=user.pk)


@dataclass
class CounterWorld:
    enshi: Branch
    lichuan: Branch
    outlet: CounterOutlet
    lichuan_outlet: CounterOutlet
    deposit: DepositAccount
    lichuan_deposit: DepositAccount
    cashier: object
    second_cashier: object
    lichuan_cashier: object
    accountant: object
    lichuan_accountant: object


def counter_world() -> CounterWorld:
    enshi, lichuan = BranchFactory(name="恩施市"), BranchFactory(name="利川市")
    outlet = outlet_create(branch=enshi, name="恩施市城区营业厅")
    lichuan_outlet = outlet_create(branch=lichuan, name="利川市营业厅")
    return CounterWorld(
        enshi=enshi,
        lichuan=lichuan,
        outlet=outlet,
        lichuan_outlet=lichuan_outlet,
        deposit=deposit_account_create(branch=enshi, number="1809000000000001"),
        lichuan_deposit=deposit_account_create(branch=lichuan, number="1809000000000002"),
        cashier=cashier_create(outlet=outlet, username="cashier1"),
        second_cashier=cashier_create(outlet=outlet, username="cashier2"),
        lichuan_cashier=cashier_create(outlet=lichuan_outlet, username="lc-cashier"),
        accountant=accountant_create(branch=enshi, username="accountant1"),
        lichuan_accountant=accountant_create(branch=lichuan, username="lc-accountant"),
    )
