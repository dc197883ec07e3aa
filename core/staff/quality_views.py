"""Quality-management pages under /staff/reports/quality/ (营销工作质量管理): the audit work list with resolve-with-
note, complaint figures with the complaints behind them, and the reports — SLA compliance, complaints, call-centre
KPIs, collection and arrears ageing, self-service share — each exportable as CSV and Excel.

For auditors (稽查员) and supervisors (班长) only (core.services.audit_rules.audit_staff). Each view checks access,
reads one selector or calls one service, and renders; bad filters are shown against their field, never a 500.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import wraps
from typing import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.selectors.quality_reports import (
    AuditFilters,
    ComplaintFilters,
    ReportPeriod,
    audit_work_list,
    call_centre_report,
    collection_report,
    complaint_list,
    complaint_report,
    self_service_report,
    sla_report,
)
from core.services.audit_rules import audit_flag_resolve, audit_staff

from .quality_forms import AuditFilterForm, ComplaintListForm, ReportFilterForm, ResolveForm
from .quality_tables import (
    XLSX_CONTENT_TYPE,
    ReportTables,
    audit_table,
    call_tables,
    collection_tables,
    complaint_tables,
    self_service_tables,
    sla_tables,
    tables_csv,
    tables_xlsx,
)

EXPORT_FORMATS = ("csv", "xlsx")
# Complaint figures look back a year by default so the by-month table shows the trend.
COMPLAINT_DEFAULT_MONTHS = 12


def quality_required(view):
    """Auditors and supervisors; other staff are refused, anonymous visitors sent to sign in."""

    @wraps(view)
    def check(request, *args, **kwargs):
        if not audit_staff(user=request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(check)


def _today() -> datetime.date:
    return timezone.localdate()


def _complaint_default(today: datetime.date) -> ReportPeriod:
    first = today.replace(day=1)
    for _month in range(COMPLAINT_DEFAULT_MONTHS - 1):
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    return ReportPeriod(first=first, last=today)


@dataclass(frozen=True)
class Report:
    """One report page: its title, default period, and how its tables are built from the filters."""

    slug: str
    title: str
    build: Callable[[ReportPeriod, int | None], list]
    branch_filter: bool = True
    default_period: Callable[[datetime.date], ReportPeriod] = lambda today: ReportPeriod.previous_month(today=today)
    notes: tuple = ()


REPORTS = {
    report.slug: report
    for report in (
        Report(
            "sla", gettext_lazy("时限达成率"),
            lambda period, branch_id: sla_tables(sla_report(period=period, branch_id=branch_id)),
            notes=(gettext_lazy("环节按提交时间统计：到期前提交为按时，跳过的环节不计按时。"),),
        ),
        Report(
            "complaints", gettext_lazy("投诉统计"),
            lambda period, branch_id: complaint_tables(
                complaint_report(period=period, branch_id=branch_id), branch_id=branch_id
            ),
            default_period=_complaint_default,
            notes=(gettext_lazy("按受理时间统计；同一客户（或同一联系电话）期间内投诉两次及以上为重复投诉。"),),
        ),
        Report(
            "calls", gettext_lazy("呼叫中心指标"),
            lambda period, branch_id: call_tables(call_centre_report(period=period)),
            branch_filter=False,
            notes=(
                gettext_lazy("接通率、服务水平、放弃率以进入人工队列并离开队列（接听或放弃）的来电为基数。"),
                gettext_lazy("首次解决率：已识别客户的每次联系（坐席或自助语音服务的来电、其他渠道受理的工单），"
                             "7天内同一客户就同一事项再次联系的计为未解决。"),
            ),
        ),
        Report(
            "collection", gettext_lazy("电费回收与欠费账龄"),
            lambda period, branch_id: collection_tables(collection_report(period=period, branch_id=branch_id)),
            notes=(gettext_lazy("回收率按所选期间的电费年月统计，实收为截至今日已收金额；账龄按逾期天数截至今日统计。"),),
        ),
        Report(
            "self-service", gettext_lazy("自助渠道占比"),
            lambda period, branch_id: self_service_tables(self_service_report(period=period, branch_id=branch_id)),
            notes=(gettext_lazy("自助渠道：网上缴费、移动支付、电话缴费；网站、语音自助受理；自助语音办结的来电。"),),
        ),
    )
}


def _report(slug: str) -> Report:
    report = REPORTS.get(slug)
    if report is None:
        raise Http404
    return report


def _report_tables(request: HttpRequest, report: Report) -> tuple[ReportFilterForm, ReportTables | None]:
    """The filter form and, when it is valid, the report's tables (None with the errors shown otherwise)."""
    form = ReportFilterForm(request.GET or None)
    if not report.branch_filter:
        del form.fields["branch"]
    if form.is_bound and not form.is_valid():
        return form, None
    today = _today()
    period = form.period(default=report.default_period(today), today=today)
    branch_id = form.branch_id() if report.branch_filter else None
    tables = ReportTables(
        slug=report.slug, title=str(report.title), period=period, tables=report.build(period, branch_id),
        notes=[str(note) for note in report.notes],
    )
    return form, tables


def _file_response(tables: list[ReportTables], *, name: str, file_format: str) -> HttpResponse:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if file_format == "csv":
        response = HttpResponse(tables_csv(tables[0]), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(tables_xlsx(tables), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{file_format}"'
    return response


@require_GET
@quality_required
def index(request: HttpRequest) -> HttpResponse:
    work = audit_work_list(filters=AuditFilters(), limit=0)
    context = {"reports": list(REPORTS.values()), "open_flags": work.total, "open_by_rule": work.counts_by_rule}
    return render(request, "core/staff/quality/index.html", context)


@require_GET
@quality_required
def report_page(request: HttpRequest, slug: str) -> HttpResponse:
    report = _report(slug)
    form, tables = _report_tables(request, report)
    context = {"report": report, "form": form, "tables": tables, "export_query": request.GET.urlencode()}
    return render(request, "core/staff/quality/report.html", context, status=200 if tables else 400)


@require_GET
@quality_required
def report_export(request: HttpRequest, slug: str, file_format: str) -> HttpResponse:
    report = _report(slug)
    if file_format not in EXPORT_FORMATS:
        raise Http404
    form, tables = _report_tables(request, report)
    if tables is None:
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    return _file_response([tables], name=f"quality-{slug}", file_format=file_format)


@require_GET
@quality_required
def monthly_pack(request: HttpRequest) -> HttpResponse:
    """Every report of one period in one workbook, a sheet each: the monthly pack."""
    form = ReportFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    today = _today()
    period = form.period(default=ReportPeriod.previous_month(today=today), today=today)
    branch_id = form.branch_id()
    packs = [
        ReportTables(
            slug=report.slug, title=str(report.title), period=period,
            tables=report.build(period, branch_id if report.branch_filter else None), notes=[],
        )
        for report in REPORTS.values()
    ]
    return _file_response(packs, name="quality-monthly", file_format="xlsx")


@require_GET
@quality_required
def complaints(request: HttpRequest) -> HttpResponse:
    form = ComplaintListForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "core/staff/quality/complaint_list.html", {"form": form, "found": None}, status=400)
    today = _today()
    period = form.period(default=_complaint_default(today), today=today)
    data = form.cleaned_data if form.is_bound else {}
    filters = ComplaintFilters(
        complaint_class=data.get("complaint_class", ""), branch_id=form.branch_id(),
        complainer=data.get("complainer", ""),
    )
    found = complaint_list(period=period, filters=filters)
    return render(request, "core/staff/quality/complaint_list.html", {"form": form, "found": found, "period": period})


def _audit_filters(form: AuditFilterForm) -> AuditFilters:
    if not form.is_bound:
        return AuditFilters()
    data = form.cleaned_data
    return AuditFilters(
        state=data["state"], rule=data["rule"], branch_id=data["branch"].pk if data["branch"] else None
    )


@require_GET
@quality_required
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "core/staff/quality/audit_list.html", {"form": form, "work": None}, status=400)
    work = audit_work_list(filters=_audit_filters(form))
    context = {
        "form": form, "work": work, "export_query": request.GET.urlencode(),
        "back": request.get_full_path(),
    }
    return render(request, "core/staff/quality/audit_list.html", context)


@require_GET
@quality_required
def audit_export(request: HttpRequest, file_format: str) -> HttpResponse:
    if file_format not in EXPORT_FORMATS:
        raise Http404
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    work = audit_work_list(filters=_audit_filters(form), limit=None)
    tables = ReportTables(slug="audit", title=_("稽查疑点"), period=None, tables=[audit_table(work)], notes=[])
    return _file_response([tables], name="audit-flags", file_format=file_format)


@require_POST
@quality_required
def audit_resolve(request: HttpRequest, flag_id: int) -> HttpResponse:
    form = ResolveForm(request.POST)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    if not form.is_valid():
        messages.error(request, _("请填写处理说明"))
    else:
        try:
            flag = audit_flag_resolve(flag_id=flag_id, user=request.user, note=form.cleaned_data["note"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("稽查疑点 %(id)s（%(rule)s）已处理") % {"id": flag.pk, "rule": flag.get_rule_display()}
            )
    return redirect(back or "core_quality:audit_list")

