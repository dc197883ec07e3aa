"""Decision-support dashboards under /staff/reports/ (营销决策支持): supervisors and auditors only.

Each view reads the scope (company, ?branch=, &station=) and the window (?months=) from the query string, calls one
selector over the summary tables and renders; a bad filter is a translated message on the company-wide page
(status 400), never a 500. Charts are drawn by reports.js from the JSON the page embeds; the tables are in the
page whether or not the script (or the bundled ECharts) is there.
"""
from __future__ import annotations


from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from core.selectors.dashboards import (
    DEFAULT_MONTHS,
    ReportFilterInvalid,
    ReportScope,
    arrears_dashboard,
    consumption_dashboard,
    customers_dashboard,
    last_refresh,
    outages_dashboard,
    overview,
    report_months_count,
    report_scope,
    tickets_dashboard,
    tiers_dashboard,
)
from core.selectors.online_reconciliation import WINDOW_DAYS, online_reconciliation_days_with_differences

from .access import echarts_url, staff_permission_required
from .reconciliation_views import PERMISSION as RECONCILIATION_PERMISSION

PERMISSION = "core.view_decision_support"
MONTH_CHOICES = (6, 12, 24, 36)

# (url name, title, selector): the dashboards in the order of the tabs.
DASHBOARDS = (
    ("consumption", _("电量电费"), consumption_dashboard),
    ("customers", _("客户增长"), customers_dashboard),
    ("tiers", _("阶梯分布"), tiers_dashboard),
    ("arrears", _("欠费趋势"), arrears_dashboard),
    ("tickets", _("工单量与按时率"), tickets_dashboard),
    ("outages", _("线路停电"), outages_dashboard),
)


# Signed-in staff holding core.view_decision_support (the supervisor and auditor roles); others are refused.
reports_required = staff_permission_required(PERMISSION)


def _quality_url() -> str:
    """The quality-management reports, when that part is installed."""
    try:
        return reverse("core_quality:index")
    except NoReverseMatch:
        return ""


def _filters(request: HttpRequest) -> tuple[ReportScope, int, int]:
    """(scope, months, status): a refused filter is a message and the company's 12 months, status 400."""
    try:
        scope = report_scope(branch_code=request.GET.get("branch", ""), station_code=request.GET.get("station", ""))
        months = report_months_count(request.GET.get("months"))
    except ReportFilterInvalid as exc:
        messages.error(request, exc.message)
        return ReportScope(), DEFAULT_MONTHS, 400
    return scope, months, 200


def _context(scope: ReportScope, months: int, current: str) -> dict:
    return {
        "scope": scope,
        "months": months,
        "month_choices": sorted({*MONTH_CHOICES, months}),
        "current": current,
        # The scope and window, carried by every tab link.
        "query": f"{scope.query}&months={months}" if scope.query else f"months={months}",
        "tabs": [(name, title) for name, title, _selector in DASHBOARDS],
        "echarts_url": echarts_url(),
        "quality_url": _quality_url(),
    }


@require_GET
@reports_required
def index(request: HttpRequest) -> HttpResponse:
    scope, months, status = _filters(request)
    context = _context(scope, months, "index")
    context["overview"] = overview(scope=scope)
    if request.user.has_perm(RECONCILIATION_PERMISSION):
        # The company's online payments are reconciled as a whole: the notice is the same whatever the scope.
        context["reconciliation_days_differing"] = online_reconciliation_days_with_differences(
            last=timezone.localdate()
        )
        context["reconciliation_window"] = WINDOW_DAYS
    return render(request, "core/staff/reports/index.html", context, status=status)


def _dashboard_view(name: str, title, selector):
    @require_GET
    @reports_required
    def view(request: HttpRequest) -> HttpResponse:
        scope, months, status = _filters(request)
        context = _context(scope, months, name)
        context.update(title=title, dashboard=selector(scope=scope, months=months), refreshed=last_refresh())
        return render(request, "core/staff/reports/dashboard.html", context, status=status)

    view.__name__ = name
    return view


consumption, customers, tiers, arrears, tickets, outages = (
    _dashboard_view(name, title, selector) for name, title, selector in DASHBOARDS
)
