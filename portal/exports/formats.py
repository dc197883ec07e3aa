"""The export formats, written from what core.selectors.data_export read (no queries here).

CSV: one header row of translated column names, then one row per reading or bill; UTF-8 with a byte-order mark
so spreadsheet programs open the Chinese correctly. Energy and money as plain decimals with two places.

JSON: shaped after the Green Button (ESPI) feed a utility customer downloads elsewhere: a usage point, the reading
type (electricity, kWh, delta data, CNY), interval blocks of readings per meter with start and duration in
seconds (epoch, the interval's days in Asia/Shanghai) and the usage summaries of the bills. Values are decimal
strings, never floats."""
from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from core.selectors.data_export import AccountDataExport, ExportBill, UsageInterval

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
FORMAT_NAME = "green-button-like"
FORMAT_VERSION = 1
SECONDS_PER_DAY = 86400
BOM = "\ufeff"


def _decimal(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return BOM + buffer.getvalue()


def usage_csv_text(*, intervals: list[UsageInterval]) -> str:
    header = [
        _("电能表"), _("起始日期"), _("抄表日期"), _("天数"), _("电费年月"), _("总示数"), _("电量(kWh)"),
        _("峰电量(kWh)"), _("平电量(kWh)"), _("谷电量(kWh)"), _("来源"), _("状态"),
    ]
    rows = [
        [
            interval.meter, interval.first_day.isoformat(), interval.read_on.isoformat(), str(interval.days),
            f"{interval.period:%Y-%m}", _decimal(interval.register_total), _decimal(interval.kwh),
            _decimal(interval.kwh_peak), _decimal(interval.kwh_flat), _decimal(interval.kwh_valley),
            interval.source_label, interval.status_label,
        ]
        for interval in intervals
    ]
    return _csv_text(header, rows)


def bills_csv_text(*, bills: list[ExportBill]) -> str:
    header = [
        _("账单号"), _("电费年月"), _("类型"), _("发行日期"), _("缴费截止日"), _("电量(kWh)"), _("应收金额(元)"),
        _("已收金额(元)"), _("冲减金额(元)"), _("尚欠金额(元)"), _("状态"),
    ]
    rows = [
        [
            item.bill.number, f"{item.bill.period:%Y-%m}", str(item.bill.get_kind_display()),
            item.bill.issued_on.isoformat(), item.bill.due_date.isoformat(), _decimal(item.bill.kwh),
            _decimal(item.bill.total), _decimal(item.bill.amount_paid), _decimal(item.bill.amount_adjusted),
            _decimal(item.bill.outstanding), str(item.bill.get_state_display()),
        ]
        for item in bills
    ]
    return _csv_text(header, rows)


def _epoch(day: datetime.date) -> int:
    """The start of `day` in Asia/Shanghai, in seconds since the epoch."""
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ).timestamp())


def _time_period(first_day: datetime.date, last_day: datetime.date) -> dict:
    return {
        "start": _epoch(first_day),
        "duration": ((last_day - first_day).days + 1) * SECONDS_PER_DAY,
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
    }


def _interval_reading(interval: UsageInterval) -> dict:
    return {
        "time_period": _time_period(interval.first_day, interval.last_day),
        "value": _decimal(interval.kwh),
        "tou": {
            "peak": _decimal(interval.kwh_peak) or None,
            "flat": _decimal(interval.kwh_flat) or None,
            "valley": _decimal(interval.kwh_valley) or None,
        },
        "register_total": _decimal(interval.register_total),
        "billing_period": f"{interval.period:%Y-%m}",
        "quality": interval.status,
        "source": interval.source,
    }


def _interval_blocks(intervals: list[UsageInterval]) -> list[dict]:
    blocks: dict[str, list[UsageInterval]] = {}
    for interval in intervals:
        blocks.setdefault(interval.meter, []).append(interval)
    return [
        {
            "meter": meter,
            "interval": _time_period(readings[0].first_day, readings[-1].last_day),
            "interval_readings": [_interval_reading(interval) for interval in readings],
        }
        for meter, readings in blocks.items()
    ]


def _usage_summary(item: ExportBill) -> dict:
    bill = item.bill
    last_day = (bill.period.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) - datetime.timedelta(days=1)
    return {
        "bill_number": bill.number,
        "billing_period": _time_period(bill.period, last_day),
        "kind": bill.kind,
        "state": bill.state,
        "issued_on": bill.issued_on.isoformat(),
        "due_date": bill.due_date.isoformat(),
        "consumption_kwh": _decimal(bill.kwh),
        "bill_amount": _decimal(bill.total),
        "amount_paid": _decimal(bill.amount_paid),
        "amount_adjusted": _decimal(bill.amount_adjusted),
        "outstanding": _decimal(bill.outstanding),
        "lines": [
            {
                "kind": line.kind,
                "label": line.label,
                "quantity": _decimal(line.quantity),
                "unit_price": f"{line.unit_price:.4f}",
                "amount": _decimal(line.amount),
            }
            for line in item.lines
        ],
    }


def green_button_document(*, export: AccountDataExport, generated_at: datetime.datetime) -> dict:
    account = export.account
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "generated_at": generated_at.astimezone(LOCAL_TZ).isoformat(),
        "usage_point": {
            "account_number": account.number,
            "service_kind": "electricity",
            "customer_category": account.category,
            "billing_mode": account.billing_mode,
            "time_zone": "Asia/Shanghai",
        },
        "reading_type": {
            "commodity": "electricity",
            "unit": "kWh",
            "accumulation": "delta_data",
            "interval_basis": "meter_reading",
            "currency": "CNY",
        },
        "interval_blocks": _interval_blocks(export.usage),
        "usage_summaries": [_usage_summary(item) for item in export.bills],
    }
