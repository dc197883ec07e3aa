"""Customers (客户) and their electricity accounts (用电户, 户号)."""
from decimal import Decimal

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.money import format_yuan

from .org import Branch, ServiceStation


class CustomerCategory(models.TextChoices):
    RESIDENTIAL = "residential", _("居民生活")
    NON_RESIDENTIAL = "non_residential", _("一般工商业")
    LARGE_INDUSTRY = "large_industry", _("大工业")
    AGRICULTURAL = "agricultural", _("农业生产")


class Customer(models.Model):
    """A person or an organisation that holds electricity accounts. The ID number is never stored whole."""

    class Kind(models.TextChoices):
        PERSON = "person", _("个人")
        ORGANISATION = "organisation", _("单位")

    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(_("名称"), max_length=100)
    phone = models.CharField(_("手机号码"), max_length=20, blank=True, db_index=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    id_number_hash = models.CharField(_("证件号摘要"), max_length=64, blank=True, db_index=True)
    id_number_masked = models.CharField(_("证件号（脱敏）"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("建档时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    """An electricity account (户号): what bills, payments and the ledger attach to."""

    class BillingMode(models.TextChoices):
        POSTPAID = "postpaid", _("后付费")
        PREPAID = "prepaid", _("智能交费")

    class Status(models.TextChoices):
        ACTIVE = "active", _("正常用电")
        SUSPENDED = "suspended", _("暂停")
        DISCONNECTED = "disconnected", _("欠费停电")
        CLOSED = "closed", _("已销户")

    number = models.CharField(
        _("户号"),
        max_length=10,
        unique=True,
        validators=[RegexValidator(r"^\d{10}$", _("户号应为10位数字"))],
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("客户"))
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("县公司"))
    station = models.ForeignKey(
        ServiceStation, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("供电所")
    )
    name = models.CharField(_("户名"), max_length=100)
    address = models.CharField(_("用电地址"), max_length=200)
    category = models.CharField(
        _("用电类别"), max_length=20, choices=CustomerCategory.choices, default=CustomerCategory.RESIDENTIAL
    )
    tariff = models.ForeignKey("core.Tariff", on_delete=models.PROTECT, related_name="accounts", verbose_name=_("电价"))
    billing_mode = models.CharField(
        _("缴费方式"), max_length=10, choices=BillingMode.choices, default=BillingMode.POSTPAID
    )
    status = models.CharField(_("状态"), max_length=14, choices=Status.choices, default=Status.ACTIVE)
    contracted_capacity_kva = models.DecimalField(
        _("合同容量(kVA)"), max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    opened_on = models.DateField(_("立户日期"))
    # Running ledger balance, kept in step with LedgerEntry inside the same transaction (positive = owes).
    balance = models.DecimalField(_("账户余额"), max_digits=14, decimal_places=2, default=Decimal("0.00"))
    # When a smart-prepaid account's holder was last texted that its balance fell under the 智能交费 threshold
    # (core.services.customer_alerts); cleared once the balance is back above it.
    low_balance_alerted_at = models.DateTimeField(_("余额不足已提醒户主时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("用电户")
        verbose_name_plural = _("用电户")
        indexes = [models.Index(fields=["branch", "id"], name="account_branch_id_idx")]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    @property
    def arrears(self) -> Decimal:
        """What the customer owes now (0 when in credit)."""
        return max(self.balance, Decimal("0.00"))

    @property
    def prepaid_balance(self) -> Decimal:
        """Credit held for future bills (预存), 0 when the customer owes."""
        return max(-self.balance, Decimal("0.00"))

    @property
    def balance_display(self) -> str:
        return format_yuan(self.balance)
