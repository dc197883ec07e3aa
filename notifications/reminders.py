"""Arrears reminders (催费): unpaid bills reminded a configurable number of days before and after their due date.

The daily beat task asks for the day's reminders; bills are handled in batches, each its own task, and each
reminder is an ordinary notification_request keyed by bill and offset, so a rerun reminds nobody twice.
"""
from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction

from core.models import Bill

from .models import Event
from .services import notification_request

REMINDER_BATCH_SIZE = 500
_OPEN_BEFORE_DUE = (Bill.State.ISSUED, Bill.State.PARTLY_PAID)
_OPEN_AFTER_DUE = (Bill.State.ISSUED, Bill.State.PARTLY_PAID, Bill.State.OVERDUE)


def arrears_reminder_plan(*, on: datetime.date) -> list[tuple[int, int]]:
    """(bill id, days relative to the due date) for every reminder due on `on`; negative = before the due date."""
    plan: list[tuple[int, int]] = []
    offsets = [-days for days in settings.NOTIFICATIONS_ARREARS_REMINDER_DAYS_BEFORE] + list(
        settings.NOTIFICATIONS_ARREARS_REMINDER_DAYS_AFTER
    )
    for offset in offsets:
        states = _OPEN_BEFORE_DUE if offset < 0 else _OPEN_AFTER_DUE
        bill_ids = (
            Bill.objects.filter(due_date=on - datetime.timedelta(days=offset), state__in=states)
            .exclude(kind=Bill.Kind.CREDIT_NOTE)
            .order_by("id")
            .values_list("id", flat=True)
        )
        plan.extend((bill_id, offset) for bill_id in bill_ids)
    return plan


def arrears_reminders_request(*, on: datetime.date) -> int:
    """Queue the day's reminders in batches of REMINDER_BATCH_SIZE after commit; returns how many bills."""
    from .tasks import arrears_reminders_batch_task

    plan = arrears_reminder_plan(on=on)
    for start in range(0, len(plan), REMINDER_BATCH_SIZE):
        batch = plan[start:start + REMINDER_BATCH_SIZE]
        transaction.on_commit(lambda batch=batch: arrears_reminders_batch_task.delay(plan=batch), robust=True)
    return len(plan)


def arrears_reminders_batch(*, plan: list[tuple[int, int]]) -> int:
    """Request one reminder per (bill, offset) still owing money; returns how many requests were made."""
    offsets = dict(plan)
    bills = Bill.objects.filter(pk__in=offsets).select_related("account__customer").order_by("id")
    requested = 0
    for bill in bills:
        if bill.outstanding <= 0:
            continue
        offset = offsets[bill.pk]
        notification_request(
            recipient_customer=bill.account.customer,
            event=Event.ARREARS_REMINDER_BEFORE if offset < 0 else Event.ARREARS_REMINDER_AFTER,
            data={
                "account_number": bill.account.number,
                "period": bill.period.strftime("%Y-%m"),
                "amount": f"{bill.outstanding:.2f}",
                "due_date": bill.due_date.isoformat(),
            },
            idempotency_key=f"arrears:{bill.pk}:{offset:+d}",
            account=bill.account,
        )
        requested += 1
    return requested
