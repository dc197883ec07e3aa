import datetime
import itertools
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from core.errors import CollectionPolicyMissing, LateFeeError
from core.models import Bill, CollectionPolicy, LateFee, LedgerEntry
from core.models.customers import CustomerCategory
from core.services.late_fees import late_fee_calculate, late_fee_waive, late_fees_assess
from core.services.ledger import account_lock, ledger_post
from tests.factories import AccountFactory, residential_tiered_tariff

D = Decimal
_bill_numbers = itertools.count(1)


def policies_set() -> None:
    """The rates of the supply rules (as the reference-data migration seeds them), forced so tests never drift."""
    for category, current, prior in (
        (CustomerCategory.RESIDENTIAL, "0.0010", "0.0010"),
        (CustomerCategory.NON_RESIDENTIAL, "0.0020", "0.0030"),
    ):
        CollectionPolicy.objects.update_or_create(
            category=category,
            defaults={
                "payment_term_days": 30,
                "daily_rate_current_year": D(current),
                "daily_rate_prior_years": D(prior),
                "minimum_late_fee": D("1.00"),
            },
        )


def bill_charge(*, account, period: datetime.date, total: str, due_date: datetime.date) -> Bill:
    """A regular bill posted to the ledger the way the billing engine does, without its calculation."""
    tariff = residential_tiered_tariff()
    with transaction.atomic():
        locked = account_lock(account_id=account.pk)
        bill = Bill.objects.create(
            number=f"T{next(_bill_numbers):08d}",
            account=locked,
            period=period,
            tariff_version=tariff.versions.order_by("effective_from").first(),
            issued_on=period,
            due_date=due_date,
            kwh=D("100.00"),
            total=D(total),
        )
        ledger_post(account=locked, kind=LedgerEntry.Kind.BILL, amount=bill.total, bill=bill)
    account.refresh_from_db()
    return bill


RESIDENTIAL = {"rate_current_year": D("0.0010"), "rate_prior_years": D("0.0010")}
NON_RESIDENTIAL = {"rate_current_year": D("0.0020"), "rate_prior_years": D("0.0030")}


def test_residential_ten_days_late():
    # 100.00 x 1‰ x 10 days (06-01 .. 06-10) = 1.00
    quote = late_fee_calculate(
        base_amount=D("100.00"), due_date=datetime.date(2025, 5, 31), through=datetime.date(2025, 6, 10), **RESIDENTIAL
    )
    assert (quote.days, quote.amount_before_minimum) == (10, D("1.00"))
    assert (quote.accrued_from, quote.accrued_to) == (datetime.date(2025, 6, 1), datetime.date(2025, 6, 10))


def test_small_arrears_quote_is_below_the_minimum():
    # 30.00 x 1‰ x 5 days = 0.15 (the 1-yuan minimum is applied to an assessment, see below)
    quote = late_fee_calculate(
        base_amount=D("30.00"), due_date=datetime.date(2025, 5, 31), through=datetime.date(2025, 6, 5), **RESIDENTIAL
    )
    assert (quote.days, quote.amount_before_minimum) == (5, D("0.15"))


def test_non_residential_across_new_year_uses_both_rates():
    # 12-21..12-31 = 11 days x 1000.00 x 2‰ = 22.00; 01-01..01-10 = 10 days x 1000.00 x 3‰ = 30.00; total 52.00
    quote = late_fee_calculate(
        base_amount=D("1000.00"),
        due_date=datetime.date(2025, 12, 20),
        through=datetime.date(2026, 1, 10),
        **NON_RESIDENTIAL,
    )
    assert (quote.days, quote.days_current_year, quote.days_prior_years) == (21, 11, 10)
    assert quote.amount_before_minimum == D("52.00")


def test_leap_day_counts():
    # due 2024-02-28, paid 2024-03-01: Feb 29 and Mar 1 = 2 days; 500.00 x 1‰ x 2 = 1.00
    quote = late_fee_calculate(
        base_amount=D("500.00"), due_date=datetime.date(2024, 2, 28), through=datetime.date(2024, 3, 1), **RESIDENTIAL
    )
    assert (quote.days, quote.amount_before_minimum) == (2, D("1.00"))


@pytest.mark.parametrize("through", [datetime.date(2025, 5, 30), datetime.date(2025, 5, 31)])
def test_on_or_before_due_date_nothing_accrues(through):
    quote = late_fee_calculate(base_amount=D("100.00"), due_date=datetime.date(2025, 5, 31), through=through, **RESIDENTIAL)
    assert (quote.days, quote.amount_before_minimum) == (0, D("0.00"))


def test_accrue_from_continues_after_an_earlier_assessment():
    # already assessed through 06-10; 06-11..06-20 = 10 days x 250.00 x 1‰ = 2.50
    quote = late_fee_calculate(
        base_amount=D("250.00"),
        due_date=datetime.date(2025, 5, 31),
        through=datetime.date(2025, 6, 20),
        accrue_from=datetime.date(2025, 6, 11),
        **RESIDENTIAL,
    )
    assert (quote.days, quote.amount_before_minimum) == (10, D("2.50"))


def test_rounding_is_once_at_the_end_half_up():
    # 33.35 x 1‰ x 3 = 0.10005 -> 0.10 ; 33.35 x 1‰ x 15 = 0.50025 -> 0.50 ; 1.00 x 2‰ x 25 = 0.05
    due = datetime.date(2025, 1, 31)

    def fee(base, days, rates):
        quote = late_fee_calculate(base_amount=D(base), due_date=due, through=due + datetime.timedelta(days=days), **rates)
        return quote.amount_before_minimum

    assert (fee("33.35", 3, RESIDENTIAL), fee("33.35", 15, RESIDENTIAL), fee("1.00", 25, NON_RESIDENTIAL)) == (
        D("0.10"),
        D("0.50"),
        D("0.05"),
    )


@pytest.mark.django_db
class TestAssess:
    def setup_method(self):
        policies_set()

    def test_assessment_posts_the_fee_and_is_idempotent(self):
        account = AccountFactory()
        bill = bill_charge(account=account, period=datetime.date(2025, 5, 1), total="100.00", due_date=datetime.date(2025, 5, 31))
        fees = late_fees_assess(account=account, through=datetime.date(2025, 6, 10))
        # 100.00 x 1‰ x 10 = 1.00
        assert [(f.bill_id, f.days, f.base_amount, f.amount) for f in fees] == [(bill.pk, 10, D("100.00"), D("1.00"))]
        assert account.balance == D("101.00")
        assert late_fees_assess(account=account, through=datetime.date(2025, 6, 10)) == []
        account.refresh_from_db()
        assert account.balance == D("101.00")
        assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.LATE_FEE).count() == 1

    def test_minimum_applies_to_the_assessment_total_on_the_oldest_row(self):
        account = AccountFactory()
        older = bill_charge(account=account, period=datetime.date(2025, 4, 1), total="30.00", due_date=datetime.date(2025, 5, 31))
        newer = bill_charge(account=account, period=datetime.date(2025, 5, 1), total="40.00", due_date=datetime.date(2025, 6, 2))
        fees = late_fees_assess(account=account, through=datetime.date(2025, 6, 5))
        # older: 30.00 x 1‰ x 5 = 0.15; newer: 40.00 x 1‰ x 3 = 0.12; total 0.27 < 1.00 -> older carries 0.73 more
        assert [(f.bill_id, f.amount) for f in fees] == [(older.pk, D("0.88")), (newer.pk, D("0.12"))]
        account.refresh_from_db()
        assert account.balance == D("71.00")

    def test_second_assessment_continues_from_the_last_day(self):
        account = AccountFactory(category=CustomerCategory.NON_RESIDENTIAL)
        bill_charge(account=account, period=datetime.date(2025, 11, 1), total="1000.00", due_date=datetime.date(2025, 12, 20))
        first = late_fees_assess(account=account, through=datetime.date(2025, 12, 31))
        second = late_fees_assess(account=account, through=datetime.date(2026, 1, 10))
        # 11 days x 2‰ x 1000.00 = 22.00, then 10 days x 3‰ x 1000.00 = 30.00
        assert [(f.accrued_from, f.days, f.amount) for f in first + second] == [
            (datetime.date(2025, 12, 21), 11, D("22.00")),
            (datetime.date(2026, 1, 1), 10, D("30.00")),
        ]
        account.refresh_from_db()
        assert account.balance == D("1052.00")

    def test_paid_or_not_yet_due_bills_accrue_nothing(self):
        account = AccountFactory()
        bill_charge(account=account, period=datetime.date(2025, 5, 1), total="100.00", due_date=datetime.date(2025, 6, 30))
        assert late_fees_assess(account=account, through=datetime.date(2025, 6, 30)) == []
        assert LateFee.objects.count() == 0

    def test_missing_policy_is_a_clear_error_and_changes_nothing(self):
        CollectionPolicy.objects.filter(category=CustomerCategory.AGRICULTURAL).delete()
        account = AccountFactory(category=CustomerCategory.AGRICULTURAL)
        bill_charge(account=account, period=datetime.date(2025, 5, 1), total="100.00", due_date=datetime.date(2025, 5, 31))
        entries = LedgerEntry.objects.count()
        with pytest.raises(CollectionPolicyMissing) as error:
            late_fees_assess(account=account, through=datetime.date(2025, 6, 10))
        assert str(error.value) == "该用电类别未配置催收政策，无法计算违约金"
        assert (LedgerEntry.objects.count(), LateFee.objects.count()) == (entries, 0)


@pytest.mark.django_db
class TestWaive:
    def setup_method(self):
        policies_set()
        self.user = get_user_model().objects.create_user(username="稽查员", password="x")
        self.account = AccountFactory()
        bill_charge(account=self.account, period=datetime.date(2025, 5, 1), total="500.00", due_date=datetime.date(2025, 5, 31))
        # 500.00 x 1‰ x 10 = 5.00
        (self.fee,) = late_fees_assess(account=self.account, through=datetime.date(2025, 6, 10))

    def test_waiver_records_who_and_why(self):
        entry = late_fee_waive(late_fee=self.fee, amount="2.00", user=self.user, reason="系统故障导致无法缴费")
        self.fee.refresh_from_db()
        self.account.refresh_from_db()
        assert (entry.kind, entry.amount, entry.balance_after, entry.created_by) == (
            LedgerEntry.Kind.LATE_FEE_WAIVER, D("-2.00"), D("503.00"), self.user
        )
        assert (self.fee.amount_waived, self.fee.outstanding, self.fee.waived_by, self.fee.waive_reason) == (
            D("2.00"), D("3.00"), self.user, "系统故障导致无法缴费"
        )
        assert self.account.balance == D("503.00")

    @pytest.mark.parametrize(
        ("amount", "reason", "with_user", "message"),
        [
            ("5.01", "多收", True, "减免金额不能超过违约金未收金额"),
            ("1.00", "  ", True, "请填写减免原因"),
            ("1.00", "多收", False, "减免须记录经办人"),
            ("0", "多收", True, "金额必须大于零"),
            (1.5, "多收", True, "金额必须是精确的十进制数"),
        ],
    )
    def test_bad_waivers_change_nothing(self, amount, reason, with_user, message):
        entries = LedgerEntry.objects.count()
        with pytest.raises(LateFeeError) as error:
            late_fee_waive(late_fee=self.fee, amount=amount, user=self.user if with_user else None, reason=reason)
        assert str(error.value) == message
        self.fee.refresh_from_db()
        self.account.refresh_from_db()
        assert (LedgerEntry.objects.count(), self.fee.amount_waived, self.account.balance) == (entries, D("0.00"), D("505.00"))
