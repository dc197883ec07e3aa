"""The fault runs' payment task. The platform posts payments inside requests (counter, Stripe webhook, bank file
upload), not in a worker; a worker killed mid-payment is tested with this thin task, shaped as the house's tasks
are (ids in, re-fetch, one service call): a bank line's payment posted under its own idempotency key."""
from __future__ import annotations

import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError


# A database restarting under the task is a transport error: retried with backoff, as the house's tasks do.
@shared_task(name="chaos.payment_post", acks_late=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=1, retry_backoff_max=10, max_retries=20)
def chaos_payment_post(*, account_id: int, amount: str, idempotency_key: str, received_at: str) -> int:
    from core.models import Account, Payment
    from core.services.payments import payment_post

    result = payment_post(
        account=Account.objects.get(pk=account_id), amount=amount, channel=Payment.Channel.BANK_COLLECTION,
        idempotency_key=idempotency_key, received_at=datetime.datetime.fromisoformat(received_at),
        external_reference=idempotency_key,
    )
    return result.payment.pk
