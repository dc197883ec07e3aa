"""Reads for billing: period readings, earlier bills and tier-year totals, for one account or a batch."""
from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import QuerySet, Sum

from core.models import Bill, BillingRun, Branch, MeterReading

def _ids(account_ids: Iterable[int] | QuerySet) -> list[int] | QuerySet:
    """A queryset of ids stays a subquery: a billing-run batch names its accounts by range, not by a
    thousand parameters."""
    return account_ids if isinstance(account_ids, QuerySet) else list(account_ids)


READING_FIELDS = (
    "id",
    "account_id",
    "meter__asset_number",
    "read_on",
    "consumption",
    "consumption_peak",
    "consumption_flat",
    "consumption_valley",
    "max_demand_kw",
    "power_factor",
    "status",
)


def period_readings_by_account(
    *, account_ids: Iterable[int] | QuerySet, period: datetime.date
) -> dict[int, list[dict]]:
    """Every reading of these accounts billed in the period, oldest first, grouped by account (one query)."""
    grouped: dict[int, list[dict]] = defaultdict(list)
    rows = (
        MeterReading.objects.filter(account_id__in=_ids(account_ids), period=period)
        .order_by("account_id", "read_on", "id")
        .values(*READING_FIELDS)
    )
    for row in rows:
        grouped[row["account_id"]].append(row)
    return grouped


def regular_bill_periods_from(
    *, account_ids: Iterable[int] | QuerySet, period: datetime.date
) -> dict[int, datetime.date]:
    """For each account, its latest regular bill period on or after `period` (one query)."""
    latest: dict[int, datetime.date] = {}
    rows = Bill.objects.filter(account_id__in=_ids(account_ids), kind=Bill.Kind.REGULAR, period__gte=period).values_list(
        "account_id", "period"
    )
    for account_id, bill_period in rows:
        if account_id not in latest or bill_period > latest[account_id]:
            latest[account_id] = bill_period
    return latest


def tier_year_kwh_before(*, account_ids: Iterable[int] | QuerySet, period: datetime.date) -> dict[int, Decimal]:
    """kWh already billed this calendar year before `period`, per account; a corrected bill counts by its re-bill."""
    rows = (
        Bill.objects.filter(
            account_id__in=_ids(account_ids),
            kind__in=[Bill.Kind.REGULAR, Bill.Kind.REBILL],
            period__gte=period.replace(month=1),
            period__lt=period,
        )
        .exclude(state=Bill.State.CREDITED)
        .values("account_id")
        .annotate(kwh=Sum("kwh"))
        .order_by()
    )
    return {row["account_id"]: row["kwh"] for row in rows}


def billing_run_latest_finished(*, branch: Branch) -> BillingRun | None:
    return BillingRun.objects.filter(branch=branch, status=BillingRun.Status.FINISHED).order_by("-period").first()
