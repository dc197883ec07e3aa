"""Telling fault reporters that power is back: when a known outage is restored (core.signals.outage_changed
"restored"), everyone who reported against it; when a repair ticket's restore step is submitted or the ticket
closes (core.signals.ticket_changed), everyone who joined it. Once per reporter (TicketReporter.told_restored_at);
a customer told by the outage fan-out is not told twice (the same idempotency key, "outage:<id>:restored:<customer>").
A failure here is logged, never raised: the change that triggered it has committed.
"""
from __future__ import annotations

import logging

from core.models import BusinessType, Outage, Ticket, TicketEvent, TicketStep
from core.selectors.portal_tickets import reporters_untold
from core.services.portal_requests import reporters_mark_told
from core.signals import outage_changed, ticket_changed
from notifications.models import Event
from notifications.outage_alerts import outage_area_text
from notifications.services import notification_request

logger = logging.getLogger(__name__)

RESTORE_STEP_CODE = "restore"


def _tell(reporters, *, area: str, outage: Outage | None) -> int:
    told = []
    for reporter in reporters:
        data = {"area": area}
        if reporter.customer_id is not None:
            key = (f"outage:{outage.pk}:restored:{reporter.customer_id}" if outage is not None
                   else f"fault-restored:ticket:{reporter.ticket_id}:customer:{reporter.customer_id}")
            notification_request(recipient_customer=reporter.customer, event=Event.OUTAGE_RESTORED, data=data,
                                 idempotency_key=key, account=reporter.account)
        elif reporter.user_id is not None:
            # Not (yet) a customer: texted at the phone given with the report, as the restoration is essential.
            notification_request(recipient_user=reporter.user, event=Event.OUTAGE_RESTORED, data=data,
                                 idempotency_key=f"fault-restored:reporter:{reporter.pk}", to_phone=reporter.phone)
        told.append(reporter.pk)
    return reporters_mark_told(reporter_ids=told)


def reporters_tell_outage_restored(*, outage_id: int) -> int:
    """Tell the reporters of every fault ticket recorded against this (restored) outage; returns how many."""
    outage = Outage.objects.filter(pk=outage_id).first()
    if outage is None or outage.restored_at is None:
        return 0
    ticket_ids = Ticket.objects.filter(outage=outage).values_list("pk", flat=True)
    return _tell(reporters_untold(ticket_ids=list(ticket_ids)), area=outage_area_text(outage), outage=outage)


def reporters_tell_ticket_restored(*, ticket_id: int) -> int:
    """Tell the reporters of a repair ticket whose supply has been restored; returns how many."""
    ticket = Ticket.objects.select_related("transformer_area").filter(pk=ticket_id).first()
    if ticket is None:
        return 0
    area = ticket.transformer_area.name if ticket.transformer_area_id else ticket.address
    return _tell(reporters_untold(ticket_ids=[ticket.pk]), area=area, outage=None)


def outage_restored_tell_reporters(sender, *, outage_id: int, kind: str, **kwargs) -> None:
    if kind != "restored":
        return
    try:
        reporters_tell_outage_restored(outage_id=outage_id)
    except Exception:
        logger.exception("outage %s: telling fault reporters failed", outage_id)


def ticket_restored_tell_reporters(sender, *, ticket_id: int, kind: str = "", step_id: int | None = None,
                                   **kwargs) -> None:
    if kind not in (TicketEvent.Kind.SUBMITTED, TicketEvent.Kind.CLOSED):
        return
    try:
        ticket = Ticket.objects.filter(pk=ticket_id).values("business_type", "outage_id").first()
        if ticket is None or ticket["business_type"] != BusinessType.FAULT_REPAIR or ticket["outage_id"]:
            # A ticket on a known outage is told when the outage is restored.
            return
        if kind == TicketEvent.Kind.SUBMITTED and not TicketStep.objects.filter(
            pk=step_id, step_definition__code=RESTORE_STEP_CODE
        ).exists():
            return
        reporters_tell_ticket_restored(ticket_id=ticket_id)
    except Exception:
        logger.exception("ticket %s: telling fault reporters failed", ticket_id)


def receivers_connect() -> None:
    """Connect the receivers (idempotent: fixed dispatch_uids)."""
    outage_changed.connect(outage_restored_tell_reporters, dispatch_uid="portal.fault_restored_outage")
    ticket_changed.connect(ticket_restored_tell_reporters, dispatch_uid="portal.fault_restored_ticket")
