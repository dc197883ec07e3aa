"""Reference data every installation starts with: collection policies, the power-factor adjustment
tables and the illustrative tariff catalogue. All of it is data, editable in the admin afterwards;
the tariff codes are stable because seeds, tests and the billing engine look tariffs up by code."""
import datetime
from decimal import Decimal

from django.db import migrations

# Late-fee rule of the power supply business rules (供电营业规则): residential 1‰ a day; other customers
# 2‰ a day on the current year's arrears and 3‰ on earlier years'; never less than 1 yuan. The payment
# terms are illustrative defaults.
COLLECTION_POLICIES = {
    "residential": (30, "0.0010", "0.0010", "1.00"),
    "non_residential": (30, "0.0020", "0.0030", "1.00"),
    "large_industry": (20, "0.0020", "0.0030", "1.00"),
    "agricultural": (30, "0.0010", "0.0010", "1.00"),
}

STEP = Decimal("0.01")
ONE = Decimal("1.00")
ZERO = Decimal("0.00")

# The three tables of 《功率因数调整电费办法》 (水利电力部、国家物价局, 1983): for each standard, the
# deduction (减收, negative percent) at each power factor above it, the last one holding up to 1.00; below
# the standard the bill rises 0.5% per 0.01 for 0.20, then 1% per 0.01 for 0.05, then 2% per 0.01.
POWER_FACTOR_DEDUCTIONS = {
    Decimal("0.90"): ["0.15", "0.30", "0.45", "0.60", "0.75"],
    Decimal("0.85"): ["0.10", "0.20", "0.30", "0.40", "0.50", "0.65", "0.80", "0.95", "1.10"],
    Decimal("0.80"): ["0.10", "0.20", "0.30", "0.40", "0.50", "0.60", "0.70", "0.80", "0.90", "1.00", "1.15", "1.30"],
}


def power_factor_rows(standard: Decimal) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(pf_from, pf_to, percent) for every 0.01 from 0.00 to 1.00 of one standard's table."""
    rows = [(standard, standard, ZERO)]
    deductions = POWER_FACTOR_DEDUCTIONS[standard]
    for index, percent in enumerate(deductions, start=1):
        pf = standard + STEP * index
        pf_to = ONE if index == len(deductions) else pf
        rows.append((pf, pf_to, -Decimal(percent)))
    percent = ZERO
    steps_below = int(standard / STEP)
    for step in range(1, steps_below + 1):
        if step <= 20:
            percent += Decimal("0.5")
        elif step <= 25:
            percent += Decimal("1")
        else:
            percent += Decimal("2")
        pf = standard - STEP * step
        rows.append((pf, pf, percent))
    return rows


EFFECTIVE_2012 = datetime.date(2012, 7, 1)

# Time-of-use bands: residential peak/valley only; non-residential and large industry three periods.
RESIDENTIAL_BANDS = [("peak", "08:00", "22:00"), ("valley", "22:00", "08:00")]
BUSINESS_BANDS = [
    ("valley", "23:00", "07:00"),
    ("flat", "07:00", "08:00"),
    ("peak", "08:00", "11:00"),
    ("flat", "11:00", "18:00"),
    ("peak", "18:00", "23:00"),
]
INDUSTRY_PERIOD_PRICES = {"peak": "0.8800", "flat": "0.5900", "valley": "0.2950"}

# Illustrative prices (DOMAIN.md). Each entry: code, name, category, description, version fields,
# tiers [(number, upper_kwh, price)], period prices {period: price}, time bands [(period, start, end)].
TARIFFS = [
    {
        "code": "res-tiered",
        "name": "居民生活阶梯电价",
        "category": "residential",
        "description": "按月阶梯：第一档180kWh以内，第二档181-400kWh加价0.05元，第三档400kWh以上加价0.30元。",
        "version": {"structure": "tiered", "tier_basis": "monthly"},
        "tiers": [(1, "180", "0.5580"), (2, "400", "0.6080"), (3, None, "0.8580")],
    },
    {
        "code": "res-tiered-annual",
        "name": "居民生活阶梯电价(年度)",
        "category": "residential",
        "description": "按年阶梯：第一档2160kWh以内，第二档2161-4800kWh，第三档4800kWh以上。",
        "version": {"structure": "tiered", "tier_basis": "annual"},
        "tiers": [(1, "2160", "0.5580"), (2, "4800", "0.6080"), (3, None, "0.8580")],
    },
    {
        "code": "res-tiered-tou",
        "name": "居民峰谷阶梯电价",
        "category": "residential",
        "description": "峰谷分时电价叠加按月阶梯加价；峰时段08:00-22:00，谷时段22:00-次日08:00。",
        "version": {"structure": "tiered_tou", "tier_basis": "monthly"},
        # For TIERED_TOU the tier price is the increment over the period price.
        "tiers": [(1, "180", "0.0000"), (2, "400", "0.0500"), (3, None, "0.3000")],
        # Residential TOU has no flat period; its price mirrors peak so a stray flat reading is not undercharged.
        "period_prices": {"peak": "0.6080", "flat": "0.6080", "valley": "0.3080"},
        "time_bands": RESIDENTIAL_BANDS,
    },
    {
        "code": "com-flat",
        "name": "一般工商业单一制",
        "category": "non_residential",
        "description": "一般工商业单一制电度电价。",
        "version": {"structure": "flat", "flat_price": "0.6500"},
    },
    {
        "code": "com-tou",
        "name": "一般工商业分时",
        "category": "non_residential",
        "description": "一般工商业峰平谷分时电价。",
        "version": {"structure": "tou"},
        "period_prices": {"peak": "0.9750", "flat": "0.6500", "valley": "0.3250"},
        "time_bands": BUSINESS_BANDS,
    },
    {
        "code": "ind-tou-capacity",
        "name": "大工业两部制(按容量)",
        "category": "large_industry",
        "description": "大工业两部制：分时电度电价加按变压器容量计收的基本电费，执行功率因数调整电费(标准0.90)。",
        "version": {
            "structure": "tou",
            "capacity_basis": "capacity",
            "capacity_price": "28.0000",
            "power_factor_standard": "0.90",
        },
        "period_prices": INDUSTRY_PERIOD_PRICES,
        "time_bands": BUSINESS_BANDS,
    },
    {
        "code": "ind-tou-demand",
        "name": "大工业两部制(按需量)",
        "category": "large_industry",
        "description": "大工业两部制：分时电度电价加按最大需量计收的基本电费，执行功率因数调整电费(标准0.90)。",
        "version": {
            "structure": "tou",
            "capacity_basis": "demand",
            "demand_price": "42.0000",
            "power_factor_standard": "0.90",
        },
        "period_prices": INDUSTRY_PERIOD_PRICES,
        "time_bands": BUSINESS_BANDS,
    },
    {
        "code": "agri-flat",
        "name": "农业生产电价",
        "category": "agricultural",
        "description": "农业生产单一制电度电价。",
        "version": {"structure": "flat", "flat_price": "0.4800"},
    },
]

DECIMAL_VERSION_FIELDS = {"flat_price", "capacity_price", "demand_price", "power_factor_standard"}


def _time(text: str) -> datetime.time:
    return datetime.time.fromisoformat(text)


def reference_data_load(apps, schema_editor):
    CollectionPolicy = apps.get_model("core", "CollectionPolicy")
    PowerFactorBand = apps.get_model("core", "PowerFactorBand")
    Tariff = apps.get_model("core", "Tariff")
    TariffVersion = apps.get_model("core", "TariffVersion")
    TariffTier = apps.get_model("core", "TariffTier")
    TariffPeriodPrice = apps.get_model("core", "TariffPeriodPrice")
    TimeBand = apps.get_model("core", "TimeBand")

    for category, (term, current, prior, minimum) in COLLECTION_POLICIES.items():
        CollectionPolicy.objects.update_or_create(
            category=category,
            defaults={
                "payment_term_days": term,
                "daily_rate_current_year": Decimal(current),
                "daily_rate_prior_years": Decimal(prior),
                "minimum_late_fee": Decimal(minimum),
            },
        )

    for standard in POWER_FACTOR_DEDUCTIONS:
        for pf_from, pf_to, percent in power_factor_rows(standard):
            PowerFactorBand.objects.update_or_create(
                standard=standard, pf_from=pf_from, defaults={"pf_to": pf_to, "percent": percent}
            )

    for spec in TARIFFS:
        tariff, _ = Tariff.objects.update_or_create(
            code=spec["code"],
            defaults={"name": spec["name"], "category": spec["category"], "description": spec["description"]},
        )
        version_fields = {
            key: Decimal(value) if key in DECIMAL_VERSION_FIELDS else value for key, value in spec["version"].items()
        }
        version, _ = TariffVersion.objects.update_or_create(
            tariff=tariff,
            effective_from=spec.get("effective_from", EFFECTIVE_2012),
            defaults={"note": "示例电价(illustrative)", **version_fields},
        )
        for number, upper, price in spec.get("tiers", []):
            TariffTier.objects.update_or_create(
                version=version,
                number=number,
                defaults={"upper_kwh": Decimal(upper) if upper else None, "price": Decimal(price)},
            )
        for period, price in spec.get("period_prices", {}).items():
            TariffPeriodPrice.objects.update_or_create(
                version=version, period=period, defaults={"price": Decimal(price)}
            )
        for period, starts_at, ends_at in spec.get("time_bands", []):
            TimeBand.objects.update_or_create(
                version=version, period=period, starts_at=_time(starts_at), defaults={"ends_at": _time(ends_at)}
            )


def reference_data_unload(apps, schema_editor):
    apps.get_model("core", "Tariff").objects.filter(code__in=[spec["code"] for spec in TARIFFS]).delete()
    apps.get_model("core", "PowerFactorBand").objects.filter(standard__in=list(POWER_FACTOR_DEDUCTIONS)).delete()
    apps.get_model("core", "CollectionPolicy").objects.filter(category__in=list(COLLECTION_POLICIES)).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(reference_data_load, reference_data_unload)]
