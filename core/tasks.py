"""Celery tasks of the core domain: thin, each named after the service it calls."""
from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from core.services.billing import bills_mark_overdue as bills_mark_overdue_service
from core.services.ticket_sla import sla_scan


@shared_task(name="core.bills_mark_overdue")
def bills_mark_overdue() -> int:
    """Hourly (beat): bills past their due date on today's calendar in Asia/Shanghai become overdue."""
    return bills_mark_overdue_service(as_of=timezone.localdate())


@shared_task(name="core.sla_tick")
def sla_tick() -> dict[str, int]:
    """Every minute (beat): one SLA scan of ticket steps; overlapping runs raise nothing twice."""
    result = sla_scan()
    return {"warned": len(result.warned), "overdue": len(result.overdue), "skipped": len(result.skipped),
            "evaluations": result.evaluations}
