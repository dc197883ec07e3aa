"""Demo staff and customer logins, one per role a demonstration walks through.

Their passwords are fixed and published, so they exist only where that is harmless: with DEBUG on, or
when the caller (the demo seed) asks for them explicitly. Between them the demo staff hold every post a
seeded process needs in the first branch, so a demo ticket of any business type can be worked to the end.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.errors import BindingError, DomainError
from core.models import Account, AccountBinding, Bill, BindingMethod, Branch, Post, StaffAssignment
from core.models.customers import CustomerCategory
from core.models.tickets import BusinessType
from core.services.account_binding import binding_create
from core.services.portal_requests import feedback_submit
from core.services.roles import (
    ROLE_ACCOUNT_MANAGER,
    ROLE_AGENT,
    ROLE_ARCHIVIST,
    ROLE_AUDITOR,
    ROLE_BRANCH_ACCOUNTANT,
    ROLE_CASHIER,
    ROLE_CONTENT_APPROVER,
    ROLE_CONTENT_EDITOR,
    ROLE_COUNTER_CLERK,
    ROLE_DISPATCHER,
    ROLE_METER_FITTER,
    ROLE_REPAIR_CREW,
    ROLE_SUPERVISOR,
    ROLE_SURVEYOR,
    role_group,
    roles_sync,
)

logger = logging.getLogger(__name__)

DEMO_PASSWORD = "demo95598"
# The demo staff's authenticator secret (base32, RFC 6238): staff must pass TOTP at login, so a demonstration
# adds this to an authenticator app (or computes codes from it). Installed with DEBUG on only.
DEMO_TOTP_SECRET = "KRUGS4ZAMRSW23ZAONSWG4TFOQQGM33S"


class DemoLoginsRefused(DomainError):
    code = "demo_logins_refused"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role_label: str
    url: str


@dataclass(frozen=True)
class _DemoUser:
    username: str
    role_label: str
    url: str
    role: str | None = None
    is_staff: bool = False
    is_superuser: bool = False
    # Posts held in the first branch: the role's own, and for the demo the field and back-office posts
    # a ticket passes through, so three logins can work any ticket from acceptance to follow-up.
    posts: tuple[str, ...] = ()


DEMO_USERS = (
    _DemoUser("demo-customer", "客户", "/accounts/login/"),
    _DemoUser(
        "demo-agent", "95598坐席", "/accounts/login/", role=ROLE_AGENT, is_staff=True,
        posts=(ROLE_AGENT, ROLE_DISPATCHER),
    ),
    _DemoUser(
        "demo-clerk", "营业厅受理员", "/django-admin/", role=ROLE_COUNTER_CLERK, is_staff=True,
        posts=(ROLE_COUNTER_CLERK, ROLE_SURVEYOR, ROLE_METER_FITTER, ROLE_REPAIR_CREW, ROLE_ARCHIVIST),
    ),
    _DemoUser(
        "demo-supervisor", "班长", "/django-admin/", role=ROLE_SUPERVISOR, is_staff=True,
        posts=(ROLE_SUPERVISOR, ROLE_ACCOUNT_MANAGER, ROLE_AUDITOR),
    ),
    _DemoUser("demo-editor", "内容编辑", "/admin/", role=ROLE_CONTENT_EDITOR, is_staff=True),
    _DemoUser("demo-approver", "内容审核", "/admin/", role=ROLE_CONTENT_APPROVER, is_staff=True),
    _DemoUser("demo-admin", "系统管理员", "/django-admin/", is_staff=True, is_superuser=True),
    # The business hall's money: the cashier takes payments at the first branch's hall (seated there by the demo
    # seed) and the branch accountant reviews each day's settlement.
    _DemoUser(
        "demo-cashier", "收费员", "/staff/counter/", role=ROLE_CASHIER, is_staff=True, posts=(ROLE_CASHIER,),
    ),
    _DemoUser(
        "demo-accountant", "账务员", "/staff/counter/review/", role=ROLE_BRANCH_ACCOUNTANT, is_staff=True,
        posts=(ROLE_BRANCH_ACCOUNTANT,),
    ),
)


def demo_users_ensure(*, allow_fixed_passwords: bool = False) -> list[DemoLogin]:
    """Create or reset the demo users (idempotent). Refuses outside DEBUG unless explicitly allowed.
    Locks nothing: the users are keyed by unique usernames and only written here."""
    if not (settings.DEBUG or allow_fixed_passwords):
        raise DemoLoginsRefused(_("生产环境不创建固定密码的演示账号"))
    user_model = get_user_model()
    logins = []
    with transaction.atomic():
        roles_sync()
        branch = Branch.objects.order_by("code").first()
        posts = Post.objects.in_bulk(field_name="code")
        for spec in DEMO_USERS:
            user, _created = user_model.objects.update_or_create(
                username=spec.username,
                defaults={
                    "email": f"{spec.username}@example.com",
                    "is_staff": spec.is_staff,
                    "is_superuser": spec.is_superuser,
                    "is_active": True,
                },
            )
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            user.groups.set([role_group(code=spec.role)] if spec.role else [])
            if spec.is_staff and settings.DEBUG:
                _demo_totp_ensure(user)
            if branch is not None:
                for code in spec.posts:
                    StaffAssignment.objects.update_or_create(
                        user=user, post=posts[code], branch=branch, station=None, defaults={"active": True}
                    )
            logins.append(DemoLogin(spec.username, DEMO_PASSWORD, spec.role_label, spec.url))
    return logins


def demo_totp_secret() -> str | None:
    """The fixed TOTP secret of the demo staff, or None where it is not installed (DEBUG off)."""
    return DEMO_TOTP_SECRET if settings.DEBUG else None


def _demo_totp_ensure(user) -> None:
    """Give a demo staff user the fixed authenticator (replacing one set up by hand)."""
    Authenticator.objects.update_or_create(
        user=user, type=Authenticator.Type.TOTP,
        defaults={"data": {"secret": get_mfa_adapter().encrypt(DEMO_TOTP_SECRET)}},
    )


# --- the demo customer's accounts -------------------------------------------------------------------------------

DEMO_CUSTOMER = "demo-customer"
_UNPAID_STATES = (Bill.State.ISSUED, Bill.State.PARTLY_PAID, Bill.State.OVERDUE)


@dataclass(frozen=True)
class DemoAccount:
    """An account the demo customer has bound, or one they may bind themselves with these answers."""

    number: str
    label: str
    holder_name: str
    id_last4: str
    prepaid: bool
    bound: bool


def _bindable_by_id_digits(accounts):
    """The residential accounts in supply whose holder's ID shows its last 4 digits (what binding asks), by id."""
    for account in accounts.filter(category=CustomerCategory.RESIDENTIAL, status=Account.Status.ACTIVE).select_related(
        "customer"
    ).order_by("pk")[:50]:
        masked = (account.customer.id_number_masked or "").strip().upper()
        if len(masked) >= 8 and "*" not in masked[-4:]:
            yield account


def _demo_account(account: Account, *, label: str = "", bound: bool = False) -> DemoAccount:
    return DemoAccount(
        number=account.number, label=label, holder_name=account.name,
        id_last4=account.customer.id_number_masked.strip().upper()[-4:],
        prepaid=account.billing_mode == Account.BillingMode.PREPAID, bound=bound,
    )


def demo_customer_accounts_bind() -> list[DemoAccount]:
    """Give the demo customer what a customer signing in for the first time would have set up: their home account,
    with a bill to pay, and their parents' smart-prepaid one, bound through binding_create with the holder's name
    and ID digits as a customer binds, and a suggestion sent about the home account (a ticket to follow). Once: a demo customer who has had a binding keeps what they have. Nothing
    before the demo users and accounts exist."""
    user = get_user_model().objects.filter(username=DEMO_CUSTOMER).first()
    if user is None or AccountBinding.objects.filter(user=user).exists():
        return demo_customer_accounts()
    home = next(_bindable_by_id_digits(
        Account.objects.filter(billing_mode=Account.BillingMode.POSTPAID, bills__state__in=_UNPAID_STATES).distinct()
    ), None)
    parents = next(_bindable_by_id_digits(Account.objects.filter(billing_mode=Account.BillingMode.PREPAID)), None)
    # The labels are the customer's own words (data), as a customer would type them.
    for account, label in ((home, "我家"), (parents, "父母家")):
        if account is None:
            continue
        try:
            binding_create(
                user=user, account_number=account.number, holder_name=account.name,
                method=BindingMethod.ID_DIGITS, id_last4=_demo_account(account).id_last4, label=label,
                ip_address=None,
            )
        except BindingError:
            logger.warning("demo customer: account %s could not be bound", account.number, exc_info=True)
    if home is not None:
        _demo_customer_suggestion_submit(user=user, account=home)
    return demo_customer_accounts()


# What the demo customer once suggested through the portal (the customer's own words, data like the labels above).
DEMO_SUGGESTION_SUMMARY = "建议在电费短信里附上缴费链接"
DEMO_SUGGESTION_TEXT = "每月收到电费短信后，还要另外打开网上营业厅找缴费入口。希望短信里直接附上缴费链接。"


def _demo_customer_suggestion_submit(*, user, account: Account) -> None:
    """A suggestion the demo customer sent about their home account, through feedback_submit as the portal sends one,
    so "my tickets" has one to follow and the inbox its acceptance notice."""
    try:
        feedback_submit(
            user=user, business_type=BusinessType.SUGGESTION, summary=DEMO_SUGGESTION_SUMMARY,
            description=DEMO_SUGGESTION_TEXT, account=account, contact_name=account.name,
            contact_phone=account.customer.phone, idempotency_key=f"demo-customer-suggestion:{user.pk}",
        )
    except DomainError:
        logger.warning("demo customer: suggestion on account %s not submitted", account.number, exc_info=True)


def demo_customer_accounts() -> list[DemoAccount]:
    """The accounts the demo customer has bound, then one more they may try binding (none bound yet by anyone)."""
    user = get_user_model().objects.filter(username=DEMO_CUSTOMER).first()
    if user is None:
        return []
    bindings = list(
        AccountBinding.objects.filter(user=user, unbound_at__isnull=True).select_related("account__customer")
        .order_by("pk")
    )
    accounts = [_demo_account(binding.account, label=binding.label, bound=True) for binding in bindings]
    to_try = next(_bindable_by_id_digits(
        Account.objects.filter(billing_mode=Account.BillingMode.POSTPAID).exclude(bindings__isnull=False)
    ), None)
    if to_try is not None:
        accounts.append(_demo_account(to_try))
    return accounts
