"""Tariff arithmetic: pure functions from a price snapshot and a usage to bill lines (no DB writes)."""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import lru_cache
from decimal import Decimal, InvalidOperation

from django.utils.translation import get_language, gettext, gettext_noop, override
from django.utils.translation import gettext_lazy as _

from core.errors import BillingError, InvalidReading
from core.models import BillLine, PowerFactorBand, Tariff, TariffPeriodPrice, TariffTier, TariffVersion
from core.models.tariffs import TimePeriod
from core.money import CENT, to_kwh, to_money
from core.selectors.tariffs import tariff_version_for

ZERO = Decimal("0")
QUANTITY_LIMIT = Decimal("1e10")
PERIODS = (TimePeriod.PEAK, TimePeriod.FLAT, TimePeriod.VALLEY)
# Marked for translation here; translated (and cached) when a line is built.
PERIOD_LABELS = {
    TimePeriod.PEAK: gettext_noop("峰段电量"),
    TimePeriod.FLAT: gettext_noop("平段电量"),
    TimePeriod.VALLEY: gettext_noop("谷段电量"),
}
TIER_LABEL = gettext_noop("第%(number)s档电量")
TIER_SURCHARGE_LABEL = gettext_noop("第%(number)s档加价")
ENERGY_LABEL = gettext_noop("电度电费")
CAPACITY_LABEL = gettext_noop("基本电费(容量)")
DEMAND_LABEL = gettext_noop("基本电费(需量)")
POWER_FACTOR_LABEL = gettext_noop("力调电费(功率因数%(pf)s)")


@dataclass(frozen=True)
class TierPrice:
    number: int
    upper_kwh: Decimal | None
    price: Decimal


@dataclass(frozen=True)
class PowerFactorStep:
    pf_from: Decimal
    pf_to: Decimal
    percent: Decimal


@dataclass(frozen=True)
class TariffPrices:
    """Everything charges_calculate needs from one tariff version, loaded once and reused for many accounts."""

    version_id: int
    structure: str
    tier_basis: str
    tiers: tuple[TierPrice, ...]
    period_prices: tuple[tuple[str, Decimal], ...]
    flat_price: Decimal | None
    capacity_basis: str
    capacity_price: Decimal
    demand_price: Decimal
    power_factor_standard: Decimal | None
    power_factor_bands: tuple[PowerFactorStep, ...]

    def period_price(self, period: str) -> Decimal:
        for name, price in self.period_prices:
            if name == period:
                return price
        raise BillingError(_("电价版本缺少%(period)s时段电价") % {"period": TimePeriod(period).label})


@dataclass
class Usage:
    """What one account used in one period, as billing needs it (kWh already multiplied by the meter multiplier)."""

    kwh: Decimal
    peak: Decimal | None = None
    flat: Decimal | None = None
    valley: Decimal | None = None
    max_demand_kw: Decimal | None = None
    power_factor: Decimal | None = None
    contracted_capacity_kva: Decimal = Decimal("0")
    kwh_before_in_tier_year: Decimal = Decimal("0")


@dataclass(frozen=True)
class ChargeLine:
    kind: str
    label: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Quote:
    lines: list[ChargeLine]
    total: Decimal


def tariff_prices_load(*, version: TariffVersion) -> TariffPrices:
    """Snapshot a version's prices (three queries), so a billing run reads each version once."""
    return tariff_prices_load_many(versions=[version])[version.pk]


def tariff_prices_load_many(*, versions: list[TariffVersion]) -> dict[int, TariffPrices]:
    """Snapshots of several versions' prices by version id, in three queries whatever their number."""
    tiers: dict[int, list[TierPrice]] = {version.pk: [] for version in versions}
    for version_id, number, upper_kwh, price in TariffTier.objects.filter(version__in=versions).order_by(
        "version_id", "number"
    ).values_list("version_id", "number", "upper_kwh", "price"):
        tiers[version_id].append(TierPrice(number=number, upper_kwh=upper_kwh, price=price))
    period_prices: dict[int, list[tuple[str, Decimal]]] = {version.pk: [] for version in versions}
    wanted = {str(x) for x in PERIODS}
    for version_id, period, price in TariffPeriodPrice.objects.filter(version__in=versions).values_list(
        "version_id", "period", "price"
    ):
        if period in wanted:
            period_prices[version_id].append((period, price))
    bands: dict[str, list[PowerFactorStep]] = {}
    standards = {version.power_factor_standard for version in versions} - {None}
    if standards:
        bands = {standard: [] for standard in standards}
        for standard, pf_from, pf_to, percent in PowerFactorBand.objects.filter(standard__in=standards).order_by(
            "standard", "pf_from"
        ).values_list("standard", "pf_from", "pf_to", "percent"):
            bands[standard].append(PowerFactorStep(pf_from=pf_from, pf_to=pf_to, percent=percent))
    return {
        version.pk: TariffPrices(
            version_id=version.pk,
            structure=version.structure,
            tier_basis=version.tier_basis,
            tiers=tuple(tiers[version.pk]),
            period_prices=tuple(period_prices[version.pk]),
            flat_price=version.flat_price,
            capacity_basis=version.capacity_basis,
            capacity_price=version.capacity_price,
            demand_price=version.demand_price,
            power_factor_standard=version.power_factor_standard,
            power_factor_bands=tuple(bands.get(version.power_factor_standard, ())),
        )
        for version in versions
    }


def _tier_split(*, tiers: tuple[TierPrice, ...], kwh: Decimal, before: Decimal) -> list[tuple[TierPrice, Decimal]]:
    """kWh of this bill falling in each tier, counting from `before` (0 for monthly tiers)."""
    if not tiers:
        raise BillingError(_("阶梯电价版本没有配置档次"))
    split = []
    lower = ZERO
    start, end = before, before + kwh
    for tier in tiers:
        upper = tier.upper_kwh
        top = end if upper is None else min(end, upper)
        quantity = max(ZERO, top - max(start, lower))
        split.append((tier, to_kwh(quantity)))
        if upper is None:
            break
        lower = upper
    return split


@lru_cache(maxsize=256)
def _label(language: str | None, template: str, number: int | None = None) -> str:
    """Translated line labels, cached: a billing run asks for the same few labels a million times."""
    with override(language):
        text = gettext(template)
    return text % {"number": number} if number is not None else text


def _tier_label(language: str | None, number: int) -> str:
    return _label(language, TIER_LABEL, number)


def _period_quantities(usage: Usage) -> dict[str, Decimal]:
    """Peak and valley are required; flat is absent for residential two-period meters."""
    if usage.peak is None or usage.valley is None:
        raise BillingError(_("分时电价需要峰、谷时段的电量"))
    quantities = {TimePeriod.PEAK: usage.peak, TimePeriod.FLAT: usage.flat, TimePeriod.VALLEY: usage.valley}
    return {period: quantity for period, quantity in quantities.items() if quantity is not None}


def _line(kind: str, label: str, quantity: Decimal, unit_price: Decimal) -> ChargeLine:
    return ChargeLine(kind=kind, label=label, quantity=quantity, unit_price=unit_price, amount=to_money(quantity * unit_price))


def _energy_lines(*, prices: TariffPrices, usage: Usage, language: str | None) -> list[ChargeLine]:
    structure = prices.structure
    if structure == TariffVersion.Structure.FLAT:
        if prices.flat_price is None:
            raise BillingError(_("单一电价版本没有配置电度电价"))
        return [_line(BillLine.Kind.ENERGY, _label(language, ENERGY_LABEL), usage.kwh, prices.flat_price)]

    before = usage.kwh_before_in_tier_year if prices.tier_basis == TariffVersion.TierBasis.ANNUAL else ZERO
    if structure == TariffVersion.Structure.TIERED:
        split = _tier_split(tiers=prices.tiers, kwh=usage.kwh, before=before)
        # Tier 1 is always shown, so a zero bill still says what it was priced at.
        return [
            _line(BillLine.Kind.TIER, _tier_label(language, tier.number), quantity, tier.price)
            for index, (tier, quantity) in enumerate(split)
            if index == 0 or quantity > 0
        ]

    quantities = _period_quantities(usage)
    lines = [
        _line(BillLine.Kind.PERIOD, _label(language, PERIOD_LABELS[period]), quantities[period], prices.period_price(period))
        for period in PERIODS
        if period in quantities
    ]
    if structure == TariffVersion.Structure.TOU:
        return lines
    if structure == TariffVersion.Structure.TIERED_TOU:
        split = _tier_split(tiers=prices.tiers, kwh=usage.kwh, before=before)
        lines.extend(
            _line(BillLine.Kind.TIER_SURCHARGE, _label(language, TIER_SURCHARGE_LABEL, tier.number), quantity, tier.price)
            for tier, quantity in split
            if quantity > 0 and tier.price != 0
        )
        return lines
    raise BillingError(_("未知的计价结构：%(structure)s") % {"structure": structure})


def _basic_lines(*, prices: TariffPrices, usage: Usage, language: str | None) -> list[ChargeLine]:
    if prices.capacity_basis == TariffVersion.CapacityBasis.CAPACITY:
        return [
            _line(BillLine.Kind.CAPACITY, _label(language, CAPACITY_LABEL), usage.contracted_capacity_kva, prices.capacity_price)
        ]
    if prices.capacity_basis == TariffVersion.CapacityBasis.DEMAND:
        if usage.max_demand_kw is None:
            raise BillingError(_("按需量计收基本电费，但没有最大需量示数"))
        return [_line(BillLine.Kind.DEMAND, _label(language, DEMAND_LABEL), usage.max_demand_kw, prices.demand_price)]
    return []


def power_factor_percent(*, prices: TariffPrices, power_factor: Decimal) -> Decimal:
    """The adjustment percent of the band containing the measured power factor (bands are inclusive)."""
    for band in prices.power_factor_bands:
        if band.pf_from <= power_factor <= band.pf_to:
            return band.percent
    raise BillingError(
        _("功率因数%(pf)s不在考核标准%(standard)s的调整表内")
        % {"pf": power_factor, "standard": prices.power_factor_standard}
    )


def charges_calculate(*, prices: TariffPrices, usage: Usage, language: str | None = None) -> list[ChargeLine]:
    """The bill lines for a usage at these prices; every amount rounded to the fen, the total is their sum.

    Labels are in `language`, by default the active one (a billing run looks it up once, not per account)."""
    if language is None:
        language = get_language()
    lines = _energy_lines(prices=prices, usage=usage, language=language)
    lines.extend(_basic_lines(prices=prices, usage=usage, language=language))
    if prices.power_factor_standard is not None and usage.power_factor is not None:
        percent = power_factor_percent(prices=prices, power_factor=usage.power_factor)
        if percent != 0:
            # 力调电费 applies to the energy and basic charges together, as billed (already rounded).
            base = sum((line.amount for line in lines), ZERO)
            rate = percent / 100
            lines.append(
                ChargeLine(
                    kind=BillLine.Kind.POWER_FACTOR,
                    label=_label(language, POWER_FACTOR_LABEL) % {"pf": usage.power_factor},
                    quantity=to_money(base),
                    unit_price=rate,
                    amount=to_money(base * rate),
                )
            )
    return lines


def charges_total(lines: list[ChargeLine]) -> Decimal:
    return to_money(sum((line.amount for line in lines), ZERO))


def quantity_parse(value, *, field: str, label: str, allow_none: bool = False) -> Decimal | None:
    """A non-negative quantity with at most 2 decimals from Decimal, int or str; floats and NaN are refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_none:
            return None
        raise InvalidReading(_("%(label)s不能为空") % {"label": label}, field=field)
    if isinstance(value, (float, bool)) or not isinstance(value, (Decimal, int, str)):
        raise InvalidReading(_("%(label)s必须是数字") % {"label": label}, field=field)
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        raise InvalidReading(_("%(label)s必须是数字") % {"label": label}, field=field) from None
    if not number.is_finite():
        raise InvalidReading(_("%(label)s必须是数字") % {"label": label}, field=field)
    if number < 0:
        raise InvalidReading(_("%(label)s不能为负数") % {"label": label}, field=field)
    # The database holds quantities in 12 digits with 2 decimals; anything larger is a typo (and "1e27" would
    # overflow quantize's 28-digit context).
    if number >= QUANTITY_LIMIT:
        raise InvalidReading(_("%(label)s数值过大") % {"label": label}, field=field)
    if number != number.quantize(CENT):
        raise InvalidReading(_("%(label)s最多保留两位小数") % {"label": label}, field=field)
    return number.quantize(CENT)


def tariff_quote(
    *,
    tariff: Tariff,
    on_date: datetime.date,
    kwh,
    peak=None,
    flat=None,
    valley=None,
) -> Quote:
    """What a month's usage would cost at the tariff in force on a date (the public tariff calculator)."""
    kwh_value = quantity_parse(kwh, field="kwh", label=gettext("用电量"))
    registers = {
        "peak": quantity_parse(peak, field="peak", label=gettext("峰段电量"), allow_none=True),
        "flat": quantity_parse(flat, field="flat", label=gettext("平段电量"), allow_none=True),
        "valley": quantity_parse(valley, field="valley", label=gettext("谷段电量"), allow_none=True),
    }
    version = tariff_version_for(tariff=tariff, on_date=on_date)
    if version.structure in (TariffVersion.Structure.TOU, TariffVersion.Structure.TIERED_TOU):
        if registers["peak"] is None or registers["valley"] is None:
            raise InvalidReading(_("分时电价需填写峰、谷时段的电量"), field="peak")
        if abs(sum(v for v in registers.values() if v is not None) - kwh_value) > CENT:
            raise InvalidReading(_("峰、平、谷电量之和应等于总用电量"), field="kwh")
    prices = tariff_prices_load(version=version)
    lines = charges_calculate(prices=prices, usage=Usage(kwh=kwh_value, **registers))
    return Quote(lines=lines, total=charges_total(lines))
