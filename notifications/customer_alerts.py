"""Customer alerts decided by core.services.customer_alerts (tier crossing near, prepaid balance low), sent to the
portal user whose binding asked for them: the threshold and the tier-alert switch are that binding's settings, so
they go by SMS to that user's verified mobile, not to the account holder's phone (a son who binds his parents'
account is told himself; two binders are told once each, the holder not twice). A user with no verified mobile finds
it in the portal inbox of the account's customer, which every binder reads.
A smart-prepaid holder's own low-balance alert (no binding) goes to the customer as any notice does.

The Message rows stay the customer's (recipient_customer), texted at the binder's number as notification_request
allows for a number asked for instead of the one on file; a STOP reply from that number is honoured. The customer's
channel switches are left out of it: the portal shows them as the holder's phone, e-mail and inbox.
The scan raises each chunk's alerts together after the chunk commits; a worker requests them together
(customer_alerts_notify_task: a few queries and one INSERT per batch, retried if the database fails). The scan's
idempotency keys make a batch delivered or retried twice send nothing twice; a refused alert is logged, never raised
into the scan (it has committed)."""
from __future__ import annotations

import logging

from core.models import Account, AccountBinding

from .errors import NotificationError
from .models import Channel, Event
from .services import CustomerNotice, customer_notices_request

logger = logging.getLogger(__name__)

EVENTS = {Event.TIER_THRESHOLD_NEAR.value: Event.TIER_THRESHOLD_NEAR, Event.PREPAID_BALANCE_LOW.value: Event.PREPAID_BALANCE_LOW}


def binder_verified_mobile(*, binding: AccountBinding) -> str:
    """The binding user's sign-in mobile (portal.UserPhone, reached through the user) once verified, else ""."""
    record = getattr(binding.user, "phone", None)
    return record.phone if record is not None and record.verified_at is not None else ""


def _active_bindings():
    return AccountBinding.objects.select_related("account__customer", "user__phone").filter(
        unbound_at__isnull=True, user__is_active=True
    )


def _holders_covered_by_own_binding(accounts: list[Account]) -> set[int]:
    """The accounts whose holder has bound them in the portal with the phone on file: their binding's alert, at the
    threshold they chose, is the one they get. One query."""
    phones = {account.pk: account.customer.phone for account in accounts if account.customer.phone}
    return {
        binding.account_id
        for binding in _active_bindings().filter(account_id__in=list(phones))
        if binder_verified_mobile(binding=binding) == phones[binding.account_id]
    }


def _binding_notices(alerts: list[dict]) -> list[CustomerNotice]:
    """Each alert of a binding still bound by an active user: to the binder's verified mobile (SMS), else the
    customer's inbox."""
    bindings = _active_bindings().in_bulk([alert["binding_id"] for alert in alerts])
    notices = []
    for alert in alerts:
        binding = bindings.get(alert["binding_id"])
        if binding is None:
            logger.warning("customer alert %s for binding %s not sent: binding gone", alert["kind"],
                           alert["binding_id"])
            continue
        phone = binder_verified_mobile(binding=binding)
        notices.append(CustomerNotice(
            customer=binding.account.customer, event=EVENTS[alert["kind"]], data=alert["data"],
            idempotency_key=alert["idempotency_key"], account_id=binding.account_id, to_phone=phone,
            channels=None if phone else (Channel.INBOX,),
        ))
    return notices


def _holder_notices(alerts: list[dict]) -> list[CustomerNotice]:
    """A smart-prepaid holder's own alerts: to the customer as any notice is (the phone on file, their channel
    switches), about the account; left out when the holder's own binding covers it."""
    accounts = Account.objects.select_related("customer").in_bulk([alert["account_id"] for alert in alerts])
    covered = _holders_covered_by_own_binding(list(accounts.values()))
    return [
        CustomerNotice(customer=accounts[alert["account_id"]].customer, event=EVENTS[alert["kind"]],
                       data=alert["data"], idempotency_key=alert["idempotency_key"], account_id=alert["account_id"])
        for alert in alerts
        if alert["account_id"] in accounts and alert["account_id"] not in covered
    ]


def customer_alerts_notify(*, alerts: list[dict]) -> int:
    """Request the notifications of a batch of alerts (a scan chunk's): the bindings, holders and customers' settings
    read a few queries for the whole batch, the messages written in one INSERT. Returns how many were queued.

    An alert of an unknown kind is logged and dropped. Should the batch be refused as a whole (NotificationError), its
    alerts are requested one by one, so one bad alert costs only itself."""
    known = [alert for alert in alerts if alert["kind"] in EVENTS]
    for alert in alerts:
        if alert["kind"] not in EVENTS:
            logger.warning("customer alert of unknown kind %s not sent", alert["kind"])
    notices = _binding_notices([a for a in known if a["binding_id"] is not None]) + _holder_notices(
        [a for a in known if a["binding_id"] is None and a.get("account_id") is not None]
    )
    try:
        return customer_notices_request(notices=notices)
    except NotificationError:
        if len(notices) == 1:
            logger.exception("customer alert %s not requested", notices[0].idempotency_key)
            return 0
    queued = 0
    for notice in notices:
        try:
            queued += customer_notices_request(notices=[notice])
        except NotificationError:
            logger.exception("customer alert %s not requested", notice.idempotency_key)
    return queued


def customer_alerts_raised_receive(*, alerts: list[dict], **kwargs) -> None:
    """Receiver of core.signals.customer_alerts_raised (after the scan chunk's commit): the batch goes to a worker,
    or is requested here when the broker cannot be reached."""
    from kombu.exceptions import OperationalError

    from .tasks import customer_alerts_notify_task

    try:
        customer_alerts_notify_task.delay(alerts=alerts)
    except OperationalError:
        logger.warning("broker unavailable; %s customer alerts requested in the scan's process", len(alerts))
        customer_alerts_notify(alerts=alerts)
