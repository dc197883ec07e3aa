"""SMS the hotline's callers asked for: core.signals.caller_sms_requested (sent after commit by
core.services.caller_requests) becomes a notification request, and an outage's restoration
(core.signals.outage_changed, kind "restored") texts each caller who asked the IVR to be told, once.

A caller texted at the phone on file for their customer is that customer's message (the outage fan-out's key for
the restored notice, so nobody hears it twice); anyone else is reached at the number alone. A failure here is
logged, never raised: the request that asked has committed.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from core.models import Customer, Outage, OutageState, RestorationCallback
from core.selectors.callers import caller_number_normalise
from core.signals import caller_sms_requested, outage_changed

from .models import Channel, Event, Urgency
from .outage_alerts import outage_notice_data
from .services import notification_request

logger = logging.getLogger(__name__)

_EVENTS = {"payment_link": Event.PAYMENT_LINK, "agent_message": Event.AGENT_MESSAGE}


def payment_link_url(account_number: str) -> str:
    """Where the customer pays the account online (absolute when the public address is configured)."""
    base = settings.NOTIFICATIONS_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{reverse('portal:pay_account', args=[account_number])}"


def _caller_sms(*, event: str, phone: str, data: dict, idempotency_key: str, customer: Customer | None) -> None:
    if customer is not None and caller_number_normalise(customer.phone) == phone:
        notification_request(
            recipient_customer=customer, event=event, data=data, idempotency_key=idempotency_key,
            channels=[Channel.SMS], urgency=Urgency.URGENT,
        )
    else:
        notification_request(
            recipient_customer=customer, event=event, data=data, idempotency_key=idempotency_key, to_phone=phone,
            channels=[Channel.SMS], urgency=Urgency.URGENT,
        )


@receiver(caller_sms_requested, dispatch_uid="notifications.caller_sms")
def caller_sms_notify(
    sender, *, kind: str, phone: str, data: dict, idempotency_key: str, customer_id: int | None = None, **kwargs
) -> None:
    """Receiver of core.signals.caller_sms_requested."""
    try:
        if kind == "restoration_callback_registered":
            # Power may have come back between the caller's question and this commit: tell them now.
            restoration_callbacks_notify(outage_id=data["outage_id"])
            return
        event = _EVENTS.get(kind)
        if event is None:
            logger.warning("unknown caller SMS kind %r", kind)
            return
        if event == Event.PAYMENT_LINK:
            data = {**data, "link": payment_link_url(data["account_number"])}
        customer = Customer.objects.filter(pk=customer_id).first() if customer_id is not None else None
        _caller_sms(event=event, phone=phone, data=data, idempotency_key=idempotency_key, customer=customer)
    except Exception:
        logger.exception("caller SMS %s (%s) not requested", kind, idempotency_key)


def restoration_callbacks_notify(*, outage_id: int) -> int:
    """Text every caller who asked to be told this outage is over and was not told yet; returns how many.

    Locks the outage's waiting RestorationCallback rows, so two deliveries of the signal text nobody twice."""
    outage = Outage.objects.filter(pk=outage_id, state=OutageState.RESTORED).first()
    if outage is None:
        return 0
    data = outage_notice_data(outage)
    told = []
    with transaction.atomic():
        callbacks = list(
            # Only the callback rows: PostgreSQL refuses FOR UPDATE on the nullable side of the account join.
            RestorationCallback.objects.select_for_update(of=("self",))
            .filter(outage=outage, notified_at__isnull=True)
            .select_related("account__customer")
            .order_by("pk")
        )
        for callback in callbacks:
            customer = callback.account.customer if callback.account is not None else None
            if customer is not None and caller_number_normalise(customer.phone) == callback.phone:
                key = f"outage:{outage.pk}:restored:{customer.pk}"
            else:
                key = f"outage:{outage.pk}:restored:phone:{callback.phone}"
            _caller_sms(event=Event.OUTAGE_RESTORED, phone=callback.phone, data=data, idempotency_key=key,
                        customer=customer)
            told.append(callback.pk)
        RestorationCallback.objects.filter(pk__in=told).update(notified_at=timezone.now())
    return len(told)


@receiver(outage_changed, dispatch_uid="notifications.caller_sms.restored")
def outage_restored_callbacks(sender, *, outage_id: int, kind: str, **kwargs) -> None:
    """Receiver of core.signals.outage_changed: on "restored", the callers who asked hear it."""
    if kind != "restored":
        return
    try:
        restoration_callbacks_notify(outage_id=outage_id)
    except Exception:
        logger.exception("outage %s: restoration callbacks not sent", outage_id)
