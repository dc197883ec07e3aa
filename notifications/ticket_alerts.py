"""Ticket notifications: core.signals.ticket_changed (sent after the engine's transaction commits) turned into
notification requests for the customer and the staff who hold the step.

Each request's idempotency key names the ticket event and the recipient, so a signal delivered twice sends
nothing twice. A failure here is logged, never raised into the engine: the ticket change has committed.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse
from kombu.exceptions import OperationalError

from core.models import StaffAssignment, Ticket, TicketEvent, TicketStep

from .models import Event
from .services import notification_request

logger = logging.getLogger(__name__)

STAFF_EVENTS = {
    TicketEvent.Kind.ARRIVED: Event.TICKET_ARRIVAL,
    TicketEvent.Kind.WARNED: Event.TICKET_WARNING,
    TicketEvent.Kind.OVERDUE: Event.TICKET_OVERDUE,
}


def ticket_url(ticket: Ticket) -> str:
    """Where the customer follows and rates the ticket: its portal page (absolute, so it works in an SMS; empty
    when no public address is configured)."""
    base = settings.NOTIFICATIONS_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{reverse('portal:ticket_detail', args=[ticket.number])}" if base else ""


def step_holders(step: TicketStep) -> list:
    """The step's assignee, or every active member of its post's pool (the post in the step's branch, or in
    every branch), each once."""
    if step.assignee_id is not None:
        return [step.assignee] if step.assignee.is_active else []
    user_ids = StaffAssignment.objects.filter(
        Q(branch_id=step.branch_id) | Q(branch__isnull=True), post_id=step.post_id, active=True
    ).values_list("user_id", flat=True)
    return list(get_user_model().objects.filter(pk__in=user_ids, is_active=True).order_by("pk"))


def _data(ticket: Ticket, step: TicketStep | None) -> dict:
    return {
        "ticket_number": ticket.number,
        "business": str(ticket.get_business_type_display()),
        "step": step.step_definition.name if step is not None else "",
        "url": ticket_url(ticket),
    }


def _tell_customer(ticket: Ticket, event: TicketEvent, notification: str, data: dict) -> None:
    if ticket.anonymous or ticket.customer_id is None:
        return
    notification_request(
        recipient_customer=ticket.customer, event=notification, data=data, account=ticket.account,
        idempotency_key=f"ticket-event:{event.pk}:{notification}:customer:{ticket.customer_id}",
    )


def _tell_staff(step: TicketStep, event: TicketEvent, notification: str, data: dict) -> None:
    for user in step_holders(step):
        notification_request(
            recipient_user=user, event=notification, data=data,
            idempotency_key=f"ticket-event:{event.pk}:{notification}:user:{user.pk}",
        )


def ticket_event_notify(*, event_id: int) -> None:
    """Send what one ticket event calls for (re-reads the event; the signal carries ids only)."""
    event = (
        TicketEvent.objects.select_related(
            "ticket__customer", "ticket__account", "step__step_definition", "step__assignee"
        )
        .filter(pk=event_id).first()
    )
    if event is None:
        return
    ticket, step = event.ticket, event.step
    data = _data(ticket, step)
    if event.kind == TicketEvent.Kind.OPENED:
        _tell_customer(ticket, event, Event.TICKET_ACCEPTED, data)
    elif event.kind in STAFF_EVENTS and step is not None:
        _tell_staff(step, event, STAFF_EVENTS[event.kind], data)
        # The first step arrives with the acceptance, which the customer is already told about.
        if event.kind == TicketEvent.Kind.ARRIVED and step.sequence > 1 and step.step_definition.customer_text:
            _tell_customer(ticket, event, Event.TICKET_STEP_PROGRESS, data)
    elif event.kind == TicketEvent.Kind.CLOSED:
        _tell_customer(ticket, event, Event.TICKET_COMPLETED, data)
        if ticket.satisfaction is None:
            _tell_customer(ticket, event, Event.TICKET_SATISFACTION_REQUEST, {**data, "step": ""})


def ticket_changed_notify(sender, *, event_id: int, kind: str = "", **kwargs) -> None:
    """Receiver of core.signals.ticket_changed (sent after commit): queue the work for a Celery worker, so the
    engine and the SLA scan pay one broker publish per event, not the notification work itself. With the broker
    unreachable the work is done here instead, so nothing is lost."""
    from .tasks import ticket_event_notify_task

    try:
        try:
            ticket_event_notify_task.delay(event_id=event_id)
        except OperationalError:
            logger.warning("broker unavailable; ticket event %s (%s) notified inline", event_id, kind)
            ticket_event_notify(event_id=event_id)
    except Exception:
        # The ticket change has committed; a notification problem must not surface as the engine's error
        # (an eager task, as in tests and demos, runs and fails right here).
        logger.exception("ticket event %s (%s): notification failed", event_id, kind)
