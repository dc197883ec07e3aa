"""The demo's day-to-day operations of issue 8, made through the services that own them, once however often the
seed runs.

- Counter collection (营业厅收费): one business hall per county branch with a deposit account (解款账户); the demo
  cashier (demo-cashier) is seated at the first branch's hall. Yesterday's receipts are settled and reviewed by the
  demo branch accountant (demo-accountant); today's are open, so the day page and its close have something to show.
  One receipt of each day is reversed (a wrong account keyed in), which the business audit flags.
- Withholding (代扣): a handful of accounts, those owing first, sign agreements with one bank, so the withholding
  export has lines.
- At the end the business audit scans everything and the decision-support summaries are rebuilt, so the quality
  work list and the dashboards open with figures.

Receipts carry the payment idempotency key "counter:demo:<YYYYMMDD>:<n>": a receipt already there is left alone,
and a day already settled takes no more. An earlier day left open (a seed run on an earlier day) is settled and
reviewed first, as the cashier and the accountant would.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.models import Account, AuditFlag, Branch, ReportRefresh
from core.models.banks import Bank, WithholdingAgreement
from core.models.counter import (
    CounterCashier,
    CounterMethod,
    CounterOutlet,
    CounterReceipt,
    CounterSettlement,
    DepositAccount,
)
from core.services.audit_rules import audit_scan
from core.services.bank_exchange import withholding_agreement_sign
from core.services.counter import (
    IDEMPOTENCY_PREFIX,
    counter_day_close,
    counter_day_totals,
    counter_payment_take,
    counter_receipt_reverse,
    counter_settlement_review,
)
from core.services.report_refresh import reports_refresh

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
CASHIER, ACCOUNTANT = "demo-cashier", "demo-accountant"
KEY_PREFIX = "demo:"
WITHHOLDING_BANK = "ICBC"
WITHHOLDING_ACCOUNTS = 6
# Nothing is taken closer to the seed's own clock than this, so no receipt is ever dated in the future.
LATEST_GAP = datetime.timedelta(minutes=2)


@dataclass(frozen=True)
class ReceiptPlan:
    """One payment at the demo cashier's window; `reverse` is the reason when the cashier reverses it that day."""

    n: int
    method: str
    amount: Decimal
    reverse: str = ""


# Yesterday's window: cash, a bank slip (进账单), a list slip (列账单), and a cash payment keyed to the wrong account.
YESTERDAY = (
    ReceiptPlan(1, CounterMethod.CASH, Decimal("120.00")),
    ReceiptPlan(2, CounterMethod.BANK_SLIP, Decimal("300.00")),
    ReceiptPlan(3, CounterMethod.CASH, Decimal("86.50"), reverse="收费时户号录入错误，退还客户后重新收取"),
    ReceiptPlan(4, CounterMethod.LIST_SLIP, Decimal("1250.00")),
    ReceiptPlan(5, CounterMethod.CASH, Decimal("86.50")),
)
TODAY = (
    ReceiptPlan(1, CounterMethod.CASH, Decimal("200.00")),
    ReceiptPlan(2, CounterMethod.CASH, Decimal("65.30"), reverse="客户重复缴费，当场退还现金"),
    ReceiptPlan(3, CounterMethod.BANK_SLIP, Decimal("500.00")),
)


@dataclass
class DemoOperationsResult:
    outlets_added: int = 0
    receipts_added: int = 0
    receipts_existing: int = 0
    reversals_added: int = 0
    settlements_added: int = 0
    reviews_added: int = 0
    agreements_added: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def added(self) -> int:
        return (
            self.outlets_added + self.receipts_added + self.reversals_added + self.settlements_added
            + self.reviews_added + self.agreements_added
        )


def _deposit_number(index: int) -> str:
    """A branch's deposit account number: fixed digits by the branch's place in code order."""
    return f"1809{index + 1:02d}0409024{index + 1:03d}"


def counter_outlets_ensure() -> int:
    """One business hall per branch with one deposit account; returns how many halls were added."""
    added = 0
    for index, branch in enumerate(Branch.objects.order_by("code")):
        _outlet, created = CounterOutlet.objects.get_or_create(
            code=f"{branch.code}-HALL", defaults={"branch": branch, "name": f"{branch.name}供电公司营业厅"}
        )
        added += created
        DepositAccount.objects.get_or_create(
            branch=branch,
            account_number=_deposit_number(index),
            defaults={"bank_name": f"中国工商银行{branch.name}支行"},
        )
    return added


def _moment(day: datetime.date, hour: int, minute: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=LOCAL_TZ)


def _today_moments(now: datetime.datetime, count: int) -> list[datetime.datetime]:
    """`count` moments spread over today up to now (local day), in order, none in the future."""
    start = datetime.datetime.combine(now.astimezone(LOCAL_TZ).date(), datetime.time(0), tzinfo=LOCAL_TZ)
    end = max(start, now - LATEST_GAP)
    step = (end - start) / (count + 1)
    return [start + step * (k + 1) for k in range(count)]


def _payer_accounts() -> list[Account]:
    """The first active account of each branch: the window takes payments for any county of the company."""
    accounts = []
    for branch in Branch.objects.order_by("code"):
        account = Account.objects.filter(branch=branch, status=Account.Status.ACTIVE).order_by("number").first()
        if account is not None:
            accounts.append(account)
    return accounts


def _open_days_close(*, cashier, accountant, before: datetime.date, result: DemoOperationsResult) -> None:
    """Settle and review every day before `before` on which the cashier took receipts (the counted figures are
    the day's receipts), and review any settlement still waiting."""
    settled = CounterSettlement.objects.filter(cashier=cashier).values("business_day")
    open_days = (
        CounterReceipt.objects.filter(cashier=cashier, business_day__lt=before)
        .exclude(business_day__in=settled)
        .order_by("business_day")
        .values_list("business_day", flat=True)
        .distinct()
    )
    deposit = DepositAccount.objects.filter(
        branch__counter_outlets__cashiers__user=cashier, active=True
    ).order_by("pk").first()
    for day in list(open_days):
        totals = counter_day_totals(cashier=cashier, business_day=day)
        counter_day_close(
            cashier=cashier,
            business_day=day,
            amounts={row.method: row.amount for row in totals.methods},
            deposit_account_id=deposit.pk if deposit else None,
            at=_moment(day, 17, 30),
        )
        result.settlements_added += 1
    if accountant is None:
        return
    waiting = CounterSettlement.objects.filter(
        cashier=cashier, state=CounterSettlement.State.SUBMITTED, business_day__lt=before
    ).order_by("business_day")
    for settlement in waiting:
        counter_settlement_review(
            settlement=settlement,
            accountant=accountant,
            note="现金、进账单、列账单与收据逐笔核对一致",
            at=_moment(settlement.business_day, 18, 10),
        )
        result.reviews_added += 1


def _day_take(
    *, cashier, day: datetime.date, plans, moments, accounts, now: datetime.datetime, result: DemoOperationsResult
) -> None:
    """Take the day's planned receipts not there yet (and reverse those planned for it), unless it is settled."""
    if CounterSettlement.objects.filter(cashier=cashier, business_day=day).exists():
        result.receipts_existing += len(plans)
        return
    taken = {
        receipt.payment.idempotency_key: receipt
        for receipt in CounterReceipt.objects.select_related("payment").filter(
            cashier=cashier, kind=CounterReceipt.Kind.PAYMENT, business_day=day
        )
    }
    for plan, at in zip(plans, moments):
        key = f"{KEY_PREFIX}{day:%Y%m%d}:{plan.n}"
        receipt = taken.get(IDEMPOTENCY_PREFIX + key)
        if receipt is None:
            account = accounts[(plan.n - 1) % len(accounts)]
            receipt = counter_payment_take(
                cashier=cashier,
                account=account,
                amount=plan.amount,
                method=plan.method,
                idempotency_key=key,
                slip_reference=f"{'JZ' if plan.method == CounterMethod.BANK_SLIP else 'LZ'}{day:%Y%m%d}{plan.n:02d}",
                at=at,
            ).receipt
            result.receipts_added += 1
        else:
            result.receipts_existing += 1
        if plan.reverse and not CounterReceipt.objects.filter(reverses=receipt).exists():
            reversed_at = min(at + datetime.timedelta(minutes=1), now)
            counter_receipt_reverse(receipt=receipt, cashier=cashier, reason=plan.reverse, at=reversed_at)
            result.reversals_added += 1


def counter_demo_seed(*, now: datetime.datetime, result: DemoOperationsResult) -> None:
    """Halls and deposit accounts, the demo cashier's seat, yesterday settled and reviewed, today open."""
    users = {user.username: user for user in get_user_model().objects.filter(username__in=[CASHIER, ACCOUNTANT])}
    result.outlets_added += counter_outlets_ensure()
    cashier, accountant = users.get(CASHIER), users.get(ACCOUNTANT)
    outlet = CounterOutlet.objects.filter(branch__isnull=False).order_by("branch__code").first()
    accounts = _payer_accounts()
    if cashier is None or outlet is None or not accounts:
        result.skipped.append(_("营业厅收费：缺少演示收费员、营业厅或用电户，未生成收费记录"))
        return
    CounterCashier.objects.get_or_create(user=cashier, defaults={"outlet": outlet})
    today = now.astimezone(LOCAL_TZ).date()
    yesterday = today - datetime.timedelta(days=1)
    _open_days_close(cashier=cashier, accountant=None, before=yesterday, result=result)
    yesterday_moments = [_moment(yesterday, 9, 5) + datetime.timedelta(minutes=53 * k) for k in range(len(YESTERDAY))]
    _day_take(cashier=cashier, day=yesterday, plans=YESTERDAY, moments=yesterday_moments, accounts=accounts,
              now=now, result=result)
    _open_days_close(cashier=cashier, accountant=accountant, before=today, result=result)
    _day_take(cashier=cashier, day=today, plans=TODAY, moments=_today_moments(now, len(TODAY) + 1),
              accounts=accounts, now=now, result=result)


def withholding_demo_seed(*, today: datetime.date, result: DemoOperationsResult) -> None:
    """Withholding agreements at one bank for a handful of accounts across the company, those owing first; signed
    once: a bank that already holds agreements is left as it is."""
    bank = Bank.objects.filter(code=WITHHOLDING_BANK, active=True).first()
    if bank is None:
        result.skipped.append(_("代扣协议：缺少合作银行%(code)s，未签约") % {"code": WITHHOLDING_BANK})
        return
    if WithholdingAgreement.objects.filter(bank=bank).exists():
        return
    candidates = list(
        Account.objects.filter(status=Account.Status.ACTIVE)
        .exclude(withholding_agreements__status=WithholdingAgreement.Status.ACTIVE)
        .select_related("customer")
        .order_by("number")[:200]
    )
    chosen = sorted(candidates, key=lambda account: (account.balance <= 0, account.number))[:WITHHOLDING_ACCOUNTS]
    for index, account in enumerate(chosen):
        withholding_agreement_sign(
            account=account,
            bank=bank,
            bank_account_number=f"6222{account.number}{index:03d}",
            bank_account_name=account.customer.name[:50],
            signed_on=today - datetime.timedelta(days=40 + 17 * index),
        )
        result.agreements_added += 1


def demo_operations_seed(*, now: datetime.datetime | None = None, stdout=None) -> DemoOperationsResult:
    """Add the demo's counter collection and withholding agreements not there yet. Each part in one transaction;
    a part a service refuses is reported and left out."""
    now = (now or timezone.now()).replace(microsecond=0)
    result = DemoOperationsResult()
    for label, part in (
        (_("代扣协议"), lambda: withholding_demo_seed(today=now.astimezone(LOCAL_TZ).date(), result=result)),
        (_("营业厅收费"), lambda: counter_demo_seed(now=now, result=result)),
    ):
        try:
            with transaction.atomic():
                part()
        except DomainError as error:
            result.skipped.append(_("%(part)s：%(error)s") % {"part": label, "error": error})
    if stdout is not None:
        stdout.write(
            _("演示营业厅收费：新增营业厅 %(outlets)s 个、收据 %(receipts)s 张（已有 %(existing)s 张）、冲正 %(reversals)s 笔、"
              "日结解款 %(settled)s 份、审核 %(reviewed)s 份；代扣协议新增 %(agreements)s 份。")
            % {
                "outlets": result.outlets_added, "receipts": result.receipts_added,
                "existing": result.receipts_existing, "reversals": result.reversals_added,
                "settled": result.settlements_added, "reviewed": result.reviews_added,
                "agreements": result.agreements_added,
            }
        )
        for why in result.skipped:
            stdout.write(_("  未生成：%(why)s") % {"why": why})
    return result


@dataclass
class DemoReportsResult:
    flags_raised: int
    flags_open: int
    refreshed: bool
    summary_rows: int = 0


def demo_reports_prepare(*, changed: bool, now: datetime.datetime | None = None, stdout=None) -> DemoReportsResult:
    """The business audit over everything (idempotent), then a full rebuild of the decision-support summaries when
    the seed changed anything or none was ever made, so the quality work list and the dashboards have figures."""
    now = now or timezone.now()

    def say(text: str) -> None:
        if stdout is not None:
            stdout.write(text)

    scan = audit_scan(as_of=now.astimezone(LOCAL_TZ).date(), now=now, full=True)
    open_flags = AuditFlag.objects.filter(state=AuditFlag.State.OPEN).count()
    say(_("业务稽查：新增疑点 %(raised)s 条，待核查共 %(open)s 条。") % {"raised": scan.total, "open": open_flags})
    result = DemoReportsResult(flags_raised=scan.total, flags_open=open_flags, refreshed=False)
    if not changed and ReportRefresh.objects.filter(finished_at__isnull=False).exists():
        say(_("决策支持汇总：演示数据未变，无需刷新。"))
        return result
    report = reports_refresh(full=True)
    result.refreshed, result.summary_rows = True, report.rows
    say(
        _("决策支持汇总：全量刷新 %(tables)s 张汇总表，写入 %(rows)s 行，用时 %(seconds)s 秒。")
        % {"tables": len(report.periods), "rows": report.rows, "seconds": report.seconds}
    )
    return result
