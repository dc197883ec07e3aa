"""The quality reports laid out as titled tables, once, for the pages, the CSV and the Excel workbook alike.

A cell is a value (int, Decimal, str, None), a Rate (a percentage) or a Link (text with an address, drawn as a
link on the page and as its text in files). `display` gives every cell's text, so templates only draw them.
"""
from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Font

from core.selectors.binding import name_mask
from core.selectors.quality_reports import (
    AuditWorkList,
    CallCentreReport,
    CollectionReport,
    ComplaintReport,
    Rate,
    ReportPeriod,
    SelfServiceReport,
    SlaReport,
    SlaRow,
    UNCLASSIFIED,
    call_centre_report,
    collection_report,
    complaint_report,
    self_service_report,
    sla_report,
)

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_NAME_MAX = 31


@dataclass(frozen=True)
class Link:
    text: str
    url: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class DisplayCell:
    text: str
    url: str = ""
    numeric: bool = False


def cell_text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


@dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    rows: list[list]

    @property
    def display(self) -> list[list[DisplayCell]]:
        return [
            [
                DisplayCell(
                    text=cell_text(value), url=value.url if isinstance(value, Link) else "",
                    numeric=isinstance(value, (int, Decimal, Rate)) and not isinstance(value, bool),
                )
                for value in row
            ]
            for row in self.rows
        ]


@dataclass(frozen=True)
class ReportTables:
    """A report's title, its period and its tables: what a page shows and an export writes."""

    slug: str
    title: str
    period: ReportPeriod | None
    tables: list[Table]
    notes: list[str]


# --- the reports as tables --------------------------------------------------------------------------------------


def _sla_table(title: str, first_header: str, rows: list[SlaRow]) -> Table:
    headers = [first_header, _("完成环节"), _("按时"), _("超时完成"), _("超时跳过"), _("按时率")]
    return Table(title, headers, [[r.label, r.finished, r.on_time, r.late, r.skipped, r.compliance] for r in rows])


def sla_tables(report: SlaReport) -> list[Table]:
    return [
        _sla_table(_("按业务类型"), _("业务类型"), [report.totals, *report.by_business_type]),
        _sla_table(_("按环节"), _("环节"), report.by_step),
        _sla_table(_("按岗位"), _("岗位"), report.by_post),
        _sla_table(_("按人员"), _("人员"), report.by_person),
        Table(
            _("工单承诺时限达成（按办结）"), [_("业务类型"), _("办结工单"), _("承诺时限内办结"), _("达成率")],
            [[r.label, r.closed, r.within_commitment, r.compliance] for r in report.tickets],
        ),
    ]


def _complaint_link(report: ComplaintReport, branch_id: int | None, **filters) -> str:
    query = {"date_from": report.period.first.isoformat(), "date_to": report.period.last.isoformat()}
    if branch_id:
        query["branch"] = branch_id
    query.update({name: value for name, value in filters.items() if value})
    return f"{reverse('core_quality:complaint_list')}?{urlencode(query)}"


def complaint_tables(report: ComplaintReport, *, branch_id: int | None = None) -> list[Table]:
    headers = [_("投诉数"), _("已办结"), _("按时办结"), _("12398申诉"), _("按时办结率")]

    def figures(row):
        return [row.count, row.closed, row.closed_in_time, row.appealed, row.in_time_rate]

    by_class = [
        [Link(row.label, _complaint_link(report, branch_id, complaint_class=row.key or UNCLASSIFIED)), *figures(row)]
        for row in report.by_class
    ]
    by_branch = [
        [Link(row.label, _complaint_link(report, None, branch=row.key)), *figures(row)] for row in report.by_branch
    ]
    by_month = [
        [Link(row.label, _complaint_link(report, branch_id, month=row.label)), *figures(row)]
        for row in report.by_month
    ]
    # The complainer's name is masked like the phone beside it (also in the files and the monthly pack): the list
    # behind the link shows it in full and records that opening (core.services.personal_data).
    repeat = [
        [Link(name_mask(row.name) or "—", _complaint_link(report, branch_id, complainer=row.key)), row.phone_masked,
         row.count,
         row.classes, timezone.localtime(row.first_at).strftime("%Y-%m-%d"),
         timezone.localtime(row.last_at).strftime("%Y-%m-%d")]
        for row in report.repeat_complainers
    ]
    return [
        Table(_("合计"), [_("范围"), *headers], [[report.totals.label, *figures(report.totals)]]),
        Table(_("按投诉分类"), [_("投诉分类"), *headers], by_class),
        Table(_("按县公司"), [_("县公司"), *headers], by_branch),
        Table(_("按月份"), [_("月份"), *headers], by_month),
        Table(
            _("重复投诉客户"),
            [_("客户"), _("联系电话"), _("投诉次数"), _("涉及分类数"), _("首次投诉"), _("最近投诉")], repeat,
        ),
    ]


def call_tables(report: CallCentreReport) -> list[Table]:
    level = report.service_level_seconds
    kpis = [
        [_("呼入总量"), report.calls],
        [_("自助语音办结"), report.ivr_resolved],
        [_("进入人工队列"), report.queued],
        [_("人工接听"), report.answered],
        [_("排队放弃"), report.abandoned],
        [_("人工接通率"), report.answer_rate],
        [_("服务水平（%(seconds)s秒内接听）") % {"seconds": level}, report.service_level],
        [_("放弃率"), report.abandonment],
        [_("平均处理时长（秒）"), report.average_handle_seconds],
    ]
    fcr_rows = [
        [r.label, r.contacts, r.repeated, r.resolved, r.rate] for r in [*report.fcr_by_channel, report.fcr_totals]
    ]
    return [
        Table(_("话务指标"), [_("指标"), _("数值")], kpis),
        Table(
            _("首次解决率（跨渠道，7天内同一事项再次联系计为未解决）"),
            [_("首次联系渠道"), _("联系次数"), _("7天内再次联系"), _("首次解决"), _("首次解决率")], fcr_rows,
        ),
    ]


def collection_tables(report: CollectionReport) -> list[Table]:
    collection = [
        [r.label, r.bills, r.receivable, r.collected, r.outstanding, r.rate]
        for r in [*report.by_branch, report.totals]
    ]
    ageing_rows = [*report.ageing_by_branch, *([report.ageing_totals] if report.ageing_totals else [])]
    ageing = [[r.label, r.bills, *r.amounts, r.total] for r in ageing_rows]
    return [
        Table(
            _("电费回收率（按电费年月）"),
            [_("县公司"), _("账单数"), _("应收(元)"), _("实收(元)"), _("未收(元)"), _("回收率")], collection,
        ),
        Table(
            _("欠费账龄（截至%(day)s）") % {"day": report.as_of.isoformat()},
            [_("县公司"), _("欠费账单数"), *report.ageing_labels, _("欠费合计(元)")], ageing,
        ),
    ]


def self_service_tables(report: SelfServiceReport) -> list[Table]:
    activity_labels = {a.activity: a.label for a in report.activities}
    return [
        Table(
            _("自助渠道占比"), [_("业务"), _("总量"), _("自助办理"), _("自助占比")],
            [[a.label, a.total, a.self_service, a.share] for a in [*report.activities, report.overall]],
        ),
        Table(
            _("按渠道"), [_("业务"), _("渠道"), _("数量"), _("自助渠道")],
            [[activity_labels[r.activity], r.label, r.count, r.self_service] for r in report.rows],
        ),
    ]


def audit_table(work_list: AuditWorkList) -> Table:
    rows = []
    for flag in work_list.flags:
        rows.append([
            flag.pk, flag.get_rule_display(), flag.account.number, flag.account.name, flag.branch.name,
            flag.period.strftime("%Y-%m") if flag.period else "", flag.kwh, flag.baseline_kwh, flag.amount,
            flag.reason, flag.description, timezone.localtime(flag.occurred_at).strftime("%Y-%m-%d %H:%M"),
            timezone.localtime(flag.raised_at).strftime("%Y-%m-%d %H:%M"), flag.get_state_display(),
            flag.resolution_note,
        ])
    headers = [
        _("编号"), _("稽查规则"), _("户号"), _("户名"), _("县公司"), _("电费年月"), _("当月电量(kWh)"),
        _("前12个月月均电量(kWh)"), _("金额(元)"), _("业务原因"), _("疑点"), _("发生时间"), _("发现时间"), _("状态"),
        _("处理说明"),
    ]
    return Table(_("稽查疑点"), headers, rows)


# --- the catalogue of reports -------------------------------------------------------------------------------


# Complaint figures look back a year by default so the by-month table shows the trend.
COMPLAINT_DEFAULT_MONTHS = 12


def complaint_default_period(today: datetime.date) -> ReportPeriod:
    """The twelve months to today: complaint figures show their trend by month."""
    first = today.replace(day=1)
    for _month in range(COMPLAINT_DEFAULT_MONTHS - 1):
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    return ReportPeriod(first=first, last=today)


def previous_month_period(today: datetime.date) -> ReportPeriod:
    return ReportPeriod.previous_month(today=today)


@dataclass(frozen=True)
class Report:
    """One report page: its title, default period, and how its tables are built from the filters."""

    slug: str
    title: str
    build: Callable[[ReportPeriod, int | None], list]
    branch_filter: bool = True
    default_period: Callable[[datetime.date], ReportPeriod] = previous_month_period
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
            default_period=complaint_default_period,
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


def report_tables(*, report: Report, period: ReportPeriod, branch_id: int | None = None) -> ReportTables:
    return ReportTables(
        slug=report.slug, title=str(report.title), period=period,
        tables=report.build(period, branch_id if report.branch_filter else None),
        notes=[str(note) for note in report.notes],
    )


def quality_pack(*, period: ReportPeriod, branch_id: int | None = None) -> list[ReportTables]:
    """Every report of one period: the monthly pack, a sheet each in the workbook."""
    return [report_tables(report=report, period=period, branch_id=branch_id) for report in REPORTS.values()]


# --- files ------------------------------------------------------------------------------------------------------


def tables_csv(report: ReportTables) -> str:
    """UTF-8 with a byte-order mark so spreadsheet programs open the Chinese text correctly."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([report.title])
    if report.period is not None:
        writer.writerow([_("统计期间"), report.period.label])
    for table in report.tables:
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerow(table.headers)
        for row in table.rows:
            writer.writerow(["" if value is None else cell_text(value) for value in row])
    return out.getvalue()


def _xlsx_value(value):
    """Numbers stay numbers (a rate as a fraction shown in percent); everything else is its text."""
    if isinstance(value, Rate):
        percent = value.percent
        return (None, None) if percent is None else (percent / 100, "0.0%")
    if isinstance(value, Decimal):
        return value, "#,##0.00"
    if isinstance(value, bool) or value is None or isinstance(value, Link):
        return ("" if value is None else cell_text(value)), None
    if isinstance(value, int):
        return value, None
    return str(value), None


def tables_sheet(workbook: Workbook, report: ReportTables) -> None:
    """One worksheet for the report: its title and period, then each table under its title."""
    sheet = workbook.create_sheet(title=report.title[:SHEET_NAME_MAX])
    bold = Font(bold=True)
    sheet.append([report.title])
    sheet.cell(row=sheet.max_row, column=1).font = bold
    if report.period is not None:
        sheet.append([_("统计期间"), report.period.label])
    for table in report.tables:
        sheet.append([])
        sheet.append([table.title])
        sheet.cell(row=sheet.max_row, column=1).font = bold
        sheet.append(table.headers)
        for column in range(1, len(table.headers) + 1):
            sheet.cell(row=sheet.max_row, column=column).font = bold
        for row in table.rows:
            values = [_xlsx_value(value) for value in row]
            sheet.append([value for value, _format in values])
            for column, (_value, number_format) in enumerate(values, start=1):
                if number_format:
                    sheet.cell(row=sheet.max_row, column=column).number_format = number_format
    sheet.column_dimensions["A"].width = 28


def tables_xlsx(reports: list[ReportTables]) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for report in reports:
        tables_sheet(workbook, report)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
