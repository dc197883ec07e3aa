"""The append-only account ledger, payments (实收) with their allocations, and late fees (违约金)."""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.money import format_yuan


class LedgerEntry(models.Model):
    """An append-only ledger line. amount > 0 raises what the customer owes, < 0 lowers it;
    balance_after is the account balance once this entry is posted."""

    class Kind(models.TextChoices):
        BILL = "bill", _("电费")
        CREDIT_NOTE = "credit_note", _("冲红")
        LATE_FEE = "late_fee", _("违约金")
        LATE_FEE_WAIVER = "late_fee_waiver", _("违约金减免")
        PAYMENT = "payment", _("缴费")
        PAYMENT_REVERSAL = "payment_reversal", _("缴费冲正")
        WRITE_OFF = "write_off", _("核销")
        REFUND = "refund", _("退费")

    account = models.ForeignKey(
        "core.Account", on_delete=models.PROTECT, related_name="ledger_entries", verbose_name=_("用电户")
    )
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2)
    balance_after = models.DecimalField(_("余额"), max_digits=14, decimal_places=2)
    bill = models.ForeignKey(
        "core.Bill", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries", verbose_name=_("账单")
    )
    payment = models.ForeignKey(
        "core.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        verbose_name=_("缴费"),
    )
    late_fee = models.ForeignKey(
        "core.LateFee",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        verbose_name=_("违约金"),
    )
    memo = models.CharField(_("摘要"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("记账时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("经办人")
    )

    class Meta:
        ordering = ["account", "id"]
        verbose_name = _("账务流水")
        verbose_name_plural = _("账务流水")
        indexes = [models.Index(fields=["account", "id"], name="ledger_account_id_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.get_kind_display()} {self.amount}"


class Payment(models.Model):
    """Money received for an account. The idempotency key makes a payment delivered twice post once."""

    class Channel(models.TextChoices):
        COUNTER = "counter", _("营业厅")
        BANK_COLLECTION = "bank_collection", _("银行代收")
        BANK_WITHHOLDING = "bank_withholding", _("银行代扣")
        ONLINE = "online", _("网上缴费")
        MOBILE = "mobile", _("移动支付")
        IVR = "ivr", _("电话缴费")

    class Status(models.TextChoices):
        POSTED = "posted", _("已入账")
        REVERSED = "reversed", _("已冲正")

    account = models.ForeignKey("core.Account", on_delete=models.PROTECT, related_name="payments", verbose_name=_("用电户"))
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    channel = models.CharField(_("渠道"), max_length=20, choices=Channel.choices)
    idempotency_key = models.CharField(_("幂等键"), max_length=100, unique=True)
    external_reference = models.CharField(_("外部流水号"), max_length=100, blank=True)
    received_at = models.DateTimeField(_("收款时间"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.POSTED)
    # What is not yet allocated to late fees or bills: the prepaid balance this payment still holds.
    unallocated = models.DecimalField(_("未分配金额"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    reversal_reason = models.CharField(_("冲正原因"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("经办人")
    )

    class Meta:
        ordering = ["account", "received_at", "id"]
        verbose_name = _("缴费记录")
        verbose_name_plural = _("缴费记录")
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive")]
        # A day's payments (monitoring's "today", the bank files' and the reports' periods) without reading them all.
        indexes = [models.Index(fields=["received_at"], name="payment_received_at_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount} {self.get_channel_display()}"

    @property
    def amount_display(self) -> str:
        return format_yuan(self.amount)


class LateFee(models.Model):
    """A late fee assessed on one overdue bill for the days from accrued_from to accrued_to (inclusive)."""

    account = models.ForeignKey("core.Account", on_delete=models.PROTECT, related_name="late_fees", verbose_name=_("用电户"))
    bill = models.ForeignKey("core.Bill", on_delete=models.PROTECT, related_name="late_fees", verbose_name=_("账单"))
    accrued_from = models.DateField(_("起算日"))
    accrued_to = models.DateField(_("截止日"))
    days = models.PositiveIntegerField(_("天数"))
    base_amount = models.DecimalField(_("欠费金额"), max_digits=12, decimal_places=2)
    amount = models.DecimalField(_("违约金"), max_digits=12, decimal_places=2)
    amount_paid = models.DecimalField(_("已收"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    amount_waived = models.DecimalField(_("已减免"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("减免人")
    )
    waive_reason = models.CharField(_("减免原因"), max_length=200, blank=True)
    assessed_at = models.DateTimeField(_("计收时间"), auto_now_add=True)

    class Meta:
        ordering = ["account", "bill__period", "id"]
        verbose_name = _("违约金")
        verbose_name_plural = _("违约金")

    def __str__(self) -> str:
        return f"{self.bill} {self.amount}"

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.amount_paid - self.amount_waived


class PaymentAllocation(models.Model):
    """Part of a payment applied to a bill or a late fee. A reversal appends a negative row."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("缴费"))
    bill = models.ForeignKey(
        "core.Bill", on_delete=models.PROTECT, null=True, blank=True, related_name="allocations", verbose_name=_("账单")
    )
    late_fee = models.ForeignKey(
        LateFee, on_delete=models.PROTECT, null=True, blank=True, related_name="allocations", verbose_name=_("违约金")
    )
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        ordering = ["payment", "id"]
        verbose_name = _("销账明细")
        verbose_name_plural = _("销账明细")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(bill__isnull=False, late_fee__isnull=True) | models.Q(bill__isnull=True, late_fee__isnull=False)),
                name="allocation_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} -> {self.amount}"
