"""The auditors' view of the personal-data access log at /staff/audit/personal-data/ (个人信息查看记录): filters,
a page of rows, accesses per day and the top viewers as charts, the staff flagged for an unusual number of
customers in a day, and the CSV export. Only staff holding core.view_personaldataaccess (auditors, supervisors).

Customers' names are masked here: reading the log is not itself an opening of anyone's personal data.
"""
from __future__ import annotations

import csv

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.selectors.personal_data_audit import (
    access_charts,
    access_rows,
    audit_daily_customers_limit,
    personal_data_access_csv_rows,
    personal_data_access_days,
    personal_data_accesses,
    personal_data_top_viewers,
    personal_data_unusual_days,
)

from .access import echarts_url, staff_permission_required
from .personal_data_audit_forms import AccessFilterForm

PERMISSION = "core.view_personaldataaccess"
PAGE_SIZE = 50
# A spreadsheet would run a cell that starts like a formula; such cells are written as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# Signed-in staff holding core.view_personaldataaccess; others are refused.
auditor_required = staff_permission_required(PERMISSION)


def _filter_query(request: HttpRequest) -> str:
    """The filters of this request, without the page number, for the pagination and export links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@require_GET
@auditor_required
def index(request: HttpRequest) -> HttpResponse:
    form = AccessFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "core/staff/personal_data_audit.html", {"form": form, "invalid": True}, status=400)
    filters = form.filters(today=timezone.localdate())
    page = Paginator(personal_data_accesses(filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    days = personal_data_access_days(filters=filters)
    viewers = personal_data_top_viewers(filters=filters)
    context = {
        "form": form,
        "filters": filters,
        "page_obj": page,
        "rows": access_rows(page.object_list),
        "viewers": viewers,
        "charts": access_charts(days=days, viewers=viewers),
        "unusual": personal_data_unusual_days(filters=filters),
        "daily_limit": audit_daily_customers_limit(),
        "filter_query": _filter_query(request),
        "echarts_url": echarts_url(),
    }
    return render(request, "core/staff/personal_data_audit.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


@require_GET
@auditor_required
def export(request: HttpRequest) -> HttpResponse:
    form = AccessFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "core/staff/personal_data_audit.html", {"form": form, "invalid": True}, status=400)
    writer = csv.writer(_Echo())
    rows = personal_data_access_csv_rows(filters=form.filters(today=timezone.localdate()))
    # A byte-order mark first so spreadsheet programs open the Chinese text as UTF-8.
    lines = (writer.writerow([_cell(value) for value in row]) for row in rows)
    response = StreamingHttpResponse(_with_bom(lines), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="personal-data-access-{stamp}.csv"'
    return response


def _with_bom(lines):
    yield "\ufeff"
    yield from lines
