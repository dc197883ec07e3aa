"""Set-wise payment posting (core.services.payments_batch): exactly the ledger, payments, late fees, allocations and
bill states that payment_post gives line by line, a fixed number of queries whatever the number of lines, and the
same refusals (naming the line) with nothing written; the bank file imports use it."""
import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from core.models import Account, Bill, CollectionPolicy, LateFee, LedgerEntry, Payment, PaymentAllocation
from core.models.banks import BankBatch
from core.services.bank_exchange import bank_collection_import
from core.services.bank_files import BankFileRejected
from core.services.late_fees import late_fees_assess
from core.services.payments import payment_post
from core.services.payments_batch import PaymentLine, PaymentLineRefused, payments_post_batch
from tests.core.test_bank_exchange import bank_make, csv_file
from tests.core.test_late_fees import bill_charge, policies_set
from tests.factories import AccountFactory, commercial_tou_tariff

D = Decimal
SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db
CHANNEL = Payment.Channel.BANK_COLLECTION


def at(month, day, hour=10) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _policies():
    policies_set()


@pytest.fixture
def world():
    """Accounts in every state a posting meets: prior-year arrears already charged a late fee, a bill not yet due,
    prepaid credit left from earlier, nothing owed, a small arrear under the minimum fee, a business customer."""
    arrears = AccountFactory()
    bill_charge(account=arrears, period=datetime.date(2025, 11, 1), total="200.00",
                due_date=datetime.date(2025, 12, 20))
    bill_charge(account=arrears, period=datetime.date(2025, 12, 1), total="80.00", due_date=datetime.date(2026, 1, 31))
    with transaction.atomic():
        late_fees_assess(account=arrears, through=datetime.date(2026, 1, 5))
    credit = AccountFactory()
    payment_post(account=credit, amount="25.00", channel=Payment.Channel.COUNTER, idempotency_key="earlier-credit",
                 received_at=at(1, 2))
    bill_charge(account=credit, period=datetime.date(2025, 12, 1), total="60.00", due_date=datetime.date(2026, 1, 31))
    nothing = AccountFactory()
    small = AccountFactory()
    bill_charge(account=small, period=datetime.date(2025, 12, 1), total="3.00", due_date=datetime.date(2026, 1, 2))
    business = AccountFactory(tariff=commercial_tou_tariff(), category="non_residential")
    bill_charge(account=business, period=datetime.date(2025, 11, 1), total="500.00",
                due_date=datetime.date(2025, 12, 1))
    payment_post(account=nothing, amount="9.00", channel=Payment.Channel.COUNTER, idempotency_key="posted-before",
                 received_at=at(1, 3))
    return {"arrears": arrears, "credit": credit, "nothing": nothing, "small": small, "business": business}


def lines_for(world) -> list[PaymentLine]:
    return [
        PaymentLine(world["arrears"].pk, "50.00", "k-1", at(1, 10), "S1"),
        PaymentLine(world["credit"].pk, "30.00", "k-2", at(1, 10), "S2"),
        PaymentLine(world["small"].pk, "1.00", "k-3", at(1, 12), "S3"),
        PaymentLine(world["nothing"].pk, "10.00", "k-4", at(1, 12), "S4"),
        PaymentLine(world["nothing"].pk, "9.00", "posted-before", at(1, 12), "S5"),  # posted earlier: a duplicate
        PaymentLine(world["business"].pk, "120.00", "k-6", at(1, 15), "S6"),
        PaymentLine(world["arrears"].pk, "300.00", "k-7", at(1, 20, 23), "S7"),  # pays all, leaves prepaid credit
        PaymentLine(world["nothing"].pk, "10.00", "k-4", at(1, 12), "S4"),  # the same key again in the same lines
        PaymentLine(world["small"].pk, "5.00", "k-9", at(2, 3), "S9"),
        PaymentLine(world["business"].pk, "500.00", "k-10", at(2, 3), "S10"),
    ]


def snapshot() -> dict:
    """Everything a posting writes, named by natural keys (row ids differ between the two ways of posting)."""
    keys = dict(Payment.objects.values_list("pk", "idempotency_key"))
    fees = {fee.pk: (fee.bill.number, fee.accrued_from) for fee in LateFee.objects.select_related("bill")}
    bills = dict(Bill.objects.values_list("pk", "number"))
    accounts = dict(Account.objects.values_list("pk", "number"))
    return {
        "balances": sorted(Account.objects.values_list("number", "balance")),
        "ledger": [
            (accounts[e.account_id], e.kind, e.amount, e.balance_after, bills.get(e.bill_id), keys.get(e.payment_id),
             fees.get(e.late_fee_id), e.memo)
            for e in LedgerEntry.objects.order_by("account_id", "id")
        ],
        "payments": sorted(
            (p.idempotency_key, accounts[p.account_id], p.amount, p.unallocated, p.status, p.channel, p.received_at,
             p.external_reference)
            for p in Payment.objects.all()
        ),
        "late_fees": sorted(
            (bills[f.bill_id], f.accrued_from, f.accrued_to, f.days, f.base_amount, f.amount, f.amount_paid)
            for f in LateFee.objects.all()
        ),
        "allocations": [
            (keys[a.payment_id], bills.get(a.bill_id), fees.get(a.late_fee_id), a.amount)
            for a in PaymentAllocation.objects.order_by("payment__idempotency_key", "id")
        ],
        "bills": sorted(Bill.objects.values_list("number", "amount_paid", "state")),
    }


def test_a_batch_writes_exactly_what_payment_post_writes_line_by_line(world):
    lines = lines_for(world)
    with transaction.atomic():
        one_by_one = [
            payment_post(account=Account.objects.get(pk=line.account_id), amount=line.amount, channel=CHANNEL,
                         idempotency_key=line.idempotency_key, received_at=line.received_at,
                         external_reference=line.external_reference)
            for line in lines
        ]
        expected = snapshot()
        expected_results = [(r.payment.idempotency_key, r.created) for r in one_by_one]
        transaction.set_rollback(True)

    with transaction.atomic():
        results = payments_post_batch(lines=lines, channel=CHANNEL)

    assert [(r.payment.idempotency_key, r.created) for r in results] == expected_results == [
        ("k-1", True), ("k-2", True), ("k-3", True), ("k-4", True), ("posted-before", False), ("k-6", True),
        ("k-7", True), ("k-4", False), ("k-9", True), ("k-10", True),
    ]
    assert all(r.payment.pk for r in results)
    assert snapshot() == expected
    # The scenario reaches every path: fees charged (and the minimum), credit used, bills paid, credit left over.
    assert {state for _number, _paid, state in expected["bills"]} == {Bill.State.PAID, Bill.State.OVERDUE}
    assert any(fee[5] == D("1.00") for fee in expected["late_fees"])
    assert Payment.objects.get(idempotency_key="k-7").unallocated > 0
    assert Payment.objects.get(idempotency_key="earlier-credit").unallocated == 0


def test_the_queries_do_not_grow_with_the_lines(django_assert_max_num_queries):
    accounts = [AccountFactory() for _ in range(40)]
    for account in accounts:
        bill_charge(account=account, period=datetime.date(2025, 11, 1), total="100.00",
                    due_date=datetime.date(2025, 12, 20))

    def post(batch, prefix):
        with transaction.atomic():
            return payments_post_batch(channel=CHANNEL, lines=[
                PaymentLine(account.pk, "40.00", f"{prefix}-{account.pk}", at(1, 10)) for account in batch
            ])

    with django_assert_max_num_queries(20) as few:
        post(accounts[:5], "a")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(post(accounts[5:], "b")) == 35
    assert Payment.objects.count() == 40 and LateFee.objects.count() == 40


def test_a_refused_line_is_named_and_the_batch_writes_nothing(world):
    before = snapshot()
    cases = [
        ([PaymentLine(world["nothing"].pk, "10.00", "fine", at(1, 10)),
          PaymentLine(world["nothing"].pk, "0.00", "zero", at(1, 10))], 1, "金额必须大于零"),
        ([PaymentLine(world["credit"].pk, "10.00", "posted-before", at(1, 10))], 0, "该幂等键已用于另一笔缴费"),
        ([PaymentLine(world["credit"].pk, "10.00", "twice", at(1, 10)),
          PaymentLine(world["credit"].pk, "11.00", "twice", at(1, 10))], 1, "该幂等键已用于另一笔缴费"),
        ([PaymentLine(world["credit"].pk, "10.00", "naive", datetime.datetime(2026, 1, 10))], 0, "收款时间必须带时区"),
    ]
    for lines, index, message in cases:
        with pytest.raises(PaymentLineRefused) as refused, transaction.atomic():
            payments_post_batch(lines=lines, channel=CHANNEL)
        assert (refused.value.index, str(refused.value)) == (index, message)
    CollectionPolicy.objects.filter(category="non_residential").delete()
    with pytest.raises(PaymentLineRefused) as refused, transaction.atomic():
        payments_post_batch(channel=CHANNEL, lines=[
            PaymentLine(world["arrears"].pk, "10.00", "ok", at(1, 10)),
            PaymentLine(world["business"].pk, "10.00", "no-policy", at(1, 10)),
        ])
    assert (refused.value.index, str(refused.value)) == (1, "该用电类别未配置催收政策，无法计算违约金")
    assert snapshot() == before


def test_a_collection_file_posts_set_wise_and_a_conflicting_line_refuses_it_whole(world, django_assert_max_num_queries):
    bank = bank_make()
    numbers = [world[name].number for name in ("arrears", "credit", "small", "business")]
    details = [f"D,C{n:04d},{number},,,20.00,20260110103000,0000," for n, number in enumerate(numbers)]
    with django_assert_max_num_queries(30):
        report = bank_collection_import(bank=bank, content=csv_file("CL", "CL1", "20260110", details))
    assert (report.posted, report.posted_amount, report.duplicates) == (4, D("80.00"), 0)
    assert Payment.objects.filter(channel=CHANNEL).count() == 4

    payments = Payment.objects.count()
    clash = [f"D,C0100,{numbers[1]},,,20.00,20260111103000,0000,",
             f"D,C0000,{numbers[0]},,,21.00,20260111103000,0000,"]  # C0000 was posted for 20.00
    with pytest.raises(BankFileRejected) as refused:
        bank_collection_import(bank=bank, content=csv_file("CL", "CL2", "20260111", clash))
    assert str(refused.value) == "银行文件第3行有误，整个文件未处理：该幂等键已用于另一笔缴费"
    assert Payment.objects.count() == payments and not BankBatch.objects.filter(batch_number="CL2").exists()
