"""Opening a customer's personal data: staff see it masked until they ask, and every opening is logged
(PersonalDataAccess) before the values are handed over, so auditors can see who looked at what and why."""
from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

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
# What a staff page may show in full, with the auditors' name for each: the revealable fields plus the contact
# details a ticket carries. The ID number never appears: only its masked form exists.
RECORDED_FIELDS = {
    "name": _("客户名称"),
    "phone": _("手机号码"),
    "email": _("电子邮箱"),
    "account_name": _("户名"),
    "address": _("用电地址"),
    "contact_name": _("联系人"),
    "contact_phone": _("联系电话"),
    "ticket_address": _("工单地址"),
}


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


@dataclass(frozen=True)
class PersonalDataShown:
    """One customer (and account) whose personal data a page shows in full, and which fields."""

    customer_id: int
    account_id: int | None
    fields: tuple[str, ...]


def personal_data_access_record(
    *, staff, shown: Iterable[PersonalDataShown], context: str, at: datetime.datetime | None = None,
) -> int:
    """Records that a staff page showed these customers' personal data in full: one row per customer and account
    (the same one listed twice in a page counts once), written before the page is returned. The page has already
    decided the viewer may see it; this only keeps the trail. Unknown fields or a bad context are refused with
    nothing written. Returns the number of rows."""
    context = (context or "").strip()
    if not context or len(context) > _CONTEXT_LIMIT:
        raise PersonalDataRefused(_("查看场景无效"), field="context")
    rows: dict[tuple[int, int | None], list[str]] = {}
    for item in shown:
        unknown = [name for name in item.fields if name not in RECORDED_FIELDS]
        if unknown:
            raise PersonalDataRefused(_("不能查看的信息：%(fields)s") % {"fields": ", ".join(map(str, unknown))},
                                      field="fields")
        fields = rows.setdefault((item.customer_id, item.account_id), [])
        fields.extend(name for name in item.fields if name not in fields)
    rows = {key: [name for name in RECORDED_FIELDS if name in fields] for key, fields in rows.items() if fields}
    if not rows:
        return 0
    moment = at or timezone.now()
    # One INSERT (bulk_create makes its batches atomic itself), so a list page pays one query for its trail.
    PersonalDataAccess.objects.bulk_create(
        PersonalDataAccess(staff=staff, customer_id=customer_id, account_id=account_id, fields=fields,
                           context=context, at=moment)
        for (customer_id, account_id), fields in rows.items()
    )
    return len(rows)


def personal_data_shown_account(account: Account) -> PersonalDataShown:
    """An account's holder name and supply address, as the counter pages show them."""
    return PersonalDataShown(customer_id=account.customer_id, account_id=account.pk,
                             fields=("account_name", "address"))


def personal_data_shown_ticket(ticket) -> list[PersonalDataShown]:
    """What the staff ticket page shows in full: the customer's name (unless the ticket is anonymous), the account's
    name and address, and the ticket's own contact details. Nothing when the ticket names no customer or account."""
    customer_id = ticket.customer_id or (ticket.account.customer_id if ticket.account_id else None)
    if customer_id is None:
        return []
    fields = []
    if ticket.customer_id and not ticket.anonymous:
        fields.append("name")
    if ticket.account_id:
        fields += ["account_name", "address"]
    fields += [name for name, value in (("contact_name", ticket.contact_name), ("contact_phone", ticket.contact_phone),
                                        ("ticket_address", ticket.address)) if value]
    return [PersonalDataShown(customer_id=customer_id, account_id=ticket.account_id, fields=tuple(fields))]


def personal_data_shown_ticket_name(ticket) -> list[PersonalDataShown]:
    """A ticket list's complainer column: the customer's name, or the contact's name when the ticket is anonymous
    or names no customer (recorded against the account's holder when there is one)."""
    customer_id = ticket.customer_id or (ticket.account.customer_id if ticket.account_id else None)
    if customer_id is None:
        return []
    if ticket.customer_id and not ticket.anonymous:
        fields = ("name",)
    elif ticket.contact_name and not ticket.anonymous:
        fields = ("contact_name",)
    else:
        return []
    return [PersonalDataShown(customer_id=customer_id, account_id=ticket.account_id, fields=fields)]
