"""Business-hall counter collection (营业厅收费): outlets, cashiers' seats, receipts and daily settlements (解款).

Receipts and settlements are written only by core.services.counter. A receipt is never changed: a correction is a
reversal receipt on the day it is made. A cashier's day, once settled, takes no more receipts; once the branch
accountant has reviewed it, its totals stand for good.
"""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.money import format_yuan

from .customers import Account
from .ledger import Payment
from .org import Branch


class CounterOutlet(models.Model):
    """A business hall (营业厅) of a county branch where cashiers take payments for any account of the company."""

    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="counter_outlets", verbose_name=_("县公司")
    )
    code = models.CharField(_("编码"), max_length=16, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    active = models.BooleanField(_("营业中"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("营业厅")
        verbose_name_plural = _("营业厅")

    def __str__(self) -> str:
        return self.name


class CounterCashier(models.Model):
    """A cashier's seat (收费员) at one outlet: where their receipts and settlements are recorded."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="counter_cashier", verbose_name=_("收费员")
    )
    outlet = models.ForeignKey(
        CounterOutlet, on_delete=models.PROTECT, related_name="cashiers", verbose_name=_("营业厅")
    )
    active = models.BooleanField(_("在岗"), default=True)

    class Meta:
        verbose_name = _("收费员")
        verbose_name_plural = _("收费员")

    def __str__(self) -> str:
        return f"{self.outlet} · {self.user}"


class DepositAccount(models.Model):
    """A bank account of a branch into which cashiers deposit their day's takings (解款账户)."""

    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="deposit_accounts", verbose_name=_("县公司")
    )
    bank_name = models.CharField(_("开户银行"), max_length=100)
    account_number = models.CharField(_("银行账号"), max_length=40)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["branch", "bank_name", "account_number"]
        verbose_name = _("解款账户")
        verbose_name_plural = _("解款账户")
        constraints = [
            models.UniqueConstraint(fields=["branch", "account_number"], name="deposit_account_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.account_number}"


class CounterMethod(models.TextChoices):
    CASH = "cash", _("现金")
    BANK_SLIP = "bank_slip", _("进账单")
    LIST_SLIP = "list_slip", _("列账单")


class CounterReceipt(models.Model):
    """One payment taken at a counter (amount > 0) or the reversal of one (amount < 0); never changed."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("收费")
        REVERSAL = "reversal", _("冲正")

    number = models.CharField(_("收据号"), max_length=32, unique=True)
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    method = models.CharField(_("收费方式"), max_length=10, choices=CounterMethod.choices)
    # Signed: what this receipt adds to the cashier's day for its method.
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="counter_receipts", verbose_name=_("用电户")
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="counter_receipts", verbose_name=_("缴费")
    )
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal", verbose_name=_("被冲正收据")
    )
    slip_reference = models.CharField(_("票据号"), max_length=40, blank=True)
    outlet = models.ForeignKey(
        CounterOutlet, on_delete=models.PROTECT, related_name="receipts", verbose_name=_("营业厅")
    )
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="counter_receipts", verbose_name=_("收费员")
    )
    business_day = models.DateField(_("营业日"))
    taken_at = models.DateTimeField(_("收费时间"))
    reason = models.CharField(_("冲正原因"), max_length=200, blank=True)

    class Meta:
        ordering = ["business_day", "id"]
        verbose_name = _("收费收据")
        verbose_name_plural = _("收费收据")
        constraints = [
            models.UniqueConstraint(fields=["payment", "kind"], name="counter_receipt_payment_kind_unique"),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="payment", amount__gt=0, reverses__isnull=True)
                    | models.Q(kind="reversal", amount__lt=0, reverses__isnull=False)
                ),
                name="counter_receipt_sign_matches_kind",
            ),
        ]
        indexes = [models.Index(fields=["cashier", "business_day"], name="counter_rcpt_cashier_day_idx")]

    def __str__(self) -> str:
        return self.number

    @property
    def amount_display(self) -> str:
        return format_yuan(self.amount)


class CounterSettlement(models.Model):
    """A cashier's day close (解款): the takings by method, equal to the day's receipts, and where the money went.

    The branch accountant (账务员) reviews it; a reviewed day's totals are final.
    """

    class State(models.TextChoices):
        SUBMITTED = "submitted", _("待审核")
        REVIEWED = "reviewed", _("已审核")

    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="counter_settlements", verbose_name=_("收费员")
    )
    outlet = models.ForeignKey(
        CounterOutlet, on_delete=models.PROTECT, related_name="settlements", verbose_name=_("营业厅")
    )
    business_day = models.DateField(_("营业日"))
    cash_amount = models.DecimalField(_("现金"), max_digits=14, decimal_places=2)
    bank_slip_amount = models.DecimalField(_("进账单"), max_digits=14, decimal_places=2)
    list_slip_amount = models.DecimalField(_("列账单"), max_digits=14, decimal_places=2)
    total = models.DecimalField(_("解款金额"), max_digits=14, decimal_places=2)
    receipt_count = models.PositiveIntegerField(_("收据笔数"))
    deposit_account = models.ForeignKey(
        DepositAccount, on_delete=models.PROTECT, related_name="settlements", verbose_name=_("解款账户")
    )
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.SUBMITTED)
    closed_at = models.DateTimeField(_("日结时间"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="counter_settlements_reviewed",
        verbose_name=_("审核人"),
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    review_note = models.CharField(_("审核意见"), max_length=200, blank=True)

    class Meta:
        ordering = ["-business_day", "id"]
        verbose_name = _("解款单")
        verbose_name_plural = _("解款单")
        permissions = [("review_countersettlement", _("审核解款"))]
        constraints = [
            models.UniqueConstraint(fields=["cashier", "business_day"], name="counter_settlement_cashier_day_unique"),
        ]
        indexes = [models.Index(fields=["outlet", "state", "business_day"], name="counter_settle_review_idx")]

    def __str__(self) -> str:
        return f"{self.business_day} {self.cashier} {self.total}"

    @property
    def total_display(self) -> str:
        return format_yuan(self.total)
