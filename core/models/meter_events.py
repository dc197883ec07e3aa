"""Power-off and power-restore events meters report through the data-acquisition systems (用电信息采集 / 负荷管理),
and the rule that turns enough of them in one transformer area into a known fault outage (core.services.meter_events).
"""
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class MeterEvent(models.Model):
    """One event of one meter; the same meter, kind and moment again is the same event."""

    class Kind(models.TextChoices):
        POWER_OFF = "power_off", _("停电")
        POWER_RESTORE = "power_restore", _("复电")

    class Source(models.TextChoices):
        ACQUISITION = "acquisition", _("用电信息采集系统")
        CONCENTRATOR = "concentrator", _("低压集抄")
        LOAD_MANAGEMENT = "load_management", _("负荷管理系统")

    meter = models.ForeignKey("core.Meter", on_delete=models.PROTECT, related_name="events", verbose_name=_("电能表"))
    kind = models.CharField(_("事件类型"), max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("发生时间"))
    source = models.CharField(_("来源系统"), max_length=16, choices=Source.choices)
    received_at = models.DateTimeField(_("接收时间"))
    # The outage this event marked or restored, when it was the one that tipped the area's count.
    outage = models.ForeignKey(
        "core.Outage", on_delete=models.SET_NULL, related_name="meter_events", verbose_name=_("停电信息"),
        null=True, blank=True,
    )

    class Meta:
        verbose_name = _("电能表停复电事件")
        verbose_name_plural = _("电能表停复电事件")
        constraints = [
            models.UniqueConstraint(fields=["meter", "kind", "occurred_at"], name="meter_event_unique"),
        ]
        indexes = [models.Index(fields=["meter", "occurred_at"], name="meter_event_meter_time")]

    def __str__(self) -> str:
        return f"{self.meter_id} {self.kind} {self.occurred_at:%Y-%m-%d %H:%M}"


class OutageDetectionRule(models.Model):
    """When meter events make a known outage of a transformer area (a branch's own rule, else the default one
    with no branch): enough of the area's meters off within a short window mark it, enough of them back restore it."""

    branch = models.OneToOneField(
        "core.Branch", on_delete=models.CASCADE, related_name="outage_detection_rule", verbose_name=_("县公司"),
        null=True, blank=True, help_text=_("不填为默认规则"),
    )
    min_meters = models.PositiveSmallIntegerField(
        _("最少停电表数"), default=3, validators=[MinValueValidator(1)],
        help_text=_("台区内至少这么多块表上报停电才判定台区停电"),
    )
    off_share_percent = models.PositiveSmallIntegerField(
        _("停电表占比(%)"), default=50, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("上报停电的表占台区在运电能表的比例"),
    )
    window_minutes = models.PositiveSmallIntegerField(
        _("判定时间窗(分钟)"), default=15, validators=[MinValueValidator(1)],
        help_text=_("在这段时间内先后上报的停电视为同一次停电"),
    )
    restore_share_percent = models.PositiveSmallIntegerField(
        _("复电表占比(%)"), default=80, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("停电的表中上报复电的比例达到此值即登记恢复送电"),
    )
    expected_minutes = models.PositiveSmallIntegerField(
        _("预计停电时长(分钟)"), default=240, validators=[MinValueValidator(1)],
        help_text=_("公告的预计恢复送电时间"),
    )

    class Meta:
        verbose_name = _("台区停电判定规则")
        verbose_name_plural = _("台区停电判定规则")
        constraints = [
            models.CheckConstraint(condition=models.Q(min_meters__gte=1), name="outage_rule_min_meters"),
            models.CheckConstraint(
                condition=models.Q(off_share_percent__gte=1, off_share_percent__lte=100),
                name="outage_rule_off_share",
            ),
            models.CheckConstraint(
                condition=models.Q(restore_share_percent__gte=1, restore_share_percent__lte=100),
                name="outage_rule_restore_share",
            ),
            models.CheckConstraint(condition=models.Q(window_minutes__gte=1), name="outage_rule_window"),
            models.CheckConstraint(condition=models.Q(expected_minutes__gte=1), name="outage_rule_expected"),
        ]

    def __str__(self) -> str:
        return str(self.branch) if self.branch_id else str(_("默认规则"))
