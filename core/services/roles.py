"""Roles (角色) as Django groups with their permissions, and the posts (岗位) tied to them.

Roles are defined here, in code, so every installation has the same ones; roles_sync() brings the
groups' model permissions back to this definition each time the core app migrates.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

# Core models grouped by what they describe, as lower-case model names (the permission suffix).
CUSTOMER_MODELS = ("customer", "account")
METERING_MODELS = ("servicepoint", "meter", "meterreading")
GRID_MODELS = ("substation", "feeder", "transformerarea")
BILLING_MODELS = ("bill", "billline", "ledgerentry", "payment", "paymentallocation", "latefee", "billingrun")
TARIFF_MODELS = (
    "tariff",
    "tariffversion",
    "tarifftier",
    "tariffperiodprice",
    "timeband",
    "powerfactorband",
    "collectionpolicy",
)
ORG_MODELS = ("company", "branch", "servicestation", "post", "staffassignment")
# The ticket records a person works with; process definitions, steps and transitions are read by all of them.
TICKET_MODELS = ("ticket", "ticketstep", "ticketevent")
PROCESS_MODELS = ("processdefinition", "stepdefinition", "transitiondefinition")
# Supervisors manage tickets and their people's evaluations and warning thresholds (assign, skip, cancel).
SUPERVISED_TICKET_MODELS = ("ticket", "ticketstep", "evaluation", "warningthreshold")
# An agent reads the calls they handle and the queue's presence; the agents' state history (the wallboard's) is
# the supervisors' (who view all of core).
AGENT_CALL_MODELS = ("call", "callleg", "callticket", "agentpresence")
# Business-hall counter collection: where cashiers work, what they took and how they settled it.
COUNTER_MODELS = ("counteroutlet", "countercashier", "depositaccount", "counterreceipt", "countersettlement")
# The daily reconciliation of online payments with the provider, and the differences it found.
RECONCILIATION_MODELS = ("onlinereconciliation", "onlinereconciliationdifference")


def _core(action: str, *models: str) -> list[str]:
    return [f"core.{action}_{model}" for model in models]


# Wagtail page permissions are granted on the root page and document/image ones on the root collection,
# because Wagtail checks those through its own tables rather than the group's model permissions.
# Editors write and submit for moderation; only approvers publish (the "内容发布审核" workflow sits between).
WAGTAIL_EDITOR_PAGE_PERMISSIONS = ("add_page", "change_page", "lock_page", "unlock_page")
WAGTAIL_APPROVER_PAGE_PERMISSIONS = ("add_page", "change_page", "publish_page", "lock_page", "unlock_page")
WAGTAIL_COLLECTION_PERMISSIONS = (
    "wagtaildocs.add_document",
    "wagtaildocs.change_document",
    "wagtaildocs.choose_document",
    "wagtailimages.add_image",
    "wagtailimages.change_image",
    "wagtailimages.choose_image",
)


@dataclass(frozen=True)
class Role:
    code: str
    name: str
    permissions: tuple[str, ...] = ()
    view_all_core: bool = False
    all_permissions: bool = False
    # Page permissions on the Wagtail tree root (and media rights); empty for roles that do not edit the site.
    wagtail_page_permissions: tuple[str, ...] = ()


ROLE_COUNTER_CLERK = "counter_clerk"
ROLE_AGENT = "agent"
ROLE_SURVEYOR = "surveyor"
ROLE_METER_FITTER = "meter_fitter"
ROLE_REPAIR_CREW = "repair_crew"
ROLE_ACCOUNT_MANAGER = "account_manager"
ROLE_AUDITOR = "auditor"
ROLE_SUPERVISOR = "supervisor"
ROLE_CONTENT_EDITOR = "content_editor"
ROLE_CONTENT_APPROVER = "content_approver"
ROLE_ADMINISTRATOR = "administrator"
ROLE_DISPATCHER = "dispatcher"
ROLE_ARCHIVIST = "archivist"
ROLE_CASHIER = "cashier"
ROLE_BRANCH_ACCOUNTANT = "branch_accountant"

ROLES: tuple[Role, ...] = (
    Role(
        ROLE_COUNTER_CLERK,
        "营业厅受理员",
        permissions=tuple(
            _core("view", *CUSTOMER_MODELS, *METERING_MODELS, *BILLING_MODELS, *TARIFF_MODELS)
            + _core("view", *TICKET_MODELS, *PROCESS_MODELS)
            + _core("add", "customer", "account", "meterreading", "ticket")
            + _core("change", "customer", "account")
        ),
    ),
    Role(
        ROLE_AGENT,
        "95598坐席",
        permissions=tuple(
            _core("view", *CUSTOMER_MODELS, *METERING_MODELS, *GRID_MODELS, *BILLING_MODELS, *TARIFF_MODELS)
            + _core("view", *TICKET_MODELS, *PROCESS_MODELS)
            + _core("view", *AGENT_CALL_MODELS)
            + _core("add", "ticket")
            + _core("change", "customer")
        ),
    ),
    Role(
        ROLE_SURVEYOR,
        "勘查员",
        permissions=tuple(
            _core("view", *CUSTOMER_MODELS, *METERING_MODELS, *GRID_MODELS, *TICKET_MODELS, *PROCESS_MODELS)
            + _core("add", "servicepoint")
            + _core("change", "servicepoint")
        ),
    ),
    Role(
        ROLE_METER_FITTER,
        "装表接电员",
        permissions=tuple(
            _core("view", *CUSTOMER_MODELS, *METERING_MODELS, *GRID_MODELS, *TICKET_MODELS, *PROCESS_MODELS)
            + _core("add", "meter", "meterreading")
            + _core("change", "meter")
        ),
    ),
    Role(
        ROLE_REPAIR_CREW,
        "抢修班",
        permissions=tuple(
            _core("view", *CUSTOMER_MODELS, "servicepoint", "meter", *GRID_MODELS, *TICKET_MODELS, *PROCESS_MODELS)
        ),
    ),
    Role(
        ROLE_ACCOUNT_MANAGER,
        "客户经理",
        permissions=tuple(
            _core("view", *CUSTOMER_MODELS, *METERING_MODELS, *GRID_MODELS, *BILLING_MODELS, *TARIFF_MODELS)
            + _core("view", *TICKET_MODELS, *PROCESS_MODELS)
            + _core("change", "customer", "account")
        ),
    ),
    Role(ROLE_AUDITOR, "稽查员", view_all_core=True),
    Role(
        ROLE_SUPERVISOR,
        "班长",
        view_all_core=True,
        permissions=tuple(
            _core("add", "billingrun", *SUPERVISED_TICKET_MODELS)
            + _core("change", "billingrun", *SUPERVISED_TICKET_MODELS)
        ),
    ),
    Role(
        ROLE_CONTENT_EDITOR,
        "内容编辑",
        permissions=("wagtailadmin.access_admin",),
        wagtail_page_permissions=WAGTAIL_EDITOR_PAGE_PERMISSIONS,
    ),
    Role(
        ROLE_CONTENT_APPROVER,
        "内容审核",
        permissions=("wagtailadmin.access_admin",),
        wagtail_page_permissions=WAGTAIL_APPROVER_PAGE_PERMISSIONS,
    ),
    Role(ROLE_ADMINISTRATOR, "系统管理员", all_permissions=True),
    Role(
        ROLE_DISPATCHER,
        "抢修指挥员",
        permissions=tuple(
            _core("view", *CUSTOMER_MODELS, "servicepoint", "meter", *GRID_MODELS, *TICKET_MODELS, *PROCESS_MODELS)
        ),
    ),
    Role(
        ROLE_ARCHIVIST,
        "资料管理员",
        permissions=tuple(_core("view", *CUSTOMER_MODELS, *METERING_MODELS, *TICKET_MODELS, *PROCESS_MODELS)),
    ),
    # The cashier takes money at the counter (a payment and its receipt, or a reversal) and settles the day;
    # the counter clerk (营业厅受理员) beside them stays away from money.
    Role(
        ROLE_CASHIER,
        "收费员",
        permissions=tuple(
            _core("view", *CUSTOMER_MODELS, *BILLING_MODELS, *COUNTER_MODELS)
            + _core("add", "payment", "counterreceipt", "countersettlement")
        ),
    ),
    # The branch accountant reviews each cashier's day settlement; reviewing is their only write. They also follow
    # the daily online-payment reconciliation (网上缴费对账).
    Role(
        ROLE_BRANCH_ACCOUNTANT,
        "账务员",
        permissions=tuple(
            _core("view", *CUSTOMER_MODELS, *BILLING_MODELS, *COUNTER_MODELS, *RECONCILIATION_MODELS)
            + _core("review", "countersettlement")
        ),
    ),
)

ROLE_NAMES: dict[str, str] = {role.code: role.name for role in ROLES}


def role_group(*, code: str) -> Group:
    """The group of one role by its stable code (e.g. "agent" -> 95598坐席)."""
    return Group.objects.get(name=ROLE_NAMES[code])


def _permissions(names: tuple[str, ...]) -> list[Permission]:
    """Resolve "app_label.codename" strings; a name that does not exist is a programming error."""
    if not names:
        return []
    query = Q()
    for name in names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(query).select_related("content_type"))
    missing = set(names) - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    if missing:
        raise LookupError(f"unknown permissions: {sorted(missing)}")
    return found


def _role_permissions(role: Role) -> list[Permission]:
    if role.all_permissions:
        return list(Permission.objects.all())
    permissions = _permissions(role.permissions)
    if role.view_all_core:
        permissions += list(Permission.objects.filter(content_type__app_label="core", codename__startswith="view_"))
    return permissions


def _wagtail_editor_grants(group: Group, page_permissions: tuple[str, ...]) -> None:
    """Exactly these page rights on the tree root (a right the role lost is taken away) and media rights on the
    root collection, when Wagtail has made them."""
    from wagtail.models import Collection, GroupCollectionPermission, GroupPagePermission, Page

    root_page = Page.get_first_root_node()
    if root_page is not None:
        GroupPagePermission.objects.filter(group=group, page=root_page).exclude(
            permission__codename__in=page_permissions
        ).delete()
        for permission in Permission.objects.filter(
            content_type__app_label="wagtailcore", codename__in=page_permissions
        ):
            GroupPagePermission.objects.get_or_create(group=group, page=root_page, permission=permission)
    root_collection = Collection.get_first_root_node()
    if root_collection is not None:
        for permission in _permissions(WAGTAIL_COLLECTION_PERMISSIONS):
            GroupCollectionPermission.objects.get_or_create(
                group=group, collection=root_collection, permission=permission
            )


def roles_sync() -> None:
    """Create or update every role's group, its permissions and its post. Idempotent; locks nothing
    (groups and posts are only written here, under unique names and codes)."""
    from core.models import Post

    with transaction.atomic():
        for role in ROLES:
            group, _ = Group.objects.get_or_create(name=role.name)
            group.permissions.set(_role_permissions(role))
            if role.wagtail_page_permissions:
                _wagtail_editor_grants(group, role.wagtail_page_permissions)
            Post.objects.update_or_create(code=role.code, defaults={"name": role.name, "group": group})
