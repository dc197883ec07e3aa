"""Counter collection under real concurrency: threads, each on its own connection, against the committed test
database (SQLite's shared-cache lock errors are waited out by run_together, as in the ticket engine's tests)."""
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import Payment
from core.models.counter import CounterReceipt, CounterSettlement
from core.services.counter import (
    CounterDayClosed,
    business_day_of,
    counter_day_close,
    counter_day_totals,
    counter_payment_take,
)
from tests.core.counter_factories import counter_world
from tests.core.test_late_fees import policies_set
from tests.core.test_tickets_concurrency import run_together
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_two_windows_of_one_hall_number_their_receipts_one_after_the_other_and_a_double_click_posts_once():
    policies_set()
    world = counter_world()
    account = AccountFactory()

    def take(cashier, key, amount):
        return lambda: counter_payment_take(
            cashier=cashier, account=account, amount=amount, method="cash", idempotency_key=key
        )

    results, errors = run_together([
        take(world.cashier, "w1", "10.00"),
        take(world.second_cashier, "w2", "20.00"),
        take(world.cashier, "w1", "10.00"),
    ])
    assert errors == [None, None, None]
    day = business_day_of(timezone.now())
    prefix = f"{world.outlet.code}-{day:%Y%m%d}-"
    assert sorted(CounterReceipt.objects.values_list("number", flat=True)) == [f"{prefix}0001", f"{prefix}0002"]
    assert results[0].receipt.pk == results[2].receipt.pk
    assert sorted([results[0].created, results[2].created]) == [False, True]
    assert Payment.objects.count() == 2


def test_a_payment_racing_the_day_close_is_either_in_the_settlement_or_refused():
    policies_set()
    world = counter_world()
    account = AccountFactory()
    counter_payment_take(cashier=world.cashier, account=account, amount="30.00", method="cash", idempotency_key="x0")
    day = business_day_of(timezone.now())
    _results, errors = run_together([
        lambda: counter_payment_take(
            cashier=world.cashier, account=account, amount="5.00", method="cash", idempotency_key="x1"
        ),
        lambda: counter_day_close(
            cashier=world.cashier, business_day=day, amounts={"cash": "30.00", "bank_slip": "0", "list_slip": "0"},
            deposit_account_id=world.deposit.pk,
        ),
    ])
    settlements = list(CounterSettlement.objects.all())
    if settlements:
        # The close went first: it matched the one earlier receipt, and the racing payment was refused.
        assert isinstance(errors[0], CounterDayClosed) and errors[1] is None
        assert (settlements[0].total, counter_day_totals(cashier=world.cashier, business_day=day).total) == (
            Decimal("30.00"), Decimal("30.00"),
        )
    else:
        # The payment went first: the close counted 30.00 against a day of 35.00 and was refused whole.
        assert errors[0] is None and "解款金额与当日收费不符" in str(errors[1])
        assert counter_day_totals(cashier=world.cashier, business_day=day).total == Decimal("35.00")
