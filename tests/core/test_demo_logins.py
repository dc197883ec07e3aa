"""Demo logins: one per role, idempotent, refused outside DEBUG unless asked for."""
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from core.management.commands.demo_logins import display_width
from core.models import StaffAssignment
from core.services.demo_logins import DemoLogin, DemoLoginsRefused, demo_users_ensure
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db

EXPECTED = [
    DemoLogin("demo-customer", "demo95598", "客户", "/accounts/login/"),
    DemoLogin("demo-agent", "demo95598", "95598坐席", "/accounts/login/"),
    DemoLogin("demo-clerk", "demo95598", "营业厅受理员", "/django-admin/"),
    DemoLogin("demo-supervisor", "demo95598", "班长", "/django-admin/"),
    DemoLogin("demo-editor", "demo95598", "内容编辑", "/cms-admin/"),
    DemoLogin("demo-admin", "demo95598", "系统管理员", "/django-admin/"),
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
        ("demo-admin", True, True, []),
        ("demo-agent", True, False, ["95598坐席"]),
        ("demo-clerk", True, False, ["营业厅受理员"]),
        ("demo-customer", False, False, []),
        ("demo-editor", True, False, ["内容编辑"]),
        ("demo-supervisor", True, False, ["班长"]),
    ]
    assignments = StaffAssignment.objects.filter(user__username="demo-agent")
    assert [(a.post.code, a.branch.name, a.station) for a in assignments] == [("agent", "恩施市", None)]


def test_every_demo_password_authenticates():
    for login in demo_users_ensure(allow_fixed_passwords=True):
        assert authenticate(username=login.username, password=login.password) is not None


def test_agent_without_any_branch_has_no_assignment():
    demo_users_ensure(allow_fixed_passwords=True)
    assert not StaffAssignment.objects.exists()


def test_editor_reaches_the_wagtail_admin_and_clerk_the_django_admin(client):
    demo_users_ensure(allow_fixed_passwords=True)
    client.login(username="demo-editor", password="demo95598")
    assert client.get("/cms-admin/").status_code == 200
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
    assert lines[6].split() == ["内容编辑", "demo-editor", "demo95598", "http://127.0.0.1:8000/cms-admin/"]
    # Columns line up in terminal cells even with double-width Chinese labels.
    customer_column = display_width(lines[2][: lines[2].index("demo-customer")])
    assert customer_column == display_width(lines[3][: lines[3].index("demo-agent")]) == 14


def test_command_refuses_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="生产环境不创建固定密码的演示账号"):
        call_command("demo_logins", stdout=StringIO())
