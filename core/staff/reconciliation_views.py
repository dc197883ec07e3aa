"""The daily Stripe reconciliation for finance and supervisors at /staff/reports/reconciliation/ (网上缴费对账): the
last 30 days with the charges compared and the differences found, a chart of the differences per day, and one
day's differences, each with a link to its online payment in the admin. Staff holding
core.view_onlinereconciliation only (supervisors, auditors, branch accountants); the runs are stored by the daily
task core.stripe_reconcile (core.services.online_reconciliation).
"""
from __future__ import annotations

import datetime

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.selectors.online_reconciliation import online_reconciliation_days, online_reconciliation_of_day_or_none

from .access import echarts_url, staff_permission_required

PERMISSION = "core.view_onlinereconciliation"

# Signed-in staff holding core.view_onlinereconciliation; others are refused.
reconciliation_required = staff_permission_required(PERMISSION)


@require_GET
@reconciliation_required
def index(request: HttpRequest) -> HttpResponse:
    days = online_reconciliation_days(last=timezone.localdate())
    return render(request, "core/staff/reconciliation/index.html", {"days": days, "echarts_url": echarts_url()})


@require_GET
@reconciliation_required
def day(request: HttpRequest, day: str) -> HttpResponse:
    try:
        when = datetime.date.fromisoformat(day)
    except ValueError:
        raise Http404 from None
    reconciliation = online_reconciliation_of_day_or_none(day=when)
    if reconciliation is None:
        raise Http404
    return render(request, "core/staff/reconciliation/day.html", {"reconciliation": reconciliation})
