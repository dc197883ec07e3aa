"""The daily customer-alert scan at a utility's size: each tariff read once, no row locked where nothing can change,
and prepaid accounts ruled out in bulk only when no price could bring them under the holder's threshold — the same
decisions as estimating every account one by one."""
from __future__ import annotations

import datetime
import itertools
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Account, AccountBinding, Bill, MeterReading, Payment, TariffVersion
from core.models.customers import CustomerCategory
from core.selectors.portal_bills import (
    Pace,
    _unit_price,
    outlooks_of_accounts,
    prepaid_estimate,
    prepaid_remaining_floor,
    tariff_prices_in_force,
    tier_forecast,
    unbilled_kwh_of_accounts,
    unit_price_ceiling,
)
from core.services.customer_alerts import customer_alerts_scan
from core.services.payments import payment_post
from core.services.tariffs import TariffPrices, TierPrice
from tests.core.test_customer_alerts import AS_OF, daily_readings
from tests.factories import AccountFactory, commercial_tou_tariff
from tests.portal.factories import AccountBindingFactory

pytestmark = pytest.mark.django_db

TIERS = (TierPrice(number=1, upper_kwh=D("180"), price=D("0.5580")),
         TierPrice(number=2, upper_kwh=D("400"), price=D("0.6080")),
         TierPrice(number=3, upper_kwh=None, price=D("0.8580")))
PERIODS = (("peak", D("1.0000")), ("flat", D("0.7000")), ("valley", D("0.4000")))


def prices(structure: str, *, tiers=(), period_prices=(), flat_price=None) -> TariffPrices:
    return TariffPrices(
        version_id=1, structure=structure, tier_basis=TariffVersion.TierBasis.MONTHLY, tiers=tuple(tiers),
        period_prices=tuple(period_prices), flat_price=flat_price, capacity_basis="", capacity_price=D("0"),
        demand_price=D("0"), power_factor_standard=None, power_factor_bands=(),
    )


def bill(account: Account, period: datetime.date, *, state: str = Bill.State.ISSUED) -> Bill:
    return Bill.objects.create(
        number=f"S{Bill.objects.count():06d}", account=account, period=period, tariff_version=account.tariff.versions.first(),
        issued_on=period + datetime.timedelta(days=31), due_date=period + datetime.timedelta(days=45), kwh=D("30.00"),
        total=D("16.74"), state=state,
    )


def paces():
    """Register splits from none at all to all in one period, as usage_pace gives them."""
    for peak, flat, valley in itertools.product((D("0"), D("1"), D("37.5")), repeat=3):
        total = peak + flat + valley
        yield Pace(daily_kwh=total / 30, last_read_on=None, peak=peak, flat=flat, valley=valley, total=total)


@pytest.mark.parametrize("tariff_prices, ceiling", [
    (prices(TariffVersion.Structure.TIERED, tiers=TIERS), D("0.8580")),
    (prices(TariffVersion.Structure.FLAT, flat_price=D("0.6170")), D("0.6170")),
    (prices(TariffVersion.Structure.FLAT), D("0")),
    (prices(TariffVersion.Structure.TOU, period_prices=PERIODS), D("1.0000")),
    (prices(TariffVersion.Structure.TIERED_TOU, tiers=TIERS, period_prices=PERIODS), D("1.8580")),
    # Tiers on a version whose structure does not price by tier are not charged, so not counted.
    (prices(TariffVersion.Structure.TOU, tiers=TIERS, period_prices=PERIODS), D("1.0000")),
])
def test_no_unit_price_exceeds_the_ceiling_and_the_ceiling_is_reached(tariff_prices, ceiling):
    assert unit_price_ceiling(prices=tariff_prices) == ceiling
    seen = {_unit_price(prices=tariff_prices, pace=pace, used_kwh=used)
            for pace in paces() for used in (D("0"), D("179.99"), D("180"), D("400"), D("100000"))}
    assert max(seen) == ceiling


def test_the_remaining_floor_is_never_above_the_estimate():
    """The floor prices unbilled energy at the ceiling; energy given back (a negative correction) counts as none."""
    assert prepaid_remaining_floor(credit=D("50.00"), unbilled_kwh=D("90.00"), ceiling=D("0.8580")) == D("-27.22")
    assert prepaid_remaining_floor(credit=D("50.00"), unbilled_kwh=D("-20.00"), ceiling=D("0.8580")) == D("50.00")
    assert prepaid_remaining_floor(credit=D("-3.00"), unbilled_kwh=D("0"), ceiling=D("0.8580")) == D("-3.00")


def test_unbilled_energy_is_counted_in_bulk_as_the_estimate_counts_it():
    never_billed = AccountFactory(billing_mode=Account.BillingMode.PREPAID)
    daily_readings(never_billed, 2, days=5)
    billed_february = AccountFactory(billing_mode=Account.BillingMode.PREPAID)
    daily_readings(billed_february, 3)  # 19 Feb - 20 Mar: ten days billed in February, twenty after
    bill(billed_february, datetime.date(2026, 2, 1))
    credited_march = AccountFactory(billing_mode=Account.BillingMode.PREPAID)
    daily_readings(credited_march, 4)
    bill(credited_march, datetime.date(2026, 2, 1))
    bill(credited_march, datetime.date(2026, 3, 1), state=Bill.State.CREDITED)
    with_invalid = AccountFactory(billing_mode=Account.BillingMode.PREPAID)
    daily_readings(with_invalid, 5, days=4)
    MeterReading.objects.filter(account=with_invalid, read_on=datetime.date(2026, 2, 20)).update(
        status=MeterReading.Status.SUSPECT)
    nothing_read = AccountFactory(billing_mode=Account.BillingMode.PREPAID)
    accounts = [never_billed, billed_february, credited_march, with_invalid, nothing_read]

    bulk = unbilled_kwh_of_accounts(account_ids=[account.pk for account in accounts])

    one_by_one = {account.pk: prepaid_estimate(account=account, as_of=AS_OF).unbilled_kwh for account in accounts}
    assert {pk: bulk.get(pk, D("0")) for pk in one_by_one} == one_by_one
    assert [one_by_one[account.pk] for account in accounts] == [D("10.00"), D("60.00"), D("80.00"), D("15.00"),
                                                                 D("0.00")]


def prices_in_force(account: Account) -> TariffPrices | None:
    return tariff_prices_in_force(account=account, on_date=AS_OF)


def prepaid_account(*, paid: str, kwh_per_day: int = 0, days: int = 30) -> Account:
    account = AccountFactory(billing_mode=Account.BillingMode.PREPAID)
    payment_post(account=account, amount=D(paid), channel=Payment.Channel.ONLINE,
                 idempotency_key=f"scale-{account.number}", received_at=timezone.now())
    if kwh_per_day:
        daily_readings(account, kwh_per_day, days=days)
    return account


def scan(capture):
    with capture(execute=True):
        return customer_alerts_scan(as_of=AS_OF)


def test_credit_well_above_ten_yuan_is_still_told_when_unread_energy_eats_it(django_capture_on_commit_callbacks):
    """50.00 paid in, 90 kWh read since (50.22 at 0.558): -0.22 left, though the ledger shows 50.00 of credit."""
    eaten = prepaid_account(paid="50.00", kwh_per_day=3)
    comfortable = prepaid_account(paid="50.00", kwh_per_day=1)  # 30 kWh, 16.74: 33.26 left
    result = scan(django_capture_on_commit_callbacks)
    assert (result.holders_checked, result.holder_low_balance_alerts) == (2, 1)
    eaten.refresh_from_db()
    comfortable.refresh_from_db()
    assert eaten.low_balance_alerted_at is not None
    assert comfortable.low_balance_alerted_at is None


def test_healthy_prepaid_accounts_cost_the_same_queries_however_many_and_lock_nothing(
    django_capture_on_commit_callbacks
):
    """Accounts with credit their unread energy could not bring under 10 yuan even at the dearest tier are ruled out
    in bulk: the scan's queries do not grow with their number, and no row is locked."""
    def queries_of_a_scan() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            result = scan(django_capture_on_commit_callbacks)
        assert result.holder_low_balance_alerts == 0
        return [query["sql"] for query in queries.captured_queries]

    for _ in range(3):
        prepaid_account(paid="100.00", kwh_per_day=2, days=5)
    few = queries_of_a_scan()
    for _ in range(9):
        prepaid_account(paid="100.00", kwh_per_day=2, days=5)
    many = queries_of_a_scan()
    assert len(many) == len(few)
    assert not [sql for sql in many if "FOR UPDATE" in sql]


def test_a_binding_above_its_threshold_and_never_told_is_not_locked(django_capture_on_commit_callbacks):
    account = prepaid_account(paid="100.00", kwh_per_day=2)
    AccountBindingFactory(account=account, tier_alerts=False)
    with CaptureQueriesContext(connection) as queries:
        result = scan(django_capture_on_commit_callbacks)
    assert (result.bindings_checked, result.low_balance_alerts, result.holders_checked) == (1, 0, 1)
    # The bindings are read in the scan's own queries, by account: none is read again by its id to be locked.
    binding_reads = [query["sql"] for query in queries.captured_queries if 'FROM "core_accountbinding"' in query["sql"]]
    assert binding_reads
    assert not [sql for sql in binding_reads if 'WHERE "core_accountbinding"."id" = ' in sql]


def test_an_account_told_before_is_re_armed_once_topped_up(django_capture_on_commit_callbacks):
    account = prepaid_account(paid="40.00", kwh_per_day=2)  # 6.52 left
    assert scan(django_capture_on_commit_callbacks).holder_low_balance_alerts == 1
    payment_post(account=account, amount=D("100.00"), channel=Payment.Channel.ONLINE, idempotency_key="scale-top-up",
                 received_at=timezone.now())
    assert scan(django_capture_on_commit_callbacks).holder_low_balance_alerts == 0
    account.refresh_from_db()
    assert account.low_balance_alerted_at is None


def test_outlooks_in_bulk_are_the_forecasts_and_estimates_worked_out_one_by_one():
    tiered_postpaid = AccountFactory()
    daily_readings(tiered_postpaid, 8)
    tiered_prepaid = prepaid_account(paid="80.00", kwh_per_day=5)
    bill(tiered_prepaid, datetime.date(2026, 2, 1))
    tou_prepaid = prepaid_account(paid="300.00")
    tou_prepaid.tariff = commercial_tou_tariff()
    tou_prepaid.category = CustomerCategory.NON_RESIDENTIAL
    tou_prepaid.save(update_fields=["tariff", "category"])
    daily_readings(tou_prepaid, 20, days=12)
    nothing_read = prepaid_account(paid="5.00")
    accounts = list(Account.objects.filter(pk__in=[a.pk for a in (tiered_postpaid, tiered_prepaid, tou_prepaid,
                                                                   nothing_read)]).order_by("pk"))

    prices_by_tariff = {account.tariff_id: prices_in_force(account) for account in accounts}
    with CaptureQueriesContext(connection) as queries:
        outlooks = outlooks_of_accounts(accounts=accounts, as_of=AS_OF,
                                        prices_of=lambda account: prices_by_tariff[account.tariff_id])

    assert {pk: (outlook.forecast, outlook.estimate) for pk, outlook in outlooks.items()} == {
        account.pk: (tier_forecast(account=account, as_of=AS_OF), prepaid_estimate(account=account, as_of=AS_OF))
        for account in accounts
    }
    # Paces; the prepaid accounts' latest bills, then their unbilled energy per latest billing month (February, and
    # never billed); the tier period's energy: however many accounts.
    assert len(queries.captured_queries) == 5
    forecast = outlooks[tiered_postpaid.pk].forecast
    assert (forecast.used_kwh, forecast.next_tier) == (D("160.00"), 2)
    assert outlooks[tou_prepaid.pk].forecast is None
    assert outlooks[nothing_read.pk].estimate.remaining == D("5.00")


def test_bound_accounts_cost_the_same_queries_however_many(django_capture_on_commit_callbacks):
    """Bindings far from their next tier and well above their threshold: the scan's queries do not grow with them."""
    def queries_of_a_scan() -> int:
        with CaptureQueriesContext(connection) as queries:
            result = scan(django_capture_on_commit_callbacks)
        assert (result.tier_alerts, result.low_balance_alerts, result.holder_low_balance_alerts) == (0, 0, 0)
        return len(queries.captured_queries)

    def bound(count: int) -> None:
        for _ in range(count):
            AccountBindingFactory(account=prepaid_account(paid="100.00", kwh_per_day=2, days=5))
            daily_readings(AccountBindingFactory().account, 1, days=5)

    bound(2)
    few = queries_of_a_scan()
    bound(6)
    assert queries_of_a_scan() == few


def test_a_binding_already_warned_of_the_tier_near_is_not_locked_again(django_capture_on_commit_callbacks):
    """8 kWh a day, 20 kWh short of tier 2: told on the first scan; the next day's scan reads that and locks nothing."""
    binding = AccountBindingFactory()
    daily_readings(binding.account, 8)
    assert scan(django_capture_on_commit_callbacks).tier_alerts == 1
    with CaptureQueriesContext(connection) as queries:
        assert scan(django_capture_on_commit_callbacks).tier_alerts == 0
    assert not [query["sql"] for query in queries.captured_queries
                if 'WHERE "core_accountbinding"."id" = ' in query["sql"]]


def test_told_and_still_under_their_thresholds_nothing_is_locked_or_read_one_by_one(
    django_capture_on_commit_callbacks
):
    """Holders and binders told of a dip that goes on: the next day's scan changes nothing, so locks nothing, and
    its queries do not grow with them."""
    def told_and_low(count: int) -> None:
        for _ in range(count):
            # 12.00 paid, 10 kWh read since (5.58): 6.42 left, under the holder's 10 and the binding's own 10.
            AccountBindingFactory(account=prepaid_account(paid="12.00", kwh_per_day=2, days=5), tier_alerts=False)

    def second_scan() -> list[str]:
        scan(django_capture_on_commit_callbacks)
        with CaptureQueriesContext(connection) as queries:
            result = scan(django_capture_on_commit_callbacks)
        assert (result.low_balance_alerts, result.holder_low_balance_alerts, result.low_balance_cleared) == (0, 0, 0)
        return [query["sql"] for query in queries.captured_queries]

    told_and_low(2)
    few = second_scan()
    told_and_low(5)
    many = second_scan()
    assert len(many) == len(few)
    assert not [sql for sql in many if 'WHERE "core_account"."id" = ' in sql or
                'WHERE "core_accountbinding"."id" = ' in sql]
    assert not Account.objects.filter(low_balance_alerted_at__isnull=True).exists()
    assert not AccountBinding.objects.filter(low_balance_alerted_at__isnull=True).exists()


def test_an_accounts_bindings_are_scanned_in_one_chunk():
    """A chunk that stops inside an account takes the account's other bindings too."""
    from core.services.customer_alerts import _binding_chunks

    first, second = prepaid_account(paid="1.00"), prepaid_account(paid="1.00")
    bindings = [AccountBindingFactory(account=first) for _ in range(3)] + [AccountBindingFactory(account=second)]
    chunks = [[binding.pk for binding in chunk] for chunk in _binding_chunks(size=2)]
    assert chunks == [[binding.pk for binding in bindings[:3]], [bindings[3].pk]]


def test_alerts_cost_the_same_queries_however_many_are_raised(django_capture_on_commit_callbacks):
    """Binders and holders whose balances dip, each told by SMS: deciding, recording, requesting and sending their
    alerts (tests run Celery eager) is a few queries per chunk, not per alert; one signal per chunk and pass."""
    from core.signals import customer_alerts_raised
    from notifications.models import Message
    from tests.core.test_customer_alerts import mobile

    batches: list[int] = []

    def receiver(sender, alerts, **kwargs):
        batches.append(len(alerts))

    def first_scan_of_new_dips(count: int) -> int:
        for n in range(count):
            binding = AccountBindingFactory(account=prepaid_account(paid="12.00", kwh_per_day=2, days=5),
                                            tier_alerts=False)
            mobile(binding, f"137{count:02d}{n:06d}")
        with CaptureQueriesContext(connection) as queries:
            result = scan(django_capture_on_commit_callbacks)
        assert (result.low_balance_alerts, result.holder_low_balance_alerts) == (count, count)
        return len(queries.captured_queries)

    customer_alerts_raised.connect(receiver, dispatch_uid="test-alert-batches")
    try:
        few = first_scan_of_new_dips(2)
        assert batches == [2, 2]
        many = first_scan_of_new_dips(6)
        assert batches == [2, 2, 6, 6]
    finally:
        customer_alerts_raised.disconnect(dispatch_uid="test-alert-batches")
    assert many == few
    # Each binder on their own mobile, each holder at the phone on file (and in their inbox).
    assert Message.objects.filter(event="prepaid_balance_low", channel="sms", state="delivered").count() == 16
