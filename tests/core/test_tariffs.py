"""Tariff arithmetic: every expected figure below is worked by hand in the comment beside it."""
import datetime
from decimal import Decimal as D

import pytest

from core.errors import BillingError, InvalidReading, TariffNotFound
from core.models import BillLine, PowerFactorBand, TariffPeriodPrice, TariffTier, TariffVersion
from core.selectors.tariffs import tariff_version_for
from core.services.tariffs import (
    PowerFactorStep,
    TariffPrices,
    TierPrice,
    Usage,
    charges_calculate,
    charges_total,
    tariff_prices_load,
    tariff_quote,
)
from tests.factories import commercial_tou_tariff, residential_tiered_tariff

MONTHLY_TIERS = (
    TierPrice(number=1, upper_kwh=D("180"), price=D("0.5580")),
    TierPrice(number=2, upper_kwh=D("400"), price=D("0.6080")),
    TierPrice(number=3, upper_kwh=None, price=D("0.8580")),
)

# The standard-0.90 table: 0.90 no adjustment, bonus above, penalty below (one row per 0.01 here).
PF_090 = (
    PowerFactorStep(pf_from=D("0.85"), pf_to=D("0.85"), percent=D("2.50")),
    PowerFactorStep(pf_from=D("0.86"), pf_to=D("0.86"), percent=D("2.00")),
    PowerFactorStep(pf_from=D("0.87"), pf_to=D("0.87"), percent=D("1.50")),
    PowerFactorStep(pf_from=D("0.88"), pf_to=D("0.88"), percent=D("1.00")),
    PowerFactorStep(pf_from=D("0.89"), pf_to=D("0.89"), percent=D("0.50")),
    PowerFactorStep(pf_from=D("0.90"), pf_to=D("0.90"), percent=D("0.00")),
    PowerFactorStep(pf_from=D("0.91"), pf_to=D("0.91"), percent=D("-0.15")),
    PowerFactorStep(pf_from=D("0.92"), pf_to=D("0.92"), percent=D("-0.30")),
    PowerFactorStep(pf_from=D("0.93"), pf_to=D("0.93"), percent=D("-0.45")),
    PowerFactorStep(pf_from=D("0.94"), pf_to=D("0.94"), percent=D("-0.60")),
    PowerFactorStep(pf_from=D("0.95"), pf_to=D("1.00"), percent=D("-0.75")),
)


def prices(**overrides) -> TariffPrices:
    values = dict(
        version_id=1,
        structure=TariffVersion.Structure.TIERED,
        tier_basis=TariffVersion.TierBasis.MONTHLY,
        tiers=MONTHLY_TIERS,
        period_prices=(),
        flat_price=None,
        capacity_basis=TariffVersion.CapacityBasis.NONE,
        capacity_price=D("0"),
        demand_price=D("0"),
        power_factor_standard=None,
        power_factor_bands=(),
    )
    values.update(overrides)
    return TariffPrices(**values)


def summary(lines):
    return [(line.kind, line.quantity, line.amount) for line in lines]


@pytest.mark.parametrize(
    "kwh, expected_lines, expected_total",
    [
        # Nothing used: one tier-1 line of 0.
        ("0", [("1", "0.00", "0.00")], "0.00"),
        # 180 x 0.558 = 100.44, all tier 1.
        ("180", [("1", "180.00", "100.44")], "100.44"),
        # 100.44 + 0.01 x 0.608 = 0.00608 -> 0.01.
        ("180.01", [("1", "180.00", "100.44"), ("2", "0.01", "0.01")], "100.45"),
        # 100.44 + 220 x 0.608 = 133.76 -> 234.20.
        ("400", [("1", "180.00", "100.44"), ("2", "220.00", "133.76")], "234.20"),
        # 234.20 + 0.01 x 0.858 = 0.00858 -> 0.01.
        ("400.01", [("1", "180.00", "100.44"), ("2", "220.00", "133.76"), ("3", "0.01", "0.01")], "234.21"),
        # 234.20 + 150 x 0.858 = 128.70 -> 362.90.
        ("550", [("1", "180.00", "100.44"), ("2", "220.00", "133.76"), ("3", "150.00", "128.70")], "362.90"),
    ],
)
def test_monthly_tier_boundaries(kwh, expected_lines, expected_total):
    lines = charges_calculate(prices=prices(), usage=Usage(kwh=D(kwh)))
    assert [(line.label, line.quantity, line.amount) for line in lines] == [
        (f"第{n}档电量", D(q), D(a)) for n, q, a in expected_lines
    ]
    assert all(line.kind == BillLine.Kind.TIER for line in lines)
    assert charges_total(lines) == D(expected_total)


def test_annual_tiers_place_this_month_after_earlier_months():
    annual = prices(
        tier_basis=TariffVersion.TierBasis.ANNUAL,
        tiers=(
            TierPrice(number=1, upper_kwh=D("2160"), price=D("0.5580")),
            TierPrice(number=2, upper_kwh=D("4800"), price=D("0.6080")),
            TierPrice(number=3, upper_kwh=None, price=D("0.8580")),
        ),
    )
    # January: 300 x 0.558 = 167.40, all tier 1.
    january = charges_calculate(prices=annual, usage=Usage(kwh=D("300")))
    assert summary(january) == [(BillLine.Kind.TIER, D("300.00"), D("167.40"))]
    # 2100 already used this year, 200 more: 60 x 0.558 = 33.48 and 140 x 0.608 = 85.12 -> 118.60.
    spanning = charges_calculate(prices=annual, usage=Usage(kwh=D("200"), kwh_before_in_tier_year=D("2100")))
    assert summary(spanning) == [
        (BillLine.Kind.TIER, D("60.00"), D("33.48")),
        (BillLine.Kind.TIER, D("140.00"), D("85.12")),
    ]
    assert charges_total(spanning) == D("118.60")
    # 4700 already used, 300 more: tier 1 empty (shown as 0), 100 x 0.608 = 60.80, 200 x 0.858 = 171.60 -> 232.40.
    late = charges_calculate(prices=annual, usage=Usage(kwh=D("300"), kwh_before_in_tier_year=D("4700")))
    assert summary(late) == [
        (BillLine.Kind.TIER, D("0.00"), D("0.00")),
        (BillLine.Kind.TIER, D("100.00"), D("60.80")),
        (BillLine.Kind.TIER, D("200.00"), D("171.60")),
    ]
    assert charges_total(late) == D("232.40")


def test_monthly_tiers_ignore_the_year_so_far():
    # Monthly tiers: 2100 kWh earlier this year changes nothing; 200 kWh = 100.44 + 20 x 0.608 (12.16) = 112.60.
    lines = charges_calculate(prices=prices(), usage=Usage(kwh=D("200"), kwh_before_in_tier_year=D("2100")))
    assert charges_total(lines) == D("112.60")


TOU_PRICES = (("peak", D("1.0000")), ("flat", D("0.7000")), ("valley", D("0.4000")))


def test_tou_one_line_per_period():
    tou = prices(structure=TariffVersion.Structure.TOU, tiers=(), period_prices=TOU_PRICES)
    lines = charges_calculate(
        prices=tou, usage=Usage(kwh=D("300"), peak=D("120.5"), flat=D("80"), valley=D("99.5"))
    )
    # 120.5 x 1.0 = 120.50; 80 x 0.7 = 56.00; 99.5 x 0.4 = 39.80 -> 216.30.
    assert [(line.kind, line.label, line.amount) for line in lines] == [
        (BillLine.Kind.PERIOD, "峰段电量", D("120.50")),
        (BillLine.Kind.PERIOD, "平段电量", D("56.00")),
        (BillLine.Kind.PERIOD, "谷段电量", D("39.80")),
    ]
    assert charges_total(lines) == D("216.30")


def test_tou_without_registers_is_refused():
    tou = prices(structure=TariffVersion.Structure.TOU, tiers=(), period_prices=TOU_PRICES)
    with pytest.raises(BillingError) as excinfo:
        charges_calculate(prices=tou, usage=Usage(kwh=D("300")))
    assert str(excinfo.value) == "分时电价需要峰、谷时段的电量"


def test_tiered_tou_adds_tier_increments_over_period_prices():
    tiered_tou = prices(
        structure=TariffVersion.Structure.TIERED_TOU,
        period_prices=(("peak", D("0.6000")), ("flat", D("0.5000")), ("valley", D("0.3000"))),
        tiers=(
            TierPrice(number=1, upper_kwh=D("180"), price=D("0")),
            TierPrice(number=2, upper_kwh=D("400"), price=D("0.0500")),
            TierPrice(number=3, upper_kwh=None, price=D("0.3000")),
        ),
    )
    lines = charges_calculate(
        prices=tiered_tou, usage=Usage(kwh=D("450"), peak=D("200"), flat=D("150"), valley=D("100"))
    )
    # Periods: 200 x 0.6 = 120.00, 150 x 0.5 = 75.00, 100 x 0.3 = 30.00.
    # Surcharges on the total 450: tier 2 = 220 x 0.05 = 11.00, tier 3 = 50 x 0.30 = 15.00 (tier 1 adds nothing).
    assert summary(lines) == [
        (BillLine.Kind.PERIOD, D("200"), D("120.00")),
        (BillLine.Kind.PERIOD, D("150"), D("75.00")),
        (BillLine.Kind.PERIOD, D("100"), D("30.00")),
        (BillLine.Kind.TIER_SURCHARGE, D("220.00"), D("11.00")),
        (BillLine.Kind.TIER_SURCHARGE, D("50.00"), D("15.00")),
    ]
    assert charges_total(lines) == D("251.00")


def large_industry_capacity() -> TariffPrices:
    return prices(
        structure=TariffVersion.Structure.FLAT,
        tiers=(),
        flat_price=D("0.6500"),
        capacity_basis=TariffVersion.CapacityBasis.CAPACITY,
        capacity_price=D("25.0000"),
        power_factor_standard=D("0.90"),
        power_factor_bands=PF_090,
    )


@pytest.mark.parametrize(
    "pf, expected_pf_line, expected_total",
    [
        # Bonus: (65000.00 + 20000.00) x -0.75% = -637.50 -> 84362.50.
        ("0.96", D("-637.50"), "84362.50"),
        # Penalty: 85000.00 x 2.50% = 2125.00 -> 87125.00.
        ("0.85", D("2125.00"), "87125.00"),
        # At the standard: no adjustment line at all.
        ("0.90", None, "85000.00"),
    ],
)
def test_large_industry_capacity_charge_and_power_factor(pf, expected_pf_line, expected_total):
    usage = Usage(kwh=D("100000"), power_factor=D(pf), contracted_capacity_kva=D("800"))
    lines = charges_calculate(prices=large_industry_capacity(), usage=usage)
    # 100000 x 0.65 = 65000.00 energy; 800 kVA x 25 = 20000.00 capacity.
    assert summary(lines[:2]) == [
        (BillLine.Kind.ENERGY, D("100000"), D("65000.00")),
        (BillLine.Kind.CAPACITY, D("800"), D("20000.00")),
    ]
    if expected_pf_line is None:
        assert len(lines) == 2
    else:
        assert lines[2].kind == BillLine.Kind.POWER_FACTOR
        assert lines[2].quantity == D("85000.00")
        assert lines[2].amount == expected_pf_line
    assert charges_total(lines) == D(expected_total)


def test_large_industry_demand_charge_with_tou_and_pf_rounding():
    demand = prices(
        structure=TariffVersion.Structure.TOU,
        tiers=(),
        period_prices=(("peak", D("0.9000")), ("flat", D("0.6000")), ("valley", D("0.3000"))),
        capacity_basis=TariffVersion.CapacityBasis.DEMAND,
        demand_price=D("38.0000"),
        power_factor_standard=D("0.90"),
        power_factor_bands=PF_090,
    )
    usage = Usage(
        kwh=D("100000"), peak=D("40000"), flat=D("35000"), valley=D("25000"), max_demand_kw=D("612.5"), power_factor=D("0.93")
    )
    lines = charges_calculate(prices=demand, usage=usage)
    # 36000.00 + 21000.00 + 7500.00 = 64500.00 energy; 612.5 kW x 38 = 23275.00 demand; base 87775.00.
    # 87775.00 x -0.45% = -394.9875 -> -394.99 (half up, away from zero); total 87775.00 - 394.99 = 87380.01.
    assert [line.amount for line in lines] == [
        D("36000.00"), D("21000.00"), D("7500.00"), D("23275.00"), D("-394.99")
    ]
    assert lines[3].kind == BillLine.Kind.DEMAND
    assert charges_total(lines) == D("87380.01")
    # Penalty at 0.88: 87775.00 x 1% = 877.75 -> 88652.75.
    usage.power_factor = D("0.88")
    assert charges_total(charges_calculate(prices=demand, usage=usage)) == D("88652.75")


def test_demand_charge_needs_max_demand():
    demand = prices(
        structure=TariffVersion.Structure.FLAT,
        tiers=(),
        flat_price=D("0.6"),
        capacity_basis=TariffVersion.CapacityBasis.DEMAND,
        demand_price=D("38"),
    )
    with pytest.raises(BillingError):
        charges_calculate(prices=demand, usage=Usage(kwh=D("10")))


def test_power_factor_outside_the_table_is_refused():
    with pytest.raises(BillingError) as excinfo:
        charges_calculate(
            prices=large_industry_capacity(),
            usage=Usage(kwh=D("1"), power_factor=D("0.50"), contracted_capacity_kva=D("800")),
        )
    assert str(excinfo.value) == "功率因数0.50不在考核标准0.90的调整表内"


@pytest.mark.django_db
def test_prices_load_snapshots_a_version_in_three_queries(django_assert_num_queries):
    tariff = commercial_tou_tariff()
    version = tariff.versions.get()
    version.power_factor_standard = D("0.90")
    version.save()
    PowerFactorBand.objects.get_or_create(
        standard=D("0.90"), pf_from=D("0.95"), defaults={"pf_to": D("1.00"), "percent": D("-0.75")}
    )
    with django_assert_num_queries(3):
        loaded = tariff_prices_load(version=version)
    assert loaded.structure == TariffVersion.Structure.TOU
    assert dict(loaded.period_prices) == {"peak": D("1.0000"), "flat": D("0.7000"), "valley": D("0.4000")}
    assert loaded.power_factor_bands[-1] == PowerFactorStep(pf_from=D("0.95"), pf_to=D("1.00"), percent=D("-0.75"))


@pytest.mark.django_db
def test_version_switches_on_its_effective_date():
    tariff = residential_tiered_tariff()
    new = TariffVersion.objects.create(
        tariff=tariff, effective_from=datetime.date(2026, 7, 1), structure=TariffVersion.Structure.TIERED
    )
    for number, upper, price in ((1, D("180"), "0.5880"), (2, D("400"), "0.6380"), (3, None, "0.8880")):
        TariffTier.objects.create(version=new, number=number, upper_kwh=upper, price=D(price))

    assert tariff_version_for(tariff=tariff, on_date=datetime.date(2026, 6, 30)).effective_from == datetime.date(2012, 7, 1)
    assert tariff_version_for(tariff=tariff, on_date=datetime.date(2026, 7, 1)) == new
    # Old: 180 x 0.558 = 100.44 + 20 x 0.608 = 12.16 -> 112.60. New: 180 x 0.588 = 105.84 + 20 x 0.638 = 12.76 -> 118.60.
    assert tariff_quote(tariff=tariff, on_date=datetime.date(2026, 6, 30), kwh="200").total == D("112.60")
    assert tariff_quote(tariff=tariff, on_date=datetime.date(2026, 7, 1), kwh=200).total == D("118.60")


@pytest.mark.django_db
def test_no_version_yet_is_a_translated_error():
    tariff = residential_tiered_tariff()
    with pytest.raises(TariffNotFound) as excinfo:
        tariff_version_for(tariff=tariff, on_date=datetime.date(2012, 6, 30))
    assert str(excinfo.value) == "电价“居民阶梯电价”在2012-06-30没有生效的版本"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kwh, message",
    [
        ("-1", "用电量不能为负数"),
        ("abc", "用电量必须是数字"),
        ("NaN", "用电量必须是数字"),
        (1.5, "用电量必须是数字"),
        ("1.234", "用电量最多保留两位小数"),
        ("", "用电量不能为空"),
    ],
)
def test_quote_refuses_bad_input(kwh, message):
    tariff = residential_tiered_tariff()
    with pytest.raises(InvalidReading) as excinfo:
        tariff_quote(tariff=tariff, on_date=datetime.date(2026, 1, 1), kwh=kwh)
    assert str(excinfo.value) == message
    assert excinfo.value.field == "kwh"


@pytest.mark.django_db
def test_quote_for_tou_needs_periods_that_add_up():
    tariff = commercial_tou_tariff()
    on = datetime.date(2026, 1, 1)
    with pytest.raises(InvalidReading) as excinfo:
        tariff_quote(tariff=tariff, on_date=on, kwh="300")
    assert str(excinfo.value) == "分时电价需填写峰、谷时段的电量"
    with pytest.raises(InvalidReading) as excinfo:
        tariff_quote(tariff=tariff, on_date=on, kwh="300", peak="100", flat="100", valley="90")
    assert str(excinfo.value) == "峰、平、谷电量之和应等于总用电量"
    # 100 x 1.0 + 100 x 0.7 + 100 x 0.4 = 210.00.
    quote = tariff_quote(tariff=tariff, on_date=on, kwh="300", peak="100", flat="100", valley="100")
    assert [line.amount for line in quote.lines] == [D("100.00"), D("70.00"), D("40.00")]
    assert quote.total == D("210.00")


@pytest.mark.django_db
def test_version_prices_load_matches_factory_tiers():
    version = residential_tiered_tariff().versions.get()
    loaded = tariff_prices_load(version=version)
    assert loaded.tiers == MONTHLY_TIERS
    assert TariffPeriodPrice.objects.filter(version=version).count() == 0


def test_residential_peak_valley_has_no_flat_line():
    residential = prices(
        structure=TariffVersion.Structure.TIERED_TOU,
        period_prices=(("peak", D("0.6080")), ("flat", D("0.6080")), ("valley", D("0.3080"))),
        tiers=(
            TierPrice(number=1, upper_kwh=D("180"), price=D("0")),
            TierPrice(number=2, upper_kwh=D("400"), price=D("0.0500")),
            TierPrice(number=3, upper_kwh=None, price=D("0.3000")),
        ),
    )
    lines = charges_calculate(prices=residential, usage=Usage(kwh=D("250"), peak=D("150"), valley=D("100")))
    # 150 x 0.608 = 91.20; 100 x 0.308 = 30.80; tier 2 surcharge 70 x 0.05 = 3.50 -> 125.50.
    assert [(line.label, line.amount) for line in lines] == [
        ("峰段电量", D("91.20")),
        ("谷段电量", D("30.80")),
        ("第2档加价", D("3.50")),
    ]
    assert charges_total(lines) == D("125.50")
