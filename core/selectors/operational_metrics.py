"""The domain's figures for monitoring (/metrics): tickets open and overdue, calls waiting, notifications waiting to
go out, payments posted. One aggregate query per record type, counted by the database; Prometheus scrapes these every
few seconds, so nothing here loads rows.

Definitions: a ticket is overdue when it is open and its current step is active past its due time (the SLA beat
marks it a minute later; monitoring should not wait for the beat). Calls waiting are the wallboard's (queued or
ringing, not older than its horizon). Notifications pending are those still to be delivered: queued for their first
attempt, waiting to retry after a failed one, held for quiet hours, or being sent now. Payments posted count every
payment ever received (a later reversal is a separate event and does not un-receive it), so their totals only grow;
"today" is the Beijing day.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.core.cache import cache
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from core.models import Call, CallState, Payment, Ticket, TicketStep
from core.selectors.call_kpis import SHANGHAI, WAITING_HORIZON

ZERO = Decimal("0.00")
PAYMENTS_CHECKPOINT_KEY = "metrics:payments_checkpoint"
PAYMENTS_CHECKPOINT_SECONDS = 3600


@dataclass(frozen=True)
class NotificationsPending:
    queued: int
    retrying: int
    held: int
    sending: int


@dataclass(frozen=True)
class OperationalFigures:
    tickets_open: int
    tickets_overdue: int
    calls_waiting: int
    calls_waiting_oldest_seconds: int
    notifications_pending: NotificationsPending
    payments_posted_today: int
    payments_posted_today_amount: Decimal
    payments_posted_total: int
    payments_posted_total_amount: Decimal


def _day_start(now: datetime.datetime) -> datetime.datetime:
    return timezone.localtime(now, SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)


def _tickets(now: datetime.datetime) -> dict:
    return Ticket.objects.filter(state=Ticket.State.OPEN).aggregate(
        open=Count("id"),
        overdue=Count(
            "id", filter=Q(current_step__state=TicketStep.State.ACTIVE, current_step__due_at__lt=now),
        ),
    )


def _calls(now: datetime.datetime) -> tuple[int, int]:
    waiting = Call.objects.filter(
        state__in=(CallState.QUEUED, CallState.RINGING), queued_at__gte=now - WAITING_HORIZON
    ).aggregate(count=Count("id"), oldest=Min("queued_at"))
    oldest = waiting["oldest"]
    return waiting["count"], max(int((now - oldest).total_seconds()), 0) if oldest else 0


def _notifications() -> NotificationsPending:
    # core imports no other app's modules (STYLE.md); the notifications' Message is reached through the app registry.
    message = apps.get_model("notifications", "Message")
    state = message.State
    counts = message.objects.filter(state__in=(state.PENDING, state.HELD, state.SENDING)).aggregate(
        queued=Count("id", filter=Q(state=state.PENDING, attempts=0)),
        retrying=Count("id", filter=Q(state=state.PENDING, attempts__gt=0)),
        held=Count("id", filter=Q(state=state.HELD)),
        sending=Count("id", filter=Q(state=state.SENDING)),
    )
    return NotificationsPending(**counts)


def _payments_checkpoint() -> dict:
    """Every payment up to the newest one now: its id, how many, how much. One query reading the whole table, at
    most once per PAYMENTS_CHECKPOINT_SECONDS across every process (kept in the cache)."""
    checkpoint = cache.get(PAYMENTS_CHECKPOINT_KEY)
    if not isinstance(checkpoint, dict):
        figures = Payment.objects.aggregate(up_to_id=Max("id"), count=Count("id"), amount=Sum("amount"))
        checkpoint = {"up_to_id": figures["up_to_id"] or 0, "count": figures["count"],
                      "amount": str((figures["amount"] or ZERO).quantize(ZERO))}
        cache.set(PAYMENTS_CHECKPOINT_KEY, checkpoint, timeout=PAYMENTS_CHECKPOINT_SECONDS)
    return checkpoint


def _payments(now: datetime.datetime) -> dict:
    """Today's (the received_at index) and the totals: the checkpoint's plus the payments after it (a range of the
    primary key), so a scrape costs what the recent payments cost however large the table grows. A payment whose
    transaction was still open when a checkpoint passed its id is counted from the next checkpoint on."""
    checkpoint = _payments_checkpoint()
    today = Q(received_at__gte=_day_start(now))
    after = Q(id__gt=checkpoint["up_to_id"])
    figures = Payment.objects.filter(today | after).aggregate(
        after=Count("id", filter=after),
        after_amount=Sum("amount", filter=after),
        today=Count("id", filter=today),
        today_amount=Sum("amount", filter=today),
    )
    return {"today": figures["today"], "today_amount": figures["today_amount"],
            "total": checkpoint["count"] + figures["after"],
            "total_amount": Decimal(checkpoint["amount"]) + (figures["after_amount"] or ZERO)}


def operational_figures(*, now: datetime.datetime | None = None) -> OperationalFigures:
    """Four aggregate queries: tickets, calls, notifications, payments (five when the payments' checkpoint is
    due)."""
    now = now or timezone.now()
    tickets = _tickets(now)
    calls_waiting, oldest_seconds = _calls(now)
    payments = _payments(now)
    return OperationalFigures(
        tickets_open=tickets["open"],
        tickets_overdue=tickets["overdue"],
        calls_waiting=calls_waiting,
        calls_waiting_oldest_seconds=oldest_seconds,
        notifications_pending=_notifications(),
        payments_posted_today=payments["today"],
        payments_posted_today_amount=payments["today_amount"] or ZERO,
        payments_posted_total=payments["total"],
        payments_posted_total_amount=payments["total_amount"] or ZERO,
    )
