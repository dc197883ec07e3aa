"""Celery tasks of the decision-support layer: thin, named after the service they call (beat: every 15 minutes
incremental, nightly full)."""
from __future__ import annotations

from celery import shared_task

from core.services.report_refresh import reports_refresh as reports_refresh_service


@shared_task(name="core.reports_refresh")
def reports_refresh() -> dict:
    """Every 15 minutes (beat): the summary tables' periods and branches touched since the last refresh."""
    report = reports_refresh_service()
    return {"full": report.full, "rows": report.rows, "seconds": str(report.seconds), "periods": report.periods}


@shared_task(name="core.reports_rebuild")
def reports_rebuild() -> dict:
    """Nightly (beat): every summary re-computed from scratch (also catches accounts moved between stations)."""
    report = reports_refresh_service(full=True)
    return {"full": report.full, "rows": report.rows, "seconds": str(report.seconds), "periods": report.periods}
