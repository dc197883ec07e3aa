"""The portal's messages inbox (站内信) and notification preferences: thin views over notifications'
selectors and services, every message and customer reached through the user's bound accounts."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.selectors.portal_access import bindings_active
from notifications.errors import NotificationError
from notifications.models import InboxMessage
from notifications.selectors import (
    INBOX_PAGE_SIZE,
    inbox_for_user,
    inbox_message_visible_or_none,
    inbox_unread_count_for_user,
    preferences_for_user,
)
from notifications.services import inbox_message_mark_read, preferences_set
from portal.access import bound_account_or_404

from .forms import PreferencesForm


def _visible_message_or_404(request: HttpRequest, message_id: int) -> InboxMessage:
    message = inbox_message_visible_or_none(user=request.user, inbox_message_id=message_id)
    if message is None:
        raise Http404
    return message


def _mark_read(message: InboxMessage) -> InboxMessage:
    try:
        return inbox_message_mark_read(inbox_message_id=message.pk, customer=message.customer)
    except NotificationError as exc:
        # Unbound (or deleted) between the lookup and the write: the same answer as any message not theirs.
        raise Http404 from exc


@require_GET
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    page = Paginator(inbox_for_user(user=request.user), INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/inbox/inbox.html", {
        "page": page,
        "unread_count": inbox_unread_count_for_user(user=request.user),
        "has_bindings": bindings_active(user=request.user).exists(),
    })


@require_GET
@login_required
def inbox_message(request: HttpRequest, message_id: int) -> HttpResponse:
    """Opening a message is reading it, as in any mail client: the read mark is idempotent."""
    message = _mark_read(_visible_message_or_404(request, message_id))
    return render(request, "portal/inbox/message.html", {"message": message})


@require_POST
@login_required
def inbox_mark_read(request: HttpRequest, message_id: int) -> HttpResponse:
    _mark_read(_visible_message_or_404(request, message_id))
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("portal:inbox")


@require_GET
@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    customers = preferences_for_user(user=request.user)
    entries = [
        {"customer": customer, "form": PreferencesForm(switches=customer.switches, prefix=f"c{customer.customer_id}")}
        for customer in customers
    ]
    return render(request, "portal/inbox/preferences.html", {"entries": entries})


@require_POST
@login_required
def preferences_save(request: HttpRequest, number: str) -> HttpResponse:
    account = bound_account_or_404(request, number)
    form = PreferencesForm(request.POST, prefix=f"c{account.customer_id}")
    if not form.is_valid():
        messages.error(request, _("通知设置未保存，请重试"))
        return redirect("portal:preferences")
    try:
        preferences_set(customer=account.customer, switches=form.choices())
    except NotificationError as exc:
        messages.error(request, str(exc))
        return redirect("portal:preferences")
    messages.success(request, _("%(name)s的通知设置已保存") % {"name": account.customer.name})
    return redirect("portal:preferences")
