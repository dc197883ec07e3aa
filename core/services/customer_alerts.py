"""Customer alerts the portal promises: an SMS when a tiered account is about to cross into the next tier at its
pace (once per binding, tier period and tier about to be entered, only if the binding asked for tier alerts), and one
when a smart-prepaid account's estimated balance falls below the binding's threshold (once until it is topped up
above it). Both are the binding's settings, so notifications sends them to the binding's portal user.

Every smart-prepaid account's holder is also told, at the phone on file, when its balance falls under the 智能交费
threshold (HOLDER_LOW_BALANCE_THRESHOLD, 10 yuan), portal or not: once per dip, recorded on the account
(notifications leaves it out when a binding of the holder's own verified phone already covers the account).

The daily scan decides and records on the binding (or account) row, a chunk of rows under one lock; the chunk's
messages leave together through the signal customer_alerts_raised after its commit (notifications subscribes: core
imports no other app), keyed so a rerun or a twin scan sends nothing twice.
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.models import Account, AccountBinding
from core.signals import customer_alerts_raised
from core.models.customers import CustomerCategory
from core.money import ZERO
from core.selectors.portal_bills import (
    PrepaidEstimate,
    TierForecast,
    kwh_text,
    outlooks_of_accounts,
    prepaid_remaining_floor,
    tariff_prices_in_force,
    unbilled_kwh_of_accounts,
    unit_price_ceiling,
)
from core.services.tariffs import TariffPrices

logger = logging.getLogger(__name__)

# Tell the customer when the forecast crossing into the next tier is this many days away or fewer.
TIER_ALERT_DAYS_AHEAD = 7
SCAN_CHUNK = 500
# What a smart-prepaid holder who has set nothing is told under (the 智能交费 default).
HOLDER_LOW_BALANCE_THRESHOLD = Decimal("10.00")
KIND_TIER = "tier_threshold_near"
KIND_LOW_BALANCE = "prepaid_balance_low"


@dataclass
class AlertScanResult:
    bindings_checked: int = 0
    tier_alerts: int = 0
    low_balance_alerts: int = 0
    low_balance_cleared: int = 0
    holders_checked: int = 0
    holder_low_balance_alerts: int = 0


@dataclass(frozen=True)
class RaisedAlert:
    binding_id: int | None
    kind: str
    data: dict
    idempotency_key: str
    # Set (with binding_id None) for the holder's own alert.
    account_id: int | None = None


def _raise_after_commit(alerts: list[RaisedAlert]) -> None:
    """One signal for a chunk's alerts, after its transaction commits."""
    if not alerts:
        return
    payload = [dataclasses.asdict(alert) for alert in alerts]
    transaction.on_commit(
        lambda: customer_alerts_raised.send(sender=AccountBinding, alerts=payload), robust=True
    )


def tier_alert_due(*, forecast: TierForecast | None, as_of: datetime.date) -> bool:
    """The crossing is forecast within TIER_ALERT_DAYS_AHEAD days."""
    if forecast is None or forecast.crossing_date is None:
        return False
    return (forecast.crossing_date - as_of).days <= TIER_ALERT_DAYS_AHEAD


def _tier_already_told(*, binding: AccountBinding, forecast: TierForecast) -> bool:
    return (
        binding.tier_alerted_period == forecast.period_start
        and binding.tier_alerted_tier is not None
        and binding.tier_alerted_tier >= forecast.next_tier
    )


def _tier_alert_record(*, locked: AccountBinding, account_number: str, forecast: TierForecast) -> RaisedAlert | None:
    """On a locked binding whose crossing is due: record and return the tier alert unless the binding stopped asking
    or was warned of entering this tier (or a higher one) this tier period: near tier 2 and later near tier 3 is two
    alerts, each sent once. Changes the row in memory only."""
    if not locked.tier_alerts:
        return None
    if locked.tier_alerted_period == forecast.period_start:
        if locked.tier_alerted_tier is None:
            # Warned this period before the tier was recorded (migration 0018), of a tier unknown: counted as this
            # crossing's warning, so nobody is told twice, and recorded, so the next crossing is told.
            locked.tier_alerted_tier = forecast.next_tier
            return None
        if locked.tier_alerted_tier >= forecast.next_tier:
            return None
    locked.tier_alerted_period = forecast.period_start
    locked.tier_alerted_tier = forecast.next_tier
    return RaisedAlert(
        binding_id=locked.pk,
        kind=KIND_TIER,
        data={
            "account_number": account_number,
            "used_kwh": kwh_text(forecast.used_kwh),
            "crossing_date": f"{forecast.crossing_date.month}月{forecast.crossing_date.day}日",
            "next_tier": forecast.next_tier,
            "tier_limit_kwh": kwh_text(forecast.next_tier_from_kwh),
            "next_price": forecast.next_price_text,
        },
        idempotency_key=f"tier-near:{locked.pk}:{forecast.period_start:%Y%m%d}:{forecast.next_tier}",
    )


def _low_balance_data(*, account_number: str, estimate: PrepaidEstimate, threshold: Decimal) -> dict:
    return {
        "account_number": account_number,
        "balance": f"{estimate.remaining:.2f}",
        "threshold": f"{threshold:.2f}",
        "days_left": estimate.days_left if estimate.days_left is not None else "—",
    }


def _low_balance_state_may_change(*, told: bool, remaining: Decimal, threshold: Decimal) -> bool:
    """A dip not yet told, or one told that is over: only then is the row locked and written. Told and still under,
    or never told and above, nothing changes."""
    return told != (remaining < threshold)


def _low_balance_alert_record(*, locked: AccountBinding, account_number: str, estimate: PrepaidEstimate,
                              now: datetime.datetime) -> RaisedAlert | None:
    """On a locked binding: record and return the low-balance alert when the estimated balance is under the binding's
    threshold and it has not been told since the balance was last above it; re-arm it once above again. Changes the
    row in memory only."""
    told = locked.low_balance_alerted_at is not None
    if not _low_balance_state_may_change(told=told, remaining=estimate.remaining,
                                         threshold=locked.low_balance_threshold):
        return None
    if told:
        locked.low_balance_alerted_at = None  # the dip is over: re-armed
        return None
    locked.low_balance_alerted_at = now
    return RaisedAlert(
        binding_id=locked.pk,
        kind=KIND_LOW_BALANCE,
        data=_low_balance_data(account_number=account_number, estimate=estimate,
                               threshold=locked.low_balance_threshold),
        # Keyed by the moment of this dip (to the microsecond, as recorded), so each dip is one message.
        idempotency_key=f"prepaid-low:{locked.pk}:{now:%Y%m%d%H%M%S%f}",
    )


@dataclass(frozen=True)
class _BindingToDecide:
    """A binding the scan read with something that may change: its crossing due and not yet warned of, or its
    low-balance state (a dip not told, or a told one that is over)."""

    binding: AccountBinding
    forecast: TierForecast | None
    estimate: PrepaidEstimate | None


_BINDING_ALERT_FIELDS = ("tier_alerted_period", "tier_alerted_tier", "low_balance_alerted_at")


def _binding_alert_state(binding: AccountBinding) -> tuple:
    return tuple(getattr(binding, field) for field in _BINDING_ALERT_FIELDS)


def _bindings_alerts_record(*, to_decide: list[_BindingToDecide], now: datetime.datetime,
                           result: AlertScanResult) -> None:
    """Decide a chunk's bindings under one lock of their rows (in id order, so a twin scan waits rather than
    deadlocks), write the ones that changed in one UPDATE, and raise their alerts together after commit; counts
    into `result`. A binding unbound since it was read is left alone."""
    if not to_decide:
        return
    alerts: list[RaisedAlert] = []
    with transaction.atomic():
        locked = {
            row.pk: row for row in AccountBinding.objects.select_for_update()
            .filter(pk__in=[item.binding.pk for item in to_decide], unbound_at__isnull=True).order_by("pk")
        }
        changed = []
        for item in to_decide:
            row = locked.get(item.binding.pk)
            if row is None:
                continue
            before = _binding_alert_state(row)
            number = item.binding.account.number
            if item.forecast is not None:
                alert = _tier_alert_record(locked=row, account_number=number, forecast=item.forecast)
                if alert is not None:
                    alerts.append(alert)
                    result.tier_alerts += 1
            if item.estimate is not None:
                alert = _low_balance_alert_record(locked=row, account_number=number, estimate=item.estimate, now=now)
                if alert is not None:
                    alerts.append(alert)
                    result.low_balance_alerts += 1
                elif before[2] is not None and row.low_balance_alerted_at is None:
                    result.low_balance_cleared += 1
            if _binding_alert_state(row) != before:
                changed.append(row)
        AccountBinding.objects.bulk_update(changed, _BINDING_ALERT_FIELDS)
        _raise_after_commit(alerts)


def _holders_alerts_record(*, estimates: dict[int, tuple[Account, PrepaidEstimate]], now: datetime.datetime,
                          result: AlertScanResult) -> None:
    """The smart-prepaid holders' own alerts of a chunk (account id -> the account and its estimate), decided under
    one lock of their rows: told when the balance is under HOLDER_LOW_BALANCE_THRESHOLD and not told since it was
    last above, re-armed once above; one UPDATE for each, the alerts raised together after commit."""
    if not estimates:
        return
    alerts: list[RaisedAlert] = []
    told, rearmed = [], []
    with transaction.atomic():
        locked = Account.objects.select_for_update().filter(pk__in=list(estimates)).only(
            "pk", "low_balance_alerted_at"
        ).order_by("pk")
        for row in locked:
            account, estimate = estimates[row.pk]
            was_told = row.low_balance_alerted_at is not None
            if not _low_balance_state_may_change(told=was_told, remaining=estimate.remaining,
                                                 threshold=HOLDER_LOW_BALANCE_THRESHOLD):
                continue
            if was_told:
                rearmed.append(row.pk)
                continue
            told.append(row.pk)
            alerts.append(RaisedAlert(
                binding_id=None,
                account_id=row.pk,
                kind=KIND_LOW_BALANCE,
                data=_low_balance_data(account_number=account.number, estimate=estimate,
                                       threshold=HOLDER_LOW_BALANCE_THRESHOLD),
                idempotency_key=f"prepaid-low:account:{row.pk}:{now:%Y%m%d%H%M%S%f}",
            ))
        if told:
            Account.objects.filter(pk__in=told).update(low_balance_alerted_at=now)
        if rearmed:
            Account.objects.filter(pk__in=rearmed).update(low_balance_alerted_at=None)
        result.holder_low_balance_alerts += len(told)
        _raise_after_commit(alerts)


class _PricesOfTheDay:
    """The tariff prices in force on the scan's day, read once per tariff (four queries each) instead of per
    account, with the most a kWh can cost under them (unit_price_ceiling)."""

    def __init__(self, as_of: datetime.date) -> None:
        self.as_of = as_of
        self._by_tariff: dict[int | None, tuple[TariffPrices | None, Decimal | None]] = {}

    def _of(self, account: Account) -> tuple[TariffPrices | None, Decimal | None]:
        if account.tariff_id not in self._by_tariff:
            prices = tariff_prices_in_force(account=account, on_date=self.as_of)
            ceiling = unit_price_ceiling(prices=prices) if prices is not None else None
            self._by_tariff[account.tariff_id] = (prices, ceiling)
        return self._by_tariff[account.tariff_id]

    def prices(self, account: Account) -> TariffPrices | None:
        return self._of(account)[0]

    def ceiling(self, account: Account) -> Decimal | None:
        return self._of(account)[1]


def _prepaid_accounts_to_scan():
    return (
        Account.objects.filter(billing_mode=Account.BillingMode.PREPAID)
        .exclude(status=Account.Status.CLOSED)
        .only("pk", "number", "tariff_id", "category", "balance", "billing_mode", "status", "low_balance_alerted_at")
        .order_by("pk")
    )


def _prepaid_account_chunks(size: int = SCAN_CHUNK):
    """The prepaid accounts to scan, `size` at a time in order of id (each chunk its own query, no cursor held open
    across the scan's transactions)."""
    after = 0
    while True:
        chunk = list(_prepaid_accounts_to_scan().filter(pk__gt=after)[:size])
        if not chunk:
            return
        yield chunk
        after = chunk[-1].pk


def _bindings_to_scan():
    return (
        AccountBinding.objects.filter(unbound_at__isnull=True)
        .filter(
            Q(tier_alerts=True, account__category=CustomerCategory.RESIDENTIAL)
            | Q(account__billing_mode=Account.BillingMode.PREPAID)
        )
        .select_related("account__tariff")
        .order_by("account_id", "pk")
    )


def _holder_ruled_out(*, account: Account, unbilled_kwh: Decimal, ceiling: Decimal | None) -> bool:
    """A holder never told of a dip whose credit, less its unbilled energy at the dearest price, stays at or above
    the threshold: nothing to tell or re-arm, whatever its pace and tier."""
    return (
        account.low_balance_alerted_at is None
        and ceiling is not None
        and prepaid_remaining_floor(credit=-account.balance, unbilled_kwh=unbilled_kwh, ceiling=ceiling)
        >= HOLDER_LOW_BALANCE_THRESHOLD
    )


def _binding_chunks(size: int = SCAN_CHUNK):
    """The bindings to scan in order of account, about `size` at a time: a chunk that stops inside an account takes
    that account's remaining bindings too, so each account is in one chunk. Each chunk is its own query along the
    bindings' account index (no cursor held open across the scan's transactions)."""
    after = 0
    while True:
        chunk = list(_bindings_to_scan().filter(account_id__gt=after)[:size])
        if not chunk:
            return
        last = chunk[-1]
        if len(chunk) == size:
            chunk += _bindings_to_scan().filter(account_id=last.account_id, pk__gt=last.pk)
        yield chunk
        after = last.account_id


def customer_alerts_scan(*, as_of: datetime.date | None = None) -> AlertScanResult:
    """The daily scan: over active bindings (forecasts worked out once per account, alerts decided per binding),
    then over every smart-prepaid account for its holder.

    What it costs at a utility's size: each tariff's prices are read once; the bound accounts' forecasts and
    estimates come from a few queries per SCAN_CHUNK accounts (outlooks_of_accounts); a row is locked only where
    something may change (a forecast crossing near, a balance under a threshold, an alert to re-arm); and a prepaid
    account nobody bound and not told before is ruled out in bulk when even its unbilled energy at the dearest price
    could not bring its credit under the holder's threshold (prepaid_remaining_floor), the rest estimated together
    as the bound ones are."""
    as_of = as_of or timezone.localdate()
    now = timezone.now()
    result = AlertScanResult()
    prices_of_the_day = _PricesOfTheDay(as_of)
    # Prepaid accounts whose estimate the binding pass worked out, for the holder pass.
    estimates: dict[int, PrepaidEstimate] = {}
    for bindings in _binding_chunks():
        outlooks = outlooks_of_accounts(
            accounts=list({binding.account_id: binding.account for binding in bindings}.values()), as_of=as_of,
            prices_of=prices_of_the_day.prices,
        )
        to_decide = []
        for binding in bindings:
            outlook = outlooks[binding.account_id]
            estimate = outlook.estimate
            if estimate is not None:
                estimates[binding.account_id] = estimate
            result.bindings_checked += 1
            # As read by the scan: only the scan records a warning, so a binding told then is told still.
            tier_may_change = (
                binding.tier_alerts and tier_alert_due(forecast=outlook.forecast, as_of=as_of)
                and not _tier_already_told(binding=binding, forecast=outlook.forecast)
            )
            low_balance_may_change = estimate is not None and _low_balance_state_may_change(
                told=binding.low_balance_alerted_at is not None, remaining=estimate.remaining,
                threshold=binding.low_balance_threshold,
            )
            if tier_may_change or low_balance_may_change:
                to_decide.append(_BindingToDecide(
                    binding=binding, forecast=outlook.forecast if tier_may_change else None,
                    estimate=estimate if low_balance_may_change else None,
                ))
        _bindings_alerts_record(to_decide=to_decide, now=now, result=result)
    for accounts in _prepaid_account_chunks():
        result.holders_checked += len(accounts)
        unbilled = unbilled_kwh_of_accounts(
            account_ids=[account.pk for account in accounts if account.pk not in estimates]
        )
        # Those neither estimated in the binding pass nor ruled out by their floor are estimated together.
        to_estimate = [
            account for account in accounts
            if account.pk not in estimates and not _holder_ruled_out(
                account=account, unbilled_kwh=unbilled.get(account.pk, ZERO),
                ceiling=prices_of_the_day.ceiling(account),
            )
        ]
        outlooks = outlooks_of_accounts(accounts=to_estimate, as_of=as_of, prices_of=prices_of_the_day.prices)
        to_decide: dict[int, tuple[Account, PrepaidEstimate]] = {}
        for account in accounts:
            estimate = estimates.get(account.pk) or (outlooks[account.pk].estimate if account.pk in outlooks else None)
            if estimate is not None and _low_balance_state_may_change(
                told=account.low_balance_alerted_at is not None, remaining=estimate.remaining,
                threshold=HOLDER_LOW_BALANCE_THRESHOLD,
            ):
                to_decide[account.pk] = (account, estimate)
        _holders_alerts_record(estimates=to_decide, now=now, result=result)
    logger.info(
        "customer alerts %s: %s bindings, %s tier, %s low balance, %s re-armed; %s prepaid holders, %s told",
        as_of, result.bindings_checked, result.tier_alerts, result.low_balance_alerts, result.low_balance_cleared,
        result.holders_checked, result.holder_low_balance_alerts,
    )
    return result
