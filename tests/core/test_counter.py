"""Counter collection services (营业厅收费): take, reverse, close the day, review; what each refuses."""
import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from core.errors import InvalidPaymentAmount
from core.models import LedgerEntry, Payment, PaymentAllocation
from core.models.counter import CounterMethod, CounterReceipt, CounterSettlement
from core.services.counter import (
    CounterDayClosed,
    CounterEarlierDayOpen,
    CounterInputInvalid,
    CounterNotCashier,
    CounterNothingToSettle,
    CounterPermissionDenied,
    CounterReceiptConflict,
    CounterSettlementMismatch,
    CounterSettlementReviewed,
    counter_day_close,
    counter_day_totals,
    counter_payment_take,
    counter_receipt_reverse,
    counter_settlement_review,
)
from tests.core.counter_factories import accountant_create, at, counter_world
from tests.core.test_late_fees import bill_charge, policies_set
from tests.factories import AccountFactory, ServiceStationFactory

D = Decimal
DAY1 = datetime.date(2026, 11, 20)
DAY2 = datetime.date(2026, 11, 21)
pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    policies_set()
    return counter_world()


@pytest.fixture
def lichuan_account(world):
    """An account of another county than the cashier's outlet: any account of the company may pay anywhere."""
    return AccountFactory(station=ServiceStationFactory(branch=world.lichuan))


def take(world, account, amount, method=CounterMethod.CASH, key="k1", when=None, cashier=None, slip=""):
    return counter_payment_take(
        cashier=cashier or world.cashier, account=account, amount=amount, method=method, idempotency_key=key,
        slip_reference=slip, at=when or at(2026, 11, 20, 9, 30),
    )


def close(world, day, cash="0", bank_slip="0", list_slip="0", cashier=None, deposit=None, when=None):
    return counter_day_close(
        cashier=cashier or world.cashier, business_day=day,
        amounts={"cash": cash, "bank_slip": bank_slip, "list_slip": list_slip},
        deposit_account_id=(deposit or world.deposit).pk, at=when or at(2026, 11, 20, 17, 30),
    )


def counts():
    models = (Payment, LedgerEntry, PaymentAllocation, CounterReceipt, CounterSettlement)
    return tuple(model.objects.count() for model in models)


def test_a_cashier_takes_cash_for_an_account_of_another_county_and_it_settles_the_bill(world, lichuan_account):
    bill = bill_charge(account=lichuan_account, period=datetime.date(2026, 10, 1), total="86.40",
                       due_date=datetime.date(2026, 11, 30))
    result = take(world, lichuan_account, "100.00")
    receipt = result.receipt
    assert result.created is True
    assert (receipt.number, receipt.kind, receipt.method, receipt.amount, receipt.business_day) == (
        f"{world.outlet.code}-20261120-0001", "payment", "cash", D("100.00"), DAY1,
    )
    assert (receipt.outlet, receipt.cashier, receipt.account) == (world.outlet, world.cashier, lichuan_account)
    payment = receipt.payment
    assert (
        payment.channel, payment.amount, payment.external_reference, payment.idempotency_key, payment.created_by
    ) == ("counter", D("100.00"), receipt.number, "counter:k1", world.cashier)
    bill.refresh_from_db()
    lichuan_account.refresh_from_db()
    assert (bill.amount_paid, bill.state, payment.unallocated, lichuan_account.balance) == (
        D("86.40"), "paid", D("13.60"), D("-13.60"),
    )
    second = take(world, lichuan_account, "0.10", key="k2")
    assert second.receipt.number == f"{world.outlet.code}-20261120-0002"


def test_the_same_key_gives_back_the_receipt_and_a_changed_resubmission_is_refused(world, lichuan_account):
    first = take(world, lichuan_account, "50.00")
    before = counts()
    again = take(world, lichuan_account, "50.00")
    assert (again.created, again.receipt.pk) == (False, first.receipt.pk)
    with pytest.raises(CounterReceiptConflict) as refused:
        take(world, lichuan_account, "60.00")
    assert str(refused.value) == "该笔收费已按不同的内容提交过，请重新办理"
    assert counts() == before


@pytest.mark.parametrize(
    ("amount", "message"),
    [("0", "金额必须大于零"), ("-5.00", "金额必须大于零"), ("abc", "金额格式不正确"), ("1.234", "金额最多保留两位小数"),
     ("", "请填写收费金额"), ("NaN", "金额格式不正确")],
)
def test_a_bad_amount_is_refused_with_its_reason_and_nothing_posted(world, lichuan_account, amount, message):
    before = counts()
    with pytest.raises(InvalidPaymentAmount) as refused:
        take(world, lichuan_account, amount)
    assert (str(refused.value), refused.value.field) == (message, "amount")
    assert counts() == before


def test_slips_need_their_number_and_the_method_must_be_known(world, lichuan_account):
    before = counts()
    with pytest.raises(CounterInputInvalid) as refused:
        take(world, lichuan_account, "20.00", method=CounterMethod.BANK_SLIP)
    assert (str(refused.value), refused.value.field) == ("进账单、列账单收费须填写票据号", "slip_reference")
    with pytest.raises(CounterInputInvalid) as refused:
        take(world, lichuan_account, "20.00", method="cheque")
    assert refused.value.field == "method"
    assert counts() == before
    receipt = take(world, lichuan_account, "20.00", method=CounterMethod.LIST_SLIP, slip=" LZ-0091 ").receipt
    assert (receipt.method, receipt.slip_reference) == ("list_slip", "LZ-0091")
    cash = take(world, lichuan_account, "1.00", key="k2", slip="ignored").receipt
    assert cash.slip_reference == ""


def test_only_a_seated_cashier_takes_money(world, lichuan_account):
    with pytest.raises(CounterNotCashier) as refused:
        take(world, lichuan_account, "10.00", cashier=world.accountant)
    assert str(refused.value) == "您不是收费员，不能办理收费"
    seat = world.cashier.counter_cashier
    seat.active = False
    seat.save()
    with pytest.raises(CounterNotCashier) as refused:
        take(world, lichuan_account, "10.00")
    assert str(refused.value) == "您尚未分配到营业中的营业厅，不能办理收费"
    assert counts() == (0, 0, 0, 0, 0)


def test_day_totals_are_summed_by_method_in_the_database(world, lichuan_account):
    take(world, lichuan_account, "0.10", key="a")
    take(world, lichuan_account, "0.20", key="b")
    take(world, lichuan_account, "300.00", method=CounterMethod.BANK_SLIP, key="c", slip="JZ1")
    take(world, lichuan_account, "7.77", key="other", cashier=world.second_cashier)
    totals = counter_day_totals(cashier=world.cashier, business_day=DAY1)
    assert [(row.method, row.amount, row.count) for row in totals.methods] == [
        ("cash", D("0.30"), 2), ("bank_slip", D("300.00"), 1), ("list_slip", D("0.00"), 0),
    ]
    assert (totals.total, totals.count) == (D("300.30"), 3)


def test_closing_the_day_needs_each_method_to_match_and_then_the_day_takes_nothing_more(world, lichuan_account):
    take(world, lichuan_account, "120.00", key="a")
    take(world, lichuan_account, "80.50", method=CounterMethod.BANK_SLIP, key="b", slip="JZ7")
    before = counts()
    with pytest.raises(CounterSettlementMismatch) as refused:
        close(world, DAY1, cash="100.00", bank_slip="80.50")
    assert str(refused.value) == "解款金额与当日收费不符：现金：解款 ¥100.00，当日收费 ¥120.00"
    assert (refused.value.differences, refused.value.field) == (
        {"cash": "现金：解款 ¥100.00，当日收费 ¥120.00"}, "cash_amount",
    )
    assert counts() == before
    settlement = close(world, DAY1, cash="120.00", bank_slip="80.50")
    assert (settlement.cash_amount, settlement.bank_slip_amount, settlement.list_slip_amount, settlement.total) == (
        D("120.00"), D("80.50"), D("0.00"), D("200.50"),
    )
    assert (settlement.receipt_count, settlement.state, settlement.outlet, settlement.deposit_account) == (
        2, "submitted", world.outlet, world.deposit,
    )
    with pytest.raises(CounterDayClosed) as refused:
        take(world, lichuan_account, "5.00", key="late", when=at(2026, 11, 20, 18, 0))
    assert str(refused.value) == "2026-11-20 已日结解款，不能再收费或冲正"
    with pytest.raises(CounterDayClosed):
        close(world, DAY1, cash="120.00", bank_slip="80.50")
    assert take(world, lichuan_account, "5.00", key="next", when=at(2026, 11, 21, 8, 30)).receipt.business_day == DAY2


@pytest.mark.parametrize(
    ("cash", "message"),
    [("", "请填写现金解款金额（没有请填0）"), ("12,0", "现金金额格式不正确"), ("1.001", "现金金额最多保留两位小数"),
     ("Infinity", "现金金额格式不正确")],
)
def test_a_bad_settlement_figure_is_refused_by_name(world, lichuan_account, cash, message):
    take(world, lichuan_account, "12.00")
    with pytest.raises(CounterInputInvalid) as refused:
        close(world, DAY1, cash=cash)
    assert (str(refused.value), refused.value.field) == (message, "cash_amount")
    assert CounterSettlement.objects.count() == 0


def test_closing_refuses_an_empty_day_a_future_day_and_another_branchs_deposit_account(world, lichuan_account):
    with pytest.raises(CounterNothingToSettle) as refused:
        close(world, DAY1)
    assert str(refused.value) == "2026-11-20 没有收费记录，无需解款"
    take(world, lichuan_account, "12.00")
    with pytest.raises(CounterInputInvalid) as refused:
        close(world, DAY2, cash="12.00")
    assert refused.value.field == "business_day"
    with pytest.raises(CounterInputInvalid) as refused:
        close(world, DAY1, cash="12.00", deposit=world.lichuan_deposit)
    assert (str(refused.value), refused.value.field) == ("请选择本县公司启用的解款账户", "deposit_account")
    assert CounterSettlement.objects.count() == 0


def test_an_unsettled_earlier_day_must_be_closed_before_taking_more(world, lichuan_account):
    take(world, lichuan_account, "12.00")
    with pytest.raises(CounterEarlierDayOpen) as refused:
        take(world, lichuan_account, "3.00", key="k2", when=at(2026, 11, 21, 9, 0))
    assert str(refused.value) == "请先完成 2026-11-20 的日结解款"
    close(world, DAY1, cash="12.00", when=at(2026, 11, 21, 8, 0))
    assert take(world, lichuan_account, "3.00", key="k2", when=at(2026, 11, 21, 9, 0)).created is True


def test_the_branch_accountant_reviews_and_no_one_else(world, lichuan_account):
    take(world, lichuan_account, "12.00")
    settlement = close(world, DAY1, cash="12.00")
    for outsider, message in (
        (world.lichuan_accountant, "只有该营业厅所属县公司的账务员可以审核此解款单"),
        (world.lichuan_cashier, "只有该营业厅所属县公司的账务员可以审核此解款单"),
        (world.second_cashier, "只有该营业厅所属县公司的账务员可以审核此解款单"),
    ):
        with pytest.raises(CounterPermissionDenied) as refused:
            counter_settlement_review(settlement=settlement, accountant=outsider)
        assert str(refused.value) == message
    settlement.refresh_from_db()
    assert (settlement.state, settlement.reviewed_by) == ("submitted", None)
    reviewed = counter_settlement_review(
        settlement=settlement, accountant=world.accountant, note="现金已到账", at=at(2026, 11, 20, 18, 0)
    )
    assert (reviewed.state, reviewed.reviewed_by, reviewed.reviewed_at, reviewed.review_note) == (
        "reviewed", world.accountant, at(2026, 11, 20, 18, 0), "现金已到账",
    )
    with pytest.raises(CounterSettlementReviewed):
        counter_settlement_review(settlement=settlement, accountant=world.accountant)


def test_a_company_wide_accountant_reviews_every_branch(world, lichuan_account):
    chief = accountant_create(branch=None, username="chief")
    take(world, lichuan_account, "12.00", cashier=world.lichuan_cashier)
    settlement = close(world, DAY1, cash="12.00", cashier=world.lichuan_cashier, deposit=world.lichuan_deposit)
    assert counter_settlement_review(settlement=settlement, accountant=chief).state == "reviewed"


def test_a_reviewed_day_stays_as_it_was_and_is_corrected_by_a_reversal_on_a_later_day(world, lichuan_account):
    bill = bill_charge(account=lichuan_account, period=datetime.date(2026, 10, 1), total="40.00",
                       due_date=datetime.date(2026, 11, 30))
    wrong = take(world, lichuan_account, "40.00", method=CounterMethod.BANK_SLIP, slip="JZ9").receipt
    take(world, lichuan_account, "10.00", key="k2")
    settlement = close(world, DAY1, cash="10.00", bank_slip="40.00")
    with pytest.raises(CounterDayClosed):
        counter_receipt_reverse(receipt=wrong, cashier=world.cashier, reason="进账单退票", at=at(2026, 11, 20, 19, 0))
    counter_settlement_review(settlement=settlement, accountant=world.accountant)

    reversal = counter_receipt_reverse(
        receipt=wrong, cashier=world.second_cashier, reason="进账单退票", at=at(2026, 11, 21, 9, 0)
    )
    assert (reversal.number, reversal.kind, reversal.method, reversal.amount, reversal.business_day) == (
        f"{world.outlet.code}-20261121-0001", "reversal", "bank_slip", D("-40.00"), DAY2,
    )
    assert (reversal.reverses, reversal.cashier, reversal.reason, reversal.slip_reference) == (
        wrong, world.second_cashier, "进账单退票", "JZ9",
    )
    wrong.payment.refresh_from_db()
    bill.refresh_from_db()
    assert (wrong.payment.status, bill.amount_paid) == ("reversed", D("10.00"))
    day1 = counter_day_totals(cashier=world.cashier, business_day=DAY1)
    settlement.refresh_from_db()
    assert (day1.total, day1.count) == (settlement.total, settlement.receipt_count) == (D("50.00"), 2)
    day2 = counter_day_totals(cashier=world.second_cashier, business_day=DAY2)
    assert (day2.amount_for("bank_slip"), day2.total) == (D("-40.00"), D("-40.00"))
    with pytest.raises(CounterInputInvalid) as refused:
        counter_receipt_reverse(receipt=wrong, cashier=world.second_cashier, reason="重复", at=at(2026, 11, 21, 9, 5))
    assert str(refused.value) == "该收据已冲正"
    with pytest.raises(CounterInputInvalid) as refused:
        counter_receipt_reverse(receipt=reversal, cashier=world.second_cashier, reason="x", at=at(2026, 11, 21, 9, 5))
    assert str(refused.value) == "冲正收据不能再冲正"
    # The negative day closes like any other once counted.
    assert close(world, DAY2, bank_slip="-40.00", cashier=world.second_cashier,
                 when=at(2026, 11, 21, 17, 0)).total == D("-40.00")


def test_a_reversal_needs_a_reason(world, lichuan_account):
    receipt = take(world, lichuan_account, "9.00").receipt
    before = counts()
    with pytest.raises(CounterInputInvalid) as refused:
        counter_receipt_reverse(receipt=receipt, cashier=world.cashier, reason="  ", at=at(2026, 11, 20, 11, 0))
    assert (str(refused.value), refused.value.field) == ("请填写冲正原因", "reason")
    assert counts() == before


def test_the_cashier_and_accountant_roles(world):
    cashier, accountant = world.cashier, world.accountant
    assert cashier.has_perm("core.add_counterreceipt") and cashier.has_perm("core.add_countersettlement")
    assert not cashier.has_perm("core.review_countersettlement")
    assert accountant.has_perm("core.review_countersettlement") and accountant.has_perm("core.view_counterreceipt")
    assert not accountant.has_perm("core.add_counterreceipt")
    clerk = {p.codename for p in Group.objects.get(name="营业厅受理员").permissions.all()}
    assert not {c for c in clerk if "counter" in c or c in ("add_payment", "change_payment")}
