"""The reference data migration: tariff catalogue, collection policies and power-factor tables."""
import datetime
import importlib
from decimal import Decimal

import pytest

from core.models import CollectionPolicy, PowerFactorBand, Tariff, TariffVersion

pytestmark = pytest.mark.django_db


def pf_percent(standard: str, pf: str) -> Decimal:
    band = PowerFactorBand.objects.get(standard=Decimal(standard), pf_from__lte=Decimal(pf), pf_to__gte=Decimal(pf))
    return band.percent


def test_tariff_catalogue_codes_and_categories():
    assert dict(Tariff.objects.filter(code__in=EXPECTED_CATEGORIES).values_list("code", "category")) == (
        EXPECTED_CATEGORIES
    )


EXPECTED_CATEGORIES = {
    "res-tiered": "residential",
    "res-tiered-annual": "residential",
    "res-tiered-tou": "residential",
    "com-flat": "non_residential",
    "com-tou": "non_residential",
    "ind-tou-capacity": "large_industry",
    "ind-tou-demand": "large_industry",
    "agri-flat": "agricultural",
}


def test_every_catalogue_tariff_has_one_version_from_july_2012():
    for code in EXPECTED_CATEGORIES:
        versions = TariffVersion.objects.filter(tariff__code=code)
        assert [v.effective_from for v in versions] == [datetime.date(2012, 7, 1)], code


def test_residential_monthly_tiers():
    version = TariffVersion.objects.get(tariff__code="res-tiered")
    assert version.structure == "tiered"
    assert version.tier_basis == "monthly"
    assert [(t.number, t.upper_kwh, t.price) for t in version.tiers.all()] == [
        (1, Decimal("180.00"), Decimal("0.5580")),
        (2, Decimal("400.00"), Decimal("0.6080")),
        (3, None, Decimal("0.8580")),
    ]


def test_residential_annual_tiers():
    version = TariffVersion.objects.get(tariff__code="res-tiered-annual")
    assert version.tier_basis == "annual"
    assert [t.upper_kwh for t in version.tiers.all()] == [Decimal("2160.00"), Decimal("4800.00"), None]


def test_residential_tiered_tou_increments_prices_and_bands():
    version = TariffVersion.objects.get(tariff__code="res-tiered-tou")
    assert version.structure == "tiered_tou"
    assert [t.price for t in version.tiers.all()] == [Decimal("0.0000"), Decimal("0.0500"), Decimal("0.3000")]
    assert dict(version.period_prices.values_list("period", "price")) == {
        "peak": Decimal("0.6080"),
        "flat": Decimal("0.6080"),
        "valley": Decimal("0.3080"),
    }
    assert [(b.period, f"{b.starts_at:%H:%M}", f"{b.ends_at:%H:%M}") for b in version.time_bands.all()] == [
        ("peak", "08:00", "22:00"),
        ("valley", "22:00", "08:00"),
    ]


def test_commercial_tou_bands_cover_the_day_in_order():
    version = TariffVersion.objects.get(tariff__code="com-tou")
    assert [(b.period, f"{b.starts_at:%H:%M}", f"{b.ends_at:%H:%M}") for b in version.time_bands.all()] == [
        ("flat", "07:00", "08:00"),
        ("peak", "08:00", "11:00"),
        ("flat", "11:00", "18:00"),
        ("peak", "18:00", "23:00"),
        ("valley", "23:00", "07:00"),
    ]


def test_flat_tariffs():
    assert TariffVersion.objects.get(tariff__code="com-flat").flat_price == Decimal("0.6500")
    assert TariffVersion.objects.get(tariff__code="agri-flat").flat_price == Decimal("0.4800")


def test_large_industry_two_part_tariffs():
    capacity = TariffVersion.objects.get(tariff__code="ind-tou-capacity")
    demand = TariffVersion.objects.get(tariff__code="ind-tou-demand")
    assert (capacity.capacity_basis, capacity.capacity_price, capacity.power_factor_standard) == (
        "capacity",
        Decimal("28.0000"),
        Decimal("0.90"),
    )
    assert (demand.capacity_basis, demand.demand_price, demand.power_factor_standard) == (
        "demand",
        Decimal("42.0000"),
        Decimal("0.90"),
    )
    assert dict(demand.period_prices.values_list("period", "price")) == {
        "peak": Decimal("0.8800"),
        "flat": Decimal("0.5900"),
        "valley": Decimal("0.2950"),
    }


def test_collection_policies_follow_the_late_fee_rule():
    rows = {
        p.category: (p.payment_term_days, p.daily_rate_current_year, p.daily_rate_prior_years, p.minimum_late_fee)
        for p in CollectionPolicy.objects.all()
    }
    assert rows == {
        "residential": (30, Decimal("0.0010"), Decimal("0.0010"), Decimal("1.00")),
        "non_residential": (30, Decimal("0.0020"), Decimal("0.0030"), Decimal("1.00")),
        "large_industry": (20, Decimal("0.0020"), Decimal("0.0030"), Decimal("1.00")),
        "agricultural": (30, Decimal("0.0010"), Decimal("0.0010"), Decimal("1.00")),
    }


@pytest.mark.parametrize(
    ("pf", "percent"),
    [
        ("1.00", "-0.75"),
        ("0.97", "-0.75"),
        ("0.95", "-0.75"),
        ("0.94", "-0.60"),
        ("0.91", "-0.15"),
        ("0.90", "0.00"),
        ("0.89", "0.50"),
        ("0.85", "2.50"),
        ("0.70", "10.00"),
        ("0.69", "11.00"),
        ("0.65", "15.00"),
        ("0.64", "17.00"),
        ("0.60", "25.00"),
        ("0.00", "145.00"),
    ],
)
def test_power_factor_table_standard_090(pf, percent):
    assert pf_percent("0.90", pf) == Decimal(percent)


@pytest.mark.parametrize(
    ("pf", "percent"),
    [
        ("1.00", "-1.10"),
        ("0.94", "-1.10"),
        ("0.91", "-0.65"),
        ("0.90", "-0.50"),
        ("0.86", "-0.10"),
        ("0.85", "0.00"),
        ("0.65", "10.00"),
        ("0.60", "15.00"),
        ("0.59", "17.00"),
    ],
)
def test_power_factor_table_standard_085(pf, percent):
    assert pf_percent("0.85", pf) == Decimal(percent)


@pytest.mark.parametrize(
    ("pf", "percent"),
    [
        ("1.00", "-1.30"),
        ("0.92", "-1.30"),
        ("0.91", "-1.15"),
        ("0.90", "-1.00"),
        ("0.81", "-0.10"),
        ("0.80", "0.00"),
        ("0.60", "10.00"),
        ("0.55", "15.00"),
        ("0.54", "17.00"),
    ],
)
def test_power_factor_table_standard_080(pf, percent):
    assert pf_percent("0.80", pf) == Decimal(percent)


def test_power_factor_tables_cover_every_hundredth_exactly_once():
    for standard in ("0.90", "0.85", "0.80"):
        for hundredths in range(0, 101):
            pf = Decimal(hundredths) / 100
            matches = PowerFactorBand.objects.filter(
                standard=Decimal(standard), pf_from__lte=pf, pf_to__gte=pf
            ).count()
            assert matches == 1, (standard, pf)


def test_loading_the_reference_data_again_changes_nothing():
    from django.apps import apps

    migration = importlib.import_module("core.migrations.0002_reference_data")
    before = (Tariff.objects.count(), TariffVersion.objects.count(), PowerFactorBand.objects.count())
    migration.reference_data_load(apps, None)
    assert (Tariff.objects.count(), TariffVersion.objects.count(), PowerFactorBand.objects.count()) == before
    assert before[2] == 96 + 95 + 93
