"""Payments made online through a card/wallet provider (Stripe): the intent the server created, what the provider
later confirmed, refunds, and every provider event received (so each is processed once)."""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .customers import Account
from .ledger import Payment


class OnlinePaymentPurpose(models.TextChoices):
    ARREARS = "arrears", _("缴清欠费")
    TOPUP = "topup", _("预存电费")


class OnlinePaymentState(models.TextChoices):
    CREATED = "created", _("待支付")
    SUCCEEDED = "succeeded", _("支付成功")
    FAILED = "failed", _("支付失败")
    CANCELED = "canceled", _("已取消")
    # Part of the payment given back at the provider (the ledger reverses that part); refunded once all of it is.
    PARTIALLY_REFUNDED = "partially_refunded", _("部分退款")
    REFUNDED = "refunded", _("已退款")


class OnlinePayment(models.Model):
    """One provider payment (a Stripe PaymentIntent) for an account; the amount is computed by the server from the
    ledger, and the ledger is credited only when the provider confirms (webhook), exactly once."""

    provider = models.CharField(_("支付渠道"), max_length=20, default="stripe")
    provider_reference = models.CharField(_("渠道流水号"), max_length=100, unique=True)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="online_payments", verbose_name=_("用电户")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("付款用户"),
    )
    purpose = models.CharField(_("用途"), max_length=10, choices=OnlinePaymentPurpose.choices)
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("币种"), max_length=3, default="cny")
    # Written only by core.services.online_payments, from provider events.
    state = models.CharField(
        _("状态"), max_length=20, choices=OnlinePaymentState.choices, default=OnlinePaymentState.CREATED
    )
    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="online_payment",
        verbose_name=_("入账记录"),
    )
    # What the ledger has reversed of it: each refund event brings it up to the provider's cumulative refunded amount.
    refunded_amount = models.DecimalField(_("已退款金额"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    failure_message = models.CharField(_("失败原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"))
    succeeded_at = models.DateTimeField(_("支付成功时间"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("在线支付")
        verbose_name_plural = _("在线支付")
        indexes = [
            models.Index(fields=["account", "created_at"], name="online_payment_by_account"),
            models.Index(fields=["state", "created_at"], name="online_payment_by_state"),
        ]

    def __str__(self) -> str:
        return self.provider_reference

    @property
    def has_refunds(self) -> bool:
        """Part or all of it given back (partially_refunded or refunded)."""
        return self.state in (OnlinePaymentState.PARTIALLY_REFUNDED, OnlinePaymentState.REFUNDED)

    @property
    def credited_remaining(self) -> Decimal:
        """What stays credited to the account once the refunds are reversed."""
        return self.amount - self.refunded_amount


class OnlineRefund(models.Model):
    """A refund of an online payment, asked for by staff and confirmed by the provider; reverses it in the ledger."""

    online_payment = models.ForeignKey(
        OnlinePayment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("在线支付")
    )
    provider_reference = models.CharField(_("退款流水号"), max_length=100, unique=True)
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    reason = models.CharField(_("退款原因"), max_length=200)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("申请人"),
    )
    requested_at = models.DateTimeField(_("申请时间"))
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("在线退款")
        verbose_name_plural = _("在线退款")


class ProviderEvent(models.Model):
    """A webhook event from a payment provider, recorded before it is processed so a repeat is recognised."""

    provider = models.CharField(_("支付渠道"), max_length=20, default="stripe")
    event_id = models.CharField(_("事件编号"), max_length=100)
    type = models.CharField(_("事件类型"), max_length=60)
    object_reference = models.CharField(_("对象编号"), max_length=100, blank=True)
    received_at = models.DateTimeField(_("接收时间"))
    processed_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    outcome = models.CharField(_("处理结果"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("支付渠道事件")
        verbose_name_plural = _("支付渠道事件")
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="provider_event_once"),
        ]
