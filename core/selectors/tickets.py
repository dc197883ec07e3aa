"""What a customer sees of their ticket: a timeline in plain words, like parcel tracking, and one sentence for
the IVR and SMS. Built from public events and the step definitions' customer texts only, so no staff names,
internal notes or reasons ever reach it; English when the active language is English."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.models import StepDefinition, Ticket, TicketEvent, TicketStep


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime.datetime
    text: str


def _english() -> bool:
    return (get_language() or "").startswith("en")


def step_customer_text(step_definition: StepDefinition) -> str:
    """The step's progress wording for customers, in the active language ("" when the step is internal)."""
    if _english() and step_definition.customer_text_en:
        return step_definition.customer_text_en
    return step_definition.customer_text


def _event_text(event: TicketEvent, ticket: Ticket) -> str:
    kind = event.kind
    if kind == TicketEvent.Kind.OPENED:
        return _("您的%(business)s申请已受理，工单号%(number)s") % {
            "business": ticket.get_business_type_display(), "number": ticket.number,
        }
    if kind == TicketEvent.Kind.ARRIVED:
        return step_customer_text(event.step.step_definition) if event.step_id else ""
    return {
        TicketEvent.Kind.SUSPENDED: _("工单暂停办理，等待您的配合"),
        TicketEvent.Kind.RESUMED: _("工单恢复办理"),
        TicketEvent.Kind.CLOSED: _("工单已办结"),
        TicketEvent.Kind.CANCELLED: _("工单已撤销"),
        TicketEvent.Kind.RATED: _("您已对本次服务作出评价，感谢您的支持"),
    }.get(kind, "")


def ticket_timeline(*, ticket: Ticket) -> list[TimelineEntry]:
    """The ticket's public progress, oldest first (one query)."""
    events = (
        TicketEvent.objects.filter(ticket=ticket, public=True)
        .select_related("step__step_definition")
        .order_by("at", "id")
    )
    entries = []
    for event in events:
        text = _event_text(event, ticket)
        if text:
            entries.append(TimelineEntry(at=event.at, text=text))
    return entries


def ticket_progress_text(*, ticket: Ticket) -> str:
    """One sentence on where the ticket stands, to read out on the IVR or send by SMS."""
    number = ticket.number
    if ticket.state == Ticket.State.CLOSED:
        return _("您的工单%(number)s已办结。") % {"number": number}
    if ticket.state == Ticket.State.CANCELLED:
        return _("您的工单%(number)s已撤销。") % {"number": number}
    if ticket.state == Ticket.State.SUSPENDED:
        return _("您的工单%(number)s暂停办理，正在等待您的配合。") % {"number": number}
    step = (
        TicketStep.objects.select_related("step_definition").filter(pk=ticket.current_step_id).first()
        if ticket.current_step_id else None
    )
    progress = step_customer_text(step.step_definition) if step is not None else ""
    if not progress:
        # An internal step (no customer text) is simply "in progress" to the customer.
        return _("您的工单%(number)s正在处理中。") % {"number": number}
    return _("您的工单%(number)s正在处理中：%(progress)s。") % {"number": number, "progress": progress}
