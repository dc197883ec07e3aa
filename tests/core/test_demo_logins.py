"""Demo logins: one per role, idempotent, refused outside DEBUG unless asked for; the demo customer's accounts."""
import datetime
from decimal import Decimal as D
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from core.management.commands.demo_logins import display_width
from core.models import Account, AccountBinding, Bill, BindingAttempt, BindingMethod, StaffAssignment, Ticket
from core.models.customers import CustomerCategory
from core.services.demo_logins import (
    DemoAccount,
    DemoLogin,
    DemoLoginsRefused,
    demo_customer_accounts_bind,
    demo_users_ensure,
)
from core.services.tickets import ticket_claim, ticket_open, ticket_step_submit
from core.workflows.definitions import SEED_DEFINITIONS
from tests.factories import AccountFactory, BranchFactory, CustomerFactory
from tests.ticket_factories import local

pytestmark = pytest.mark.django_db

EXPECTED = [
    DemoLogin("demo-customer", "demo95598", "客户", "/accounts/login/"),
    DemoLogin("demo-agent", "demo95598", "95598坐席", "/accounts/login/"),
    DemoLogin("demo-clerk", "demo95598", "营业厅受理员", "/django-admin/"),
    DemoLogin("demo-supervisor", "demo95598", "班长", "/django-admin/"),
    DemoLogin("demo-editor", "demo95598", "内容编辑", "/admin/"),
    DemoLogin("demo-approver", "demo95598", "内容审核", "/admin/"),
    DemoLogin("demo-admin", "demo95598", "系统管理员", "/django-admin/"),
    DemoLogin("demo-cashier", "demo95598", "收费员", "/staff/counter/"),
    DemoLogin("demo-accountant", "demo95598", "账务员", "/staff/counter/review/"),
]


def user_summary() -> list[tuple]:
    return [
        (u.username, u.is_staff, u.is_superuser, sorted(u.groups.values_list("name", flat=True)))
        for u in User.objects.filter(username__startswith="demo-").order_by("username")
    ]


def test_refused_with_debug_off_unless_asked(settings):
    settings.DEBUG = False
    with pytest.raises(DemoLoginsRefused, match="生产环境不创建固定密码的演示账号"):
        demo_users_ensure()
    assert not User.objects.filter(username__startswith="demo-").exists()


def test_created_with_debug_on(settings):
    settings.DEBUG = True
    assert demo_users_ensure() == EXPECTED


def test_demo_users_ensure_is_idempotent_and_gives_each_role_its_group():
    BranchFactory(code="B001", name="恩施市")
    assert demo_users_ensure(allow_fixed_passwords=True) == EXPECTED
    first = user_summary()
    User.objects.filter(username="demo-clerk").update(is_staff=False)
    assert demo_users_ensure(allow_fixed_passwords=True) == EXPECTED
    assert user_summary() == first
    assert first == [
        ("demo-accountant", True, False, ["账务员"]),
        ("demo-admin", True, True, []),
        ("demo-agent", True, False, ["95598坐席"]),
        ("demo-approver", True, False, ["内容审核"]),
        ("demo-cashier", True, False, ["收费员"]),
        ("demo-clerk", True, False, ["营业厅受理员"]),
        ("demo-customer", False, False, []),
        ("demo-editor", True, False, ["内容编辑"]),
        ("demo-supervisor", True, False, ["班长"]),
    ]
    assignments = StaffAssignment.objects.filter(user__username="demo-agent").order_by("post__code")
    assert [(a.post.code, a.branch.name, a.station, a.active) for a in assignments] == [
        ("agent", "恩施市", None, True),
        ("dispatcher", "恩施市", None, True),
    ]
    assert held_posts() == {
        "demo-accountant": ["branch_accountant"],
        "demo-agent": ["agent", "dispatcher"],
        "demo-cashier": ["cashier"],
        "demo-clerk": ["archivist", "counter_clerk", "meter_fitter", "repair_crew", "surveyor"],
        "demo-supervisor": ["account_manager", "auditor", "supervisor"],
    }


def held_posts() -> dict[str, list[str]]:
    held: dict[str, list[str]] = {}
    rows = StaffAssignment.objects.filter(active=True).order_by("user__username", "post__code")
    for username, code in rows.values_list("user__username", "post__code"):
        held.setdefault(username, []).append(code)
    return held


def test_the_demo_staff_hold_every_post_a_seeded_process_needs_and_a_lapsed_one_comes_back():
    BranchFactory(code="B001", name="恩施市")
    BranchFactory(code="B002", name="利川市")
    demo_users_ensure(allow_fixed_passwords=True)
    needed = {step.post for spec in SEED_DEFINITIONS.values() for step in spec.steps}
    assert needed <= {code for codes in held_posts().values() for code in codes}
    assert set(StaffAssignment.objects.values_list("branch__code", flat=True)) == {"B001"}
    StaffAssignment.objects.filter(user__username="demo-clerk", post__code="surveyor").update(active=False)
    count = StaffAssignment.objects.count()
    demo_users_ensure(allow_fixed_passwords=True)
    assert StaffAssignment.objects.count() == count
    assert "surveyor" in held_posts()["demo-clerk"]


def work_to_the_end(ticket: Ticket, data_by_step: dict[str, tuple[str, dict]]) -> list[tuple[str, str]]:
    """Claim and submit each step as the demo user given for it; returns (step code, username) as worked."""
    from django.contrib.auth.models import User

    worked = []
    at = local(2026, 11, 23, 10)
    while ticket.state == Ticket.State.OPEN:
        step = ticket.current_step
        username, data = data_by_step[step.step_definition.code]
        user = User.objects.get(username=username)
        ticket_claim(step_id=step.pk, user=user, at=at)
        ticket = ticket_step_submit(step_id=step.pk, user=user, data=data, at=at)
        ticket.refresh_from_db()
        worked.append((step.step_definition.code, username))
    return worked


def test_a_low_voltage_connection_is_worked_end_to_end_by_the_demo_staff():
    branch = BranchFactory(code="B001", name="恩施市")
    demo_users_ensure(allow_fixed_passwords=True)
    ticket = ticket_open(
        business_type="lv_residential_connection", channel="counter", summary="新装居民用电", branch=branch,
        contact_name="张三", contact_phone="13800000001", at=local(2026, 11, 23, 9),
    )
    worked = work_to_the_end(ticket, {
        "accept": ("demo-clerk", {"applicant_name": "张三", "supply_address": "恩施市舞阳大道1号",
                                  "requested_capacity_kva": "8", "documents_complete": True}),
        "survey": ("demo-clerk", {"surveyed_on": "2026-11-23", "meter_location": "楼道表箱",
                                  "supply_plan": "由1号台区低压接入"}),
        "meter_install": ("demo-clerk", {"meter_asset_number": "3300000001", "initial_reading": "0",
                                         "connected_at": "2026-11-23T10:00:00+08:00"}),
        "archive": ("demo-clerk", {"archive_number": "DA-2026-0001"}),
        "follow_up": ("demo-agent", {"satisfaction": "5"}),
    })
    assert [code for code, _user in worked] == ["accept", "survey", "meter_install", "archive", "follow_up"]
    ticket.refresh_from_db()
    assert (ticket.state, ticket.satisfaction) == (Ticket.State.CLOSED, 5)


def test_a_fault_repair_is_worked_end_to_end_by_the_demo_staff():
    branch = BranchFactory(code="B001", name="恩施市")
    demo_users_ensure(allow_fixed_passwords=True)
    ticket = ticket_open(
        business_type="fault_repair", channel="agent", summary="家中停电", branch=branch,
        contact_phone="13800000001", address="恩施市舞阳大道1号", at=local(2026, 11, 23, 9),
    )
    worked = work_to_the_end(ticket, {
        "dispatch": ("demo-agent", {"crew": "城区抢修一班", "fault_kind": "low_voltage"}),
        "arrive": ("demo-clerk", {"arrived_at": "2026-11-23T09:30:00+08:00"}),
        "restore": ("demo-clerk", {"restored_at": "2026-11-23T10:00:00+08:00", "cause": "equipment",
                                   "repair_actions": "更换熔断器"}),
        "report_back": ("demo-agent", {"report": "已恢复供电"}),
        "follow_up": ("demo-agent", {"satisfaction": "4"}),
    })
    assert [user for _code, user in worked] == ["demo-agent", "demo-clerk", "demo-clerk", "demo-agent", "demo-agent"]
    ticket.refresh_from_db()
    assert (ticket.state, ticket.satisfaction) == (Ticket.State.CLOSED, 4)


def test_every_demo_password_authenticates():
    for login in demo_users_ensure(allow_fixed_passwords=True):
        assert authenticate(username=login.username, password=login.password) is not None


def test_agent_without_any_branch_has_no_assignment():
    demo_users_ensure(allow_fixed_passwords=True)
    assert not StaffAssignment.objects.exists()


def test_editor_reaches_the_wagtail_admin_and_clerk_the_django_admin(client):
    demo_users_ensure(allow_fixed_passwords=True)
    client.login(username="demo-editor", password="demo95598")
    assert client.get("/admin/").status_code == 200
    client.logout()
    client.login(username="demo-clerk", password="demo95598")
    assert client.get("/django-admin/core/account/").status_code == 200
    assert client.get("/django-admin/core/bill/").status_code == 200
    assert client.get("/django-admin/core/tariff/add/").status_code == 403


def test_command_prints_the_table(settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("demo_logins", "--base-url", "http://127.0.0.1:8000/", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["角色", "用户名", "密码", "登录地址"]
    assert lines[2].split() == ["客户", "demo-customer", "demo95598", "http://127.0.0.1:8000/accounts/login/"]
    assert lines[6].split() == ["内容编辑", "demo-editor", "demo95598", "http://127.0.0.1:8000/admin/"]
    # Columns line up in terminal cells even with double-width Chinese labels.
    customer_column = display_width(lines[2][: lines[2].index("demo-customer")])
    assert customer_column == display_width(lines[3][: lines[3].index("demo-agent")]) == 14


def test_command_refuses_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="生产环境不创建固定密码的演示账号"):
        call_command("demo_logins", stdout=StringIO())


# --- the demo customer's accounts -------------------------------------------------------------------------------


def demo_account(*, id_number: str, billing_mode=Account.BillingMode.POSTPAID, unpaid_bill: bool = False,
                 category=CustomerCategory.RESIDENTIAL) -> Account:
    account = AccountFactory(customer=CustomerFactory(id_number_masked=id_number), billing_mode=billing_mode,
                             category=category)
    if unpaid_bill:
        Bill.objects.create(
            number=f"D{account.pk:06d}", account=account, period=datetime.date(2026, 10, 1),
            tariff_version=account.tariff.versions.first(), issued_on=datetime.date(2026, 11, 1),
            due_date=datetime.date(2026, 11, 20), kwh=D("200.00"), total=D("111.60"), state=Bill.State.OVERDUE,
        )
    return account


@pytest.fixture
def demo_accounts():
    """A customer whose ID is masked to the end, a business, a paid-up home, a home with a bill to pay, a
    smart-prepaid home, and a home nobody has bound."""
    return {
        "masked": demo_account(id_number="4228**********", unpaid_bill=True),
        "business": demo_account(id_number="422801199001011234", unpaid_bill=True,
                                 category=CustomerCategory.NON_RESIDENTIAL),
        "paid_up": demo_account(id_number="422801199001012345"),
        "home": demo_account(id_number="4228************321X", unpaid_bill=True),
        "prepaid": demo_account(id_number="4228************5678", billing_mode=Account.BillingMode.PREPAID),
    }


def test_the_demo_customer_finds_a_home_with_a_bill_and_a_prepaid_account_bound(demo_accounts):
    demo_users_ensure(allow_fixed_passwords=True)
    accounts = demo_customer_accounts_bind()

    home, prepaid, paid_up = demo_accounts["home"], demo_accounts["prepaid"], demo_accounts["paid_up"]
    assert accounts == [
        DemoAccount(home.number, "我家", home.name, "321X", prepaid=False, bound=True),
        DemoAccount(prepaid.number, "父母家", prepaid.name, "5678", prepaid=True, bound=True),
        DemoAccount(paid_up.number, "", paid_up.name, "2345", prepaid=False, bound=False),
    ]
    # Bound as a customer binds, through the holder's name and ID digits, and recorded as a successful attempt.
    user = User.objects.get(username="demo-customer")
    assert list(AccountBinding.objects.filter(user=user).order_by("pk").values_list("account", "method")) == [
        (home.pk, BindingMethod.ID_DIGITS), (prepaid.pk, BindingMethod.ID_DIGITS)]
    assert BindingAttempt.objects.filter(user=user, succeeded=True).count() == 2
    # And a suggestion about the home account, opened on the portal channel as the portal opens one: a ticket to follow.
    suggestion = Ticket.objects.get(opened_by=user)
    assert (suggestion.business_type, suggestion.channel, suggestion.account, suggestion.state) == (
        "suggestion", "portal", home, Ticket.State.OPEN)
    assert suggestion.summary == "建议在电费短信里附上缴费链接"
    # Once: a second seed binds and submits nothing more, even when the home's bill has been paid since.
    Bill.objects.filter(account=home).update(state=Bill.State.PAID)
    assert demo_customer_accounts_bind() == accounts
    assert AccountBinding.objects.filter(user=user).count() == 2
    assert Ticket.objects.filter(opened_by=user).count() == 1


def test_nothing_is_bound_before_the_demo_users_exist(demo_accounts):
    assert demo_customer_accounts_bind() == []
    assert not AccountBinding.objects.exists()


def test_nothing_is_bound_before_the_demo_accounts_exist():
    demo_users_ensure(allow_fixed_passwords=True)
    assert demo_customer_accounts_bind() == []
    assert not AccountBinding.objects.exists()


def test_the_command_says_what_the_demo_customer_has_bound_and_what_to_try(settings, demo_accounts):
    settings.DEBUG = True
    demo_users_ensure()
    demo_customer_accounts_bind()
    out = StringIO()
    call_command("demo_logins", stdout=out)
    home, prepaid, paid_up = demo_accounts["home"], demo_accounts["prepaid"], demo_accounts["paid_up"]
    assert f"demo-customer 已绑定的户号：{home.number}（我家）、{prepaid.number}（父母家，智能交费）" in out.getvalue()
    assert f"自行绑定试试：户号 {paid_up.number}，户主姓名 {paid_up.name}，证件号后四位 2345" in out.getvalue()
