"""Reads of the notifications app."""
from __future__ import annotations

from django.db.models import QuerySet

from .models import PREFERENCE_DEFAULTS, InboxMessage, Message, NotificationPreference, SmsOptOut


def preferences_for_customers(*, customer_ids: list[int]) -> dict[int, dict[str, bool]]:
    """Every preference kind for each customer, defaults filled in; one query."""
    result = {cid: {str(kind): value for kind, value in PREFERENCE_DEFAULTS.items()} for cid in customer_ids}
    rows = NotificationPreference.objects.filter(customer_id__in=customer_ids).values_list(
        "customer_id", "kind", "enabled"
    )
    for customer_id, kind, enabled in rows:
        result[customer_id][kind] = enabled
    return result


def preferences_for(*, customer_id: int) -> dict[str, bool]:
    return preferences_for_customers(customer_ids=[customer_id])[customer_id]


def sms_opted_out_phones(*, phones: list[str]) -> set[str]:
    return set(SmsOptOut.objects.filter(phone__in=[p for p in phones if p]).values_list("phone", flat=True))


def sms_last_sent_to(*, phone: str) -> Message | None:
    """The latest SMS for a phone: the demo and tests read login codes from it when Twilio is not configured."""
    return (
        Message.objects.filter(channel="sms", to=phone, state__in=["sent", "delivered"]).order_by("-id").first()
    )


def messages_needing_attention() -> QuerySet[Message]:
    """Failed and dead-lettered messages for the staff failures page, newest first."""
    return Message.objects.filter(state__in=[Message.State.FAILED, Message.State.DEAD]).select_related(
        "recipient_customer", "recipient_user"
    ).order_by("-id")


def inbox_for(*, customer_id: int) -> QuerySet[InboxMessage]:
    return InboxMessage.objects.filter(customer_id=customer_id)


def inbox_unread_count(*, customer_id: int) -> int:
    return InboxMessage.objects.filter(customer_id=customer_id, read_at__isnull=True).count()
