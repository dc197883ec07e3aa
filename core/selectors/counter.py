"""Reads for the business-hall counter pages: account search, the cashier's day, the accountant's review list,
and one receipt with what it paid. Each list is one or two queries whatever its length."""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from core.models import Account, PaymentAllocation
from core.models.counter import CounterCashier, CounterOutlet, CounterReceipt, CounterSettlement, DepositAccount
from core.money import ZERO, format_yuan
from core.selectors.accounts import AmountDue, account_amount_due
from core.services.counter import (
    CounterPaymentDraft,
    DayTotals,
    accountant_branch_filter,
    counter_day_totals,
    counter_settlement_reviewable_by,
)

SEARCH_LIMIT = 20
_DIGITS = re.compile(r"^\d+$")


def counter_account_search(*, query: str) -> list[Account]:
    """Accounts of the whole company by account number (whole or its first digits), customer phone, or name
    (account name or customer name); at most SEARCH_LIMIT, one query."""
    text = (query or "").replace(" ", "").replace("-", "").strip()
    if not text:
        return []
    if _DIGITS.match(text):
        if len(text) < 4:
            return []
        condition = Q(number__startswith=text) | Q(customer__phone=text)
    else:
        condition = Q(name__icontains=text) | Q(customer__name__icontains=text)
    return list(
        Account.objects.filter(condition)
        .select_related("branch", "station", "customer")
        .order_by("number")[:SEARCH_LIMIT]
    )


def counter_account(*, number: str) -> Account | None:
    return Account.objects.select_related("branch", "station", "customer").filter(number=number).first()


@dataclass(frozen=True)
class PaymentSummary:
    """What the cashier confirms: the account, what it owes today, the payment, and where that leaves it."""

    draft: CounterPaymentDraft
    due: AmountDue
    remaining: Decimal
    prepaid_after: Decimal

    @property
    def due_display(self) -> str:
        return format_yuan(self.due.total_due)

    @property
    def remaining_display(self) -> str:
        return format_yuan(self.remaining)

    @property
    def prepaid_after_display(self) -> str:
        return format_yuan(self.prepaid_after)


def counter_payment_summary(*, draft: CounterPaymentDraft, as_of: datetime.date) -> PaymentSummary:
    due = account_amount_due(account=draft.account, as_of=as_of)
    left = due.total_due - draft.amount
    return PaymentSummary(draft=draft, due=due, remaining=max(left, ZERO), prepaid_after=max(-left, ZERO))


def counter_amount_due(*, account: Account, as_of: datetime.date) -> AmountDue:
    return account_amount_due(account=account, as_of=as_of)


@dataclass(frozen=True)
class CashierDay:
    seat: CounterCashier
    business_day: datetime.date
    receipts: list[CounterReceipt]
    totals: DayTotals
    settlement: CounterSettlement | None
    deposit_accounts: list[DepositAccount]
    earlier_open_days: list[datetime.date]

    @property
    def can_close(self) -> bool:
        return self.settlement is None and self.totals.count > 0


def counter_cashier_day(*, seat: CounterCashier, business_day: datetime.date) -> CashierDay:
    """One cashier's receipts of a day, its totals by method, its settlement, and days still to settle."""
    cashier = seat.user
    receipts = list(
        CounterReceipt.objects.filter(cashier=cashier, business_day=business_day)
        .select_related("account", "reverses")
        .order_by("id")
    )
    settlement = (
        CounterSettlement.objects.filter(cashier=cashier, business_day=business_day)
        .select_related("deposit_account", "reviewed_by")
        .first()
    )
    settled = CounterSettlement.objects.filter(cashier=cashier).values("business_day")
    open_days = list(
        CounterReceipt.objects.filter(cashier=cashier)
        .exclude(business_day__in=settled)
        .exclude(business_day=business_day)
        .order_by("business_day")
        .values_list("business_day", flat=True)
        .distinct()
    )
    return CashierDay(
        seat=seat,
        business_day=business_day,
        receipts=receipts,
        totals=counter_day_totals(cashier=cashier, business_day=business_day),
        settlement=settlement,
        deposit_accounts=counter_deposit_accounts(seat=seat),
        earlier_open_days=open_days,
    )


def counter_deposit_accounts(*, seat: CounterCashier) -> list[DepositAccount]:
    """The active deposit accounts of the cashier's outlet's branch, the ones a settlement may name."""
    return list(DepositAccount.objects.filter(branch_id=seat.outlet.branch_id, active=True))


def counter_review_list(*, accountant, limit: int = 100) -> list[CounterSettlement]:
    """The settlements of the accountant's branches: waiting for review first, then reviewed; latest day first."""
    outlets = CounterOutlet.objects.filter(accountant_branch_filter(user=accountant)).values("pk")
    return list(
        CounterSettlement.objects.filter(outlet__in=outlets)
        .select_related("cashier", "outlet", "outlet__branch", "deposit_account", "reviewed_by")
        .order_by("-state", "-business_day", "id")[:limit]
    )


@dataclass(frozen=True)
class SettlementDetail:
    settlement: CounterSettlement
    receipts: list[CounterReceipt]
    totals: DayTotals

    @property
    def matches(self) -> bool:
        return self.totals.total == self.settlement.total and self.totals.count == self.settlement.receipt_count


def counter_settlement_for_review(*, settlement_id: int, accountant) -> SettlementDetail | None:
    """A settlement the accountant may review, with its day's receipts; None for anyone else's."""
    settlement = (
        CounterSettlement.objects.select_related(
            "cashier", "outlet", "outlet__branch", "deposit_account", "reviewed_by"
        )
        .filter(pk=settlement_id)
        .first()
    )
    if settlement is None or not counter_settlement_reviewable_by(settlement=settlement, user=accountant):
        return None
    receipts = list(
        CounterReceipt.objects.filter(cashier=settlement.cashier_id, business_day=settlement.business_day)
        .select_related("account")
        .order_by("id")
    )
    return SettlementDetail(
        settlement=settlement,
        receipts=receipts,
        totals=counter_day_totals(cashier=settlement.cashier_id, business_day=settlement.business_day),
    )


def counter_receipt_visible(*, number: str, user) -> CounterReceipt | None:
    """A receipt for its outlet's cashiers and its branch's accountants; None for anyone else."""
    receipt = (
        CounterReceipt.objects.select_related("account", "outlet", "outlet__branch", "cashier", "payment", "reverses")
        .filter(number=number)
        .first()
    )
    if receipt is None:
        return None
    if user.has_perm("core.add_counterreceipt") and CounterCashier.objects.filter(
        user=user, outlet_id=receipt.outlet_id, active=True
    ).exists():
        return receipt
    if user.has_perm("core.review_countersettlement") and CounterOutlet.objects.filter(
        accountant_branch_filter(user=user), pk=receipt.outlet_id
    ).exists():
        return receipt
    return None


def counter_receipt_allocations(*, receipt: CounterReceipt) -> list[PaymentAllocation]:
    """What the payment settled (late fees and bills), oldest first; empty for a reversal receipt."""
    if receipt.kind != CounterReceipt.Kind.PAYMENT:
        return []
    return list(
        PaymentAllocation.objects.filter(payment_id=receipt.payment_id, amount__gt=0)
        .select_related("bill", "late_fee", "late_fee__bill")
        .order_by("id")
    )
