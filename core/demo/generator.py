"""Deterministic demo customers: everything about customer number `index` follows from (seed, index) alone,
so a larger --customers adds the missing ones without touching the rest, and two runs agree byte for byte."""
from __future__ import annotations

import datetime
import hashlib
import math
import random
from dataclasses import dataclass
from decimal import Decimal

from core.account_numbers import account_number_from_body, luhn_check_digit
from core.models.customers import CustomerCategory

from .names import AGRICULTURE_KINDS, BUSINESS_KINDS, INDUSTRY_KINDS, business_name, person_name
from .places import AREA_SIZE, AREAS_PER_FEEDER, BRANCHES, FEEDERS_PER_SUBSTATION, BranchSpec

MONTHS = 24
DEMO_PREFIX = "ES"
TWO = Decimal("0.01")

# Seasonal load in 恩施: hot, humid summers (air conditioning) and damp, cold winters (electric heating).
RESIDENTIAL_SEASON = (1.40, 1.30, 1.00, 0.85, 0.85, 1.00, 1.45, 1.55, 1.05, 0.85, 0.90, 1.25)
BUSINESS_SEASON = (1.10, 0.95, 1.00, 0.95, 0.95, 1.05, 1.25, 1.30, 1.05, 1.00, 0.95, 1.10)
INDUSTRY_SEASON = (0.95, 0.80, 1.00, 1.05, 1.05, 1.00, 1.05, 1.05, 1.00, 1.05, 1.05, 0.95)
# Tea processing in spring and irrigation in high summer.
AGRICULTURE_SEASON = (0.50, 0.50, 1.30, 1.80, 1.60, 1.00, 1.40, 1.50, 0.90, 0.70, 0.50, 0.50)

# (category, tariff code, cumulative probability): ~90% residential, ~7% non-residential, ~1% large industry, ~2% agri.
TARIFF_MIX = (
    (CustomerCategory.RESIDENTIAL, "res-tiered", 0.740),
    (CustomerCategory.RESIDENTIAL, "res-tiered-tou", 0.835),
    (CustomerCategory.RESIDENTIAL, "res-tiered-annual", 0.900),
    (CustomerCategory.NON_RESIDENTIAL, "com-flat", 0.950),
    (CustomerCategory.NON_RESIDENTIAL, "com-tou", 0.970),
    (CustomerCategory.LARGE_INDUSTRY, "ind-tou-capacity", 0.975),
    (CustomerCategory.LARGE_INDUSTRY, "ind-tou-demand", 0.980),
    (CustomerCategory.AGRICULTURAL, "agri-flat", 1.000),
)
TOU_TARIFFS = {"res-tiered-tou", "com-tou", "ind-tou-capacity", "ind-tou-demand"}
INDUSTRY_CAPACITIES = (315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 3150)
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153",
                   "155", "156", "157", "158", "159", "166", "173", "175", "177", "180", "181", "182", "183",
                   "186", "187", "188", "189", "191", "198", "199")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def _smooth_weighted_pattern() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Branches interleaved by population (smooth weighted round robin), so any prefix of customers is spread
    over all 8 branches in proportion; returns (branch index per slot, rank of the slot within its branch)."""
    weights = [b.population for b in BRANCHES]
    current = [0] * len(weights)
    total = sum(weights)
    slots, ranks, seen = [], [], [0] * len(weights)
    for _ in range(total):
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(weights)), key=lambda i: current[i])
        current[best] -= total
        slots.append(best)
        ranks.append(seen[best])
        seen[best] += 1
    return tuple(slots), tuple(ranks)


PATTERN, PATTERN_RANKS = _smooth_weighted_pattern()


def branch_position(index: int) -> tuple[BranchSpec, int]:
    """The branch of customer `index` and its position among that branch's customers."""
    cycle, slot = divmod(index, len(PATTERN))
    branch_index = PATTERN[slot]
    branch = BRANCHES[branch_index]
    return branch, cycle * branch.population + PATTERN_RANKS[slot]


def area_of(branch: BranchSpec, local_index: int) -> int:
    return local_index // AREA_SIZE[branch.area_kind]


def area_code(branch: BranchSpec, area: int) -> str:
    return f"{branch.code}-TA{area:05d}"


def feeder_code(branch: BranchSpec, feeder: int) -> str:
    return f"{branch.code}-F{feeder:03d}"


def substation_code(branch: BranchSpec, substation: int) -> str:
    return f"{branch.code}-S{substation:02d}"


def topology_for_area(branch: BranchSpec, area: int) -> tuple[int, int]:
    """(feeder number, substation number) that feed one transformer area."""
    feeder = area // AREAS_PER_FEEDER
    return feeder, feeder // FEEDERS_PER_SUBSTATION


def station_for_area(branch: BranchSpec, area: int):
    return branch.stations[area % len(branch.stations)]


def month_starts(last: datetime.date, count: int = MONTHS) -> list[datetime.date]:
    """`count` first-of-month dates ending with `last`."""
    months = []
    year, month = last.year, last.month
    for _ in range(count):
        months.append(datetime.date(year, month, 1))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return months[::-1]


def last_complete_month(today: datetime.date) -> datetime.date:
    first = today.replace(day=1)
    return (first - datetime.timedelta(days=1)).replace(day=1)


def month_end(period: datetime.date) -> datetime.date:
    nxt = (period.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return nxt - datetime.timedelta(days=1)


@dataclass(slots=True)
class MonthUsage:
    """One month's register advance (meter units) and what it means in kWh."""

    kwh: Decimal
    peak: Decimal | None
    flat: Decimal | None
    valley: Decimal | None
    register_total: Decimal
    register_peak: Decimal | None
    register_flat: Decimal | None
    register_valley: Decimal | None
    max_demand_kw: Decimal | None
    power_factor: Decimal | None


@dataclass(slots=True)
class CustomerPlan:
    index: int
    branch: BranchSpec
    station_code: str
    station_area_kind: str
    area_code: str
    kind: str
    name: str
    phone: str
    id_number_hash: str
    id_number_masked: str
    account_number: str
    address: str
    category: str
    tariff_code: str
    prepaid: bool
    contracted_capacity_kva: Decimal
    opened_on: datetime.date
    multiplier: Decimal
    tou: bool
    initial_reading: Decimal
    usage: list[MonthUsage]
    # Per bill: "on_time", "late" or "skip"; with the day offsets used for the payment date.
    behaviour: list[tuple[str, int]]
    channel_weights: tuple[int, ...]
    rng_state: int


def _id_number(rng: random.Random, region: str, female: bool) -> str:
    birth = datetime.date(1940, 1, 1) + datetime.timedelta(days=rng.randrange(0, 365 * 64))
    sequence = rng.randrange(0, 500) * 2 + (0 if female else 1)
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    check = ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS)) % 11]
    return body + check


def id_number_digest(id_number: str) -> str:
    return hashlib.sha256(id_number.encode()).hexdigest()


def id_number_mask(id_number: str) -> str:
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def _usage_for(rng: random.Random, tariff_code: str, category: str, months: list[datetime.date],
               capacity: int, multiplier: int) -> list[MonthUsage]:
    usage = []
    if category == CustomerCategory.LARGE_INDUSTRY:
        load = rng.uniform(0.22, 0.55)
        pf_base = rng.uniform(0.84, 0.96)
        for period in months:
            kwh_target = capacity * load * 720 * INDUSTRY_SEASON[period.month - 1] * rng.uniform(0.9, 1.1)
            # Registers advance in 0.01 meter units; kWh is the advance times the multiplier, exactly.
            register = int(kwh_target / multiplier * 100)
            reg_peak = register * rng.randint(40, 48) // 100
            reg_valley = register * rng.randint(22, 30) // 100
            reg_flat = register - reg_peak - reg_valley
            regs = [Decimal(v).scaleb(-2) for v in (register, reg_peak, reg_flat, reg_valley)]
            mult = Decimal(multiplier)
            pf = min(Decimal("0.99"), max(Decimal("0.75"), Decimal(int((pf_base + rng.uniform(-0.03, 0.03)) * 100)).scaleb(-2)))
            demand = Decimal(int(capacity * rng.uniform(0.45, 0.85) * 100)).scaleb(-2)
            usage.append(MonthUsage(regs[0] * mult, regs[1] * mult, regs[2] * mult, regs[3] * mult,
                                    regs[0], regs[1], regs[2], regs[3], demand, pf))
        return usage
    if category == CustomerCategory.RESIDENTIAL:
        base, season, spread = rng.lognormvariate(math.log(125), 0.5), RESIDENTIAL_SEASON, 0.15
    elif category == CustomerCategory.NON_RESIDENTIAL:
        base, season, spread = rng.lognormvariate(math.log(900), 0.8), BUSINESS_SEASON, 0.12
    else:
        base, season, spread = rng.lognormvariate(math.log(450), 0.7), AGRICULTURE_SEASON, 0.2
    base = min(base, 60000)
    tou = tariff_code in TOU_TARIFFS
    residential = category == CustomerCategory.RESIDENTIAL
    peak_share = rng.uniform(0.55, 0.72) if residential else rng.uniform(0.40, 0.50)
    valley_share = 0.0 if residential else rng.uniform(0.18, 0.28)
    for period in months:
        kwh = max(0, int(base * season[period.month - 1] * rng.uniform(1 - spread, 1 + spread)))
        total = Decimal(kwh)
        if tou:
            peak = int(kwh * peak_share)
            if residential:
                # Residential TOU meters have peak and valley registers only.
                p, f, v = Decimal(peak), None, Decimal(kwh - peak)
            else:
                valley = int(kwh * valley_share)
                p, f, v = Decimal(peak), Decimal(kwh - peak - valley), Decimal(valley)
            usage.append(MonthUsage(total, p, f, v, total, p, f, v, None, None))
        else:
            usage.append(MonthUsage(total, None, None, None, total, None, None, None, None, None))
    return usage


def customer_plan(*, seed: int, index: int, months: list[datetime.date]) -> CustomerPlan:
    """Everything about customer `index` (0-based), from its own random stream."""
    rng = random.Random(seed * 1_000_003 + index)
    branch, local = branch_position(index)
    area = area_of(branch, local)
    station = station_for_area(branch, area)
    roll = rng.random()
    for category, tariff_code, upto in TARIFF_MIX:
        if roll < upto:
            break
    female = rng.random() < 0.48
    place = rng.choice(station.places)
    if place.endswith(("路", "大道", "大街", "街")):
        detail = f"{rng.randint(1, 399)}号"
    elif place.endswith("社区"):
        detail = f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(1, 18)}0{rng.randint(1, 4)}室"
    else:
        detail = f"{rng.randint(1, 12)}组{rng.randint(1, 120)}号"
    address = f"{PREFECTURE_SHORT}{branch.name}{station.town}{place}{detail}"
    owner = person_name(rng, female=female)
    capacity = 0
    multiplier = 1
    if category == CustomerCategory.RESIDENTIAL:
        kind, name = "person", owner
    elif category == CustomerCategory.NON_RESIDENTIAL:
        kind, name = "organisation", business_name(rng, place=station.town[:-1] if len(station.town) > 2 else station.town, kinds=BUSINESS_KINDS)
    elif category == CustomerCategory.LARGE_INDUSTRY:
        capacity = rng.choice(INDUSTRY_CAPACITIES)
        multiplier = 30 if capacity <= 630 else 40 if capacity <= 1250 else 80
        kind, name = "organisation", business_name(rng, place="恩施" if rng.random() < 0.5 else branch.name[:2], kinds=INDUSTRY_KINDS)
    else:
        kind, name = "organisation", business_name(rng, place=place[:-1] if place.endswith("村") else station.town[:2], kinds=AGRICULTURE_KINDS)
    id_number = _id_number(rng, branch.id_region, female)
    phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(0, 100_000_000):08d}"
    body = f"{branch.digit}{index + 1:08d}"
    opened_on = datetime.date(1998, 1, 1) + datetime.timedelta(
        days=rng.randrange(0, max(1, (months[0] - datetime.date(1998, 1, 1)).days - 60))
    )
    prepaid = category in (CustomerCategory.RESIDENTIAL, CustomerCategory.NON_RESIDENTIAL) and rng.random() < 0.033
    usage = _usage_for(rng, tariff_code, category, months, capacity, multiplier)
    behaviour = []
    for _ in range(len(months) - 1):
        b = rng.random()
        if b < 0.85:
            behaviour.append(("on_time", rng.randint(1, 25)))
        elif b < 0.95:
            behaviour.append(("late", rng.randint(2, 40)))
        else:
            behaviour.append(("skip", 0))
    return CustomerPlan(
        index=index,
        branch=branch,
        station_code=station.code,
        station_area_kind=station.area_kind,
        area_code=area_code(branch, area),
        kind=kind,
        name=name if kind == "organisation" else owner,
        phone=phone,
        id_number_hash=id_number_digest(id_number),
        id_number_masked=id_number_mask(id_number),
        account_number=account_number_from_body(body),
        address=address,
        category=str(category),
        tariff_code=tariff_code,
        prepaid=prepaid,
        contracted_capacity_kva=Decimal(capacity).quantize(TWO),
        opened_on=opened_on,
        multiplier=Decimal(multiplier),
        tou=tariff_code in TOU_TARIFFS,
        initial_reading=Decimal(rng.randrange(0, 2_000_000)).scaleb(-2) if multiplier == 1 else Decimal(rng.randrange(0, 500_000)).scaleb(-2),
        usage=usage,
        behaviour=behaviour,
        channel_weights=(1, 3, 2, 2, 5, 1) if branch.area_kind == "city" else (4, 3, 2, 1, 3, 1),
        rng_state=seed * 7_919 + index,
    )


PREFECTURE_SHORT = "恩施州"


def service_point_code(index: int) -> str:
    return f"{DEMO_PREFIX}SP{index + 1:09d}"


def meter_asset_number(index: int) -> str:
    body = f"{index + 1:012d}"
    return f"{DEMO_PREFIX}M{body}{luhn_check_digit(body)}"
