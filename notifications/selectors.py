"""Reads of the notifications app."""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from core.selectors.portal_access import accounts_bound_to, bindings_active

from .models import (
    CHANNEL_KINDS,
    PREFERENCE_DEFAULTS,
    InboxMessage,
    Message,
    NotificationPreference,
    NotificationTopic,
    PreferenceKind,
    SmsOptOut,
)


# Every switch a customer has: each kind as a whole (topic "") and each topic of each channel kind.
PreferenceSwitches = dict[tuple[str, str], bool]

SWITCH_DEFAULTS: PreferenceSwitches = {
    **{(kind.value, ""): value for kind, value in PREFERENCE_DEFAULTS.items()},
    **{(kind.value, topic.value): True for kind in CHANNEL_KINDS for topic in NotificationTopic},
}


def preference_switches_for_customers(*, customer_ids: list[int]) -> dict[int, PreferenceSwitches]:
    """Every (kind, topic) switch of each customer, defaults filled in (a topic never set is on); one query."""
    result = {cid: dict(SWITCH_DEFAULTS) for cid in customer_ids}
    rows = NotificationPreference.objects.filter(customer_id__in=customer_ids).values_list(
        "customer_id", "kind", "topic", "enabled"
    )
    for customer_id, kind, topic, enabled in rows:
        result[customer_id][(kind, topic)] = enabled
    return result


def preference_switches_for(*, customer_id: int) -> PreferenceSwitches:
    return preference_switches_for_customers(customer_ids=[customer_id])[customer_id]


def _whole_kinds(switches: PreferenceSwitches) -> dict[str, bool]:
    return {kind.value: switches[(kind.value, "")] for kind in PreferenceKind}


def preferences_for_customers(*, customer_ids: list[int]) -> dict[int, dict[str, bool]]:
    """Every preference kind as a whole for each customer, defaults filled in; one query."""
    switches = preference_switches_for_customers(customer_ids=customer_ids)
    return {cid: _whole_kinds(switches[cid]) for cid in customer_ids}


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


# --- the portal inbox and preferences, seen through a portal user's bound accounts ------------------------------

INBOX_PAGE_SIZE = 20


def _bound_customer_ids(*, user) -> QuerySet:
    """Subquery of the customers whose accounts the user has bound (a user may bind a parent's account)."""
    return accounts_bound_to(user=user).values("customer_id")


def _visible_to(*, user) -> Q:
    """Messages of the customers the user has bound an account of: those about no account in particular, and those
    about an account the user has bound (a holder's message about another of their accounts stays with the users
    who have bound that one)."""
    return Q(customer_id__in=_bound_customer_ids(user=user)) & (
        Q(account__isnull=True) | Q(account_id__in=accounts_bound_to(user=user).values("pk"))
    )


def inbox_for_user(*, user) -> QuerySet[InboxMessage]:
    """The inbox messages the user sees (_visible_to), newest first."""
    return InboxMessage.objects.filter(_visible_to(user=user)).select_related("customer").order_by("-created_at", "-id")


def inbox_unread_count_for_user(*, user) -> int:
    return InboxMessage.objects.filter(_visible_to(user=user), read_at__isnull=True).count()


def inbox_message_visible_or_none(*, user, inbox_message_id: int) -> InboxMessage | None:
    """One message if it belongs to a customer the user has bound; None for a missing one and someone else's
    alike, so the portal answers both 404."""
    return inbox_for_user(user=user).filter(pk=inbox_message_id).first()


def phone_masked(phone: str) -> str:
    """138****5678: enough for the customer to recognise their number, not enough to read it off a screen."""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def email_masked(email: str) -> str:
    """z***@example.com."""
    local, _sep, domain = email.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


@dataclass(frozen=True)
class CustomerPreferences:
    """One customer's notification choices as a portal user sees them (contacts masked)."""

    customer_id: int
    name: str
    account_numbers: tuple[str, ...]
    phone_masked: str
    email_masked: str
    preferences: dict[str, bool]
    switches: PreferenceSwitches

    @property
    def account_number(self) -> str:
        """The account whose address the customer's preference form posts to (guarded like every account URL)."""
        return self.account_numbers[0]


def preferences_for_user(*, user) -> list[CustomerPreferences]:
    """One entry per customer of the user's bound accounts, in binding order; two queries."""
    by_customer: dict[int, dict] = {}
    for binding in bindings_active(user=user).select_related("account__customer"):
        customer = binding.account.customer
        entry = by_customer.setdefault(customer.pk, {"customer": customer, "numbers": []})
        entry["numbers"].append(binding.account.number)
    switches = preference_switches_for_customers(customer_ids=list(by_customer))
    return [
        CustomerPreferences(
            customer_id=customer_id,
            name=entry["customer"].name,
            account_numbers=tuple(entry["numbers"]),
            phone_masked=phone_masked(entry["customer"].phone) if entry["customer"].phone else "",
            email_masked=email_masked(entry["customer"].email) if entry["customer"].email else "",
            preferences=_whole_kinds(switches[customer_id]),
            switches=switches[customer_id],
        )
        for customer_id, entry in by_customer.items()
    ]
