"""Random sequences of charges, payments, reversals, waivers, assessments and releases keep the books whole."""
import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from core.errors import IdempotencyConflict, LateFeeError, PaymentAlreadyReversed
from core.models import Account, Bill, LateFee, LedgerEntry, Payment, PaymentAllocation
from core.models.customers import CustomerCategory
from core.money import ZERO, to_money
from core.services.late_fees import late_fee_waive, late_fees_assess
from core.services.ledger import account_lock
from core.services.payments import LOCAL_TZ, account_allocate, bill_allocations_release, payment_post, payment_reverse
from tests.core.test_late_fees import bill_charge, policies_set
from tests.factories import AccountFactory

def yuan(max_cents: int):
    return st.integers(min_value=1, max_value=max_cents).map(lambda n: Decimal(n).scaleb(-2))


days = st.integers(min_value=0, max_value=60)
bill_op = st.tuples(st.just("bill"), days, yuan(100_000), st.integers(min_value=5, max_value=40))
# Every sequence opens with bills and payments are smaller than bills, so arrears, late fees, partial
# payments, waivers and reversals of allocated money are common rather than lucky.
operations = st.tuples(
    st.lists(bill_op, min_size=1, max_size=3),
    st.lists(
        st.one_of(
            bill_op,
            st.tuples(st.just("pay"), days, yuan(40_000), st.integers(min_value=0, max_value=4)),
            st.tuples(st.just("assess"), days),
            # Waive a share (in percent) of a fee's outstanding amount; above 100 must be refused.
            st.tuples(st.just("waive"), st.integers(min_value=0, max_value=2), st.integers(min_value=1, max_value=120)),
            st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=3)),
            st.tuples(st.just("release"), st.integers(min_value=0, max_value=3)),
            st.tuples(st.just("allocate")),
        ),
        min_size=3,
        max_size=14,
    ),
).map(lambda parts: parts[0] + parts[1])


def two_places(value: Decimal) -> bool:
    return value.as_tuple().exponent >= -2


class LedgerPropertyTest(TestCase):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        category=st.sampled_from([CustomerCategory.RESIDENTIAL, CustomerCategory.NON_RESIDENTIAL]),
        ops=operations,
    )
    def test_random_sequences_keep_the_books_whole(self, category, ops):
        policies_set()
        user = get_user_model().objects.create_user(username="auditor", password="x")
        account = AccountFactory(category=category)
        today = datetime.date(2024, 11, 1)
        month = datetime.date(2024, 10, 1)
        for op in ops:
            kind = op[0]
            reallocated = True
            if kind == "bill":
                _, advance, total, term = op
                today += datetime.timedelta(days=advance)
                month = (month + datetime.timedelta(days=32)).replace(day=1)
                bill_charge(account=account, period=month, total=str(total), due_date=today + datetime.timedelta(days=term))
                # As the billing engine does after issuing a bill: prepaid credit offsets it.
                with transaction.atomic():
                    account_allocate(account=account_lock(account_id=account.pk))
            elif kind == "pay":
                _, advance, amount, key = op
                today += datetime.timedelta(days=advance)
                received = datetime.datetime.combine(today, datetime.time(10), tzinfo=LOCAL_TZ)
                previous = Payment.objects.filter(idempotency_key=f"key-{key}").first()
                if previous is not None and (previous.amount != amount):
                    before = self.snapshot(account)
                    with self.assertRaises(IdempotencyConflict):
                        payment_post(
                            account=account, amount=amount, channel="online", idempotency_key=f"key-{key}", received_at=received
                        )
                    self.assertEqual(self.snapshot(account), before)
                    reallocated = False
                else:
                    result = payment_post(
                        account=account, amount=amount, channel="online", idempotency_key=f"key-{key}", received_at=received
                    )
                    self.assertEqual(result.created, previous is None)
                    # A replayed payment changes nothing, so it runs no allocation pass either.
                    reallocated = result.created
            elif kind == "reverse":
                payment = Payment.objects.filter(account=account).order_by("id")[op[1] : op[1] + 1].first()
                if payment is None:
                    continue
                if payment.status == Payment.Status.REVERSED:
                    before = self.snapshot(account)
                    with self.assertRaises(PaymentAlreadyReversed):
                        payment_reverse(payment=payment, user=user, reason="测试冲正")
                    self.assertEqual(self.snapshot(account), before)
                    reallocated = False
                else:
                    payment_reverse(payment=payment, user=user, reason="测试冲正")
            elif kind == "waive":
                fee = LateFee.objects.filter(account=account).order_by("id")[op[1] : op[1] + 1].first()
                amount = to_money(fee.outstanding * op[2] / 100) if fee else ZERO
                if amount <= 0:
                    continue
                if amount > fee.outstanding:
                    before = self.snapshot(account)
                    with self.assertRaises(LateFeeError):
                        late_fee_waive(late_fee=fee, amount=amount, user=user, reason="测试减免")
                    self.assertEqual(self.snapshot(account), before)
                else:
                    late_fee_waive(late_fee=fee, amount=amount, user=user, reason="测试减免")
                reallocated = False
            elif kind == "assess":
                today += datetime.timedelta(days=op[1])
                late_fees_assess(account=account, through=today)
                reallocated = False
            elif kind == "release":
                bill = Bill.objects.filter(account=account).order_by("id")[op[1] : op[1] + 1].first()
                if bill is None:
                    continue
                with transaction.atomic():
                    account_lock(account_id=account.pk)
                    bill_allocations_release(bill=bill)
                reallocated = False
            else:
                with transaction.atomic():
                    account_allocate(account=account_lock(account_id=account.pk))
            self.assert_books_whole(account, reallocated=reallocated)
        # Shown by --hypothesis-show-statistics: proof the sequences reach the interesting states.
        event(f"late fees: {min(LateFee.objects.filter(account=account).count(), 3)}")
        event(f"reversed payments: {min(Payment.objects.filter(status=Payment.Status.REVERSED).count(), 2)}")
        event(f"waived: {LateFee.objects.filter(amount_waived__gt=0).exists()}")

    def snapshot(self, account):
        return (
            Account.objects.get(pk=account.pk).balance,
            LedgerEntry.objects.count(),
            Payment.objects.count(),
            PaymentAllocation.objects.count(),
            LateFee.objects.count(),
        )

    def assert_books_whole(self, account, *, reallocated):
        account = Account.objects.get(pk=account.pk)
        entries = LedgerEntry.objects.filter(account=account)
        last = entries.order_by("-id").first()
        # Summed in Python: SQLite sums decimals as floats.
        self.assertEqual(sum(entries.values_list("amount", flat=True), ZERO), account.balance)
        self.assertEqual(last.balance_after if last else ZERO, account.balance)

        bills = list(Bill.objects.filter(account=account))
        fees = list(LateFee.objects.filter(account=account))
        payments = list(Payment.objects.filter(account=account))
        posted = [p for p in payments if p.status == Payment.Status.POSTED]
        open_items = sum((b.outstanding for b in bills), ZERO) + sum((f.outstanding for f in fees), ZERO)
        credit = sum((p.unallocated for p in posted), ZERO)
        self.assertEqual(open_items - credit, account.balance)

        for payment in payments:
            allocated = sum(payment.allocations.values_list("amount", flat=True), ZERO)
            expected = payment.amount if payment.status == Payment.Status.POSTED else ZERO
            self.assertEqual(allocated + payment.unallocated, expected)
            self.assertGreaterEqual(payment.unallocated, ZERO)
        for bill in bills:
            self.assertGreaterEqual(bill.outstanding, ZERO)
            self.assertGreaterEqual(bill.amount_paid, ZERO)
        for fee in fees:
            self.assertGreaterEqual(fee.outstanding, ZERO)
            self.assertGreaterEqual(fee.amount_paid, ZERO)
        if reallocated:
            # After an allocation pass, credit and open items never coexist.
            self.assertTrue(credit == 0 or open_items == 0, (credit, open_items))

        values = [account.balance]
        values += [v for e in entries for v in (e.amount, e.balance_after)]
        values += [v for b in bills for v in (b.total, b.amount_paid)]
        values += [v for f in fees for v in (f.amount, f.amount_paid, f.amount_waived, f.base_amount)]
        values += [v for p in payments for v in (p.amount, p.unallocated)]
        values += list(PaymentAllocation.objects.filter(payment__account=account).values_list("amount", flat=True))
        self.assertTrue(all(two_places(v) for v in values))
