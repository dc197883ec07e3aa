"""Refreshing the decision-support summary tables (core.models.report_summaries) with set-based SQL.

Every summary is re-computed by DELETE + INSERT ... SELECT ... GROUP BY, built with the ORM and run by the
database (PostgreSQL or SQLite): no source row is loaded into Python. An incremental refresh re-computes only the
(period, branch) pairs touched since the last refresh, found from the append-only rows added since then (bills,
ledger entries, payment allocations, accounts, ticket events) and the outages saved since then. A full rebuild
(nightly, and on demand) re-computes everything; it also picks up what append-only rows cannot show, such as an
account moved to another station or customer category.
"""
from __future__ import annotations

import datetime
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from core.models import (
    Account,
    Bill,
    BillLine,
    BillingSummary,
    CustomerSummary,
    FaultReportSummary,
    LedgerEntry,
    Outage,
    OutageArea,
    OutageSummary,
    PaymentAllocation,
    ReportRefresh,
    ServicePoint,
    Ticket,
    TicketEvent,
    TicketSummary,
    TierSummary,
)
from core.models.customers import CustomerCategory
from core.models.outages import OutageState
from core.models.tickets import BusinessType

ZERO = Decimal("0.00")
# A constant key for pg_advisory_xact_lock: one refresh at a time (SQLite serialises writers by itself).
REFRESH_LOCK_KEY = 95598_0016
MARK_SOURCES = ("bill", "ledger", "allocation", "account", "ticket_event")

# period -> the branch ids to re-compute in it, or None for every branch
Dirty = dict[datetime.date, set[int] | None]
Progress = Callable[[str, int, int], None]


def _local_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_month(expression: str) -> TruncMonth:
    """The first day of the month (in Asia/Shanghai) of a datetime column, as a date, in SQL."""
    return TruncMonth(expression, output_field=models.DateField(), tzinfo=_local_zone())


def date_month(expression: str) -> TruncMonth:
    """The first day of the month of a date column, in SQL."""
    return TruncMonth(expression, output_field=models.DateField())


def month_bounds(period: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The aware start of the month and of the next month, in Asia/Shanghai."""
    start = datetime.datetime(period.year, period.month, 1, tzinfo=_local_zone())
    following = period.replace(day=28) + datetime.timedelta(days=4)
    return start, datetime.datetime(following.year, following.month, 1, tzinfo=_local_zone())


def next_month(period: datetime.date) -> datetime.date:
    return (period.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


# --- the summaries: each one's rows as an aggregate queryset whose aliases are "s_" + the target column -------


def _scoped(queryset, *, branch_path: str, branches: set[int] | None):
    return queryset.filter(**{f"{branch_path}__in": sorted(branches)}) if branches else queryset


def billing_rows(*, period: datetime.date | None = None, branches: set[int] | None = None):
    bills = Bill.objects.order_by()
    if period is not None:
        bills = bills.filter(period=period)
    bills = _scoped(bills, branch_path="account__branch_id", branches=branches)
    # Bills in force: not credit notes, nor the originals they cancelled (their re-bills count instead). An account
    # has one bill in force per month, so counting bills counts accounts, with no DISTINCT to sort for.
    charged = ~Q(kind=Bill.Kind.CREDIT_NOTE) & ~Q(state=Bill.State.CREDITED)
    owed = ExpressionWrapper(
        F("total") - F("amount_paid") - F("amount_adjusted"),
        output_field=models.DecimalField(max_digits=16, decimal_places=2),
    )
    return bills.values(
        s_period=F("period"), s_branch_id=F("account__branch_id"), s_station_id=F("account__station_id"),
        s_category=F("account__category"),
    ).annotate(
        s_bills=Count("id", filter=charged),
        s_kwh=Sum("kwh", default=ZERO),
        s_billed=Sum("total", default=ZERO),
        s_paid=Sum("amount_paid", default=ZERO),
        s_outstanding=Sum(owed, filter=charged, default=ZERO),
        s_accounts_in_arrears=Count("id", filter=charged & Q(total__gt=F("amount_paid") + F("amount_adjusted"))),
    )


def tier_rows(*, period: datetime.date | None = None, branches: set[int] | None = None):
    lines = BillLine.objects.order_by().filter(
        kind=BillLine.Kind.TIER, bill__account__category=CustomerCategory.RESIDENTIAL
    ).exclude(bill__kind=Bill.Kind.CREDIT_NOTE).exclude(bill__state=Bill.State.CREDITED)
    # Tier 1 is always on the bill; a higher tier only when some kWh fell in it.
    lines = lines.filter(Q(position=1) | Q(quantity__gt=0))
    if period is not None:
        lines = lines.filter(bill__period=period)
    lines = _scoped(lines, branch_path="bill__account__branch_id", branches=branches)
    return lines.values(
        s_period=F("bill__period"), s_branch_id=F("bill__account__branch_id"),
        s_station_id=F("bill__account__station_id"), s_tier=F("position"),
    ).annotate(s_bills=Count("id"), s_kwh=Sum("quantity", default=ZERO))


def customer_rows(*, period: datetime.date | None = None, branches: set[int] | None = None):
    accounts = Account.objects.order_by()
    if period is not None:
        accounts = accounts.filter(opened_on__gte=period, opened_on__lt=next_month(period))
    accounts = _scoped(accounts, branch_path="branch_id", branches=branches)
    return accounts.values(
        s_period=date_month("opened_on"), s_branch_id=F("branch_id"), s_station_id=F("station_id"),
        s_category=F("category"),
    ).annotate(s_opened=Count("id"))


def _on_time() -> Q:
    return Q(state=Ticket.State.CLOSED, due_at__isnull=False, closed_at__lte=F("due_at"))


def ticket_rows(*, period: datetime.date | None = None, branches: set[int] | None = None):
    tickets = Ticket.objects.order_by()
    if period is not None:
        start, end = month_bounds(period)
        tickets = tickets.filter(opened_at__gte=start, opened_at__lt=end)
    tickets = _scoped(tickets, branch_path="branch_id", branches=branches)
    closed = Q(state=Ticket.State.CLOSED)
    return tickets.values(
        s_period=local_month("opened_at"), s_branch_id=F("branch_id"), s_station_id=F("account__station_id"),
        s_business_type=F("business_type"),
    ).annotate(
        s_opened=Count("id"),
        s_closed=Count("id", filter=closed),
        s_closed_due=Count("id", filter=closed & Q(due_at__isnull=False)),
        s_closed_on_time=Count("id", filter=_on_time()),
        s_cancelled=Count("id", filter=Q(state=Ticket.State.CANCELLED)),
    )


def outage_rows(*, period: datetime.date | None = None, branches: set[int] | None = None):
    areas = OutageArea.objects.order_by().exclude(outage__state=OutageState.CANCELLED)
    if period is not None:
        start, end = month_bounds(period)
        areas = areas.filter(outage__starts_at__gte=start, outage__starts_at__lt=end)
    areas = _scoped(areas, branch_path="transformer_area__feeder__substation__branch_id", branches=branches)
    points = Coalesce(
        Subquery(
            ServicePoint.objects.order_by().filter(transformer_area_id=OuterRef("transformer_area_id"))
            .values("transformer_area_id").annotate(n=Count("id")).values("n")
        ),
        0,
    )
    length = ExpressionWrapper(F("outage__restored_at") - F("outage__starts_at"), output_field=DurationField())
    return areas.values(
        s_period=local_month("outage__starts_at"), s_branch_id=F("transformer_area__feeder__substation__branch_id"),
        s_feeder_id=F("transformer_area__feeder_id"), s_kind=F("outage__kind"),
    ).annotate(
        s_outages=Count("outage_id", distinct=True),
        s_areas=Count("id"),
        s_customers=Sum(points, default=0),
        s_customer_interruption=Sum(
            ExpressionWrapper(length * points, output_field=DurationField()),
            filter=Q(outage__restored_at__isnull=False),
            default=Value(datetime.timedelta(0), output_field=DurationField()),
        ),
    )


def fault_report_rows(*, period: datetime.date | None = None, branches: set[int] | None = None):
    tickets = Ticket.objects.order_by().filter(
        business_type=BusinessType.FAULT_REPAIR, transformer_area__isnull=False
    )
    if period is not None:
        start, end = month_bounds(period)
        tickets = tickets.filter(opened_at__gte=start, opened_at__lt=end)
    tickets = _scoped(tickets, branch_path="transformer_area__feeder__substation__branch_id", branches=branches)
    return tickets.values(
        s_period=local_month("opened_at"), s_branch_id=F("transformer_area__feeder__substation__branch_id"),
        s_feeder_id=F("transformer_area__feeder_id"),
    ).annotate(
        s_reports=Count("id"),
        s_closed=Count("id", filter=Q(state=Ticket.State.CLOSED)),
        s_closed_on_time=Count("id", filter=_on_time()),
    )


@dataclass(frozen=True)
class Summary:
    name: str
    model: type[models.Model]
    rows: Callable
    columns: tuple[str, ...]


SUMMARIES: tuple[Summary, ...] = (
    Summary("billing", BillingSummary, billing_rows,
            ("period", "branch_id", "station_id", "category", "bills", "kwh", "billed", "paid",
             "outstanding", "accounts_in_arrears")),
    Summary("tiers", TierSummary, tier_rows, ("period", "branch_id", "station_id", "tier", "bills", "kwh")),
    Summary("customers", CustomerSummary, customer_rows, ("period", "branch_id", "station_id", "category", "opened")),
    Summary("tickets", TicketSummary, ticket_rows,
            ("period", "branch_id", "station_id", "business_type", "opened", "closed", "closed_due", "closed_on_time",
             "cancelled")),
    Summary("outages", OutageSummary, outage_rows,
            ("period", "branch_id", "feeder_id", "kind", "outages", "areas", "customers", "customer_interruption")),
    Summary("fault_reports", FaultReportSummary, fault_report_rows,
            ("period", "branch_id", "feeder_id", "reports", "closed", "closed_on_time")),
)


def _insert_select(summary: Summary, queryset) -> int:
    """INSERT INTO the summary's table the rows of an aggregate queryset, inside the database."""
    quote = connection.ops.quote_name
    sql, params = queryset.query.sql_with_params()
    columns = ", ".join(quote(column) for column in summary.columns)
    picks = ", ".join(f"src.{quote('s_' + column)}" for column in summary.columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(summary.model._meta.db_table)} ({columns}) SELECT {picks} FROM ({sql}) src", params
        )
        return max(cursor.rowcount, 0)


def _recompute(summary: Summary, *, dirty: Dirty | None, progress: Progress | None) -> int:
    """Replace the summary's rows of the dirty (period, branches), or all of them when dirty is None."""
    if dirty is None:
        summary.model.objects.all().delete()
        rows = _insert_select(summary, summary.rows())
        if progress:
            progress(summary.name, 1, 1)
        return rows
    rows = 0
    for done, (period, branches) in enumerate(sorted(dirty.items()), start=1):
        stale = summary.model.objects.filter(period=period)
        if branches:
            stale = stale.filter(branch_id__in=sorted(branches))
        stale.delete()
        rows += _insert_select(summary, summary.rows(period=period, branches=branches))
        if progress:
            progress(summary.name, done, len(dirty))
    return rows


# --- what changed since the last refresh ----------------------------------------------------------------------


def _marks_now() -> dict:
    maxima = {
        "bill": Bill.objects.aggregate(m=Max("id"))["m"],
        "ledger": LedgerEntry.objects.aggregate(m=Max("id"))["m"],
        "allocation": PaymentAllocation.objects.aggregate(m=Max("id"))["m"],
        "account": Account.objects.aggregate(m=Max("id"))["m"],
        "ticket_event": TicketEvent.objects.aggregate(m=Max("id"))["m"],
    }
    marks = {name: value or 0 for name, value in maxima.items()}
    marks["outage_at"] = timezone.now().isoformat()
    return marks


def _add(dirty: Dirty, keys) -> None:
    for period, branch_id in keys:
        if period is None or branch_id is None:
            continue
        if isinstance(period, datetime.datetime):
            period = period.date()
        dirty.setdefault(period, set()).add(branch_id)


def _distinct(queryset, *fields) -> set:
    return set(queryset.order_by().values_list(*fields).distinct())


def dirty_periods(*, since: dict) -> dict[str, Dirty]:
    """Per summary, the (period, branches) touched by rows added (or outages saved) after the `since` marks."""
    billing: Dirty = {}
    _add(billing, _distinct(Bill.objects.filter(id__gt=since["bill"]), "period", "account__branch_id"))
    _add(billing, _distinct(LedgerEntry.objects.filter(id__gt=since["ledger"], bill__isnull=False),
                            "bill__period", "bill__account__branch_id"))
    _add(billing, _distinct(PaymentAllocation.objects.filter(id__gt=since["allocation"], bill__isnull=False),
                            "bill__period", "bill__account__branch_id"))
    customers: Dirty = {}
    _add(customers, _distinct(
        Account.objects.filter(id__gt=since["account"]).annotate(month=date_month("opened_on")), "month", "branch_id"
    ))
    events = TicketEvent.objects.filter(id__gt=since["ticket_event"]).annotate(month=local_month("ticket__opened_at"))
    tickets: Dirty = {}
    _add(tickets, _distinct(events, "month", "ticket__branch_id"))
    fault_reports: Dirty = {}
    _add(fault_reports, _distinct(
        events.filter(ticket__business_type=BusinessType.FAULT_REPAIR, ticket__transformer_area__isnull=False),
        "month", "ticket__transformer_area__feeder__substation__branch_id",
    ))
    # An outage can be revised to other areas: its month is re-computed for every branch. (One moved to another
    # month leaves its old month to the nightly rebuild: the old start is not kept.)
    saved_since = datetime.datetime.fromisoformat(since["outage_at"])
    outages: Dirty = {
        (month.date() if isinstance(month, datetime.datetime) else month): None
        for month in Outage.objects.filter(updated_at__gt=saved_since).annotate(month=local_month("starts_at"))
        .order_by().values_list("month", flat=True).distinct()
    }
    return {"billing": billing, "tiers": dict(billing), "customers": customers, "tickets": tickets,
            "outages": outages, "fault_reports": fault_reports}


def _scan_start() -> dict | None:
    """The marks to read from: those of the refresh before the last one (so each window is read twice and a late
    commit is not lost), or of the last one when it is the only one; None when nothing was refreshed yet."""
    finished = list(
        ReportRefresh.objects.filter(finished_at__isnull=False).order_by("-id").values_list("marks", flat=True)[:2]
    )
    if not finished:
        return None
    marks = finished[-1]
    if not all(name in marks for name in (*MARK_SOURCES, "outage_at")):
        return None
    return marks


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REFRESH_LOCK_KEY])


@dataclass
class RefreshReport:
    refresh: ReportRefresh
    full: bool
    periods: dict[str, list[str]] = field(default_factory=dict)
    rows: int = 0
    seconds: Decimal = Decimal("0")


def reports_refresh(*, full: bool = False, progress: Progress | None = None) -> RefreshReport:
    """Bring every summary table up to date: the touched (period, branch) pairs only, or everything when `full`
    or when nothing was refreshed before. One transaction, so readers see the old figures or the new, never half;
    holds a PostgreSQL advisory lock so two refreshes never interleave."""
    started = time.monotonic()
    with transaction.atomic():
        _lock()
        marks = _marks_now()
        since = None if full else _scan_start()
        refresh = ReportRefresh.objects.create(
            started_at=timezone.now(), full=since is None, marks=marks, scanned_from=since or {}
        )
        dirty = None if since is None else dirty_periods(since=since)
        report = RefreshReport(refresh=refresh, full=since is None)
        for summary in SUMMARIES:
            summary_dirty = None if dirty is None else dirty[summary.name]
            report.rows += _recompute(summary, dirty=summary_dirty, progress=progress)
            report.periods[summary.name] = (
                ["*"] if summary_dirty is None else [f"{period:%Y-%m}" for period in sorted(summary_dirty)]
            )
        report.seconds = Decimal(time.monotonic() - started).quantize(Decimal("0.001"))
        refresh.finished_at = timezone.now()
        refresh.periods = report.periods
        refresh.rows = report.rows
        refresh.seconds = report.seconds
        refresh.save(update_fields=["finished_at", "periods", "rows", "seconds"])
    return report
