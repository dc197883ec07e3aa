"""Known power interruptions (停电): planned and temporary outages announced ahead, and faults as they happen.

The CMS announces planned and temporary ones; fault reports and the data-acquisition interface record faults.
The IVR, the agent console and fault reports ask `core.selectors.outages` whether an account is affected.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .grid import Feeder, Substation, TransformerArea
from .org import Branch


class OutageKind(models.TextChoices):
    PLANNED = "planned", _("计划停电")
    TEMPORARY = "temporary", _("临时停电")
    FAULT = "fault", _("故障停电")


class OutageState(models.TextChoices):
    ANNOUNCED = "announced", _("已公告")
    RESTORED = "restored", _("已恢复送电")
    CANCELLED = "cancelled", _("已取消")


class Outage(models.Model):
    """One interruption over a set of transformer areas, from its start to its expected (or actual) end."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="outages", verbose_name=_("县公司"))
    kind = models.CharField(_("停电类型"), max_length=10, choices=OutageKind.choices)
    # Written only by core.services.outages (announce, revise, restore, cancel), which record who and when.
    state = models.CharField(_("状态"), max_length=10, choices=OutageState.choices, default=OutageState.ANNOUNCED)
    title = models.CharField(_("标题"), max_length=200)
    reason = models.CharField(_("停电原因"), max_length=200)
    streets = models.TextField(_("停电范围(街道、小区、村)"), blank=True)
    starts_at = models.DateTimeField(_("停电开始时间"))
    ends_at = models.DateTimeField(_("预计恢复送电时间"))
    restored_at = models.DateTimeField(_("实际恢复送电时间"), null=True, blank=True)
    # What the announcer picked; the affected transformer areas (OutageArea) are these expanded down the topology.
    substations = models.ManyToManyField(Substation, blank=True, related_name="+", verbose_name=_("变电站"))
    feeders = models.ManyToManyField(Feeder, blank=True, related_name="+", verbose_name=_("10kV线路"))
    transformer_areas = models.ManyToManyField(
        TransformerArea, blank=True, related_name="+", verbose_name=_("台区")
    )
    affected_accounts = models.PositiveIntegerField(_("影响户数"), default=0)
    # The announcing record elsewhere, e.g. "cms:<translation key>" for a CMS notice: one outage per source.
    source_key = models.CharField(_("来源"), max_length=80, unique=True, null=True, blank=True)
    announced_at = models.DateTimeField(_("公告时间"))
    announced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("公告人"),
    )
    revised_at = models.DateTimeField(_("最近修改时间"), null=True, blank=True)
    revised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("最近修改人"),
    )
    restored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("恢复送电登记人"),
    )
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("取消人"),
    )
    cancelled_reason = models.CharField(_("取消原因"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["starts_at", "pk"]
        verbose_name = _("停电信息")
        verbose_name_plural = _("停电信息")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="outage_ends_after_start"),
        ]
        indexes = [
            models.Index(fields=["state", "ends_at"], name="outage_state_ends"),
            models.Index(fields=["branch", "starts_at"], name="outage_branch_starts"),
        ]

    def __str__(self) -> str:
        return self.title


class OutageArea(models.Model):
    """A transformer area an outage covers (the picked substations and feeders expanded): the lookup table for
    "is this account affected"."""

    outage = models.ForeignKey(Outage, on_delete=models.CASCADE, related_name="areas", verbose_name=_("停电信息"))
    transformer_area = models.ForeignKey(
        TransformerArea, on_delete=models.PROTECT, related_name="outage_areas", verbose_name=_("台区")
    )

    class Meta:
        verbose_name = _("停电台区")
        verbose_name_plural = _("停电台区")
        constraints = [
            models.UniqueConstraint(fields=["outage", "transformer_area"], name="outage_area_unique"),
        ]
        indexes = [models.Index(fields=["transformer_area", "outage"], name="outage_area_by_area")]
