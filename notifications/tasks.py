"""Celery tasks: thin, take ids, re-fetch, call a service; the service decides retry, failure or dead letter."""
import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from .customer_alerts import customer_alerts_notify
from .reminders import arrears_reminders_batch, arrears_reminders_request
from .services import (
    MESSAGE_SEND_MAX_RETRIES,
    fan_out_batch_create,
    fan_out_batches,
    message_send,
    messages_dispatch_due,
    messages_send,
)
from .ticket_alerts import ticket_event_notify

# A task that creates messages and fails on the database (PostgreSQL restarting, a failover) would otherwise be
# acknowledged and gone with the messages it was to create: it is retried instead. Each is idempotent (the messages'
# idempotency keys), so a retry after a partial run creates only what is missing. Tasks that send existing messages
# need no retry: their rows stay pending and dispatch_due queues them again.
DATABASE_RETRY = {"autoretry_for": (OperationalError, InterfaceError), "retry_backoff": 2, "retry_backoff_max": 60,
                  "max_retries": 10}


@shared_task(bind=True, name="notifications.message_send", max_retries=MESSAGE_SEND_MAX_RETRIES)
def message_send_task(self, *, message_id: int) -> str:
    outcome = message_send(message_id=message_id)
    # Inline (eager) runs have no broker to hold a countdown: the pending row waits for dispatch_due instead.
    if outcome.retry_in is not None and not self.request.is_eager and self.request.retries < self.max_retries:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.state


@shared_task(name="notifications.message_send_many")
def message_send_many_task(*, message_ids: list[int]) -> int:
    """Send a chunk of fan-out messages; a transport failure leaves that row pending for dispatch_due."""
    outcomes = messages_send(message_ids=message_ids)
    return sum(outcome.state in ("sent", "delivered") for outcome in outcomes.values())


@shared_task(name="notifications.customer_alerts_notify", **DATABASE_RETRY)
def customer_alerts_notify_task(*, alerts: list[dict]) -> int:
    """A customer-alert scan chunk's alerts (core.signals.customer_alerts_raised), requested together."""
    return customer_alerts_notify(alerts=alerts)


@shared_task(name="notifications.dispatch_due")
def dispatch_due_task() -> int:
    return messages_dispatch_due()


@shared_task(name="notifications.fan_out_plan", **DATABASE_RETRY)
def fan_out_plan_task(
    *, customer_ids: list[int], event: str, data: dict, idempotency_prefix: str, urgency: str
) -> int:
    batches = fan_out_batches(customer_ids=customer_ids)
    for batch in batches:
        fan_out_batch_task.delay(
            customer_ids=batch, event=event, data=data, idempotency_prefix=idempotency_prefix, urgency=urgency
        )
    return len(batches)


@shared_task(name="notifications.fan_out_batch", **DATABASE_RETRY)
def fan_out_batch_task(
    *, customer_ids: list[int], event: str, data: dict, idempotency_prefix: str, urgency: str
) -> int:
    return fan_out_batch_create(
        customer_ids=customer_ids, event=event, data=data, idempotency_prefix=idempotency_prefix, urgency=urgency
    )


@shared_task(name="notifications.arrears_reminders", **DATABASE_RETRY)
def arrears_reminders_task(*, on: str | None = None) -> int:
    day = datetime.date.fromisoformat(on) if on else timezone.localdate()
    return arrears_reminders_request(on=day)


@shared_task(name="notifications.arrears_reminders_batch", **DATABASE_RETRY)
def arrears_reminders_batch_task(*, plan: list[list[int]]) -> int:
    return arrears_reminders_batch(plan=[(bill_id, offset) for bill_id, offset in plan])


@shared_task(name="notifications.ticket_event_notify", **DATABASE_RETRY)
def ticket_event_notify_task(*, event_id: int) -> None:
    """Tell the customer and the step's holders what one ticket event calls for."""
    ticket_event_notify(event_id=event_id)
