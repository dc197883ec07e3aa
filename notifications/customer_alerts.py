"""Customer alerts decided by core.services.customer_alerts (tier crossing near, prepaid balance low), sent to the
account holder (SMS to the phone on file, inbox) through notification_request. The scan's idempotency key makes a
signal delivered twice send nothing twice; a failure is logged, never raised into the scan (it has committed)."""
from __future__ import annotations

import logging

from core.models import AccountBinding

from .errors import NotificationError
from .models import Event
from .services import notification_request

logger = logging.getLogger(__name__)

EVENTS = {Event.TIER_THRESHOLD_NEAR.value: Event.TIER_THRESHOLD_NEAR, Event.PREPAID_BALANCE_LOW.value: Event.PREPAID_BALANCE_LOW}


def customer_alert_notify(*, binding_id: int, kind: str, data: dict, idempotency_key: str, **kwargs) -> None:
    """Receiver of core.signals.customer_alert_raised."""
    event = EVENTS.get(kind)
    binding = AccountBinding.objects.select_related("account__customer").filter(pk=binding_id).first()
    if event is None or binding is None:
        logger.warning("customer alert %s for binding %s not sent: unknown kind or binding", kind, binding_id)
        return
    try:
        notification_request(
            recipient_customer=binding.account.customer, event=event, data=data, idempotency_key=idempotency_key
        )
    except NotificationError:
        logger.exception("customer alert %s for binding %s not requested", kind, binding_id)
