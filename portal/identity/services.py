"""Identity writes the adapter delegates to: a user's mobile number and the SMS carrying a login code.

They live here, not in core, because the phone is portal data (portal.models.UserPhone) and core imports
no app above it."""
from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.models import Channel, Event, Message, Urgency
from notifications.services import notification_request
from portal.models import UserPhone


def user_phone_set(*, user, phone: str, verified: bool) -> UserPhone | None:
    """Attach (or change) the user's mobile number. A number another user already holds is left alone and
    None is returned: allauth's signup answers that case without revealing it. Locks nothing: the unique
    phone settles concurrent claims."""
    try:
        with transaction.atomic():
            record, _created = UserPhone.objects.update_or_create(
                user=user, defaults={"phone": phone, "verified_at": timezone.now() if verified else None}
            )
    except IntegrityError:
        return None
    return record


def user_phone_verify(*, user, phone: str) -> bool:
    """Mark the user's number verified (they typed the code sent to it); False if it is not their number."""
    updated = UserPhone.objects.filter(user=user, phone=phone).update(verified_at=timezone.now())
    return bool(updated)


def user_by_phone(*, phone: str):
    """The active user signing in with this number, or None."""
    return get_user_model().objects.filter(phone__phone=phone, is_active=True).first()


def login_code_send(*, user, phone: str, code: str, minutes: int) -> list[Message]:
    """Text a sign-in or phone-verification code to the user (urgent: quiet hours never hold a login code).
    Each code is its own notification; the key carries a random nonce and never the code itself."""
    nonce = hashlib.sha256(f"{phone}:{secrets.token_hex(16)}".encode()).hexdigest()[:24]
    return notification_request(
        recipient_user=user,
        event=Event.LOGIN_CODE,
        data={"code": code, "minutes": minutes},
        urgency=Urgency.URGENT,
        idempotency_key=f"login-code:{user.pk}:{nonce}",
        channels=[Channel.SMS],
        to_phone=phone,
    )
