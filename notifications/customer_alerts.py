"""Customer alerts decided by core.services.customer_alerts (tier crossing near, prepaid balance low), sent to the
portal user whose binding asked for them: the threshold and the tier-alert switch are that binding's settings, so
they go by SMS to that user's verified mobile, not to the account holder's phone (a son who binds his parents'
account is told himself; two binders are told once each, the holder not twice). A user with no verified mobile finds
it in the portal inbox of the account's customer, which every binder reads.
A smart-prepaid holder's own low-balance alert (no binding) goes to the customer as any notice does.

The Message rows stay the customer's (recipient_customer), texted at the binder's number as notification_request
allows for a number asked for instead of the one on file; a STOP reply from that number is honoured. The customer's
channel switches are left out of it: the portal shows them as the holder's phone, e-mail and inbox.
The scan's idempotency key makes a signal delivered twice send nothing twice; a failure is logged, never raised into
the scan (it has committed)."""
from __future__ import annotations

import logging

from core.models import Account, AccountBinding

from .errors import NotificationError
from .models import Channel, Event
from .services import notification_request

logger = logging.getLogger(__name__)

EVENTS = {Event.TIER_THRESHOLD_NEAR.value: Event.TIER_THRESHOLD_NEAR, Event.PREPAID_BALANCE_LOW.value: Event.PREPAID_BALANCE_LOW}


def binder_verified_mobile(*, binding: AccountBinding) -> str:
    """The binding user's sign-in mobile (portal.UserPhone, reached through the user) once verified, else ""."""
    record = getattr(binding.user, "phone", None)
    return record.phone if record is not None and record.verified_at is not None else ""


def _holder_covered_by_own_binding(account: Account) -> bool:
    """Whether the holder has bound the account in the portal with the phone on file: their binding's alert, at the
    threshold they chose, is the one they get."""
    phone = account.customer.phone
    return bool(phone) and any(
        binder_verified_mobile(binding=binding) == phone
        for binding in AccountBinding.objects.select_related("user__phone").filter(
            account=account, unbound_at__isnull=True, user__is_active=True
        )
    )


def _holder_alert_notify(*, account_id: int, event: str, data: dict, idempotency_key: str) -> None:
    """A smart-prepaid holder's own alert: to the customer as any notice is (the phone on file, their channel
    switches), about the account; left out when the holder's own binding covers it."""
    account = Account.objects.select_related("customer").filter(pk=account_id).first()
    if account is None or _holder_covered_by_own_binding(account):
        return
    try:
        notification_request(recipient_customer=account.customer, event=event, data=data,
                             idempotency_key=idempotency_key, account=account)
    except NotificationError:
        logger.exception("customer alert %s for account %s not requested", event, account_id)


def customer_alert_notify(*, binding_id: int | None, kind: str, data: dict, idempotency_key: str,
                          account_id: int | None = None, **kwargs) -> None:
    """Receiver of core.signals.customer_alert_raised."""
    event = EVENTS.get(kind)
    if binding_id is None and account_id is not None and event is not None:
        _holder_alert_notify(account_id=account_id, event=event, data=data, idempotency_key=idempotency_key)
        return
    binding = (
        AccountBinding.objects.select_related("account__customer", "user__phone")
        .filter(pk=binding_id, unbound_at__isnull=True, user__is_active=True)
        .first()
    )
    if event is None or binding is None:
        logger.warning("customer alert %s for binding %s not sent: unknown kind, or binding gone", kind, binding_id)
        return
    phone = binder_verified_mobile(binding=binding)
    delivery = {"to_phone": phone} if phone else {"channels": [Channel.INBOX]}
    try:
        notification_request(
            recipient_customer=binding.account.customer, event=event, data=data, idempotency_key=idempotency_key,
            account=binding.account, **delivery,
        )
    except NotificationError:
        logger.exception("customer alert %s for binding %s not requested", kind, binding_id)
