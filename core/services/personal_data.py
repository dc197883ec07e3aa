"""Opening a customer's personal data: staff see it masked until they ask, and every opening is logged
(PersonalDataAccess) before the values are handed over, so auditors can see who looked at what and why."""
from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.models import Account, Customer, PersonalDataAccess

# What may be opened, and where it comes from. The ID number is never stored whole: only its masked form exists.
CUSTOMER_FIELDS = ("name", "phone", "email")
ACCOUNT_FIELDS = ("account_name", "address")
REVEALABLE_FIELDS = CUSTOMER_FIELDS + ACCOUNT_FIELDS
VIEW_PERMISSION = "core.view_customer"
_CONTEXT_LIMIT = PersonalDataAccess._meta.get_field("context").max_length


class PersonalDataRefused(DomainError):
    code = "personal_data_refused"


def personal_data_reveal(
    *, staff, customer: Customer, account: Account | None = None, fields: list[str], context: str,
    at: datetime.datetime | None = None,
) -> dict:
    """The requested fields in full, after recording who opened them, for which customer, where and when.
    Account fields need an account of this customer. Refused (nothing written) for anyone without the right to
    view customers, for unknown fields and for an empty or over-long context."""
    if staff is None or not staff.is_active or not staff.is_staff or not staff.has_perm(VIEW_PERMISSION):
        raise PersonalDataRefused(_("您无权查看客户个人信息"))
    if not isinstance(fields, (list, tuple)) or not fields:
        raise PersonalDataRefused(_("请选择要查看的信息"), field="fields")
    unknown = [name for name in fields if name not in REVEALABLE_FIELDS]
    if unknown:
        raise PersonalDataRefused(_("不能查看的信息：%(fields)s") % {"fields": ", ".join(map(str, unknown))},
                                  field="fields")
    wanted = [name for name in REVEALABLE_FIELDS if name in fields]
    if any(name in ACCOUNT_FIELDS for name in wanted):
        if account is None:
            raise PersonalDataRefused(_("请指定户号"), field="account")
    if account is not None and account.customer_id != customer.pk:
        raise PersonalDataRefused(_("户号不属于该客户"), field="account")
    context = (context or "").strip()
    if not context or len(context) > _CONTEXT_LIMIT:
        raise PersonalDataRefused(_("查看场景无效"), field="context")
    sources = {
        "name": lambda: customer.name,
        "phone": lambda: customer.phone,
        "email": lambda: customer.email,
        "account_name": lambda: account.name,
        "address": lambda: account.address,
    }
    values = {name: sources[name]() for name in wanted}
    with transaction.atomic():
        PersonalDataAccess.objects.create(
            staff=staff, customer=customer, account=account, fields=wanted, context=context, at=at or timezone.now()
        )
    return values
