"""Tariffs (电价) held as data, with versions and effective dates."""
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from .customers import CustomerCategory


class Tariff(models.Model):
    """A price plan in the catalogue (e.g. 居民阶梯电价, 大工业分时电价); prices live in its versions."""

    code = models.SlugField(_("编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    category = models.CharField(_("用电类别"), max_length=20, choices=CustomerCategory.choices)
    description = models.TextField(_("说明"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("电价")
        verbose_name_plural = _("电价")

    def __str__(self) -> str:
        return self.name


class TariffVersion(models.Model):
    """One version of a tariff's prices, valid from a date (and until the next version starts)."""

    class Structure(models.TextChoices):
        FLAT = "flat", _("单一电价")
        TIERED = "tiered", _("阶梯电价")
        TOU = "tou", _("分时电价")
        TIERED_TOU = "tiered_tou", _("阶梯+分时电价")

    class TierBasis(models.TextChoices):
        MONTHLY = "monthly", _("按月")
        ANNUAL = "annual", _("按年")

    class CapacityBasis(models.TextChoices):
        NONE = "none", _("无基本电费")
        CAPACITY = "capacity", _("按容量")
        DEMAND = "demand", _("按需量")

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="versions", verbose_name=_("电价"))
    effective_from = models.DateField(_("生效日期"))
    structure = models.CharField(_("计价结构"), max_length=12, choices=Structure.choices)
    tier_basis = models.CharField(_("阶梯周期"), max_length=8, choices=TierBasis.choices, default=TierBasis.MONTHLY)
    flat_price = models.DecimalField(_("电度电价(元/kWh)"), max_digits=8, decimal_places=4, null=True, blank=True)
    capacity_basis = models.CharField(
        _("基本电费方式"), max_length=10, choices=CapacityBasis.choices, default=CapacityBasis.NONE
    )
    capacity_price = models.DecimalField(
        _("容量电价(元/kVA·月)"), max_digits=8, decimal_places=4, default=Decimal("0")
    )
    demand_price = models.DecimalField(_("需量电价(元/kW·月)"), max_digits=8, decimal_places=4, default=Decimal("0"))
    power_factor_standard = models.DecimalField(
        _("功率因数考核标准"), max_digits=3, decimal_places=2, null=True, blank=True
    )
    note = models.CharField(_("文号/说明"), max_length=200, blank=True)

    class Meta:
        ordering = ["tariff", "-effective_from"]
        verbose_name = _("电价版本")
        verbose_name_plural = _("电价版本")
        constraints = [
            models.UniqueConstraint(fields=["tariff", "effective_from"], name="tariff_version_unique_start"),
        ]

    def __str__(self) -> str:
        return f"{self.tariff} ({self.effective_from:%Y-%m-%d})"


class TariffTier(models.Model):
    """A tier of a tiered version. upper_kwh is the tier's top per tier period (None = no top).
    For TIERED the price is the full price; for TIERED_TOU it is the increment over the period price."""

    version = models.ForeignKey(TariffVersion, on_delete=models.CASCADE, related_name="tiers", verbose_name=_("版本"))
    number = models.PositiveSmallIntegerField(_("档次"))
    upper_kwh = models.DecimalField(_("档上限(kWh)"), max_digits=10, decimal_places=2, null=True, blank=True)
    price = models.DecimalField(_("电价(元/kWh)"), max_digits=8, decimal_places=4)

    class Meta:
        ordering = ["version", "number"]
        verbose_name = _("阶梯档次")
        verbose_name_plural = _("阶梯档次")
        constraints = [models.UniqueConstraint(fields=["version", "number"], name="tariff_tier_unique_number")]

    def __str__(self) -> str:
        return f"{self.version} · {self.number}"


class TimePeriod(models.TextChoices):
    PEAK = "peak", _("峰")
    FLAT = "flat", _("平")
    VALLEY = "valley", _("谷")


class TariffPeriodPrice(models.Model):
    """The energy price of one time-of-use period (峰/平/谷) in a TOU version."""

    version = models.ForeignKey(
        TariffVersion, on_delete=models.CASCADE, related_name="period_prices", verbose_name=_("版本")
    )
    period = models.CharField(_("时段"), max_length=8, choices=TimePeriod.choices)
    price = models.DecimalField(_("电价(元/kWh)"), max_digits=8, decimal_places=4)

    class Meta:
        verbose_name = _("分时电价")
        verbose_name_plural = _("分时电价")
        constraints = [models.UniqueConstraint(fields=["version", "period"], name="tariff_period_unique")]

    def __str__(self) -> str:
        return f"{self.version} · {self.get_period_display()}"


class TimeBand(models.Model):
    """A clock interval belonging to a TOU period (e.g. 08:00-22:00 峰); end may wrap past midnight."""

    version = models.ForeignKey(TariffVersion, on_delete=models.CASCADE, related_name="time_bands", verbose_name=_("版本"))
    period = models.CharField(_("时段"), max_length=8, choices=TimePeriod.choices)
    starts_at = models.TimeField(_("开始"))
    ends_at = models.TimeField(_("结束"))

    class Meta:
        ordering = ["version", "starts_at"]
        verbose_name = _("分时时段")
        verbose_name_plural = _("分时时段")

    def __str__(self) -> str:
        return f"{self.get_period_display()} {self.starts_at:%H:%M}-{self.ends_at:%H:%M}"


class PowerFactorBand(models.Model):
    """A row of the power-factor adjustment table (功率因数调整电费表): percent of the bill added (+) or
    deducted (-) when the measured power factor lies in [pf_from, pf_to]."""

    standard = models.DecimalField(_("考核标准"), max_digits=3, decimal_places=2)
    pf_from = models.DecimalField(_("功率因数下限"), max_digits=3, decimal_places=2)
    pf_to = models.DecimalField(_("功率因数上限"), max_digits=3, decimal_places=2)
    percent = models.DecimalField(_("调整百分比"), max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["standard", "pf_from"]
        verbose_name = _("功率因数调整")
        verbose_name_plural = _("功率因数调整")
        constraints = [models.UniqueConstraint(fields=["standard", "pf_from"], name="power_factor_band_unique")]

    def __str__(self) -> str:
        return f"{self.standard}: {self.pf_from}-{self.pf_to} {self.percent}%"
