"""Bills (电费账单) with per-tier / per-period lines, credit notes, billing runs and collection policy."""
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.money import format_yuan

from .customers import CustomerCategory


class CollectionPolicy(models.Model):
    """Payment term and late-fee rates (电费违约金) per customer category: data, not code."""

    category = models.CharField(_("用电类别"), max_length=20, choices=CustomerCategory.choices, unique=True)
    payment_term_days = models.PositiveSmallIntegerField(_("缴费期限(天)"), help_text=_("账单发行后多少天到期"))
    daily_rate_current_year = models.DecimalField(_("当年欠费日费率"), max_digits=6, decimal_places=4)
    daily_rate_prior_years = models.DecimalField(_("跨年欠费日费率"), max_digits=6, decimal_places=4)
    minimum_late_fee = models.DecimalField(_("违约金最低收取(元)"), max_digits=6, decimal_places=2, default=Decimal("1"))

    class Meta:
        verbose_name = _("催收政策")
        verbose_name_plural = _("催收政策")

    def __str__(self) -> str:
        return self.get_category_display()


class Bill(models.Model):
    """An issued bill. Never edited after issue: a correction is a credit note plus a re-bill."""

    class Kind(models.TextChoices):
        REGULAR = "regular", _("正常电费")
        CREDIT_NOTE = "credit_note", _("冲红")
        REBILL = "rebill", _("重开")

    class State(models.TextChoices):
        ISSUED = "issued", _("已发行")
        PARTLY_PAID = "partly_paid", _("部分缴费")
        PAID = "paid", _("已结清")
        OVERDUE = "overdue", _("已逾期")
        WRITTEN_OFF = "written_off", _("已核销")
        CREDITED = "credited", _("已冲红")

    number = models.CharField(_("账单号"), max_length=24, unique=True)
    account = models.ForeignKey("core.Account", on_delete=models.PROTECT, related_name="bills", verbose_name=_("用电户"))
    period = models.DateField(_("电费年月"))
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices, default=Kind.REGULAR)
    corrects = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections", verbose_name=_("更正对象")
    )
    tariff_version = models.ForeignKey(
        "core.TariffVersion", on_delete=models.PROTECT, related_name="bills", verbose_name=_("电价版本")
    )
    issued_on = models.DateField(_("发行日期"))
    due_date = models.DateField(_("缴费截止日"))
    kwh = models.DecimalField(_("电量(kWh)"), max_digits=12, decimal_places=2)
    total = models.DecimalField(_("应收金额"), max_digits=12, decimal_places=2)
    amount_paid = models.DecimalField(_("已收金额"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    amount_adjusted = models.DecimalField(
        _("冲减金额"), max_digits=12, decimal_places=2, default=Decimal("0.00"), help_text=_("冲红或核销抵减的金额")
    )
    state = models.CharField(_("状态"), max_length=12, choices=State.choices, default=State.ISSUED)
    reason = models.CharField(_("更正原因"), max_length=200, blank=True)
    run = models.ForeignKey(
        "core.BillingRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="bills", verbose_name=_("批次")
    )

    class Meta:
        ordering = ["account", "period", "id"]
        verbose_name = _("电费账单")
        verbose_name_plural = _("电费账单")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period"], condition=models.Q(kind="regular"), name="bill_one_regular_per_period"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "state"], name="bill_account_state_idx"),
            models.Index(fields=["period"], name="bill_period_idx"),  # one month's bills (report refresh)
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def outstanding(self) -> Decimal:
        """What is still owed on this bill (never negative for a charge; 0 for a credit note)."""
        if self.kind == self.Kind.CREDIT_NOTE:
            return Decimal("0.00")
        return self.total - self.amount_paid - self.amount_adjusted

    @property
    def total_display(self) -> str:
        return format_yuan(self.total)

    @property
    def outstanding_display(self) -> str:
        return format_yuan(self.outstanding)


class BillLine(models.Model):
    """One line of a bill: a tier, a TOU period, a capacity/demand charge or a power-factor adjustment."""

    class Kind(models.TextChoices):
        TIER = "tier", _("阶梯电量")
        PERIOD = "period", _("分时电量")
        ENERGY = "energy", _("电度电费")
        TIER_SURCHARGE = "tier_surcharge", _("阶梯加价")
        CAPACITY = "capacity", _("基本电费(容量)")
        DEMAND = "demand", _("基本电费(需量)")
        POWER_FACTOR = "power_factor", _("力调电费")
        CORRECTION = "correction", _("更正")

    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="lines", verbose_name=_("账单"))
    position = models.PositiveSmallIntegerField(_("序号"))
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    label = models.CharField(_("摘要"), max_length=60)
    quantity = models.DecimalField(_("数量"), max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(_("单价"), max_digits=10, decimal_places=4)
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["bill", "position"]
        verbose_name = _("账单明细")
        verbose_name_plural = _("账单明细")

    def __str__(self) -> str:
        return f"{self.bill} #{self.position}"


class BillingRun(models.Model):
    """A billing run over one branch for one period: resumable from its cursor, idempotent."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待执行")
        RUNNING = "running", _("执行中")
        FINISHED = "finished", _("已完成")
        FAILED = "failed", _("失败")

    branch = models.ForeignKey("core.Branch", on_delete=models.PROTECT, related_name="billing_runs", verbose_name=_("县公司"))
    period = models.DateField(_("电费年月"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    accounts_total = models.PositiveIntegerField(_("户数"), default=0)
    accounts_done = models.PositiveIntegerField(_("已处理"), default=0)
    bills_issued = models.PositiveIntegerField(_("发行账单"), default=0)
    accounts_held = models.PositiveIntegerField(_("挂起(待复核)"), default=0)
    cursor_account_id = models.BigIntegerField(_("断点"), default=0)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    error = models.TextField(_("错误"), blank=True)

    class Meta:
        verbose_name = _("抄核收批次")
        verbose_name_plural = _("抄核收批次")
        constraints = [models.UniqueConstraint(fields=["branch", "period"], name="billing_run_unique")]

    def __str__(self) -> str:
        return f"{self.branch} {self.period:%Y-%m}"

    @property
    def accounts_skipped(self) -> int:
        """Accounts the run passed over: no readings for the period, or already billed outside the run."""
        return self.accounts_done - self.bills_issued - self.accounts_held

    @property
    def progress_percent(self) -> int:
        if not self.accounts_total:
            return 100 if self.status == self.Status.FINISHED else 0
        return int(self.accounts_done * 100 / self.accounts_total)
