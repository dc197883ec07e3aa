"""The daily reconciliation of a payment provider's charges (Stripe) with our online payments and the ledger: one
row per day, kept for finance and supervisors, and the differences it found. Written only by
core.services.online_reconciliation (a re-run of a day replaces that day's row and its differences)."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.money import format_yuan

from .online_payments import OnlinePayment


class OnlineReconciliationDifferenceKind(models.TextChoices):
    # The kinds core.services.online_payments.online_payments_reconcile reports.
    UNKNOWN_CHARGE = "unknown_charge", _("Stripe有扣款，本地无支付记录")
    NOT_CREDITED = "not_credited", _("已扣款未入账")
    AMOUNT_MISMATCH = "amount_mismatch", _("金额不一致")
    REFUND_MISMATCH = "refund_mismatch", _("退款与冲正不一致")
    CREDITED_WITHOUT_CHARGE = "credited_without_charge", _("已入账但Stripe无成功扣款")


class OnlineReconciliation(models.Model):
    """One local day's comparison of the provider's charges (and that day's refunds) with our records."""

    provider = models.CharField(_("支付渠道"), max_length=20, default="stripe")
    day = models.DateField(_("对账日期"))
    ran_at = models.DateTimeField(_("对账时间"))
    charges = models.PositiveIntegerField(_("Stripe扣款笔数"))
    payments = models.PositiveIntegerField(_("对上的在线支付笔数"))
    refunds = models.PositiveIntegerField(_("当日退款笔数"), default=0)

    class Meta:
        ordering = ["-day"]
        verbose_name = _("网上缴费对账")
        verbose_name_plural = _("网上缴费对账")
        constraints = [
            models.UniqueConstraint(fields=["provider", "day"], name="online_reconciliation_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.day.isoformat()}"


class OnlineReconciliationDifference(models.Model):
    """A charge, refund or credit on which the provider and we disagree, with both sides' reference and amount."""

    reconciliation = models.ForeignKey(
        OnlineReconciliation, on_delete=models.CASCADE, related_name="differences", verbose_name=_("网上缴费对账")
    )
    kind = models.CharField(_("差异类型"), max_length=30, choices=OnlineReconciliationDifferenceKind.choices)
    provider_reference = models.CharField(_("Stripe流水号"), max_length=100, blank=True)
    our_reference = models.CharField(_("本地流水号"), max_length=100, blank=True)
    online_payment = models.ForeignKey(
        OnlinePayment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("在线支付")
    )
    # What each side shows for the figure compared (the charge, or for a refund difference the amount refunded and
    # the amount the ledger reversed); None where that side has nothing.
    provider_amount = models.DecimalField(_("Stripe金额"), max_digits=12, decimal_places=2, null=True, blank=True)
    our_amount = models.DecimalField(_("本地金额"), max_digits=12, decimal_places=2, null=True, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        ordering = ["reconciliation", "pk"]
        verbose_name = _("对账差异")
        verbose_name_plural = _("对账差异")

    def __str__(self) -> str:
        return f"{self.kind} {self.provider_reference or self.our_reference}"

    @property
    def provider_amount_display(self) -> str:
        return "—" if self.provider_amount is None else format_yuan(self.provider_amount)

    @property
    def our_amount_display(self) -> str:
        return "—" if self.our_amount is None else format_yuan(self.our_amount)
