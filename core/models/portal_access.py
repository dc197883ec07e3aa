"""Who may see an account on the portal: bindings (绑定户号), binding attempts (for rate limits) and binding codes."""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .customers import Account


class BindingMethod(models.TextChoices):
    ID_DIGITS = "id_digits", _("户主姓名 + 证件号后四位")
    SMS_CODE = "sms_code", _("户主姓名 + 预留手机验证码")


class AccountBinding(models.Model):
    """A portal user's link to an electricity account: the only way a customer sees an account, its bills,
    payments and tickets. One user may bind several accounts (home, parents' home); unbinding keeps the row."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_bindings", verbose_name=_("用户")
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="bindings", verbose_name=_("用电户"))
    label = models.CharField(_("备注名"), max_length=20, blank=True)
    method = models.CharField(_("验证方式"), max_length=10, choices=BindingMethod.choices)
    bound_at = models.DateTimeField(_("绑定时间"))
    unbound_at = models.DateTimeField(_("解绑时间"), null=True, blank=True)
    # The customer's own alert settings for this account.
    low_balance_threshold = models.DecimalField(
        _("余额提醒阈值(元)"), max_digits=8, decimal_places=2, default=Decimal("10.00")
    )
    low_balance_alerted_at = models.DateTimeField(_("最近余额提醒时间"), null=True, blank=True)
    tier_alerts = models.BooleanField(_("阶梯电量提醒"), default=True)
    tier_alerted_period = models.DateField(_("已提醒的阶梯周期"), null=True, blank=True)
    # The highest tier the binding has been warned of entering in tier_alerted_period: each crossing told once.
    tier_alerted_tier = models.PositiveSmallIntegerField(_("已提醒的阶梯档位"), null=True, blank=True)

    class Meta:
        verbose_name = _("户号绑定")
        verbose_name_plural = _("户号绑定")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "account"], condition=Q(unbound_at__isnull=True), name="binding_one_active"
            ),
        ]
        indexes = [models.Index(fields=["account", "unbound_at"], name="binding_by_account")]

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.account_id}"


class BindingAttempt(models.Model):
    """One try to bind an account, kept to rate-limit and lock out guessing per user and per IP address."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("用户"),
    )
    ip_address = models.GenericIPAddressField(_("IP地址"), null=True, blank=True)
    account_number = models.CharField(_("尝试的户号"), max_length=16)
    succeeded = models.BooleanField(_("成功"))
    attempted_at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("绑定尝试")
        verbose_name_plural = _("绑定尝试")
        indexes = [
            models.Index(fields=["user", "attempted_at"], name="binding_attempt_by_user"),
            models.Index(fields=["ip_address", "attempted_at"], name="binding_attempt_by_ip"),
        ]


class TrackingAttempt(models.Model):
    """One guest ticket-tracking lookup, kept to lock out guessing per address (survives a cache outage)."""

    ip_address = models.GenericIPAddressField(_("IP地址"), null=True, blank=True)
    succeeded = models.BooleanField(_("成功"))
    attempted_at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("工单查询尝试")
        verbose_name_plural = _("工单查询尝试")
        indexes = [models.Index(fields=["ip_address", "attempted_at"], name="tracking_attempt_by_ip")]


class BindingCode(models.Model):
    """An SMS code sent to the phone on file of an account, proving the binder can read that phone."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("用户")
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", verbose_name=_("用电户"))
    code_hash = models.CharField(_("验证码摘要"), max_length=128)
    sent_at = models.DateTimeField(_("发送时间"))
    expires_at = models.DateTimeField(_("失效时间"))
    attempts = models.PositiveSmallIntegerField(_("已尝试次数"), default=0)
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("绑定验证码")
        verbose_name_plural = _("绑定验证码")
        indexes = [models.Index(fields=["user", "account", "sent_at"], name="binding_code_lookup")]
