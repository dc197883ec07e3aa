"""Quality-management pages under /staff/reports/quality/ (营销工作质量管理): the audit work list with resolve-with-
note, complaint figures with the complaints behind them, and the reports — SLA compliance, complaints, call-centre
KPIs, collection and arrears ageing, self-service share — each exportable as CSV and Excel, alone or all together
(the monthly pack, also written each month by beat and offered on the index).

For auditors (稽查员) and supervisors (班长) only (core.services.audit_rules.audit_staff). Each view checks access,
reads one selector or calls one service, and renders; bad filters are shown against their field, never a 500.
"""
from __future__ import annotations

import datetime
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.selectors.quality_reports import (
    AuditFilters,
    ComplaintFilters,
    ReportPeriod,
    audit_work_list,
    complaint_list,
)
from core.services.audit_rules import audit_flag_resolve, audit_staff
from core.services.personal_data import (
    PersonalDataShown,
    personal_data_access_record,
    personal_data_shown_ticket_name,
)
from core.services.quality_monthly import (
    quality_monthly_directory,
    quality_monthly_pack_path,
    quality_monthly_packs,
)

from .quality_forms import AuditFilterForm, ComplaintListForm, ReportFilterForm, ResolveForm
from .quality_tables import (
    REPORTS,
    XLSX_CONTENT_TYPE,
    Report,
    ReportTables,
    audit_table,
    complaint_default_period,
    quality_pack,
    report_tables,
    tables_csv,
    tables_xlsx,
)

EXPORT_FORMATS = ("csv", "xlsx")


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
    return form, report_tables(report=report, period=period, branch_id=branch_id)


def _form_errors(form) -> HttpResponse:
    """A file asked for with bad filters: the errors as plain text, status 400."""
    errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
    return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")


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
    context = {
        "reports": list(REPORTS.values()), "open_flags": work.total, "open_by_rule": work.counts_by_rule,
        "monthly_packs": quality_monthly_packs(directory=quality_monthly_directory()),
    }
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
        return _form_errors(form)
    return _file_response([tables], name=f"quality-{slug}", file_format=file_format)


@require_GET
@quality_required
def monthly_pack(request: HttpRequest) -> HttpResponse:
    """Every report of one period (last month unless chosen) in one workbook, a sheet each."""
    form = ReportFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return _form_errors(form)
    today = _today()
    period = form.period(default=ReportPeriod.previous_month(today=today), today=today)
    return _file_response(quality_pack(period=period, branch_id=form.branch_id()), name="quality-pack",
                          file_format="xlsx")


@require_GET
@quality_required
def monthly_pack_download(request: HttpRequest, year: int, month: int) -> FileResponse:
    """A pack the monthly task wrote."""
    try:
        first = datetime.date(year, month, 1)
    except ValueError:
        raise Http404 from None
    path = quality_monthly_pack_path(month=first, directory=quality_monthly_directory())
    if path is None:
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type=XLSX_CONTENT_TYPE)


@require_GET
@quality_required
def complaints(request: HttpRequest) -> HttpResponse:
    form = ComplaintListForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "core/staff/quality/complaint_list.html", {"form": form, "found": None}, status=400)
    today = _today()
    period = form.period(default=complaint_default_period(today), today=today)
    data = form.cleaned_data if form.is_bound else {}
    filters = ComplaintFilters(
        complaint_class=data.get("complaint_class", ""), branch_id=form.branch_id(),
        complainer=data.get("complainer", ""),
    )
    found = complaint_list(period=period, filters=filters)
    personal_data_access_record(
        staff=request.user, context="quality:complaints",
        shown=[shown for ticket in found.tickets for shown in personal_data_shown_ticket_name(ticket)],
    )
    return render(request, "core/staff/quality/complaint_list.html", {"form": form, "found": found, "period": period})


def _flag_accounts_shown(request: HttpRequest, work, context: str) -> None:
    """The work list shows each flagged account's holder name: the auditors' trail, one row per account."""
    personal_data_access_record(
        staff=request.user, context=context,
        shown=[PersonalDataShown(customer_id=flag.account.customer_id, account_id=flag.account_id,
                                 fields=("account_name",)) for flag in work.flags],
    )


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
    _flag_accounts_shown(request, work, "quality:audit")
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
        return _form_errors(form)
    work = audit_work_list(filters=_audit_filters(form), limit=None)
    _flag_accounts_shown(request, work, f"quality:audit:{file_format}")
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
        messages.error(request, " ".join(str(error) for error in form.errors["note"]))
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

