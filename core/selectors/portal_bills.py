"""Reads behind a customer's account dashboard: bills and their words, monthly usage, payments, where the customer
stands in this period's tiers, and a smart-prepaid account's daily charge and days left. All bounded queries."""
from __future__ import annotations

import calendar
import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Max, Sum, TextField
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import TariffNotFound
from core.models import (
    Account, Bill, BillLine, LateFee, LedgerEntry, MeterReading, Payment, PaymentAllocation, TariffVersion,
)
from core.models.customers import CustomerCategory
from core.money import ZERO, format_yuan, to_kwh, to_money
from core.selectors.accounts import AmountDue, account_amount_due
from core.selectors.tariffs import tariff_version_for
from core.services.tariffs import TariffPrices, tariff_prices_load

USAGE_MONTHS = 24
HISTORY_LIMIT = 24
PAYMENTS_LIMIT = 24
# Bills and payments listed on the dashboard itself: half a year, a phone's screen or two.
DASHBOARD_RECENT = 6
# The customer's pace is the energy read in the last PACE_WINDOW_DAYS days, per day: daily AMI readings and a
# monthly manual reading both give a month's worth.
PACE_WINDOW_DAYS = 30
KWH = Decimal("1")
PERCENT = Decimal("0.1")
# No energy, as the sums of readings give it.
NO_KWH = to_kwh(ZERO)
TIERED_STRUCTURES = (TariffVersion.Structure.TIERED, TariffVersion.Structure.TIERED_TOU)
# What the customer sees about an account's supply state, in plain words.
STATUS_TEXTS = {
    Account.Status.ACTIVE: _("供电正常"),
    Account.Status.SUSPENDED: _("已办理暂停用电，恢复用电请申请“暂停恢复”"),
    Account.Status.DISCONNECTED: _("因余额不足已停电：充值到账后将在24小时内远程恢复送电"),
    Account.Status.CLOSED: _("该户已销户，不再供电"),
}
ENERGY_KINDS = (BillLine.Kind.TIER, BillLine.Kind.PERIOD, BillLine.Kind.ENERGY, BillLine.Kind.TIER_SURCHARGE)
PERIOD_BILL_KINDS = (Bill.Kind.REGULAR, Bill.Kind.REBILL)


def month_add(month: datetime.date, months: int) -> datetime.date:
    """The first day of the month `months` after (or before) `month`."""
    index = month.year * 12 + month.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def price_text(price: Decimal) -> str:
    """A unit price as printed on bills: at least 2 decimals, at most 4, no trailing zeros beyond 2 ("0.558")."""
    text = f"{price.quantize(Decimal('0.0001')):f}"
    whole, _dot, decimals = text.partition(".")
    return f"{whole}.{decimals.rstrip('0').ljust(2, '0')}"


def kwh_text(kwh: Decimal) -> str:
    """Energy as printed: "320" for whole kWh, "12.5" otherwise."""
    text = f"{to_kwh(kwh):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- bills and their words ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BillLineView:
    label: str
    quantity: Decimal
    unit_price_text: str
    amount_display: str
    words: str


@dataclass(frozen=True)
class BillView:
    bill: Bill
    lines: list[BillLineView]
    summary: str


def _line_words(line: BillLine) -> str:
    values = {
        "label": line.label,
        "quantity": kwh_text(line.quantity),
        "price": price_text(line.unit_price),
        "amount": f"{line.amount:.2f}",
    }
    if line.kind in ENERGY_KINDS:
        return gettext("%(label)s%(quantity)s千瓦时×%(price)s元=%(amount)s元") % values
    if line.kind == BillLine.Kind.CAPACITY:
        return gettext("%(label)s%(quantity)s千伏安×%(price)s元=%(amount)s元") % values
    if line.kind == BillLine.Kind.DEMAND:
        return gettext("%(label)s%(quantity)s千瓦×%(price)s元=%(amount)s元") % values
    return gettext("%(label)s%(amount)s元") % values


def bill_summary(*, bill: Bill, lines: list[BillLine]) -> str:
    """The bill in one sentence: "2024年3月用电320千瓦时，其中第1档电量180千瓦时×0.558元=100.44元，…，合计185.56元。"."""
    head = gettext("%(year)s年%(month)s月用电%(kwh)s千瓦时") % {
        "year": bill.period.year, "month": bill.period.month, "kwh": kwh_text(bill.kwh),
    }
    parts = [_line_words(line) for line in lines]
    body = gettext("，其中") + gettext("，").join(parts) if parts else ""
    tail = gettext("，合计%(total)s元。") % {"total": f"{bill.total:.2f}"}
    if bill.kind == Bill.Kind.CREDIT_NOTE:
        tail = gettext("，冲红%(total)s元。") % {"total": f"{bill.total:.2f}"}
    return head + body + tail


def bill_view(*, bill: Bill) -> BillView:
    """A bill with its lines in words (one query for the lines)."""
    lines = list(bill.lines.order_by("position"))
    return BillView(
        bill=bill,
        lines=[
            BillLineView(
                label=line.label,
                quantity=line.quantity,
                unit_price_text=price_text(line.unit_price),
                amount_display=format_yuan(line.amount),
                words=_line_words(line),
            )
            for line in lines
        ],
        summary=bill_summary(bill=bill, lines=lines),
    )


def bills_of_account(*, account: Account, limit: int = HISTORY_LIMIT) -> list[Bill]:
    """The account's latest bills, newest first."""
    return list(
        Bill.objects.filter(account=account).select_related("tariff_version__tariff").order_by("-period", "-id")[:limit]
    )


def bill_of_account_or_none(*, account: Account, number: str) -> Bill | None:
    """The bill with this number if it belongs to the account; None otherwise (callers answer 404 either way)."""
    return Bill.objects.filter(account=account, number=number).select_related("tariff_version__tariff").first()


# --- usage by month -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthUsage:
    month: datetime.date
    kwh: Decimal
    billed: bool


@dataclass(frozen=True)
class YearOnYear:
    """This month against the same month a year earlier, and the last 12 months against the 12 before."""

    month: datetime.date
    month_kwh: Decimal
    month_kwh_last_year: Decimal | None
    month_change_percent: Decimal | None
    twelve_kwh: Decimal
    twelve_kwh_before: Decimal | None
    twelve_change_percent: Decimal | None

    @property
    def month_change_text(self) -> str:
        return _change_text(self.month_change_percent)

    @property
    def twelve_change_text(self) -> str:
        return _change_text(self.twelve_change_percent)


def _change_text(percent: Decimal | None) -> str:
    """"增加12.5%", "减少3.0%", "持平", or "无可比数据" when the earlier figure is missing or zero."""
    if percent is None:
        return gettext("无可比数据")
    if percent > 0:
        return gettext("增加%(percent)s%%") % {"percent": percent}
    if percent < 0:
        return gettext("减少%(percent)s%%") % {"percent": -percent}
    return gettext("持平")


def _change_percent(now: Decimal, before: Decimal | None) -> Decimal | None:
    if before is None or before == 0:
        return None
    return ((now - before) * 100 / before).quantize(PERCENT, rounding=ROUND_HALF_UP)


def usage_by_month(*, account: Account, last_month: datetime.date, months: int = USAGE_MONTHS) -> list[MonthUsage]:
    """Billed kWh per month for `months` months ending with `last_month` (a month with no bill is 0), oldest
    first; a corrected month counts its re-bill (one query)."""
    first = month_add(last_month, -(months - 1))
    billed: dict[datetime.date, Decimal] = {}
    rows = (
        Bill.objects.filter(account=account, kind__in=PERIOD_BILL_KINDS, period__gte=first, period__lte=last_month)
        .exclude(state=Bill.State.CREDITED)
        .values_list("period", "kwh")
    )
    for period, kwh in rows:
        billed[period] = billed.get(period, ZERO) + kwh
    return [
        MonthUsage(month=month, kwh=billed.get(month, ZERO), billed=month in billed)
        for month in (month_add(first, index) for index in range(months))
    ]


def year_on_year(*, usage: list[MonthUsage]) -> YearOnYear | None:
    """Year-on-year figures from 24 months of usage (None when fewer than 13 months are given)."""
    if len(usage) < 13:
        return None
    latest, year_before = usage[-1], usage[-13]
    twelve = sum((month.kwh for month in usage[-12:]), ZERO)
    before_months = usage[-24:-12] if len(usage) >= 24 else []
    twelve_before = sum((month.kwh for month in before_months), ZERO) if any(m.billed for m in before_months) else None
    last_year = year_before.kwh if year_before.billed else None
    return YearOnYear(
        month=latest.month,
        month_kwh=latest.kwh,
        month_kwh_last_year=last_year,
        month_change_percent=_change_percent(latest.kwh, last_year),
        twelve_kwh=twelve,
        twelve_kwh_before=twelve_before,
        twelve_change_percent=_change_percent(twelve, twelve_before),
    )


def usage_chart_value(*, usage: list[MonthUsage]) -> dict:
    """The usage as the value of a server-drawn bar chart (cms.charts via templates/cms/blocks/chart_block.html):
    month numbers under the bars (the year where it starts), whole kWh over them."""
    rows = []
    for index, month in enumerate(usage):
        label = f"{month.month:%y}/{month.month.month}" if index == 0 or month.month.month == 1 else str(month.month.month)
        rows.append({"label": label, "value": month.kwh.quantize(KWH, rounding=ROUND_HALF_UP)})
    title = gettext("近%(months)s个月用电量（%(first)s至%(last)s）") % {
        "months": len(usage),
        "first": f"{usage[0].month:%Y-%m}" if usage else "",
        "last": f"{usage[-1].month:%Y-%m}" if usage else "",
    }
    return {"title": title, "kind": "bar", "unit": gettext("千瓦时"), "rows": rows}


# --- payments -------------------------------------------------------------------------------------------------


def payments_of_account(*, account: Account, limit: int = PAYMENTS_LIMIT) -> list[Payment]:
    """The account's latest payments, newest first."""
    return list(Payment.objects.filter(account=account).order_by("-received_at", "-id")[:limit])


def payment_of_account_or_none(*, account: Account, payment_id: int) -> Payment | None:
    return Payment.objects.filter(account=account, pk=payment_id).first()


def payment_allocations(*, payment: Payment) -> list[PaymentAllocation]:
    """Where a payment went: bills and late fees it settled (reversal rows included), oldest first."""
    return list(payment.allocations.select_related("bill", "late_fee__bill").order_by("id"))


# --- pace, tiers and prepaid ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pace:
    """Energy per day over the last PACE_WINDOW_DAYS days, with the register split when the meters give one."""

    daily_kwh: Decimal
    last_read_on: datetime.date | None
    peak: Decimal
    flat: Decimal
    valley: Decimal
    total: Decimal


def _pace_window(as_of: datetime.date) -> tuple[datetime.date, datetime.date]:
    """read_on after the first date and on or before the second."""
    return as_of - datetime.timedelta(days=PACE_WINDOW_DAYS), as_of


def _pace_from_rows(rows) -> Pace:
    """The pace from (read_on, consumption, peak, flat, valley) rows of the window."""
    total = peak = flat = valley = ZERO
    last = None
    for read_on, consumption, c_peak, c_flat, c_valley in rows:
        total += consumption
        peak += c_peak or ZERO
        flat += c_flat or ZERO
        valley += c_valley or ZERO
        last = read_on if last is None or read_on > last else last
    return Pace(
        daily_kwh=to_kwh(total / PACE_WINDOW_DAYS), last_read_on=last, peak=peak, flat=flat, valley=valley, total=total
    )


_PACE_FIELDS = ("read_on", "consumption", "consumption_peak", "consumption_flat", "consumption_valley")


def usage_pace(*, account: Account, as_of: datetime.date) -> Pace:
    """The account's current pace from its valid readings of the last PACE_WINDOW_DAYS days (one query)."""
    return usage_paces_of_accounts(account_ids=[account.pk], as_of=as_of)[account.pk]


def usage_paces_of_accounts(*, account_ids: list[int], as_of: datetime.date) -> dict[int, Pace]:
    """usage_pace of each account, in one query."""
    after, until = _pace_window(as_of)
    rows: dict[int, list[tuple]] = {account_id: [] for account_id in account_ids}
    for account_id, *row in MeterReading.objects.filter(
        account_id__in=account_ids, status=MeterReading.Status.VALID, read_on__gt=after, read_on__lte=until,
    ).order_by().values_list("account_id", *_PACE_FIELDS):
        rows[account_id].append(row)
    return {account_id: _pace_from_rows(account_rows) for account_id, account_rows in rows.items()}


@dataclass(frozen=True)
class TierStanding:
    number: int
    lower_kwh: Decimal
    upper_kwh: Decimal | None
    price_text: str
    used_kwh: Decimal
    current: bool


@dataclass(frozen=True)
class TierForecast:
    """Where a tiered account stands in this tier period and when it crosses into the next tier at its pace."""

    basis: str
    basis_label: str
    period_start: datetime.date
    period_end: datetime.date
    used_kwh: Decimal
    tiers: list[TierStanding]
    current_tier: int
    daily_kwh: Decimal
    next_tier: int | None
    next_tier_from_kwh: Decimal | None
    next_price_text: str
    kwh_to_next: Decimal | None
    crossing_date: datetime.date | None
    surcharge: bool

    @property
    def words(self) -> str:
        values = {
            "start": f"{self.period_start:%Y-%m-%d}", "used": kwh_text(self.used_kwh), "tier": self.current_tier,
        }
        text = gettext("自%(start)s起本阶梯周期已用电%(used)s千瓦时，处于第%(tier)s档。") % values
        if self.next_tier is None:
            return text
        if self.crossing_date is None:
            return text + gettext("按目前用电速度，本周期内不会进入第%(next)s档。") % {"next": self.next_tier}
        return text + gettext(
            "再用%(left)s千瓦时进入第%(next)s档（电价%(price)s元），按目前每天约%(daily)s千瓦时，预计%(date)s进入。"
        ) % {
            "left": kwh_text(self.kwh_to_next), "next": self.next_tier, "price": self.next_price_text,
            "daily": kwh_text(self.daily_kwh), "date": f"{self.crossing_date:%Y-%m-%d}",
        }


def _tier_period(basis: str, as_of: datetime.date) -> tuple[datetime.date, datetime.date]:
    if basis == TariffVersion.TierBasis.ANNUAL:
        return as_of.replace(month=1, day=1), as_of.replace(month=12, day=31)
    return as_of.replace(day=1), as_of.replace(day=calendar.monthrange(as_of.year, as_of.month)[1])


def tariff_prices_in_force(*, account: Account, on_date: datetime.date) -> TariffPrices | None:
    try:
        version = tariff_version_for(tariff=account.tariff, on_date=on_date)
    except TariffNotFound:
        return None
    return tariff_prices_load(version=version)


def _period_kwh(*, account: Account, start: datetime.date, end: datetime.date) -> Decimal:
    """kWh of the valid readings billed in the tier period (their billing month inside it), as billing counts."""
    return period_kwh_of_accounts(account_ids=[account.pk], start=start, end=end).get(account.pk, NO_KWH)


def period_kwh_of_accounts(*, account_ids: list[int], start: datetime.date, end: datetime.date) -> dict[int, Decimal]:
    """_period_kwh of each account (accounts with no reading in the period left out), in one query."""
    return {
        account_id: to_kwh(Decimal(str(kwh)))
        for account_id, kwh in MeterReading.objects.filter(
            account_id__in=account_ids, status=MeterReading.Status.VALID, period__gte=start, period__lte=end
        ).order_by().values("account_id").annotate(kwh=Sum("consumption")).values_list("account_id", "kwh")
    }


def tier_forecast(
    *, account: Account, as_of: datetime.date, prices: TariffPrices | None = None, pace: Pace | None = None,
    used_kwh: Decimal | None = None,
) -> TierForecast | None:
    """The forecast for a residential account on a tiered tariff; None for any other account. `used_kwh` is the
    tier period's energy when the caller has read it (period_kwh_of_accounts)."""
    if account.category != CustomerCategory.RESIDENTIAL:
        return None
    prices = prices or tariff_prices_in_force(account=account, on_date=as_of)
    if prices is None or prices.structure not in TIERED_STRUCTURES or not prices.tiers:
        return None
    pace = pace or usage_pace(account=account, as_of=as_of)
    start, end = _tier_period(prices.tier_basis, as_of)
    used = used_kwh if used_kwh is not None else _period_kwh(account=account, start=start, end=end)
    standings, lower, current, next_tier = [], ZERO, None, None
    for tier in prices.tiers:
        in_tier = max(ZERO, (used if tier.upper_kwh is None else min(used, tier.upper_kwh)) - lower)
        is_current = current is None and (tier.upper_kwh is None or used < tier.upper_kwh)
        if is_current:
            current = tier
        elif current is not None and next_tier is None:
            next_tier = (tier, lower)
        standings.append(
            TierStanding(
                number=tier.number, lower_kwh=lower, upper_kwh=tier.upper_kwh, price_text=price_text(tier.price),
                used_kwh=to_kwh(in_tier), current=is_current,
            )
        )
        if tier.upper_kwh is None:
            break
        lower = tier.upper_kwh
    if current is None:
        current = prices.tiers[-1]
    kwh_to_next = crossing = None
    if next_tier is not None:
        kwh_to_next = to_kwh(next_tier[1] - used)
        if pace.daily_kwh > 0:
            counted_from = pace.last_read_on or as_of
            days = (kwh_to_next / pace.daily_kwh).to_integral_value(rounding=ROUND_FLOOR) + 1
            candidate = counted_from + datetime.timedelta(days=int(days))
            crossing = max(candidate, as_of) if candidate <= end else None
    return TierForecast(
        basis=prices.tier_basis,
        basis_label=str(TariffVersion.TierBasis(prices.tier_basis).label),
        period_start=start,
        period_end=end,
        used_kwh=used,
        tiers=standings,
        current_tier=current.number,
        daily_kwh=pace.daily_kwh,
        next_tier=next_tier[0].number if next_tier else None,
        next_tier_from_kwh=next_tier[1] if next_tier else None,
        next_price_text=price_text(next_tier[0].price) if next_tier else "",
        kwh_to_next=kwh_to_next,
        crossing_date=crossing,
        surcharge=prices.structure == TariffVersion.Structure.TIERED_TOU,
    )


@dataclass(frozen=True)
class PrepaidEstimate:
    """A smart-prepaid account's money in days: credit in the ledger less the energy read but not yet billed."""

    ledger_credit: Decimal
    unbilled_kwh: Decimal
    unbilled_charge: Decimal
    remaining: Decimal
    unit_price: Decimal
    daily_kwh: Decimal
    daily_charge: Decimal
    days_left: int | None
    status: str
    status_label: str
    status_text: str

    @property
    def remaining_display(self) -> str:
        return format_yuan(self.remaining)

    @property
    def daily_charge_display(self) -> str:
        return format_yuan(self.daily_charge)

    @property
    def unit_price_text(self) -> str:
        return price_text(self.unit_price)


def _unit_price(*, prices: TariffPrices, pace: Pace, used_kwh: Decimal) -> Decimal:
    """The price of the next kWh at this pace: the tier the customer is in, or the TOU prices weighted by the
    recent register split (an even split of the periods when the meters give none)."""
    tier_price = ZERO
    if prices.structure in TIERED_STRUCTURES and prices.tiers:
        tier_price = prices.tiers[-1].price
        for tier in prices.tiers:
            if tier.upper_kwh is None or used_kwh < tier.upper_kwh:
                tier_price = tier.price
                break
    if prices.structure == TariffVersion.Structure.TIERED:
        return tier_price
    if prices.structure == TariffVersion.Structure.FLAT:
        return prices.flat_price or ZERO
    period_prices = dict(prices.period_prices)
    split = {"peak": pace.peak, "flat": pace.flat, "valley": pace.valley}
    weighted = sum(split.values(), ZERO)
    if weighted > 0:
        average = sum((split[name] * period_prices.get(name, ZERO) for name in split), ZERO) / weighted
    elif period_prices:
        average = sum(period_prices.values(), ZERO) / len(period_prices)
    else:
        average = ZERO
    return (average + tier_price).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def prepaid_estimate(
    *, account: Account, as_of: datetime.date, prices: TariffPrices | None = None, pace: Pace | None = None,
    unbilled_kwh: Decimal | None = None, used_kwh: Decimal | None = None,
) -> PrepaidEstimate | None:
    """The daily estimated charge, what is left and for how many days; None unless the account is prepaid.
    `unbilled_kwh` and `used_kwh` are the energy read since the latest bill and in the tier period when the caller
    has read them (unbilled_kwh_of_accounts, period_kwh_of_accounts)."""
    if account.billing_mode != Account.BillingMode.PREPAID:
        return None
    prices = prices or tariff_prices_in_force(account=account, on_date=as_of)
    pace = pace or usage_pace(account=account, as_of=as_of)
    if unbilled_kwh is not None:
        unbilled = unbilled_kwh
    else:
        unbilled = unbilled_kwh_of_accounts(account_ids=[account.pk]).get(account.pk, NO_KWH)
    start, end = _tier_period(prices.tier_basis if prices else TariffVersion.TierBasis.MONTHLY, as_of)
    if not (prices and prices.tiers):
        used = ZERO
    elif used_kwh is not None:
        used = used_kwh
    else:
        used = _period_kwh(account=account, start=start, end=end)
    unit_price = _unit_price(prices=prices, pace=pace, used_kwh=used) if prices else ZERO
    credit = -account.balance
    unbilled_charge = to_money(unbilled * unit_price)
    remaining = to_money(credit - unbilled_charge)
    daily_charge = to_money(pace.daily_kwh * unit_price)
    days_left = None
    if daily_charge > 0:
        days_left = int(max(remaining, ZERO) / daily_charge)
    return PrepaidEstimate(
        ledger_credit=to_money(credit),
        unbilled_kwh=unbilled,
        unbilled_charge=unbilled_charge,
        remaining=remaining,
        unit_price=unit_price,
        daily_kwh=pace.daily_kwh,
        daily_charge=daily_charge,
        days_left=days_left,
        status=account.status,
        status_label=str(Account.Status(account.status).label),
        status_text=str(STATUS_TEXTS[account.status]),
    )


def unit_price_ceiling(*, prices: TariffPrices) -> Decimal:
    """The most _unit_price can come to under these prices, whatever the pace and the energy used this period: the
    highest tier's price, the flat price, or the dearest time-of-use period's plus the highest tier's (rounded up to
    the 4 places _unit_price rounds to)."""
    top_tier = max((tier.price for tier in prices.tiers), default=ZERO) if prices.structure in TIERED_STRUCTURES else ZERO
    if prices.structure == TariffVersion.Structure.TIERED:
        ceiling = top_tier
    elif prices.structure == TariffVersion.Structure.FLAT:
        ceiling = prices.flat_price or ZERO
    else:
        ceiling = max((price for _name, price in prices.period_prices), default=ZERO) + top_tier
    return max(ceiling, ZERO).quantize(Decimal("0.0001"), rounding=ROUND_CEILING)


def prepaid_remaining_floor(*, credit: Decimal, unbilled_kwh: Decimal, ceiling: Decimal) -> Decimal:
    """The least prepaid_estimate's `remaining` can be for an account with this ledger credit and unbilled energy
    when no kWh costs more than `ceiling` (unit_price_ceiling): what lets a scan rule out a low balance without
    reading the account's pace and tier standing."""
    return to_money(credit - to_money(max(unbilled_kwh, ZERO) * ceiling))


def unbilled_kwh_of_accounts(*, account_ids: list[int]) -> dict[int, Decimal]:
    """Per account, the kWh of its valid readings after its latest standing bill (all of them when it has none), as
    prepaid_estimate counts them; accounts with none are left out. Two queries for the accounts' latest bills, then
    one per distinct latest billing month (in a scan, almost always one)."""
    latest_billed = dict(
        Bill.objects.filter(account_id__in=account_ids, kind__in=PERIOD_BILL_KINDS)
        .exclude(state=Bill.State.CREDITED)
        .order_by()
        .values("account_id")
        .annotate(period=Max("period"))
        .values_list("account_id", "period")
    )
    by_period: dict[datetime.date | None, list[int]] = {}
    for account_id in account_ids:
        by_period.setdefault(latest_billed.get(account_id), []).append(account_id)
    unbilled: dict[int, Decimal] = {}
    for period, ids in by_period.items():
        rows = MeterReading.objects.filter(account_id__in=ids, status=MeterReading.Status.VALID)
        if period is not None:
            rows = rows.filter(period__gt=period)
        for account_id, kwh in rows.order_by().values("account_id").annotate(kwh=Sum("consumption")).values_list(
            "account_id", "kwh"
        ):
            unbilled[account_id] = to_kwh(Decimal(str(kwh)))
    return unbilled


@dataclass(frozen=True)
class AccountOutlook:
    """What the daily alert scan needs of one account: its tier forecast and, if prepaid, its estimate."""

    forecast: TierForecast | None
    estimate: PrepaidEstimate | None


def outlooks_of_accounts(
    *, accounts: list[Account], as_of: datetime.date, prices_of: Callable[[Account], TariffPrices | None],
) -> dict[int, AccountOutlook]:
    """tier_forecast and prepaid_estimate of each account, as the dashboard works them out one by one, from a few
    queries for all of them: their paces, the prepaid ones' unbilled energy, and each tier period's energy.
    `prices_of` gives an account's prices in force on `as_of` (read once per tariff by the caller)."""
    ids = [account.pk for account in accounts]
    paces = usage_paces_of_accounts(account_ids=ids, as_of=as_of)
    unbilled = unbilled_kwh_of_accounts(
        account_ids=[account.pk for account in accounts if account.billing_mode == Account.BillingMode.PREPAID]
    )
    tier_periods: dict[tuple[datetime.date, datetime.date], list[int]] = {}
    for account in accounts:
        prices = prices_of(account)
        if prices is not None and prices.tiers:
            tier_periods.setdefault(_tier_period(prices.tier_basis, as_of), []).append(account.pk)
    used: dict[int, Decimal] = {}
    for (start, end), period_ids in tier_periods.items():
        used.update(period_kwh_of_accounts(account_ids=period_ids, start=start, end=end))
    outlooks = {}
    for account in accounts:
        prices, pace, used_kwh = prices_of(account), paces[account.pk], used.get(account.pk, NO_KWH)
        outlooks[account.pk] = AccountOutlook(
            forecast=tier_forecast(account=account, as_of=as_of, prices=prices, pace=pace, used_kwh=used_kwh),
            estimate=prepaid_estimate(account=account, as_of=as_of, prices=prices, pace=pace,
                                      unbilled_kwh=unbilled.get(account.pk, NO_KWH), used_kwh=used_kwh),
        )
    return outlooks


def account_status_text(*, account: Account) -> str:
    return str(STATUS_TEXTS[account.status])


# --- the dashboard ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountDashboard:
    account: Account
    status_text: str
    amount_due: AmountDue
    latest_bill: BillView | None
    usage: list[MonthUsage]
    chart: dict
    year_on_year: YearOnYear | None
    bills: list[Bill]
    payments: list[Payment]
    tier_forecast: TierForecast | None
    prepaid: PrepaidEstimate | None

    @property
    def owes(self) -> bool:
        return self.amount_due.total_due > 0

    @property
    def recent_bills(self) -> list[Bill]:
        """The bills the dashboard lists (the rest are a link away, on the bill list)."""
        return self.bills[:DASHBOARD_RECENT]

    @property
    def recent_payments(self) -> list[Payment]:
        return self.payments[:DASHBOARD_RECENT]

    @property
    def total_due_display(self) -> str:
        return format_yuan(self.amount_due.total_due)

    @property
    def late_fees(self) -> Decimal:
        return self.amount_due.late_fees_outstanding + self.amount_due.late_fees_accruing

    @property
    def late_fees_display(self) -> str:
        return format_yuan(self.late_fees)

    @property
    def credit_display(self) -> str:
        return format_yuan(self.amount_due.prepaid_credit)

    @property
    def due_date(self) -> datetime.date | None:
        """The earliest due date among the bills still owing (when the customer owes)."""
        open_bills = [bill for bill in self.bills if bill.kind != Bill.Kind.CREDIT_NOTE and bill.outstanding > 0]
        return min((bill.due_date for bill in open_bills), default=None) if self.owes else None


def account_dashboard(*, account: Account, as_of: datetime.date) -> AccountDashboard:
    """Everything the dashboard shows for one account, in a number of queries that does not grow with its history."""
    bills = bills_of_account(account=account)
    standing = [bill for bill in bills if bill.kind in PERIOD_BILL_KINDS and bill.state != Bill.State.CREDITED]
    latest = standing[0] if standing else None
    last_month = latest.period if latest is not None else as_of.replace(day=1)
    usage = usage_by_month(account=account, last_month=last_month)
    prices = tariff_prices_in_force(account=account, on_date=as_of)
    pace = usage_pace(account=account, as_of=as_of)
    return AccountDashboard(
        account=account,
        status_text=account_status_text(account=account),
        amount_due=account_amount_due(account=account, as_of=as_of),
        latest_bill=bill_view(bill=latest) if latest is not None else None,
        usage=usage,
        chart=usage_chart_value(usage=usage),
        year_on_year=year_on_year(usage=usage),
        bills=bills,
        payments=payments_of_account(account=account),
        tier_forecast=tier_forecast(account=account, as_of=as_of, prices=prices, pace=pace),
        prepaid=prepaid_estimate(account=account, as_of=as_of, prices=prices, pace=pace),
    )


# --- what the dashboard depends on, in one query ------------------------------------------------------------------

# Each bill state counts in its own 10-bit field of one sum, so moving any bill between states (an open bill marked
# overdue: the one change of a bill that posts nothing to the ledger) changes the sum.
_STATE_WEIGHTS = {state: 1 << (10 * index) for index, state in enumerate(Bill.State.values)}
_VERSION_ACCOUNT_FIELDS = ("name", "address", "category", "billing_mode", "status", "tariff", "balance")
_VERSION_TEXT_FIELDS = ("name", "address")


@functools.cache
def _version_expression() -> str:
    """The version as one SQL text expression over the account row of the query it sits in (the table itself, not
    an alias), written out once: it runs on every dashboard view and guest lookup, and composing its subqueries
    through the ORM costs more than running them. Its one parameter is the valid reading status.

    A table's last id is read in the same subquery as another aggregate of it: alone, PostgreSQL answers
    `MAX(id) WHERE account_id = X` by walking the primary key backwards until a row of the account turns up (the
    whole table for the first accounts); beside a SUM or COUNT it reads the account's rows through the account
    index. The ledger has an (account, id) index, so its MAX stays alone."""
    quote = connection.ops.quote_name

    def table(model) -> str:
        return quote(model._meta.db_table)

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    def per_account(model, aggregate: str) -> str:
        return (f"(SELECT {aggregate} FROM {table(model)} "
                f"WHERE {column(model, 'account')} = {table(Account)}.{column(Account, 'id')})")

    def last_id_and(model, aggregate: str) -> str:
        return per_account(model, f"MAX({column(model, 'id')}) || ':' || {aggregate}")

    weights = " ".join(f"WHEN '{state}' THEN {weight}" for state, weight in _STATE_WEIGHTS.items())
    bills = last_id_and(Bill, f"SUM(CASE {column(Bill, 'state')} {weights} ELSE 0 END)")
    readings = last_id_and(MeterReading, f"SUM(CASE WHEN {column(MeterReading, 'status')} = %s THEN 1 ELSE 0 END)")
    late_fees = last_id_and(LateFee, "COUNT(*)")
    account_id = f"{table(Account)}.{column(Account, 'id')}"
    tariff_version_last = (
        f"(SELECT MAX({column(TariffVersion, 'id')}) FROM {table(TariffVersion)} "
        f"WHERE {column(TariffVersion, 'tariff')} = {table(Account)}.{column(Account, 'tariff')})"
    )
    # Free text is preceded by its length, so no two sets of values read the same once joined by '|'.
    selected = [
        f"LENGTH({table(Account)}.{column(Account, name)}) || ':' || {table(Account)}.{column(Account, name)}"
        if name in _VERSION_TEXT_FIELDS else f"{table(Account)}.{column(Account, name)}"
        for name in _VERSION_ACCOUNT_FIELDS
    ] + [
        per_account(LedgerEntry, f"MAX({column(LedgerEntry, 'id')})"), bills, readings, late_fees,
        tariff_version_last,
    ]
    # One text, so it can ride along another query as an annotation (the same text either way); a part that is
    # NULL (no bill yet) reads as empty.
    return " || '|' || ".join(f"COALESCE(CAST({part} AS TEXT), '')" for part in selected)


def _version_sql() -> str:
    quote = connection.ops.quote_name
    account_id = f"{quote(Account._meta.db_table)}.{quote(Account._meta.get_field('id').column)}"
    return f"SELECT {_version_expression()} FROM {quote(Account._meta.db_table)} WHERE {account_id} = %s"


def account_data_version_annotation() -> RawSQL:
    """account_data_version's text for the account row of a query over accounts, or over rows joined to their
    account (bindings_active_versioned reads its SQL text and parameters): annotate it as `data_version` and the
    version costs no query of its own. Read it together with the row it guards, before the data it stands for."""
    return RawSQL(_version_expression(), [MeterReading.Status.VALID.value], output_field=TextField())


def account_data_version(*, account_id: int) -> tuple[str, ...] | None:
    """Everything an account's dashboard is drawn from that can change, as a tuple (of one text, the same as
    account_data_version_annotation's) that changes whenever it does (one query; None when the account is gone).

    Money moves only through the append-only ledger (bills, credit notes, payments and their reversals, late fees
    and waivers, write-offs), so its last entry id stands for every amount; then the account's own columns, the
    last bill (a bill is never edited after issue) with each bill state's count, the last reading with the count
    of valid ones (a reading is reviewed in place), the last late fee, and the tariff's last version. The date the
    dashboard is drawn for is the caller's to add (late fees accrue and the tier forecast moves with it)."""
    with connection.cursor() as cursor:
        cursor.execute(_version_sql(), [MeterReading.Status.VALID.value, account_id])
        row = cursor.fetchone()
    return (row[0],) if row is not None else None
