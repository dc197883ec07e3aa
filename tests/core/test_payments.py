import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from core.errors import IdempotencyConflict, InvalidPaymentAmount, PaymentAlreadyReversed, PaymentError
from core.models import Bill, LateFee, LedgerEntry, Payment, PaymentAllocation
from core.models.customers import CustomerCategory
from core.selectors.accounts import AmountDue, account_amount_due, account_statement
from core.services import payments as payments_module
from core.services.ledger import account_lock
from core.services.payments import account_allocate, bill_allocations_release, payment_post, payment_reverse
from tests.core.test_late_fees import bill_charge, policies_set
from tests.factories import AccountFactory

D = Decimal
SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = datetime.timezone.utc
pytestmark = pytest.mark.django_db


def at(year, month, day, hour=10, minute=0, tz=SHANGHAI) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=tz)


def pay(account, amount, key, received_at, **extra):
    return payment_post(
        account=account, amount=amount, channel=Payment.Channel.COUNTER, idempotency_key=key, received_at=received_at, **extra
    )


def allocations(payment):
    return [
        ("fee" if a.late_fee_id else a.bill.period.strftime("%Y-%m"), a.amount)
        for a in payment.allocations.select_related("bill").order_by("id")
    ]


def expected_due(*, bills, fees, accruing, prepaid, total) -> AmountDue:
    return AmountDue(D(bills), D(fees), D(accruing), D(prepaid), D(total))


def row_counts():
    return tuple(m.objects.count() for m in (Payment, LedgerEntry, LateFee, PaymentAllocation))


@pytest.fixture(autouse=True)
def _policies():
    policies_set()


@pytest.fixture
def user():
    return get_user_model().objects.create_user(username="营业员", password="x")


def test_residential_ten_days_late_pays_fee_then_bill():
    account = AccountFactory()
    bill = bill_charge(account=account, period=datetime.date(2025, 5, 1), total="100.00", due_date=datetime.date(2025, 5, 31))
    result = pay(account, "101.00", "k1", at(2025, 6, 10))
    # 100.00 x 1‰ x 10 days (06-01..06-10) = 1.00, settled before the bill
    payment = result.payment
    assert result.created is True
    assert allocations(payment) == [("fee", D("1.00")), ("2025-05", D("100.00"))]
    bill.refresh_from_db()
    account.refresh_from_db()
    assert (bill.amount_paid, bill.state, payment.unallocated, account.balance) == (
        D("100.00"), Bill.State.PAID, D("0.00"), D("0.00")
    )
    assert [(e.kind, e.amount, e.balance_after) for e in account_statement(account=account)] == [
        (LedgerEntry.Kind.PAYMENT, D("-101.00"), D("0.00")),
        (LedgerEntry.Kind.LATE_FEE, D("1.00"), D("101.00")),
        (LedgerEntry.Kind.BILL, D("100.00"), D("100.00")),
    ]


def test_small_fee_is_charged_the_one_yuan_minimum():
    account = AccountFactory()
    bill_charge(account=account, period=datetime.date(2025, 5, 1), total="30.00", due_date=datetime.date(2025, 5, 31))
    pay(account, "30.00", "k1", at(2025, 6, 5))
    # 30.00 x 1‰ x 5 = 0.15 < 1.00 -> 1.00; the 30.00 pays the fee first, the bill keeps 1.00 owed
    fee = LateFee.objects.get()
    account.refresh_from_db()
    assert (fee.days, fee.amount, fee.amount_paid, account.balance) == (5, D("1.00"), D("1.00"), D("1.00"))


def test_non_residential_across_the_new_year():
    account = AccountFactory(category=CustomerCategory.NON_RESIDENTIAL)
    bill_charge(account=account, period=datetime.date(2025, 11, 1), total="1000.00", due_date=datetime.date(2025, 12, 20))
    pay(account, "1052.00", "k1", at(2026, 1, 10))
    # 11 days x 2‰ x 1000.00 = 22.00 (12-21..12-31) + 10 days x 3‰ x 1000.00 = 30.00 (01-01..01-10) = 52.00
    fee = LateFee.objects.get()
    account.refresh_from_db()
    assert (fee.days, fee.amount, account.balance) == (21, D("52.00"), D("0.00"))


def test_leap_year_counts_february_29():
    account = AccountFactory()
    bill_charge(account=account, period=datetime.date(2024, 1, 1), total="2000.00", due_date=datetime.date(2024, 2, 28))
    pay(account, "2004.00", "k1", at(2024, 3, 1))
    # 02-29 and 03-01 = 2 days x 2000.00 x 1‰ = 4.00
    fee = LateFee.objects.get()
    assert (fee.accrued_from, fee.days, fee.amount) == (datetime.date(2024, 2, 29), 2, D("4.00"))


def test_on_time_payment_has_no_fee():
    account = AccountFactory()
    bill_charge(account=account, period=datetime.date(2025, 5, 1), total="100.00", due_date=datetime.date(2025, 5, 31))
    # 15:59 UTC on 05-31 is 23:59 in Shanghai: still the due date
    pay(account, "100.00", "k1", at(2025, 5, 31, 15, 59, tz=UTC))
    account.refresh_from_db()
    assert (LateFee.objects.count(), account.balance) == (0, D("0.00"))


def test_late_fee_day_is_the_shanghai_day():
    account = AccountFactory()
    bill_charge(account=account, period=datetime.date(2025, 5, 1), total="500.00", due_date=datetime.date(2025, 5, 31))
    # 16:30 UTC on 05-31 is 00:30 on 06-01 in Shanghai: 1 day x 500.00 x 1‰ = 0.50 -> minimum 1.00
    pay(account, "501.00", "k1", at(2025, 5, 31, 16, 30, tz=UTC))
    fee = LateFee.objects.get()
    assert (fee.days, fee.amount) == (1, D("1.00"))


def test_allocation_order_fee_oldest_bill_newer_bill_then_prepaid():
    account = AccountFactory()
    april = bill_charge(account=account, period=datetime.date(2025, 4, 1), total="80.00", due_date=datetime.date(2025, 5, 31))
    may = bill_charge(account=account, period=datetime.date(2025, 5, 1), total="120.00", due_date=datetime.date(2025, 6, 30))
    payment = pay(account, "250.00", "k1", at(2025, 6, 10)).payment
    # April: 80.00 x 1‰ x 10 = 0.80 -> minimum 1.00; May not yet due. 250.00 - 1.00 - 80.00 - 120.00 = 49.00 prepaid
    assert allocations(payment) == [("fee", D("1.00")), ("2025-04", D("80.00")), ("2025-05", D("120.00"))]
    april.refresh_from_db()
    may.refresh_from_db()
    account.refresh_from_db()
    assert (april.state, may.state, payment.unallocated, account.balance) == (
        Bill.State.PAID, Bill.State.PAID, D("49.00"), D("-49.00")
    )


def test_partial_payment_leaves_the_newer_bill_open():
    account = AccountFactory()
    april = bill_charge(account=account, period=datetime.date(2025, 4, 1), total="80.00", due_date=datetime.date(2025, 5, 31))
    may = bill_charge(account=account, period=datetime.date(2025, 5, 1), total="120.00", due_date=datetime.date(2025, 6, 30))
    payment = pay(account, "50.00", "k1", at(2025, 6, 10)).payment
    # fee 1.00 (minimum), then 49.00 of April's 80.00; May untouched
    assert allocations(payment) == [("fee", D("1.00")), ("2025-04", D("49.00"))]
    april.refresh_from_db()
    may.refresh_from_db()
    assert (april.amount_paid, april.outstanding, may.amount_paid) == (D("49.00"), D("31.00"), D("0.00"))


def test_prepaid_credit_offsets_the_next_bill():
    account = AccountFactory()
    payment = pay(account, "100.00", "k1", at(2025, 5, 20)).payment
    assert payment.unallocated == D("100.00")
    june = bill_charge(account=account, period=datetime.date(2025, 6, 1), total="30.00", due_date=datetime.date(2025, 7, 1))
    with transaction.atomic():
        account_allocate(account=account_lock(account_id=account.pk))
    payment.refresh_from_db()
    june.refresh_from_db()
    account.refresh_from_db()
    # 100.00 - 30.00 = 70.00 credit left; balance -100.00 + 30.00 = -70.00
    assert (june.state, june.amount_paid, payment.unallocated, account.balance) == (
        Bill.State.PAID, D("30.00"), D("70.00"), D("-70.00")
    )


def test_older_payment_credit_is_used_first():
    account = AccountFactory()
    first = pay(account, "20.00", "k1", at(2025, 5, 1)).payment
    second = pay(account, "20.00", "k2", at(2025, 5, 2)).payment
    bill_charge(account=account, period=datetime.date(2025, 5, 1), total="30.00", due_date=datetime.date(2025, 6, 30))
    with transaction.atomic():
        account_allocate(account=account_lock(account_id=account.pk))
    first.refresh_from_db()
    second.refresh_from_db()
    # 20.00 from the first, 10.00 from the second
    assert (first.unallocated, second.unallocated) == (D("0.00"), D("10.00"))


def test_reversal_restores_everything(user):
    account = AccountFactory()
    april = bill_charge(account=account, period=datetime.date(2025, 4, 1), total="80.00", due_date=datetime.date(2025, 5, 31))
    may = bill_charge(account=account, period=datetime.date(2025, 5, 1), total="120.00", due_date=datetime.date(2025, 6, 30))
    payment = pay(account, "250.00", "k1", at(2025, 6, 10)).payment
    entry = payment_reverse(payment=payment, user=user, reason="银行退票")
    # 80.00 + 120.00 + fee 1.00 - 250.00 + 250.00 = 201.00
    assert (entry.kind, entry.amount, entry.balance_after, entry.created_by) == (
        LedgerEntry.Kind.PAYMENT_REVERSAL, D("250.00"), D("201.00"), user
    )
    payment.refresh_from_db()
    april.refresh_from_db()
    may.refresh_from_db()
    fee = LateFee.objects.get()
    assert (payment.status, payment.reversal_reason, payment.unallocated) == (Payment.Status.REVERSED, "银行退票", D("0.00"))
    # Taken back newest first, as a part is.
    assert allocations(payment)[3:] == [("2025-05", D("-120.00")), ("2025-04", D("-80.00")), ("fee", D("-1.00"))]
    assert (april.amount_paid, april.state, may.amount_paid, fee.amount_paid) == (
        D("0.00"), Bill.State.OVERDUE, D("0.00"), D("0.00")
    )
    with pytest.raises(PaymentAlreadyReversed) as error:
        payment_reverse(payment=payment, user=user, reason="再次冲正")
    assert str(error.value) == "该笔缴费已冲正"
    account.refresh_from_db()
    assert account.balance == D("201.00")


def test_reversal_lets_other_credit_pay_what_reopened(user):
    account = AccountFactory()
    bill = bill_charge(account=account, period=datetime.date(2025, 5, 1), total="60.00", due_date=datetime.date(2025, 6, 30))
    paid = pay(account, "60.00", "k1", at(2025, 6, 1)).payment
    credit = pay(account, "40.00", "k2", at(2025, 6, 2)).payment
    payment_reverse(payment=paid, user=user, reason="重复入账")
    credit.refresh_from_db()
    bill.refresh_from_db()
    account.refresh_from_db()
    # the 40.00 credit now pays the re-opened bill: 60.00 - 40.00 = 20.00 owed
    assert (credit.unallocated, bill.amount_paid, account.balance) == (D("0.00"), D("40.00"), D("20.00"))


def test_reversal_needs_a_reason(user):
    account = AccountFactory()
    payment = pay(account, "10.00", "k1", at(2025, 6, 1)).payment
    before = row_counts()
    with pytest.raises(PaymentError) as error:
        payment_reverse(payment=payment, user=user, reason=" ")
    assert str(error.value) == "请填写冲正原因"
    payment.refresh_from_db()
    assert (row_counts(), payment.status) == (before, Payment.Status.POSTED)


def reversed_so_far(payment):
    return list(LedgerEntry.objects.filter(payment=payment, kind=LedgerEntry.Kind.PAYMENT_REVERSAL)
                .order_by("id").values_list("amount", flat=True))


def paid_fee_april_may_with_credit():
    """250.00 received 06-10: April's late fee 1.00, April 80.00, May 120.00, then 49.00 prepaid credit."""
    account = AccountFactory()
    april = bill_charge(account=account, period=datetime.date(2025, 4, 1), total="80.00", due_date=datetime.date(2025, 5, 31))
    may = bill_charge(account=account, period=datetime.date(2025, 5, 1), total="120.00", due_date=datetime.date(2025, 6, 30))
    payment = pay(account, "250.00", "k1", at(2025, 6, 10)).payment
    return account, april, may, payment


def test_a_part_takes_back_the_credit_then_the_newest_allocation_by_exactly_that_much(user):
    account, april, may, payment = paid_fee_april_may_with_credit()
    entry = payment_reverse(payment=payment, amount=D("100.00"), user=user, reason="部分退款")
    # 49.00 of credit, then 51.00 of May (the newest); April and its fee stay paid. 201.00 - 250.00 + 100.00 = 51.00
    assert (entry.kind, entry.amount, entry.balance_after, entry.memo, entry.created_by) == (
        LedgerEntry.Kind.PAYMENT_REVERSAL, D("100.00"), D("51.00"), "部分退款", user
    )
    assert (payment.status, payment.reversal_reason, payment.unallocated) == (Payment.Status.POSTED, "", D("0.00"))
    assert allocations(payment)[3:] == [("2025-05", D("-51.00"))]
    april.refresh_from_db()
    may.refresh_from_db()
    assert (april.amount_paid, april.state, may.amount_paid, may.state, LateFee.objects.get().amount_paid) == (
        D("80.00"), Bill.State.PAID, D("69.00"), Bill.State.OVERDUE, D("1.00")
    )
    account.refresh_from_db()
    assert account.balance == D("51.00")


def test_a_part_reaches_the_newest_allocation_first_even_on_an_older_bill(user):
    account = AccountFactory()
    payment = pay(account, "100.00", "k1", at(2025, 5, 20)).payment
    june = bill_charge(account=account, period=datetime.date(2025, 6, 1), total="30.00", due_date=datetime.date(2099, 7, 1))
    with transaction.atomic():
        account_allocate(account=account_lock(account_id=account.pk))
    may = bill_charge(account=account, period=datetime.date(2025, 5, 1), total="50.00", due_date=datetime.date(2099, 6, 1))
    with transaction.atomic():
        account_allocate(account=account_lock(account_id=account.pk))
    assert allocations(payment) == [("2025-06", D("30.00")), ("2025-05", D("50.00"))]
    # 20.00 of credit, then May (allocated last though the older period) 50.00, then 5.00 of June.
    payment_reverse(payment=payment, amount=D("75.00"), user=user, reason="部分退款")
    assert allocations(payment)[2:] == [("2025-05", D("-50.00")), ("2025-06", D("-5.00"))]
    june.refresh_from_db()
    may.refresh_from_db()
    assert (june.amount_paid, june.state, may.amount_paid, may.state, payment.unallocated) == (
        D("25.00"), Bill.State.PARTLY_PAID, D("0.00"), Bill.State.ISSUED, D("0.00")
    )


def test_a_part_then_the_rest_reverses_the_payment_once_in_all(user):
    account, april, may, payment = paid_fee_april_may_with_credit()
    payment_reverse(payment=payment, amount="100.00", user=user, reason="部分退款")
    entry = payment_reverse(payment=payment, amount="150.00", user=user, reason="余额退款")
    assert (entry.amount, entry.balance_after) == (D("150.00"), D("201.00"))
    assert reversed_so_far(payment) == [D("100.00"), D("150.00")]
    assert (payment.status, payment.reversal_reason, payment.unallocated) == (Payment.Status.REVERSED, "余额退款", D("0.00"))
    assert allocations(payment)[3:] == [
        ("2025-05", D("-51.00")), ("2025-05", D("-69.00")), ("2025-04", D("-80.00")), ("fee", D("-1.00"))
    ]
    april.refresh_from_db()
    may.refresh_from_db()
    assert (april.amount_paid, may.amount_paid, LateFee.objects.get().amount_paid) == (D("0.00"), D("0.00"), D("0.00"))
    with pytest.raises(PaymentAlreadyReversed):
        payment_reverse(payment=payment, amount="0.01", user=user, reason="再次退款")


def test_the_whole_reversal_after_a_part_reverses_only_what_is_left(user):
    account, april, may, payment = paid_fee_april_may_with_credit()
    payment_reverse(payment=payment, amount=D("100.00"), user=user, reason="部分退款")
    entry = payment_reverse(payment=payment, user=user, reason="柜台冲正")
    assert (entry.amount, entry.balance_after) == (D("150.00"), D("201.00"))
    assert reversed_so_far(payment) == [D("100.00"), D("150.00")]
    assert (payment.status, payment.reversal_reason, payment.unallocated) == (Payment.Status.REVERSED, "柜台冲正", D("0.00"))
    april.refresh_from_db()
    may.refresh_from_db()
    assert (april.state, may.amount_paid, LateFee.objects.get().amount_paid) == (Bill.State.OVERDUE, D("0.00"), D("0.00"))
    account.refresh_from_db()
    assert account.balance == D("201.00")
    with pytest.raises(PaymentAlreadyReversed):
        payment_reverse(payment=payment, user=user, reason="再次冲正")
    assert reversed_so_far(payment) == [D("100.00"), D("150.00")]


@pytest.mark.parametrize("amount", ["250.01", "1000.00"])
def test_never_more_than_the_payment_is_reversed(user, amount):
    account, _april, _may, payment = paid_fee_april_may_with_credit()
    with pytest.raises(InvalidPaymentAmount) as error:
        payment_reverse(payment=payment, amount=amount, user=user, reason="超额冲正")
    assert str(error.value) == "金额超出允许范围"
    payment_reverse(payment=payment, amount="200.00", user=user, reason="部分退款")
    before = row_counts()
    with pytest.raises(InvalidPaymentAmount) as error:
        payment_reverse(payment=payment, amount="50.01", user=user, reason="超额冲正")
    assert str(error.value) == "金额超出允许范围"
    payment.refresh_from_db()
    assert (row_counts(), payment.status, reversed_so_far(payment)) == (before, Payment.Status.POSTED, [D("200.00")])


@pytest.mark.parametrize("amount", [D("0"), "-5.00", "1.001", 1.5])
def test_a_part_must_be_a_positive_amount_in_fen(user, amount):
    account, _april, _may, payment = paid_fee_april_may_with_credit()
    before = row_counts()
    with pytest.raises(InvalidPaymentAmount):
        payment_reverse(payment=payment, amount=amount, user=user, reason="部分退款")
    assert row_counts() == before


def test_a_part_lets_other_credit_pay_what_reopened(user):
    account = AccountFactory()
    bill = bill_charge(account=account, period=datetime.date(2025, 5, 1), total="60.00", due_date=datetime.date(2025, 6, 30))
    paid = pay(account, "60.00", "k1", at(2025, 6, 1)).payment
    credit = pay(account, "40.00", "k2", at(2025, 6, 2)).payment
    payment_reverse(payment=paid, amount=D("30.00"), user=user, reason="部分退款")
    credit.refresh_from_db()
    bill.refresh_from_db()
    account.refresh_from_db()
    # 30.00 of the bill re-opened, paid again from the 40.00 credit: 10.00 credit left; 60 - 60 - 40 + 30 = -10.00
    assert (paid.unallocated, credit.unallocated, bill.amount_paid, bill.state, account.balance) == (
        D("0.00"), D("10.00"), D("60.00"), Bill.State.PAID, D("-10.00")
    )
    assert allocations(credit) == [("2025-05", D("30.00"))]


def test_release_returns_a_bills_money_to_its_payments_as_credit():
    account = AccountFactory()
    bill = bill_charge(account=account, period=datetime.date(2025, 5, 1), total="90.00", due_date=datetime.date(2025, 6, 30))
    first = pay(account, "50.00", "k1", at(2025, 6, 1)).payment
    second = pay(account, "60.00", "k2", at(2025, 6, 2)).payment
    with transaction.atomic():
        account_lock(account_id=account.pk)
        released = bill_allocations_release(bill=bill)
    first.refresh_from_db()
    second.refresh_from_db()
    bill.refresh_from_db()
    account.refresh_from_db()
    # 50.00 from the first and 40.00 from the second come back; the second kept 20.00 already
    assert released == D("90.00")
    assert (first.unallocated, second.unallocated, bill.amount_paid, bill.outstanding) == (
        D("50.00"), D("60.00"), D("0.00"), D("90.00")
    )
    assert account.balance == D("-20.00")
    assert allocations(second) == [("2025-05", D("40.00")), ("2025-05", D("-40.00"))]


def test_same_key_twice_posts_once():
    account = AccountFactory()
    first = pay(account, "10.00", "bank-20250601-0001", at(2025, 6, 1))
    before = row_counts()
    again = pay(account, D("10.00"), "bank-20250601-0001", at(2025, 6, 1))
    assert (first.created, again.created, again.payment.pk) == (True, False, first.payment.pk)
    assert row_counts() == before


@pytest.mark.parametrize("other", ["amount", "account"])
def test_same_key_other_content_is_a_conflict(other):
    account = AccountFactory()
    pay(account, "10.00", "bank-1", at(2025, 6, 1))
    before = row_counts()
    target = AccountFactory() if other == "account" else account
    with pytest.raises(IdempotencyConflict) as error:
        pay(target, "10.00" if other == "account" else "11.00", "bank-1", at(2025, 6, 1))
    assert str(error.value) == "该幂等键已用于另一笔缴费"
    account.refresh_from_db()
    assert (row_counts(), account.balance) == (before, D("-10.00"))


def test_a_racing_duplicate_that_hits_the_unique_key_returns_the_existing_payment(monkeypatch):
    account = AccountFactory()
    bill_charge(account=account, period=datetime.date(2025, 5, 1), total="100.00", due_date=datetime.date(2025, 5, 31))
    first = pay(account, "101.00", "race", at(2025, 6, 10)).payment
    before = row_counts()
    real = payments_module._payment_existing
    calls = []

    def not_yet_visible(**kwargs):
        # The other transaction has not committed when this one looks, twice; the insert then collides.
        calls.append(1)
        return None if len(calls) <= 2 else real(**kwargs)

    monkeypatch.setattr(payments_module, "_payment_existing", not_yet_visible)
    result = pay(account, "101.00", "race", at(2025, 6, 10))
    account.refresh_from_db()
    assert (result.created, result.payment.pk, len(calls)) == (False, first.pk, 3)
    assert (row_counts(), account.balance) == (before, D("0.00"))


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (12.5, "金额必须是精确的十进制数"),
        (True, "金额必须是精确的十进制数"),
        (None, "金额必须是精确的十进制数"),
        ("abc", "金额格式不正确"),
        ("", "金额格式不正确"),
        ("NaN", "金额格式不正确"),
        ("Infinity", "金额格式不正确"),
        ("0", "金额必须大于零"),
        ("-5.00", "金额必须大于零"),
        ("1.001", "金额最多保留两位小数"),
        ("10000000000.00", "金额超出允许范围"),
        ("1e12", "金额超出允许范围"),
    ],
)
def test_bad_amounts_are_refused_and_change_nothing(amount, message):
    account = AccountFactory()
    bill_charge(account=account, period=datetime.date(2025, 5, 1), total="100.00", due_date=datetime.date(2025, 5, 31))
    before = row_counts()
    with pytest.raises(InvalidPaymentAmount) as error:
        pay(account, amount, "k1", at(2025, 6, 10))
    assert (str(error.value), error.value.field) == (message, "amount")
    account.refresh_from_db()
    assert (row_counts(), account.balance) == (before, D("100.00"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("channel", "cash-in-envelope", "缴费渠道无效"),
        ("idempotency_key", "  ", "幂等键不能为空且不超过100个字符"),
        ("idempotency_key", "k" * 101, "幂等键不能为空且不超过100个字符"),
        ("external_reference", "r" * 101, "外部流水号不超过100个字符"),
        ("received_at", datetime.datetime(2025, 6, 10, 10, 0), "收款时间必须带时区"),
    ],
)
def test_bad_payment_fields_are_refused_and_change_nothing(field, value, message):
    account = AccountFactory()
    bill_charge(account=account, period=datetime.date(2025, 5, 1), total="100.00", due_date=datetime.date(2025, 5, 31))
    kwargs = {
        "account": account,
        "amount": "100.00",
        "channel": Payment.Channel.ONLINE,
        "idempotency_key": "k1",
        "received_at": at(2025, 6, 10),
        field: value,
    }
    before = row_counts()
    with pytest.raises(PaymentError) as error:
        payment_post(**kwargs)
    assert (str(error.value), error.value.field) == (message, field)
    assert row_counts() == before


def test_amount_text_with_trailing_zero_is_accepted():
    account = AccountFactory()
    payment = pay(account, " 12.500 ", "k1", at(2025, 6, 1)).payment
    assert payment.amount == D("12.50")


def test_amount_due_includes_fees_accruing_but_not_posted():
    account = AccountFactory()
    bill_charge(account=account, period=datetime.date(2025, 4, 1), total="300.00", due_date=datetime.date(2025, 5, 31))
    pay(account, "101.00", "k1", at(2025, 6, 10))
    # through 06-10: fee 300.00 x 1‰ x 10 = 3.00 posted and paid; 98.00 to the bill -> 202.00 owed
    # as of 06-20: 06-11..06-20 = 10 days x 202.00 x 1‰ = 2.02 accruing
    due = account_amount_due(account=account, as_of=datetime.date(2025, 6, 20))
    assert due == expected_due(bills="202.00", fees="0.00", accruing="2.02", prepaid="0.00", total="204.02")
    # accruing under the minimum shows the minimum: 06-11 alone = 0.20 -> 1.00
    assert account_amount_due(account=account, as_of=datetime.date(2025, 6, 11)).late_fees_accruing == D("1.00")


def test_amount_due_with_only_credit_is_zero():
    account = AccountFactory()
    pay(account, "35.00", "k1", at(2025, 6, 1))
    due = account_amount_due(account=account, as_of=datetime.date(2025, 6, 20))
    assert due == expected_due(bills="0.00", fees="0.00", accruing="0.00", prepaid="35.00", total="0.00")


def test_statement_is_newest_first_and_limited():
    account = AccountFactory()
    for n in range(3):
        pay(account, f"{n + 1}.00", f"k{n}", at(2025, 6, 1 + n))
    assert [e.amount for e in account_statement(account=account, limit=2)] == [D("-3.00"), D("-2.00")]
