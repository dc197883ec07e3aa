"""Roles: groups, their permissions and posts, kept in step by roles_sync after migrate."""
import pytest
from django.contrib.auth.models import Group, Permission
from wagtail.models import Collection, GroupCollectionPermission, GroupPagePermission, Page

from core.models import Post
from core.services.roles import ROLES, role_group, roles_sync

pytestmark = pytest.mark.django_db

EXPECTED_POSTS = [
    ("account_manager", "客户经理"),
    ("administrator", "系统管理员"),
    ("agent", "95598坐席"),
    ("archivist", "资料管理员"),
    ("auditor", "稽查员"),
    ("branch_accountant", "账务员"),
    ("cashier", "收费员"),
    ("content_approver", "内容审核"),
    ("content_editor", "内容编辑"),
    ("counter_clerk", "营业厅受理员"),
    ("dispatcher", "抢修指挥员"),
    ("meter_fitter", "装表接电员"),
    ("repair_crew", "抢修班"),
    ("supervisor", "班长"),
    ("surveyor", "勘查员"),
]


def group_permission_names(name: str) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=name).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_migrate_created_every_role_with_its_post():
    assert [(p.code, p.name, p.group.name) for p in Post.objects.select_related("group").order_by("code")] == [
        (code, name, name) for code, name in EXPECTED_POSTS
    ]


def test_roles_sync_is_idempotent():
    before = {role.name: group_permission_names(role.name) for role in ROLES}
    counts = (Group.objects.count(), Post.objects.count(), GroupPagePermission.objects.count())
    roles_sync()
    roles_sync()
    assert (Group.objects.count(), Post.objects.count(), GroupPagePermission.objects.count()) == counts
    assert {role.name: group_permission_names(role.name) for role in ROLES} == before


def test_roles_sync_restores_a_removed_permission_and_drops_a_foreign_one():
    group = role_group(code="agent")
    group.permissions.remove(Permission.objects.get(codename="view_bill"))
    group.permissions.add(Permission.objects.get(codename="delete_bill"))
    roles_sync()
    names = group_permission_names("95598坐席")
    assert "core.view_bill" in names
    assert "core.delete_bill" not in names


def test_auditor_may_view_every_core_model_and_nothing_else():
    names = group_permission_names("稽查员")
    core_views = {
        f"core.{codename}"
        for codename in Permission.objects.filter(content_type__app_label="core", codename__startswith="view_")
        .values_list("codename", flat=True)
    }
    assert names == core_views
    assert {"core.view_ledgerentry", "core.view_bill", "core.view_tariff", "core.view_post"} <= names


def test_supervisor_views_everything_and_changes_billing_runs_and_tickets_only():
    names = group_permission_names("班长")
    assert {"core.change_billingrun", "core.add_billingrun", "core.view_account", "core.view_ticketevent"} <= names
    assert {"core.view_processdefinition", "core.view_evaluation"} <= names
    assert {name for name in names if not name.startswith("core.view_")} == {
        "core.add_billingrun",
        "core.change_billingrun",
        "core.add_ticket",
        "core.change_ticket",
        "core.add_ticketstep",
        "core.change_ticketstep",
        "core.add_evaluation",
        "core.change_evaluation",
        "core.add_warningthreshold",
        "core.change_warningthreshold",
    }


@pytest.mark.parametrize("name", ["95598坐席", "营业厅受理员"])
def test_agents_and_counter_clerks_open_and_read_tickets_but_never_change_them(name):
    names = group_permission_names(name)
    assert {"core.add_ticket", "core.view_ticket", "core.view_ticketstep", "core.view_ticketevent"} <= names
    changes = {n for n in names if n.startswith(("core.change_", "core.delete_"))}
    assert not {n for n in changes if n.endswith(("_ticket", "_ticketstep", "_ticketevent"))}
    assert "core.add_ticketstep" not in names


@pytest.mark.parametrize("name", ["勘查员", "装表接电员", "抢修班", "抢修指挥员", "资料管理员", "客户经理"])
def test_field_and_back_office_roles_read_tickets_and_their_steps_only(name):
    ticket_names = {
        n for n in group_permission_names(name)
        if n.split("_", 1)[1] in {"ticket", "ticketstep", "ticketevent", "evaluation", "warningthreshold"}
    }
    assert ticket_names == {"core.view_ticket", "core.view_ticketstep", "core.view_ticketevent"}


def test_dispatcher_and_archivist_read_customers_but_change_nothing():
    for name in ("抢修指挥员", "资料管理员"):
        names = group_permission_names(name)
        assert {"core.view_customer", "core.view_account", "core.view_processdefinition"} <= names
        assert all(n.startswith("core.view_") for n in names)


def test_a_supervisor_may_assign_steps_and_a_dispatcher_may_not(django_user_model):
    supervisor = django_user_model.objects.create_user(username="sup", password="x")
    supervisor.groups.add(role_group(code="supervisor"))
    dispatcher = django_user_model.objects.create_user(username="disp", password="x")
    dispatcher.groups.add(role_group(code="dispatcher"))
    assert supervisor.has_perm("core.change_ticketstep")
    assert not dispatcher.has_perm("core.change_ticketstep")
    assert dispatcher.has_perm("core.view_ticketstep")


def test_agent_reads_billing_and_may_correct_customer_contacts():
    names = group_permission_names("95598坐席")
    assert {"core.view_bill", "core.view_payment", "core.view_transformerarea", "core.change_customer"} <= names
    assert not {name for name in names if name.startswith("core.delete_")}
    assert {name for name in names if name.startswith("core.add_")} == {"core.add_ticket"}
    assert "core.change_bill" not in names


def test_counter_clerk_opens_accounts_and_records_readings_but_never_touches_money():
    names = group_permission_names("营业厅受理员")
    assert {"core.add_customer", "core.add_account", "core.add_meterreading", "core.view_payment"} <= names
    assert not {n for n in names if n.endswith(("_payment", "_ledgerentry", "_bill")) and ".view_" not in n}


def test_administrator_holds_every_permission():
    assert Group.objects.get(name="系统管理员").permissions.count() == Permission.objects.count()


@pytest.mark.parametrize(
    ("group_name", "page_rights"),
    [
        ("内容编辑", {"add_page", "change_page", "lock_page", "unlock_page"}),
        ("内容审核", {"add_page", "change_page", "publish_page", "lock_page", "unlock_page"}),
    ],
)
def test_content_editors_write_and_approvers_publish_in_the_wagtail_admin(group_name, page_rights):
    group = Group.objects.get(name=group_name)
    assert group_permission_names(group_name) == {"wagtailadmin.access_admin"}
    root = Page.get_first_root_node()
    assert set(
        GroupPagePermission.objects.filter(group=group, page=root).values_list("permission__codename", flat=True)
    ) == page_rights
    assert set(
        GroupCollectionPermission.objects.filter(
            group=group, collection=Collection.get_first_root_node()
        ).values_list("permission__codename", flat=True)
    ) == {"add_document", "change_document", "choose_document", "add_image", "change_image", "choose_image"}


def test_roles_sync_takes_back_a_publish_right_the_editor_role_no_longer_has():
    group = Group.objects.get(name="内容编辑")
    publish = Permission.objects.get(content_type__app_label="wagtailcore", codename="publish_page")
    GroupPagePermission.objects.create(group=group, page=Page.get_first_root_node(), permission=publish)
    roles_sync()
    assert not GroupPagePermission.objects.filter(group=group, permission=publish).exists()


def test_a_user_in_the_agent_group_has_the_permissions(django_user_model):
    user = django_user_model.objects.create_user(username="agent-1", password="x")
    user.groups.add(role_group(code="agent"))
    assert user.has_perm("core.view_account")
    assert not user.has_perm("core.change_bill")
