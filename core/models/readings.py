"""Meter readings (抄表示数). Consumption is worked out and checked when a reading is recorded."""
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _


class MeterReading(models.Model):
    """One reading of one meter on one day; the same meter and day twice is one reading."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("人工抄表")
        AMI = "ami", _("用电信息采集")
        ESTIMATE = "estimate", _("估抄")
        INSTALL = "install", _("装拆表")

    class Status(models.TextChoices):
        VALID = "valid", _("有效")
        SUSPECT = "suspect", _("待复核")

    meter = models.ForeignKey("core.Meter", on_delete=models.PROTECT, related_name="readings", verbose_name=_("电能表"))
    account = models.ForeignKey(
        "core.Account", on_delete=models.PROTECT, related_name="readings", verbose_name=_("用电户")
    )
    read_on = models.DateField(_("抄表日期"))
    period = models.DateField(_("电费年月"), help_text=_("计费月份的第一天"))
    total = models.DecimalField(_("总示数"), max_digits=12, decimal_places=2)
    peak = models.DecimalField(_("峰示数"), max_digits=12, decimal_places=2, null=True, blank=True)
    flat = models.DecimalField(_("平示数"), max_digits=12, decimal_places=2, null=True, blank=True)
    valley = models.DecimalField(_("谷示数"), max_digits=12, decimal_places=2, null=True, blank=True)
    # Energy since the previous reading of the same meter, times the multiplier (kWh).
    consumption = models.DecimalField(_("电量(kWh)"), max_digits=12, decimal_places=2, default=Decimal("0"))
    consumption_peak = models.DecimalField(_("峰电量"), max_digits=12, decimal_places=2, null=True, blank=True)
    consumption_flat = models.DecimalField(_("平电量"), max_digits=12, decimal_places=2, null=True, blank=True)
    consumption_valley = models.DecimalField(_("谷电量"), max_digits=12, decimal_places=2, null=True, blank=True)
    max_demand_kw = models.DecimalField(_("最大需量(kW)"), max_digits=10, decimal_places=2, null=True, blank=True)
    power_factor = models.DecimalField(_("功率因数"), max_digits=3, decimal_places=2, null=True, blank=True)
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.VALID)
    status_reason = models.CharField(_("复核原因"), max_length=200, blank=True)
    recorded_at = models.DateTimeField(_("录入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("抄表示数")
        verbose_name_plural = _("抄表示数")
        constraints = [
            models.UniqueConstraint(fields=["meter", "read_on"], name="reading_unique_meter_day"),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="reading_total_non_negative"),
        ]
        indexes = [models.Index(fields=["account", "period"], name="reading_account_period_idx")]

    def __str__(self) -> str:
        return f"{self.meter} {self.read_on:%Y-%m-%d} {self.total}"
