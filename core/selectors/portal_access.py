"""What a portal user may see: only accounts bound to them, and what hangs off those accounts."""
from __future__ import annotations

from django.db.models import Q, QuerySet

from core.models import Account, AccountBinding, Ticket
from core.selectors.portal_bills import account_data_version_annotation


def bindings_active(*, user) -> QuerySet[AccountBinding]:
    """The user's current bindings, oldest first, with their accounts."""
    return (
        AccountBinding.objects.filter(user=user, unbound_at__isnull=True)
        .select_related("account", "account__branch", "account__tariff")
        .order_by("bound_at", "pk")
    )


def bindings_active_with_versions(*, user) -> QuerySet[AccountBinding]:
    """bindings_active, each with its account's data version (`data_version`, account_data_version's text) read in
    the same query: the dashboard's guard, switcher and cache key in one statement."""
    return bindings_active(user=user).annotate(data_version=account_data_version_annotation())


def accounts_bound_to(*, user) -> QuerySet[Account]:
    """Accounts the user has bound and not unbound."""
    if not getattr(user, "is_authenticated", False):
        return Account.objects.none()
    return Account.objects.filter(bindings__user=user, bindings__unbound_at__isnull=True)


def account_bound_or_none(*, user, number: str) -> Account | None:
    """The account with this number if the user has bound it; None whether it does not exist or is someone
    else's, so callers answer both the same way (404)."""
    return accounts_bound_to(user=user).filter(number=number).select_related("branch", "tariff", "customer").first()


def tickets_visible_to(*, user) -> QuerySet[Ticket]:
    """Tickets on the user's bound accounts, tickets the user opened, and fault tickets the user reported on."""
    if not getattr(user, "is_authenticated", False):
        return Ticket.objects.none()
    bound = AccountBinding.objects.filter(user=user, unbound_at__isnull=True).values("account_id")
    return Ticket.objects.filter(
        Q(account_id__in=bound) | Q(opened_by=user) | Q(reporters__user=user)
    ).distinct()


def ticket_visible_or_none(*, user, number: str) -> Ticket | None:
    return tickets_visible_to(user=user).filter(number=number).first()
