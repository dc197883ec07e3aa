"""My tickets, a ticket's customer-facing timeline with its rating, its documents (owner and staff only), and
guest tracking by ticket number and phone. Every ticket URL goes through visible_ticket_or_404 (someone else's
ticket is a 404, the same as a missing one)."""
from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError, TicketValidationError
from core.models import BusinessType, Ticket
from core.models.tickets import TicketAttachment
from core.selectors.callers import caller_number_normalise
from core.selectors.portal_tickets import (
    ticket_documents_of_user,
    ticket_for_portal,
    ticket_owned_by,
    ticket_tracked,
    tickets_of_user,
)
from core.selectors.ticket_queue import ticket_visible_to as ticket_visible_to_staff
from core.selectors.tickets import ticket_progress_text, ticket_timeline
from core.services.portal_requests import portal_ticket_rate, tracking_allowed_check, tracking_attempt_record
from portal.access import visible_ticket_or_404
from portal.binding.client import client_ip

TICKETS_PER_PAGE = 20
REGULATOR_HOTLINE = "12398"


class RateForm(forms.Form):
    satisfaction = forms.TypedChoiceField(
        label=gettext_lazy("满意度"), coerce=int, widget=forms.RadioSelect,
        choices=[(5, gettext_lazy("非常满意")), (4, gettext_lazy("满意")), (3, gettext_lazy("一般")),
                 (2, gettext_lazy("不满意")), (1, gettext_lazy("非常不满意"))],
    )
    comment = forms.CharField(label=gettext_lazy("评价意见"), max_length=300, required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))


class TrackForm(forms.Form):
    number = forms.CharField(label=gettext_lazy("工单号"), max_length=16)
    phone = forms.CharField(label=gettext_lazy("联系电话"), max_length=20)


def _mask_name(name: str) -> str:
    name = (name or "").strip()
    return f"{name[0]}{'*' * (len(name) - 1)}" if len(name) > 1 else name


def _mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 11 else "****"


@dataclass(frozen=True)
class TicketPage:
    """What the ticket page shows: the owner sees the details, a co-reporter of a shared fault the progress only."""

    ticket: Ticket
    owner: bool
    progress: str
    timeline: list
    attachments: list
    reply: str
    is_complaint: bool
    can_rate: bool
    outage_title: str
    outage_ends_at: object


def _ticket_page(request: HttpRequest, ticket: Ticket) -> TicketPage:
    owner = ticket_owned_by(ticket=ticket, user=request.user)
    attachments = list(ticket_documents_of_user(ticket=ticket, user=request.user)) if owner else []
    return TicketPage(
        ticket=ticket, owner=owner, progress=ticket_progress_text(ticket=ticket), timeline=ticket_timeline(ticket=ticket),
        attachments=attachments, reply=str(ticket.data.get("reply", "")) if owner else "",
        is_complaint=ticket.business_type == BusinessType.COMPLAINT,
        can_rate=owner and ticket.state == Ticket.State.CLOSED and ticket.satisfaction is None
        and (ticket.customer_id is not None or ticket.opened_by_id == request.user.pk),
        outage_title=ticket.outage.title if ticket.outage_id else "",
        outage_ends_at=ticket.outage.ends_at if ticket.outage_id else None,
    )


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(tickets_of_user(user=request.user), TICKETS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "portal/tickets/ticket_list.html", {"page": page})


@login_required
def ticket_detail(request: HttpRequest, number: str) -> HttpResponse:
    visible_ticket_or_404(request, number)
    ticket = ticket_for_portal(number=number)
    return render(request, "portal/tickets/ticket_detail.html", {
        "page": _ticket_page(request, ticket), "rate_form": RateForm(), "hotline": REGULATOR_HOTLINE,
    })


@login_required
@require_POST
def ticket_rate_view(request: HttpRequest, number: str) -> HttpResponse:
    visible_ticket_or_404(request, number)
    ticket = ticket_for_portal(number=number)
    form = RateForm(request.POST)
    if form.is_valid():
        try:
            portal_ticket_rate(user=request.user, ticket=ticket, satisfaction=form.cleaned_data["satisfaction"],
                               comment=form.cleaned_data["comment"])
        except TicketValidationError as error:
            messages.error(request, "；".join(m for ms in error.errors.values() for m in ms) or str(error))
        except DomainError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("感谢您的评价"))
            return redirect("portal:ticket_detail", number=number)
    else:
        messages.error(request, _("请选择满意度"))
    return render(request, "portal/tickets/ticket_detail.html", {
        "page": _ticket_page(request, ticket), "rate_form": form, "hotline": REGULATOR_HOTLINE,
    }, status=400)


@login_required
def document_download(request: HttpRequest, number: str, attachment_id: int) -> FileResponse:
    """A ticket's document, to its owner or to staff who may see the ticket; anyone else gets 404. Always a
    download with the stored content type (never shown inline)."""
    user = request.user
    ticket = ticket_for_portal(number=number)
    if ticket is None:
        raise Http404
    if user.is_staff and ticket_visible_to_staff(ticket=ticket, user=user):
        attachment = get_object_or_404(TicketAttachment, pk=attachment_id, ticket=ticket)
    else:
        visible_ticket_or_404(request, number)
        attachment = ticket_documents_of_user(ticket=ticket, user=user).filter(pk=attachment_id).first()
        if attachment is None:
            raise Http404
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, as_attachment=True, filename=attachment.name,
                            content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_http_methods(["GET", "POST"])
def ticket_track(request: HttpRequest) -> HttpResponse:
    """Guest tracking: the ticket's timeline for its number and contact phone, names and phones masked."""
    form = TrackForm(request.POST or None)
    context: dict = {"form": form}
    status = 200
    if request.method == "POST" and form.is_valid():
        ip_address = client_ip(request)
        try:
            tracking_allowed_check(ip_address=ip_address)
        except DomainError as error:
            form.add_error(None, str(error))
            status = 429
        else:
            ticket = ticket_tracked(number=form.cleaned_data["number"], phone=form.cleaned_data["phone"])
            tracking_attempt_record(ip_address=ip_address, succeeded=ticket is not None)
            if ticket is None:
                form.add_error(None, _("未找到与工单号和联系电话相符的工单，请核对后重试"))
            else:
                context.update({
                    "ticket": ticket, "timeline": ticket_timeline(ticket=ticket),
                    "progress": ticket_progress_text(ticket=ticket),
                    "masked_name": _mask_name(ticket.contact_name or (ticket.customer.name if ticket.customer else "")),
                    "masked_phone": _mask_phone(caller_number_normalise(form.cleaned_data["phone"])),
                })
    return render(request, "portal/tickets/track.html", context, status=status)
