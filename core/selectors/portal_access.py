"""What a portal user may see: only accounts bound to them, and what hangs off those accounts."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

from core.db import cursor_prepared, sql_column, sql_table
from core.models import Account, AccountBinding, Ticket
from core.selectors.portal_bills import account_data_version_annotation


def bindings_active(*, user) -> QuerySet[AccountBinding]:
    """The user's current bindings, oldest first, with their accounts."""
    return (
        AccountBinding.objects.filter(user=user, unbound_at__isnull=True)
        .select_related("account", "account__branch", "account__tariff")
        .order_by("bound_at", "pk")
    )


@dataclass(frozen=True)
class BindingVersioned:
    """An active binding as the dashboard draws it around the account panel: its label and account number (the
    switcher), and the account's data version (the panel's cache key)."""

    binding_id: int
    label: str
    account_id: int
    account_number: str
    data_version: str


@functools.cache
def _bindings_versioned_sql() -> str:
    """Written out once and prepared (core.db.cursor_prepared): the dashboard runs it on every view, and composing
    it through the ORM (the version's subqueries, the binding and account models) cost more than running it."""
    binding, account = sql_table(AccountBinding), sql_table(Account)

    return (
        f"SELECT {sql_column(AccountBinding, 'id')}, {sql_column(AccountBinding, 'label')}, "
        f"{sql_column(Account, 'id')}, {sql_column(Account, 'number')}, "
        f"{account_data_version_annotation().sql} "
        f"FROM {binding} INNER JOIN {account} "
        f"ON {sql_column(AccountBinding, 'account')} = {sql_column(Account, 'id')} "
        f"WHERE {sql_column(AccountBinding, 'user')} = %s AND {sql_column(AccountBinding, 'unbound_at')} "
        f"IS NULL ORDER BY {sql_column(AccountBinding, 'bound_at')}, {sql_column(AccountBinding, 'id')}"
    )


def bindings_active_versioned(*, user) -> list[BindingVersioned]:
    """The user's current bindings, oldest first, each with its account's data version (account_data_version's
    text) read in the same query: the dashboard's guard, switcher and cache key in one statement. Only what the
    page draws around the panel is read; the panel's own data is read when it is built (a cache miss)."""
    if not getattr(user, "is_authenticated", False):
        return []
    with cursor_prepared() as cursor:
        cursor.execute(_bindings_versioned_sql(), [*account_data_version_annotation().params, user.pk])
        return [BindingVersioned(*row) for row in cursor.fetchall()]


def accounts_bound_to(*, user) -> QuerySet[Account]:
    """Accounts the user has bound and not unbound."""
    if not getattr(user, "is_authenticated", False):
        return Account.objects.none()
    return Account.objects.filter(bindings__user=user, bindings__unbound_at__isnull=True)


def account_bound_or_none(*, user, number: str) -> Account | None:
    """The account with this number if the user has bound it; None whether it does not exist or is someone
    else's, so callers answer both the same way (404)."""
    return accounts_bound_to(user=user).filter(number=number).select_related("branch", "tariff", "customer").first()


def raised_for_the_holder_of_a_bound_account(*, user) -> Q:
    """Tickets on an account the user has bound that were raised for its present holder without a customer signed in
    (the hotline, a counter, the IVR): whoever has bound the account, which takes the holder's name and ID digits or
    a code to the holder's phone, stands in for the holder there. A ticket another portal user opened on the same
    account is theirs, and one raised for a former holder (before a transfer) stays with that holder."""
    return (
        Q(account_id__in=AccountBinding.objects.filter(user=user, unbound_at__isnull=True).values("account_id"))
        & (Q(opened_by__isnull=True) | Q(opened_by__is_staff=True))
        & (Q(customer__isnull=True) | Q(customer_id=F("account__customer_id")))
    )


def tickets_visible_to(*, user) -> QuerySet[Ticket]:
    """Tickets the user opened, fault tickets the user reported on, and tickets raised for the holder of an account
    the user has bound."""
    if not getattr(user, "is_authenticated", False):
        return Ticket.objects.none()
    return Ticket.objects.filter(
        Q(opened_by=user) | Q(reporters__user=user) | raised_for_the_holder_of_a_bound_account(user=user)
    ).distinct()


def ticket_visible_or_none(*, user, number: str) -> Ticket | None:
    return tickets_visible_to(user=user).filter(number=number).first()
