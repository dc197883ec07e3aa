"""Reads for the decision-support dashboards (/staff/reports/): only the summary tables of
core.models.report_summaries, aggregated once more in the database for the scope asked for (the company, a
branch or a service station) and a window of months. Each dashboard returns rows ready to show (display strings)
and the series its chart draws (exact decimal strings; the page's script turns them into numbers)."""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F, Max, Q, Sum
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.models import (
    BillingSummary,
    Branch,
    CustomerSummary,
    FaultReportSummary,
    OutageSummary,
    ReportRefresh,
    ServiceStation,
    TicketSummary,
    TierSummary,
)
from core.models.customers import CustomerCategory
from core.models.outages import OutageKind
from core.models.tickets import BusinessType
from core.money import format_yuan

ZERO = Decimal("0.00")
DEFAULT_MONTHS = 12
MAX_MONTHS = 36
TOP_FEEDERS = 10


class ReportFilterInvalid(DomainError):
    code = "report_filter_invalid"


# --- scope and window ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Crumb:
    label: str
    query: str


@dataclass(frozen=True)
class ReportScope:
    """What a dashboard covers: the whole company, one branch, or one service station of a branch."""

    branch: Branch | None = None
    station: ServiceStation | None = None

    @property
    def level(self) -> str:
        return "station" if self.station else "branch" if self.branch else "company"

    @property
    def label(self) -> str:
        if self.station:
            return f"{self.branch.name} {self.station.name}"
        return self.branch.name if self.branch else gettext("全公司")

    @property
    def query(self) -> str:
        """The scope as query-string parameters (without the window)."""
        if self.station:
            return urlencode({"branch": self.branch.code, "station": self.station.code})
        return urlencode({"branch": self.branch.code}) if self.branch else ""

    @property
    def crumbs(self) -> list[Crumb]:
        crumbs = [Crumb(gettext("全公司"), "")]
        if self.branch:
            crumbs.append(Crumb(self.branch.name, urlencode({"branch": self.branch.code})))
        if self.station:
            crumbs.append(Crumb(self.station.name, self.query))
        return crumbs

    def rows(self, *, stations: bool = True) -> Q:
        """The summary rows inside the scope (`stations=False` for summaries kept per branch only)."""
        if self.station and stations:
            return Q(station_id=self.station.pk)
        if self.branch:
            return Q(branch_id=self.branch.pk)
        return Q()


def report_scope(*, branch_code: str = "", station_code: str = "") -> ReportScope:
    """The scope named by branch and station codes; an unknown code, or a station of another branch, is refused."""
    branch_code, station_code = (branch_code or "").strip(), (station_code or "").strip()
    if not branch_code and not station_code:
        return ReportScope()
    if not branch_code:
        raise ReportFilterInvalid(_("选择供电所时须同时指定县公司"), field="branch")
    branch = Branch.objects.filter(code=branch_code).first()
    if branch is None:
        raise ReportFilterInvalid(_("没有编码为“%(code)s”的县公司") % {"code": branch_code}, field="branch")
    if not station_code:
        return ReportScope(branch=branch)
    station = ServiceStation.objects.filter(code=station_code, branch=branch).first()
    if station is None:
        raise ReportFilterInvalid(
            _("%(branch)s没有编码为“%(code)s”的供电所") % {"branch": branch.name, "code": station_code}, field="station"
        )
    return ReportScope(branch=branch, station=station)


def report_months_count(raw: str | None) -> int:
    """The window length asked for (1-36 months; 12 when not given)."""
    if raw in (None, ""):
        return DEFAULT_MONTHS
    text = str(raw).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_MONTHS:
        raise ReportFilterInvalid(_("月数应为1到%(max)s之间的整数") % {"max": MAX_MONTHS}, field="months")
    return int(text)


def _month_back(period: datetime.date, count: int) -> datetime.date:
    index = period.year * 12 + period.month - 1 - count
    return datetime.date(index // 12, index % 12 + 1, 1)


def months_ending(*, last: datetime.date, count: int) -> list[datetime.date]:
    return [_month_back(last, back) for back in range(count - 1, -1, -1)]


def _last_period(model, scope_rows: Q) -> datetime.date:
    """The latest month the summary holds for the scope, else the current month."""
    latest = model.objects.filter(scope_rows).aggregate(m=Max("period"))["m"]
    return latest or timezone.localdate().replace(day=1)


# --- shared pieces --------------------------------------------------------------------------------------------


def _percent(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def percent_display(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}%"


def kwh_display(value: Decimal) -> str:
    return f"{value:,.2f}"


def _label(month: datetime.date) -> str:
    return f"{month:%Y-%m}"


@dataclass
class Chart:
    """What the page's script draws: month (or other) labels and series of exact decimal strings."""

    element_id: str
    title: str
    labels: list[str]
    series: list[dict]
    stacked: bool = False
    percent_axis: bool = False

    def as_json(self) -> dict:
        return {"title": self.title, "labels": self.labels, "series": self.series, "stacked": self.stacked,
                "percentAxis": self.percent_axis}


def _series(name, values, *, kind="bar", axis=0, places=2) -> dict:
    """A chart series; decimals as exact strings with `places` decimals (SQLite's sums drop trailing zeros)."""
    step = Decimal(1).scaleb(-places)
    data = [str(value.quantize(step, rounding=ROUND_HALF_UP)) if isinstance(value, Decimal) else str(value)
            for value in values]
    return {"name": str(name), "type": kind, "yAxisIndex": axis, "data": data}


@dataclass(frozen=True)
class UnitRow:
    """One unit one level down (a branch of the company, a station of a branch) with its figures."""

    label: str
    query: str
    cells: list[str]


def _children(scope: ReportScope):
    """The grouping and naming of the level below the scope: (group field, label field, code field)."""
    if scope.level == "company":
        return "branch_id", "branch__name", "branch__code"
    if scope.level == "branch":
        return "station_id", "station__name", "station__code"
    return None


def _unit_rows(scope: ReportScope, model, aggregates: dict, cells, *, where: Q = Q()) -> list[UnitRow]:
    """The children of the scope with `cells(values)` from the summary's aggregates; a station has none."""
    children = _children(scope)
    if children is None:
        return []
    key, name, code = children
    rows = (
        model.objects.filter(scope.rows(), where).values(key, name, code).annotate(**aggregates)
        .order_by(F(code).asc(nulls_last=True))
    )
    result = []
    for values in rows:
        if values[code] is None:
            # Tickets without an account belong to no station: their row has no page of its own.
            result.append(UnitRow(label=gettext("未关联供电所"), query="", cells=cells(values)))
            continue
        if scope.level == "company":
            query = urlencode({"branch": values[code]})
        else:
            query = urlencode({"branch": scope.branch.code, "station": values[code]})
        result.append(UnitRow(label=values[name], query=query, cells=cells(values)))
    return result


def last_refresh() -> ReportRefresh | None:
    return ReportRefresh.objects.filter(finished_at__isnull=False).order_by("-id").first()


# --- consumption and revenue ------------------------------------------------------------------------------------


@dataclass
class TableRow:
    """A table row: its heading cell (a month, a category, a feeder...) and the figures after it."""

    label: str
    cells: list[str]


@dataclass
class Dashboard:
    scope: ReportScope
    months: list[datetime.date]
    charts: list[Chart] = field(default_factory=list)
    month_rows: list[TableRow] = field(default_factory=list)
    month_headings: list[str] = field(default_factory=list)
    detail_rows: list[TableRow] = field(default_factory=list)
    detail_headings: list[str] = field(default_factory=list)
    detail_title: str = ""
    unit_rows: list[UnitRow] = field(default_factory=list)
    unit_headings: list[str] = field(default_factory=list)
    unit_title: str = ""
    note: str = ""

    @property
    def window_label(self) -> str:
        return f"{_label(self.months[0])} — {_label(self.months[-1])}"

    @property
    def charts_json(self) -> list[dict]:
        return [{"id": chart.element_id, **chart.as_json()} for chart in self.charts]


def _window(model, scope: ReportScope, count: int, *, stations: bool = True) -> list[datetime.date]:
    return months_ending(last=_last_period(model, scope.rows(stations=stations)), count=count)


def consumption_dashboard(*, scope: ReportScope, months: int) -> Dashboard:
    """Energy and revenue by month, by customer category and by unit (the latest month) for the scope."""
    window = _window(BillingSummary, scope, months)
    rows = BillingSummary.objects.filter(scope.rows(), period__gte=window[0], period__lte=window[-1])
    by_month = {
        values["period"]: values
        for values in rows.values("period").annotate(kwh=Sum("kwh"), billed=Sum("billed"), paid=Sum("paid"))
    }
    by_category = {}
    for values in rows.values("period", "category").annotate(kwh=Sum("kwh"), billed=Sum("billed")):
        by_category[(values["period"], values["category"])] = values
    categories = [choice for choice in CustomerCategory if any(key[1] == choice for key in by_category)]

    def month_value(month, name):
        return by_month.get(month, {}).get(name) or ZERO

    dashboard = Dashboard(scope=scope, months=window)
    labels = [_label(month) for month in window]
    dashboard.charts.append(Chart(
        "chart-consumption", gettext("电量与应收电费"), labels,
        [_series(_("电量(kWh)"), [month_value(m, "kwh") for m in window]),
         _series(_("应收电费(元)"), [month_value(m, "billed") for m in window], kind="line", axis=1)],
    ))
    dashboard.charts.append(Chart(
        "chart-consumption-category", gettext("分类电量(kWh)"), labels,
        [_series(category.label, [(by_category.get((m, category.value)) or {}).get("kwh") or ZERO for m in window])
         for category in categories],
        stacked=True,
    ))
    dashboard.month_headings = [gettext("电费年月"), gettext("电量(kWh)"), gettext("应收电费"), gettext("实收电费")]
    dashboard.month_rows = [
        TableRow(_label(m), [kwh_display(month_value(m, "kwh")), format_yuan(month_value(m, "billed")),
                             format_yuan(month_value(m, "paid"))])
        for m in window
    ]
    latest = window[-1]
    dashboard.detail_title = gettext("%(month)s 分类电量电费") % {"month": _label(latest)}
    dashboard.detail_headings = [gettext("用电类别"), gettext("电量(kWh)"), gettext("应收电费")]
    dashboard.detail_rows = [
        TableRow(category.label, [kwh_display(by_category[(latest, category.value)]["kwh"]),
                                  format_yuan(by_category[(latest, category.value)]["billed"])])
        for category in categories if (latest, category.value) in by_category
    ]
    dashboard.unit_title = gettext("%(month)s 各单位电量电费") % {"month": _label(latest)}
    dashboard.unit_headings = [gettext("电量(kWh)"), gettext("应收电费"), gettext("实收电费")]
    dashboard.unit_rows = _unit_rows(
        scope, BillingSummary, {"kwh": Sum("kwh"), "billed": Sum("billed"), "paid": Sum("paid")},
        lambda v: [kwh_display(v["kwh"]), format_yuan(v["billed"]), format_yuan(v["paid"])],
        where=Q(period=latest),
    )
    return dashboard


# --- customer growth --------------------------------------------------------------------------------------------


def customers_dashboard(*, scope: ReportScope, months: int) -> Dashboard:
    """Accounts opened per month by category, and the number of accounts at each month's end."""
    last = timezone.localdate().replace(day=1)
    window = months_ending(last=last, count=months)
    rows = CustomerSummary.objects.filter(scope.rows())
    before = rows.filter(period__lt=window[0]).aggregate(n=Sum("opened"))["n"] or 0
    opened = {
        (values["period"], values["category"]): values["n"]
        for values in rows.filter(period__gte=window[0], period__lte=window[-1])
        .values("period", "category").annotate(n=Sum("opened"))
    }
    categories = [choice for choice in CustomerCategory if any(key[1] == choice for key in opened)]
    totals, running = [], before
    for month in window:
        running += sum(opened.get((month, category.value), 0) for category in CustomerCategory)
        totals.append(running)
    dashboard = Dashboard(scope=scope, months=window)
    labels = [_label(month) for month in window]
    dashboard.charts.append(Chart(
        "chart-customers", gettext("新增户数与户数"), labels,
        [*(_series(category.label, [opened.get((m, category.value), 0) for m in window]) for category in categories),
         _series(_("期末户数"), totals, kind="line", axis=1)],
        stacked=True,
    ))
    dashboard.month_headings = [gettext("立户年月"), gettext("新增户数"), gettext("期末户数")]
    dashboard.month_rows = [
        TableRow(_label(m), [str(sum(opened.get((m, c.value), 0) for c in CustomerCategory)), str(total)])
        for m, total in zip(window, totals)
    ]
    dashboard.unit_title = gettext("各单位户数")
    dashboard.unit_headings = [gettext("户数"), gettext("期间新增")]
    dashboard.unit_rows = _unit_rows(
        scope, CustomerSummary,
        {"total": Sum("opened", filter=Q(period__lte=window[-1])),
         "new": Sum("opened", filter=Q(period__gte=window[0]))},
        lambda v: [str(v["total"] or 0), str(v["new"] or 0)],
    )
    return dashboard


# --- tier distribution ------------------------------------------------------------------------------------------


def tiers_dashboard(*, scope: ReportScope, months: int) -> Dashboard:
    """Residential tiered bills by the highest tier they reached, per month, and the kWh in each tier."""
    window = _window(TierSummary, scope, months)
    reached = {}
    kwh = {}
    for values in (
        TierSummary.objects.filter(scope.rows(), period__gte=window[0], period__lte=window[-1])
        .values("period", "tier").annotate(bills=Sum("bills"), kwh=Sum("kwh"))
    ):
        reached[(values["period"], values["tier"])] = values["bills"]
        kwh[(values["period"], values["tier"])] = values["kwh"]
    tiers = sorted({tier for _period, tier in reached}) or [1]

    def top(month, tier) -> int:
        """Bills whose highest tier is `tier`: those reaching it less those reaching the next."""
        return reached.get((month, tier), 0) - reached.get((month, tier + 1), 0)

    dashboard = Dashboard(scope=scope, months=window)
    labels = [_label(month) for month in window]
    tier_name = gettext("第%(n)s档")
    dashboard.charts.append(Chart(
        "chart-tiers", gettext("居民户最高阶梯分布（户）"), labels,
        [_series(tier_name % {"n": tier}, [top(m, tier) for m in window]) for tier in tiers], stacked=True,
    ))
    dashboard.month_headings = [gettext("电费年月")] + [
        gettext("第%(n)s档户数（占比）") % {"n": tier} for tier in tiers
    ] + [gettext("各档电量(kWh)")]
    for month in window:
        billed = reached.get((month, 1), 0)
        cells = [f"{top(month, tier)} ({percent_display(_percent(top(month, tier), billed))})" for tier in tiers]
        cells.append(" / ".join(kwh_display(kwh.get((month, tier)) or ZERO) for tier in tiers))
        dashboard.month_rows.append(TableRow(_label(month), cells))
    latest = window[-1]
    dashboard.unit_title = gettext("%(month)s 各单位阶梯分布") % {"month": _label(latest)}
    dashboard.unit_headings = [gettext("居民账单数")] + [gettext("达到第%(n)s档") % {"n": tier} for tier in tiers[1:]]
    dashboard.unit_rows = _unit_rows(
        scope, TierSummary,
        {f"t{tier}": Sum("bills", filter=Q(tier=tier)) for tier in tiers},
        lambda v: [str(v[f"t{tier}"] or 0) for tier in tiers],
        where=Q(period=latest),
    )
    return dashboard


# --- arrears ----------------------------------------------------------------------------------------------------


def arrears_dashboard(*, scope: ReportScope, months: int) -> Dashboard:
    """What is still owed on each billing month's bills, the accounts owing it and the collection rate."""
    window = _window(BillingSummary, scope, months)
    rows = BillingSummary.objects.filter(scope.rows())
    by_month = {
        values["period"]: values
        for values in rows.filter(period__gte=window[0], period__lte=window[-1]).values("period").annotate(
            outstanding=Sum("outstanding"), accounts=Sum("accounts_in_arrears"), billed=Sum("billed"), paid=Sum("paid")
        )
    }

    def value(month, name):
        return by_month.get(month, {}).get(name) or 0

    rates = [_percent(value(m, "paid"), value(m, "billed")) for m in window]
    dashboard = Dashboard(scope=scope, months=window)
    labels = [_label(month) for month in window]
    dashboard.charts.append(Chart(
        "chart-arrears", gettext("各电费年月欠费余额与回收率"), labels,
        [_series(_("欠费余额(元)"), [value(m, "outstanding") or ZERO for m in window]),
         _series(_("回收率(%)"), [rate if rate is not None else ZERO for rate in rates], kind="line", axis=1,
                 places=1)],
        percent_axis=True,
    ))
    dashboard.month_headings = [gettext("电费年月"), gettext("应收电费"), gettext("欠费余额"), gettext("欠费户数"),
                                gettext("回收率")]
    dashboard.month_rows = [
        TableRow(_label(m), [format_yuan(value(m, "billed") or ZERO), format_yuan(value(m, "outstanding") or ZERO),
                             str(value(m, "accounts")), percent_display(rate)])
        for m, rate in zip(window, rates)
    ]
    dashboard.unit_title = gettext("各单位欠费余额（全部电费年月）")
    dashboard.unit_headings = [gettext("欠费余额"), gettext("欠费户次")]
    dashboard.unit_rows = _unit_rows(
        scope, BillingSummary, {"outstanding": Sum("outstanding"), "accounts": Sum("accounts_in_arrears")},
        lambda v: [format_yuan(v["outstanding"] or ZERO), str(v["accounts"] or 0)],
    )
    return dashboard


# --- tickets ----------------------------------------------------------------------------------------------------


def tickets_dashboard(*, scope: ReportScope, months: int) -> Dashboard:
    """Tickets accepted per month, closed, and the on-time rate of those closed; by business type in the window."""
    last = timezone.localdate().replace(day=1)
    window = months_ending(last=last, count=months)
    rows = TicketSummary.objects.filter(scope.rows(), period__gte=window[0], period__lte=window[-1])
    sums = {"opened": Sum("opened"), "closed": Sum("closed"), "due": Sum("closed_due"),
            "on_time": Sum("closed_on_time")}
    by_month = {values["period"]: values for values in rows.values("period").annotate(**sums)}

    def value(month, name):
        return by_month.get(month, {}).get(name) or 0

    rates = [_percent(value(m, "on_time"), value(m, "due")) for m in window]
    dashboard = Dashboard(scope=scope, months=window)
    labels = [_label(month) for month in window]
    dashboard.charts.append(Chart(
        "chart-tickets", gettext("工单受理量与按时办结率"), labels,
        [_series(_("受理量"), [value(m, "opened") for m in window]),
         _series(_("办结量"), [value(m, "closed") for m in window]),
         _series(_("按时办结率(%)"), [rate if rate is not None else ZERO for rate in rates], kind="line", axis=1,
                 places=1)],
        percent_axis=True,
    ))
    dashboard.month_headings = [gettext("受理年月"), gettext("受理量"), gettext("办结量"), gettext("按时办结率")]
    dashboard.month_rows = [
        TableRow(_label(m), [str(value(m, "opened")), str(value(m, "closed")), percent_display(rate)])
        for m, rate in zip(window, rates)
    ]
    labels_by_type = dict(BusinessType.choices)
    dashboard.detail_title = gettext("按业务类型（期间合计）")
    dashboard.detail_headings = [gettext("业务类型"), gettext("受理量"), gettext("办结量"), gettext("按时办结率")]
    dashboard.detail_rows = [
        TableRow(str(labels_by_type.get(values["business_type"], values["business_type"])),
                 [str(values["opened"]), str(values["closed"]),
                  percent_display(_percent(values["on_time"], values["due"]))])
        for values in rows.values("business_type").annotate(**sums).order_by("-opened", "business_type")
    ]
    dashboard.unit_title = gettext("各单位工单（期间合计）")
    dashboard.unit_headings = [gettext("受理量"), gettext("办结量"), gettext("按时办结率")]
    dashboard.unit_rows = _unit_rows(
        scope, TicketSummary, sums,
        lambda v: [str(v["opened"] or 0), str(v["closed"] or 0), percent_display(_percent(v["on_time"], v["due"]))],
        where=Q(period__gte=window[0], period__lte=window[-1]),
    )
    if scope.level == "branch":
        dashboard.note = gettext("未关联户号的工单不属于任何供电所，只计入县公司合计。")
    return dashboard


# --- outages by feeder ------------------------------------------------------------------------------------------


def _hours(duration: datetime.timedelta | None) -> Decimal:
    if not duration:
        return ZERO
    return (Decimal(duration.total_seconds()) / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def outages_dashboard(*, scope: ReportScope, months: int) -> Dashboard:
    """Outages and fault reports per 10 kV feeder in the window (feeders belong to branches, so a station's page
    shows its branch's feeders), and the outages per month by kind."""
    branch_scope = ReportScope(branch=scope.branch)
    last = timezone.localdate().replace(day=1)
    window = months_ending(last=last, count=months)
    in_window = Q(period__gte=window[0], period__lte=window[-1])
    outages = OutageSummary.objects.filter(branch_scope.rows(stations=False), in_window)
    by_month_kind = {
        (values["period"], values["kind"]): values["n"]
        for values in outages.values("period", "kind").annotate(n=Sum("outages"))
    }
    per_feeder = {}
    for values in outages.values("feeder_id", "feeder__name", "branch__name").annotate(
        n=Sum("outages"), planned=Sum("outages", filter=Q(kind=OutageKind.PLANNED)),
        fault=Sum("outages", filter=Q(kind=OutageKind.FAULT)), customers=Sum("customers"),
        interruption=Sum("customer_interruption"),
    ):
        per_feeder[values["feeder_id"]] = {**values, "reports": 0, "on_time": 0, "closed": 0}
    for values in FaultReportSummary.objects.filter(branch_scope.rows(stations=False), in_window).values(
        "feeder_id", "feeder__name", "branch__name"
    ).annotate(reports=Sum("reports"), closed=Sum("closed"), on_time=Sum("closed_on_time")):
        entry = per_feeder.setdefault(values["feeder_id"], {
            "feeder__name": values["feeder__name"], "branch__name": values["branch__name"], "n": 0, "planned": 0,
            "fault": 0, "customers": 0, "interruption": None,
        })
        entry.update(reports=values["reports"], closed=values["closed"], on_time=values["on_time"])
    ranked = sorted(per_feeder.values(), key=lambda v: (-_hours(v["interruption"]), -(v["n"] or 0),
                                                        -(v["reports"] or 0), v["feeder__name"]))
    dashboard = Dashboard(scope=scope, months=window)
    labels = [_label(month) for month in window]
    dashboard.charts.append(Chart(
        "chart-outages", gettext("每月停电次数"), labels,
        [_series(kind.label, [by_month_kind.get((m, kind.value), 0) for m in window]) for kind in OutageKind],
        stacked=True,
    ))
    top = ranked[:TOP_FEEDERS]
    dashboard.charts.append(Chart(
        "chart-feeders", gettext("停电时户数最多的线路"), [v["feeder__name"] for v in top],
        [_series(_("停电时户数(时·户)"), [_hours(v["interruption"]) for v in top]),
         _series(_("报修量"), [v["reports"] or 0 for v in top])],
    ))
    dashboard.detail_title = gettext("各线路停电与报修（期间合计）")
    dashboard.detail_headings = [gettext("10kV线路"), gettext("县公司"), gettext("停电次数"), gettext("其中计划"),
                                 gettext("其中故障"), gettext("影响计量点"), gettext("停电时户数"), gettext("报修量"),
                                 gettext("报修按时办结率")]
    dashboard.detail_rows = [
        TableRow(v["feeder__name"], [v["branch__name"], str(v["n"] or 0), str(v["planned"] or 0), str(v["fault"] or 0),
                                     str(v["customers"] or 0), kwh_display(_hours(v["interruption"])),
                                     str(v["reports"] or 0), percent_display(_percent(v["on_time"], v["closed"]))])
        for v in ranked
    ]
    dashboard.month_headings = [gettext("停电年月")] + [str(kind.label) for kind in OutageKind]
    dashboard.month_rows = [
        TableRow(_label(m), [str(by_month_kind.get((m, kind.value), 0)) for kind in OutageKind]) for m in window
    ]
    if scope.level == "company":
        dashboard.unit_title = gettext("各县公司停电与报修（期间合计）")
        dashboard.unit_headings = [gettext("停电次数"), gettext("停电时户数")]
        dashboard.unit_rows = _unit_rows(
            scope, OutageSummary, {"n": Sum("outages"), "interruption": Sum("customer_interruption")},
            lambda v: [str(v["n"] or 0), kwh_display(_hours(v["interruption"]))], where=in_window,
        )
    if scope.level == "station":
        dashboard.note = gettext("线路属于县公司，供电所页面显示所在县公司的全部线路。")
    return dashboard


# --- the index --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    label: str
    value: str


@dataclass
class Overview:
    scope: ReportScope
    period: datetime.date
    figures: list[Figure]
    unit_rows: list[UnitRow]
    unit_headings: list[str]
    refreshed: ReportRefresh | None

    @property
    def period_label(self) -> str:
        return _label(self.period)


def overview(*, scope: ReportScope) -> Overview:
    """The scope's latest billing month at a glance, and its units one level down to drill into."""
    latest = _last_period(BillingSummary, scope.rows())
    month = BillingSummary.objects.filter(scope.rows(), period=latest).aggregate(
        kwh=Sum("kwh"), billed=Sum("billed"), paid=Sum("paid")
    )
    owed = BillingSummary.objects.filter(scope.rows()).aggregate(n=Sum("outstanding"))["n"] or ZERO
    accounts = CustomerSummary.objects.filter(scope.rows()).aggregate(n=Sum("opened"))["n"] or 0
    figures = [
        Figure(gettext("户数"), str(accounts)),
        Figure(gettext("%(month)s 电量(kWh)") % {"month": _label(latest)}, kwh_display(month["kwh"] or ZERO)),
        Figure(gettext("%(month)s 应收电费") % {"month": _label(latest)}, format_yuan(month["billed"] or ZERO)),
        Figure(gettext("%(month)s 回收率") % {"month": _label(latest)},
               percent_display(_percent(month["paid"] or 0, month["billed"] or 0))),
        Figure(gettext("欠费余额"), format_yuan(owed)),
    ]
    unit_rows = _unit_rows(
        scope, BillingSummary,
        {"kwh": Sum("kwh", filter=Q(period=latest)), "billed": Sum("billed", filter=Q(period=latest)),
         "outstanding": Sum("outstanding")},
        lambda v: [kwh_display(v["kwh"] or ZERO), format_yuan(v["billed"] or ZERO),
                   format_yuan(v["outstanding"] or ZERO)],
    )
    headings = [gettext("%(month)s 电量(kWh)") % {"month": _label(latest)},
                gettext("%(month)s 应收电费") % {"month": _label(latest)}, gettext("欠费余额")]
    return Overview(scope=scope, period=latest, figures=figures, unit_rows=unit_rows, unit_headings=headings,
                    refreshed=last_refresh())
