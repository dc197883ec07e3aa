"""The billing run's batch shape: prepaid credit is applied to the new bills in bulk with the same
allocations account_allocate makes per account, and the query count does not grow with accounts in credit."""
import datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import Bill, CollectionPolicy, LedgerEntry, Payment, PaymentAllocation
from core.models.customers import CustomerCategory
from core.services.billing import billing_run_execute
from core.services.payments import payment_post
from core.services.readings import reading_record
from tests.factories import AccountFactory, MeterFactory, ServiceStationFactory

pytestmark = pytest.mark.django_db
JAN = datetime.date(2026, 1, 1)
JAN31 = datetime.date(2026, 1, 31)


@pytest.fixture(autouse=True)
def policies():
    CollectionPolicy.objects.update_or_create(
        category=CustomerCategory.RESIDENTIAL,
        defaults={"payment_term_days": 30, "daily_rate_current_year": D("0.0010"), "daily_rate_prior_years": D("0.0010")},
    )


def account_read(station, kwh):
    account = AccountFactory(station=station)
    meter = MeterFactory(service_point__account=account)
    reading_record(meter=meter, read_on=JAN31, total=kwh, source="manual")
    return account


def prepay(account, amount, key, day):
    payment_post(
        account=account,
        amount=amount,
        channel=Payment.Channel.ONLINE,
        idempotency_key=key,
        received_at=datetime.datetime(2026, 1, day, 10, tzinfo=ZoneInfo("Asia/Shanghai")),
    )


def test_run_applies_prepaid_credit_oldest_payment_first():
    station = ServiceStationFactory()
    two_payments, more_than_enough, owing = (account_read(station, kwh) for kwh in ("200", "180", "550"))
    prepay(two_payments, "30.00", "a-1", 10)
    prepay(two_payments, "50.00", "a-2", 20)
    prepay(more_than_enough, "150.00", "b-1", 15)

    run = billing_run_execute(branch=station.branch, period=JAN, batch_size=10)

    assert (run.bills_issued, run.accounts_held) == (3, 0)
    # 200 kWh -> 112.60 owed; 30.00 then 50.00 of credit applied: 32.60 left, partly paid.
    bill = Bill.objects.get(account=two_payments)
    assert (bill.amount_paid, bill.outstanding, bill.state) == (D("80.00"), D("32.60"), Bill.State.PARTLY_PAID)
    assert list(
        PaymentAllocation.objects.filter(bill=bill).order_by("id").values_list("payment__idempotency_key", "amount")
    ) == [("a-1", D("30.00")), ("a-2", D("50.00"))]
    assert ledger_of(two_payments) == [
        (LedgerEntry.Kind.PAYMENT, D("-30.00"), D("-30.00")),
        (LedgerEntry.Kind.PAYMENT, D("-50.00"), D("-80.00")),
        (LedgerEntry.Kind.BILL, D("112.60"), D("32.60")),
    ]
    # 180 kWh -> 100.44 paid from 150.00: the bill is paid and 49.56 stays prepaid on the payment.
    bill = Bill.objects.get(account=more_than_enough)
    assert (bill.amount_paid, bill.state) == (D("100.44"), Bill.State.PAID)
    assert Payment.objects.get(idempotency_key="b-1").unallocated == D("49.56")
    assert ledger_of(more_than_enough)[-1] == (LedgerEntry.Kind.BILL, D("100.44"), D("-49.56"))
    # 550 kWh -> 362.90 with no credit: nothing allocated.
    bill = Bill.objects.get(account=owing)
    assert (bill.amount_paid, bill.state) == (D("0.00"), Bill.State.ISSUED)
    assert list(Payment.objects.filter(account=two_payments).values_list("unallocated", flat=True)) == [D("0.00")] * 2
    for account, balance in ((two_payments, D("32.60")), (more_than_enough, D("-49.56")), (owing, D("362.90"))):
        account.refresh_from_db()
        assert account.balance == balance == sum(a for _, a, _ in ledger_of(account)) == ledger_of(account)[-1][2]


def ledger_of(account):
    return list(account.ledger_entries.order_by("id").values_list("kind", "amount", "balance_after"))


def queries_with_credit(accounts_in_credit: int) -> int:
    station = ServiceStationFactory()
    for index in range(accounts_in_credit):
        prepay(account_read(station, str(150 + 100 * index)), "20.00", f"q-{accounts_in_credit}-{index}", 5)
    account_read(station, "300")
    with CaptureQueriesContext(connection) as captured:
        run = billing_run_execute(branch=station.branch, period=JAN, batch_size=100)
    assert run.bills_issued == accounts_in_credit + 1
    return len(captured.captured_queries)


def test_run_queries_do_not_grow_with_accounts_in_credit():
    assert queries_with_credit(1) == queries_with_credit(6)
