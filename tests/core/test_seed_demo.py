"""seed_demo: a small deterministic demo on the test database, its history consistent with the ledger rules."""
from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.utils import timezone

from core.account_numbers import account_number_validate
from core.demo.generator import last_complete_month, month_starts
from core.models import (
    Account,
    AccountBinding,
    AuditFlag,
    Bill,
    BillLine,
    Branch,
    Company,
    Customer,
    Evaluation,
    LateFee,
    LedgerEntry,
    Meter,
    MeterReading,
    Payment,
    PaymentAllocation,
    ServicePoint,
    Ticket,
)
from core.models.banks import WithholdingAgreement
from core.models.counter import CounterReceipt, CounterSettlement
from core.money import to_money

pytestmark = pytest.mark.django_db
N = 60


def _seed(customers=N) -> str:
    out = io.StringIO()
    call_command("seed_demo", customers=str(customers), stdout=out)
    return out.getvalue()


def _digest() -> str:
    rows = Bill.objects.order_by("account__number", "period").values_list("account__number", "period", "total", "amount_paid")
    text = "|".join(f"{n}:{p:%Y%m}:{t}:{a}" for n, p, t, a in rows)
    names = "|".join(Customer.objects.order_by("accounts__number").values_list("name", flat=True))
    return hashlib.sha256((text + names).encode()).hexdigest()


def _wipe_customers() -> None:
    """Back to an empty customer base (the organisation stays: demo staff hold posts in it); the demo tickets,
    counter days, withholding agreements and audit flags point at customers, accounts and payments, so they go
    first (a reversal receipt before the receipt it reverses)."""
    CounterReceipt.objects.filter(reverses__isnull=False).delete()
    for model in (AuditFlag, CounterReceipt, CounterSettlement, WithholdingAgreement, Evaluation, Ticket, LedgerEntry,
                  PaymentAllocation, LateFee, Payment, BillLine, Bill, MeterReading, Meter, ServicePoint, Account,
                  Customer):
        model.objects.all().delete()


def test_seed_builds_the_demo_with_24_readings_and_23_bills_per_account():
    output = _seed()
    assert "新增 60 户客户" in output
    assert Company.objects.get().name == "恩施供电公司"
    assert sorted(Branch.objects.values_list("name", flat=True)) == sorted(
        ["恩施市", "利川市", "建始县", "巴东县", "宣恩县", "咸丰县", "来凤县", "鹤峰县"]
    )
    assert Customer.objects.count() == N
    assert Account.objects.count() == N
    assert ServicePoint.objects.count() == N
    assert Meter.objects.count() == N
    # Every branch gets customers even in a tiny demo (interleaved by population).
    assert Account.objects.values("branch").distinct().count() == 8
    assert set(Account.objects.annotate(n=Count("readings")).values_list("n", flat=True)) == {24}
    assert set(Account.objects.annotate(n=Count("bills")).values_list("n", flat=True)) == {23}
    months = month_starts(last_complete_month(timezone.localdate()))
    assert not Bill.objects.filter(period=months[-1]).exists()
    assert MeterReading.objects.filter(period=months[-1]).count() == N
    assert Payment.objects.count() > N * 18
    assert LateFee.objects.exists()
    for number in Account.objects.values_list("number", flat=True):
        assert account_number_validate(number) == number
    for masked in Customer.objects.values_list("id_number_masked", flat=True):
        assert masked.startswith("4228") and masked[4:14] == "*" * 10
    for phone in Customer.objects.values_list("phone", flat=True):
        assert len(phone) == 11 and phone[0] == "1" and phone[1] in "3456789"


def test_residential_monthly_tier_bills_follow_the_tier_prices():
    _seed()
    bills = Bill.objects.filter(account__tariff__code="res-tiered")
    assert bills.count() > 0
    for kwh, total in bills.values_list("kwh", "total"):
        tier1 = min(kwh, Decimal("180"))
        tier2 = min(max(kwh - 180, Decimal("0")), Decimal("220"))
        tier3 = max(kwh - 400, Decimal("0"))
        expected = to_money(tier1 * Decimal("0.558")) + to_money(tier2 * Decimal("0.608")) + to_money(
            tier3 * Decimal("0.858")
        )
        assert total == expected, kwh
    # 200 kWh worked by hand: 180 x 0.558 = 100.44, 20 x 0.608 = 12.16, total 112.60.
    for bill in bills.filter(kwh=Decimal("200")):
        assert bill.total == Decimal("112.60")


def test_ledger_identities_hold_for_every_account():
    _seed()
    bill_out = defaultdict(Decimal)
    for account_id, total, paid, adjusted in Bill.objects.values_list("account_id", "total", "amount_paid", "amount_adjusted"):
        bill_out[account_id] += total - paid - adjusted
    fee_out = defaultdict(Decimal)
    for account_id, amount, paid, waived in LateFee.objects.values_list("account_id", "amount", "amount_paid", "amount_waived"):
        fee_out[account_id] += amount - paid - waived
    unallocated = defaultdict(Decimal)
    for account_id, left in Payment.objects.values_list("account_id", "unallocated"):
        unallocated[account_id] += left
    for account in Account.objects.all():
        entries = list(account.ledger_entries.order_by("id").values_list("amount", "balance_after"))
        running = Decimal("0.00")
        for amount, balance_after in entries:
            running += amount
            assert balance_after == running
        assert running == account.balance
        assert bill_out[account.pk] + fee_out[account.pk] - unallocated[account.pk] == account.balance
    # Allocations summed in Python, as the services do: SQLite sums decimals as floats (43.25 + 43.25 - 86.50 can
    # come back as -3.6e-15).
    allocated_to = defaultdict(Decimal)
    for payment_id, bill_id, late_fee_id, amount in PaymentAllocation.objects.values_list(
        "payment_id", "bill_id", "late_fee_id", "amount"
    ):
        allocated_to["payment", payment_id] += amount
        allocated_to["bill", bill_id] += amount if bill_id else Decimal("0.00")
        allocated_to["fee", late_fee_id] += amount if late_fee_id else Decimal("0.00")
    for bill in Bill.objects.all():
        assert bill.amount_paid == allocated_to["bill", bill.pk]
        assert bill.outstanding >= 0
    for fee in LateFee.objects.all():
        assert fee.amount_paid == allocated_to["fee", fee.pk]
    for payment in Payment.objects.all():
        # A reversed payment (the demo counter's two) gave back everything it had paid and holds no credit.
        paid = Decimal("0.00") if payment.status == Payment.Status.REVERSED else payment.amount - payment.unallocated
        assert paid == allocated_to["payment", payment.pk]
    assert Payment.objects.filter(status=Payment.Status.REVERSED).count() == 2
    assert Account.objects.filter(balance__gt=0).exists()


def test_seed_is_deterministic_and_idempotent():
    _seed()
    numbers = list(Account.objects.order_by("number").values_list("number", flat=True))
    digest = _digest()
    counts = {model: model.objects.count() for model in (Bill, Payment, LedgerEntry, MeterReading)}

    again = _seed()
    assert "未新增任何数据" in again
    assert {model: model.objects.count() for model in counts} == counts

    _wipe_customers()
    _seed()
    assert list(Account.objects.order_by("number").values_list("number", flat=True)) == numbers
    assert _digest() == digest


def test_a_larger_count_adds_only_the_missing_customers():
    _seed(customers=40)
    first = dict(Account.objects.values_list("number", "balance"))
    output = _seed(customers=N)
    assert "新增 20 户客户（共 60 户）" in output
    assert Account.objects.count() == N
    assert {n: b for n, b in Account.objects.values_list("number", "balance") if n in first} == first
    grown = _digest()
    _wipe_customers()
    _seed()
    assert _digest() == grown


def test_billing_run_for_the_unbilled_month_bills_every_active_account():
    from core.services.billing import billing_run_execute

    _seed()
    period = month_starts(last_complete_month(timezone.localdate()))[-1]
    for branch in Branch.objects.all():
        run = billing_run_execute(branch=branch, period=period)
        assert run.accounts_held == 0, run.error
    active = Account.objects.filter(status=Account.Status.ACTIVE)
    assert Bill.objects.filter(period=period).count() == active.count() == N
    assert set(active.annotate(n=Count("bills")).values_list("n", flat=True)) == {24}


@pytest.mark.parametrize("raw", ["0", "-5", "abc", "1.5", ""])
def test_bad_customer_counts_are_refused_and_change_nothing(raw):
    with pytest.raises(CommandError, match="--customers 必须是正整数"):
        call_command("seed_demo", customers=raw, stdout=io.StringIO())
    assert not Account.objects.exists()
    assert not Company.objects.exists()


def test_the_seeded_demo_has_the_95598_home_page_as_its_site_root():
    from wagtail.models import Site

    from cms.models import HomePage

    _seed(customers=5)
    root = Site.objects.get(is_default_site=True).root_page.specific
    assert isinstance(root, HomePage)
    assert root.hotline == "95598"


def test_the_demo_customer_signs_in_to_bound_accounts():
    """A newcomer who logs in as demo-customer sees a dashboard, not an empty prompt: a home account with a bill
    to pay and, when the demo has smart-prepaid accounts, one of those."""
    _seed()
    bindings = list(AccountBinding.objects.filter(user__username="demo-customer").select_related("account")
                    .order_by("pk"))
    home = bindings[0]
    assert (home.label, home.account.billing_mode) == ("我家", Account.BillingMode.POSTPAID)
    assert home.account.bills.exclude(state__in=[Bill.State.PAID, Bill.State.CREDITED, Bill.State.WRITTEN_OFF]).exists()
    prepaid = Account.objects.filter(billing_mode=Account.BillingMode.PREPAID).exists()
    assert [(b.label, b.account.billing_mode) for b in bindings[1:]] == (
        [("父母家", Account.BillingMode.PREPAID)] if prepaid else [])
