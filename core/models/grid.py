"""Grid topology (substation -> 10 kV feeder -> transformer area -> service point) and meters."""
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from .org import Branch


class Substation(models.Model):
    """A substation (变电站)."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="substations", verbose_name=_("县公司"))
    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    retired_at = models.DateTimeField(_("退运时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("变电站")
        verbose_name_plural = _("变电站")

    def __str__(self) -> str:
        return self.name


class Feeder(models.Model):
    """A 10 kV feeder (线路) leaving a substation."""

    substation = models.ForeignKey(
        Substation, on_delete=models.PROTECT, related_name="feeders", verbose_name=_("变电站")
    )
    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    retired_at = models.DateTimeField(_("退运时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("10kV线路")
        verbose_name_plural = _("10kV线路")

    def __str__(self) -> str:
        return self.name


class TransformerArea(models.Model):
    """A distribution transformer area (台区): the unit an outage maps to customers by."""

    feeder = models.ForeignKey(Feeder, on_delete=models.PROTECT, related_name="areas", verbose_name=_("线路"))
    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    capacity_kva = models.DecimalField(_("配变容量(kVA)"), max_digits=10, decimal_places=2, default=Decimal("400"))
    retired_at = models.DateTimeField(_("退运时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("台区")
        verbose_name_plural = _("台区")

    def __str__(self) -> str:
        return self.name


class ServicePoint(models.Model):
    """A metering point (计量点) of an account, fed from one transformer area."""

    account = models.ForeignKey(
        "core.Account", on_delete=models.PROTECT, related_name="service_points", verbose_name=_("用电户")
    )
    transformer_area = models.ForeignKey(
        TransformerArea, on_delete=models.PROTECT, related_name="service_points", verbose_name=_("台区")
    )
    code = models.CharField(_("计量点编号"), max_length=32, unique=True)
    voltage = models.CharField(_("电压等级"), max_length=16, default="0.4kV")

    class Meta:
        verbose_name = _("计量点")
        verbose_name_plural = _("计量点")

    def __str__(self) -> str:
        return self.code


class Meter(models.Model):
    """An energy meter (电能表) installed on a service point; a replacement is a new Meter row."""

    service_point = models.ForeignKey(
        ServicePoint, on_delete=models.PROTECT, related_name="meters", verbose_name=_("计量点")
    )
    asset_number = models.CharField(_("资产编号"), max_length=32, unique=True)
    multiplier = models.DecimalField(_("倍率"), max_digits=8, decimal_places=2, default=Decimal("1"))
    tou_capable = models.BooleanField(_("分时计量"), default=False)
    installed_on = models.DateField(_("装表日期"))
    initial_reading = models.DecimalField(_("装表示数"), max_digits=12, decimal_places=2, default=Decimal("0"))
    removed_on = models.DateField(_("拆表日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("电能表")
        verbose_name_plural = _("电能表")

    def __str__(self) -> str:
        return self.asset_number
