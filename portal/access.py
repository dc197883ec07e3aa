"""Entry-point guards of the portal: every URL that names an account or a ticket goes through these, so another
customer's id gives 404 (the same answer as an id that does not exist)."""
from __future__ import annotations

from django.http import Http404, HttpRequest

from core.models import Account, Ticket
from core.selectors.portal_access import account_bound_or_none, ticket_visible_or_none


def bound_account_or_404(request: HttpRequest, number: str) -> Account:
    account = account_bound_or_none(user=request.user, number=number)
    if account is None:
        raise Http404
    return account


def visible_ticket_or_404(request: HttpRequest, number: str) -> Ticket:
    ticket = ticket_visible_or_none(user=request.user, number=number)
    if ticket is None:
        raise Http404
    return ticket
