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


@shared_task(name="core.customer_alerts_scan")
def customer_alerts_scan() -> dict[str, int]:
    """Daily (beat): tier-crossing and prepaid low-balance alerts of bound accounts, and every smart-prepaid holder's
    low-balance SMS (core.services.customer_alerts)."""
    from core.services.customer_alerts import customer_alerts_scan as customer_alerts_scan_service

    result = customer_alerts_scan_service(as_of=timezone.localdate())
    return {"bindings": result.bindings_checked, "tier": result.tier_alerts, "low_balance": result.low_balance_alerts,
            "rearmed": result.low_balance_cleared, "prepaid_holders": result.holders_checked,
            "holder_low_balance": result.holder_low_balance_alerts}


@shared_task(name="core.stripe_reconcile")
def stripe_reconcile() -> int:
    """Daily (beat, after midnight Beijing time): yesterday's Stripe charges against our online payments and the
    ledger; keeps the differences in VAR_DIR/reconciliation/ and in the database (the staff page 网上缴费对账) and
    returns how many there were."""
    import datetime

    from django.conf import settings

    from core.services.online_reconciliation import online_reconciliation_run
    # The task is an entry point like the command: it hands the provider's adapter to the core service.
    from portal.payments.stripe_gateway import StripeGateway

    run = online_reconciliation_run(
        day=timezone.localdate() - datetime.timedelta(days=1), gateway=StripeGateway.from_settings(),
        directory=settings.VAR_DIR / "reconciliation",
    )
    return len(run.result.differences)


@shared_task(name="core.application_drafts_purge")
def application_drafts_purge() -> int:
    """Daily (beat): documents of portal applications abandoned before submission (core.services.portal_requests)."""
    from core.services.portal_requests import application_drafts_purge as application_drafts_purge_service

    return application_drafts_purge_service()


@shared_task(name="core.agents_wrap_up_expire")
def agents_wrap_up_expire() -> int:
    """Every 5 seconds (beat): agents whose after-call work outlived CALLCENTER_WRAP_UP_SECONDS go back to ready."""
    from core.services.calls import agents_wrap_up_expire as agents_wrap_up_expire_service

    return agents_wrap_up_expire_service(now=timezone.now())


@shared_task(name="core.audit_scan")
def audit_scan() -> dict[str, int]:
    """Daily (beat, after the night's readings): the business audit rules flag new anomalies for the auditors'
    work list (core.services.audit_rules); a rerun raises nothing twice."""
    from core.services.audit_rules import audit_scan as audit_scan_service

    return audit_scan_service(as_of=timezone.localdate()).raised


@shared_task(name="core.quality_reports_monthly")
def quality_reports_monthly() -> str:
    """Monthly (beat, on the 1st): last month's quality reports in one workbook under VAR_DIR/reports/quality/
    (core.services.quality_monthly); returns the file's name."""
    from core.selectors.quality_reports import ReportPeriod
    from core.services.quality_monthly import quality_monthly_directory, quality_monthly_pack_write

    period = ReportPeriod.previous_month(today=timezone.localdate())
    return quality_monthly_pack_write(period=period, directory=quality_monthly_directory()).name
