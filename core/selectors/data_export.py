"""A customer's own data, whole, for export from the portal: every meter reading of the account with the days it
covers, and every bill with its lines. Three queries whatever the history holds; the caller has checked that the
account is the user's (portal.access.bound_account_or_404)."""
from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from core.models import Account, Bill, BillLine, MeterReading

ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class UsageInterval:
    """The energy one reading measured: from the day after the meter's previous reading (its installation day
    for the first) through the reading day, inclusive."""

    meter: str
    first_day: datetime.date
    last_day: datetime.date
    read_on: datetime.date
    period: datetime.date
    register_total: Decimal
    kwh: Decimal
    kwh_peak: Decimal | None
    kwh_flat: Decimal | None
    kwh_valley: Decimal | None
    source: str
    source_label: str
    status: str
    status_label: str

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


@dataclass(frozen=True)
class ExportBill:
    bill: Bill
    lines: list[BillLine]


@dataclass(frozen=True)
class AccountDataExport:
    account: Account
    usage: list[UsageInterval]
    bills: list[ExportBill]


def account_usage_intervals(*, account: Account) -> list[UsageInterval]:
    """Every reading of the account's meters, each as the interval it covers, by meter and day (one query)."""
    readings = (
        MeterReading.objects.filter(account=account)
        .select_related("meter")
        .order_by("meter__asset_number", "read_on", "id")
    )
    previous: dict[int, datetime.date] = {}
    intervals = []
    for reading in readings:
        meter = reading.meter
        first_day = previous[meter.pk] + ONE_DAY if meter.pk in previous else meter.installed_on
        previous[meter.pk] = reading.read_on
        intervals.append(
            UsageInterval(
                meter=meter.asset_number,
                first_day=min(first_day, reading.read_on),
                last_day=reading.read_on,
                read_on=reading.read_on,
                period=reading.period,
                register_total=reading.total,
                kwh=reading.consumption,
                kwh_peak=reading.consumption_peak,
                kwh_flat=reading.consumption_flat,
                kwh_valley=reading.consumption_valley,
                source=reading.source,
                source_label=str(reading.get_source_display()),
                status=reading.status,
                status_label=str(reading.get_status_display()),
            )
        )
    return intervals


def account_export_bills(*, account: Account) -> list[ExportBill]:
    """Every bill of the account, oldest first, with its lines (two queries)."""
    bills = list(Bill.objects.filter(account=account).order_by("period", "id"))
    lines: dict[int, list[BillLine]] = defaultdict(list)
    for line in BillLine.objects.filter(bill__account=account).order_by("bill_id", "position", "id"):
        lines[line.bill_id].append(line)
    return [ExportBill(bill=bill, lines=lines[bill.pk]) for bill in bills]


def account_data_export(*, account: Account) -> AccountDataExport:
    return AccountDataExport(
        account=account, usage=account_usage_intervals(account=account), bills=account_export_bills(account=account)
    )
