"""The auditors' reading of the personal-data access log (PersonalDataAccess): the rows under a filter, accesses per
day, the top viewers, staff who opened an unusual number of distinct customers in one day, and the CSV export.

Every figure is one aggregate query in the database; days are local (Asia/Shanghai) dates, inclusive.
"""
from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import Account, PersonalDataAccess
from core.selectors.binding import name_mask
from core.services.personal_data import RECORDED_FIELDS

# Where an opening happened: the part of the context before its first ":" ("ticket:T2026…" is a ticket page).
CONTEXT_KINDS = {
    "call": _("坐席来电弹屏"),
    "ticket": _("工单详情"),
    "counter": _("营业厅收费"),
    "quality": _("质量管理"),
    "admin": _("后台管理"),
    "notifications": _("发送失败的消息"),
}
TOP_VIEWERS = 10
# The longest window the per-day chart draws (a year); the list and the CSV take any window.
CHART_DAYS_LIMIT = 366


@dataclass(frozen=True)
class AccessFilters:
    staff: str = ""
    number: str = ""
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    context: str = ""


@dataclass(frozen=True)
class DayCount:
    day: datetime.date
    accesses: int
    customers: int


@dataclass(frozen=True)
class ViewerCount:
    staff_id: int
    username: str
    accesses: int
    customers: int


@dataclass(frozen=True)
class UnusualDay:
    staff_id: int
    username: str
    day: datetime.date
    customers: int

    @property
    def filter_query(self) -> str:
        """The log filtered to this member of staff and day."""
        return urlencode({"staff": self.username, "date_from": self.day.isoformat(), "date_to": self.day.isoformat()})


def audit_daily_customers_limit() -> int:
    """N of the unusual-volume flag (setting PERSONAL_DATA_AUDIT_DAILY_CUSTOMERS): more distinct customers than this
    in one day is flagged."""
    return settings.PERSONAL_DATA_AUDIT_DAILY_CUSTOMERS


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def personal_data_accesses(*, filters: AccessFilters) -> QuerySet[PersonalDataAccess]:
    """The accesses under the filters, newest first, with who, which customer and which account."""
    rows = PersonalDataAccess.objects.all()
    if filters.staff:
        rows = rows.filter(staff__username__iexact=filters.staff.strip())
    if filters.number:
        number = filters.number.strip()
        rows = rows.filter(customer_id__in=Account.objects.filter(number=number).values("customer_id"))
    if filters.date_from:
        rows = rows.filter(at__gte=_local_midnight(filters.date_from))
    if filters.date_to:
        rows = rows.filter(at__lt=_local_midnight(filters.date_to + datetime.timedelta(days=1)))
    if filters.context:
        rows = rows.filter(context__startswith=f"{filters.context}:")
    return rows.select_related("staff", "customer", "account").order_by("-at", "-id")


def _local_day():
    return TruncDate("at", tzinfo=timezone.get_current_timezone())


def personal_data_access_days(*, filters: AccessFilters) -> list[DayCount]:
    """Accesses and distinct customers per local day, oldest first (the chart's days; at most a year's)."""
    rows = (
        personal_data_accesses(filters=filters).order_by()
        .annotate(day=_local_day()).values("day")
        .annotate(accesses=Count("id"), customers=Count("customer_id", distinct=True))
        .order_by("-day")[:CHART_DAYS_LIMIT]
    )
    return sorted((DayCount(day=row["day"], accesses=row["accesses"], customers=row["customers"]) for row in rows),
                  key=lambda row: row.day)


def personal_data_top_viewers(*, filters: AccessFilters, limit: int = TOP_VIEWERS) -> list[ViewerCount]:
    """The staff with the most accesses under the filters, with how many distinct customers they opened."""
    rows = (
        personal_data_accesses(filters=filters).order_by()
        .values("staff_id", "staff__username")
        .annotate(accesses=Count("id"), customers=Count("customer_id", distinct=True))
        .order_by("-accesses", "staff__username")[:limit]
    )
    return [ViewerCount(staff_id=row["staff_id"], username=row["staff__username"], accesses=row["accesses"],
                        customers=row["customers"]) for row in rows]


def personal_data_unusual_days(*, filters: AccessFilters, threshold: int | None = None) -> list[UnusualDay]:
    """Each (staff member, local day) in which they opened more than `threshold` distinct customers, busiest
    first."""
    limit = audit_daily_customers_limit() if threshold is None else threshold
    rows = (
        personal_data_accesses(filters=filters).order_by()
        .annotate(day=_local_day()).values("staff_id", "staff__username", "day")
        .annotate(customers=Count("customer_id", distinct=True))
        .filter(customers__gt=limit)
        .order_by("-customers", "-day", "staff__username")
    )
    return [UnusualDay(staff_id=row["staff_id"], username=row["staff__username"], day=row["day"],
                       customers=row["customers"]) for row in rows]


def access_fields_display(fields: list[str]) -> str:
    """The auditors' names of the fields shown, in the log's order."""
    return "、".join(str(RECORDED_FIELDS.get(name, name)) for name in fields)


def context_kind_display(context: str) -> str:
    kind = context.split(":", 1)[0]
    label = CONTEXT_KINDS.get(kind)
    return f"{label}（{context}）" if label else context


def personal_data_access_csv_rows(*, filters: AccessFilters) -> Iterator[list[str]]:
    """The CSV export: a heading row, then one row per access (streamed in chunks, never loaded whole). The
    customer's name is masked: reading the log is not itself an opening of the customer's data."""
    yield [str(_("时间")), str(_("查看人")), str(_("客户编号")), str(_("客户（脱敏）")), str(_("户号")),
           str(_("查看内容")), str(_("场景"))]
    for access in personal_data_accesses(filters=filters).iterator(chunk_size=2000):
        yield [
            timezone.localtime(access.at).strftime("%Y-%m-%d %H:%M:%S"),
            access.staff.get_username(),
            str(access.customer_id),
            name_mask(access.customer.name),
            access.account.number if access.account_id else "",
            access_fields_display(access.fields),
            access.context,
        ]


@dataclass(frozen=True)
class AccessRow:
    """One log row as the page shows it (the customer's name masked)."""

    at: datetime.datetime
    username: str
    customer_masked: str
    account_number: str
    fields: str
    context: str


def access_rows(accesses) -> list[AccessRow]:
    return [
        AccessRow(
            at=timezone.localtime(access.at), username=access.staff.get_username(),
            customer_masked=name_mask(access.customer.name),
            account_number=access.account.number if access.account_id else "",
            fields=access_fields_display(access.fields), context=context_kind_display(access.context),
        )
        for access in accesses
    ]


def access_charts(*, days: list[DayCount], viewers: list[ViewerCount]) -> list[dict]:
    """The page's two charts in the form core/staff/reports.js draws: accesses per day and the top viewers."""
    return [
        {
            "id": "audit-chart-days", "title": str(_("每日查看次数")), "stacked": False, "percentAxis": False,
            "labels": [f"{row.day:%m-%d}" for row in days],
            "series": [
                {"name": str(_("查看次数")), "type": "bar", "yAxisIndex": 0, "data": [row.accesses for row in days]},
                {"name": str(_("涉及客户数")), "type": "line", "yAxisIndex": 0,
                 "data": [row.customers for row in days]},
            ],
        },
        {
            "id": "audit-chart-viewers", "title": str(_("查看最多的员工")), "stacked": False, "percentAxis": False,
            "labels": [row.username for row in viewers],
            "series": [
                {"name": str(_("查看次数")), "type": "bar", "yAxisIndex": 0,
                 "data": [row.accesses for row in viewers]},
                {"name": str(_("涉及客户数")), "type": "bar", "yAxisIndex": 0,
                 "data": [row.customers for row in viewers]},
            ],
        },
    ]
