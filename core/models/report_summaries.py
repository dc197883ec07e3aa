"""Decision-support summary tables (营销决策支持): monthly aggregates per branch and service station, written only
by core.services.report_refresh (set-based SQL, only the periods and branches touched since the last refresh)
and read by core.selectors.dashboards. Rows are derived data: they can always be rebuilt from the source tables.
"""
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from .customers import CustomerCategory
from .grid import Feeder
from .org import Branch, ServiceStation
from .outages import OutageKind
from .tickets import BusinessType

ZERO = Decimal("0.00")


class ReportRefresh(models.Model):
    """One refresh of the summary tables: how far it read each source table (its marks) and what it re-computed.

    The next refresh reads from the marks of the refresh before this one, so a row committed late by a
    transaction that was still open during one refresh is picked up by the following one."""

    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    full = models.BooleanField(_("全量重算"), default=False)
    # {"bill": id, "ledger": id, "allocation": id, "account": id, "ticket_event": id, "outage_at": iso time}
    marks = models.JSONField(_("读取位置"), default=dict)
    scanned_from = models.JSONField(_("本次读取起点"), default=dict)
    # {"billing": ["2026-10", ...], ...}: the periods re-computed per summary
    periods = models.JSONField(_("重算期间"), default=dict)
    rows = models.PositiveIntegerField(_("写入行数"), default=0)
    seconds = models.DecimalField(_("耗时(秒)"), max_digits=10, decimal_places=3, default=Decimal("0"))

    class Meta:
        ordering = ["-id"]
        verbose_name = _("报表刷新记录")
        verbose_name_plural = _("报表刷新记录")
        permissions = [("view_decision_support", _("查看决策支持报表"))]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M}"


class BillingSummary(models.Model):
    """Consumption, revenue and arrears of one billing month (电费年月) per station and customer category.

    Credit notes net out the bills they cancel (their kWh and totals are negative); `bills` counts the bills in
    force, one per account billed (a corrected bill's re-bill, not the original); `outstanding` is what is still
    owed today on that month's bills."""

    period = models.DateField(_("电费年月"))
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+", verbose_name=_("县公司"))
    station = models.ForeignKey(ServiceStation, on_delete=models.CASCADE, related_name="+", verbose_name=_("供电所"))
    category = models.CharField(_("用电类别"), max_length=20, choices=CustomerCategory.choices)
    bills = models.PositiveIntegerField(_("账单数"), default=0)
    kwh = models.DecimalField(_("电量(kWh)"), max_digits=16, decimal_places=2, default=ZERO)
    billed = models.DecimalField(_("应收电费"), max_digits=16, decimal_places=2, default=ZERO)
    paid = models.DecimalField(_("实收电费"), max_digits=16, decimal_places=2, default=ZERO)
    outstanding = models.DecimalField(_("欠费余额"), max_digits=16, decimal_places=2, default=ZERO)
    accounts_in_arrears = models.PositiveIntegerField(_("欠费户数"), default=0)

    class Meta:
        verbose_name = _("电量电费汇总")
        verbose_name_plural = _("电量电费汇总")
        constraints = [
            models.UniqueConstraint(fields=["period", "branch", "station", "category"], name="billing_summary_key"),
        ]
        indexes = [models.Index(fields=["branch", "period"], name="billing_summary_branch")]


class TierSummary(models.Model):
    """Residential tiered bills of one month per station and tier (阶梯): how many bills reached the tier and the
    kWh charged in it. A bill's tier lines are its first lines, one per tier in order, so a line's position is
    its tier number; a bill reaching tier 3 has lines for tiers 1, 2 and 3."""

    period = models.DateField(_("电费年月"))
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+", verbose_name=_("县公司"))
    station = models.ForeignKey(ServiceStation, on_delete=models.CASCADE, related_name="+", verbose_name=_("供电所"))
    tier = models.PositiveSmallIntegerField(_("档次"))
    bills = models.PositiveIntegerField(_("达到该档的账单数"), default=0)
    kwh = models.DecimalField(_("该档电量(kWh)"), max_digits=16, decimal_places=2, default=ZERO)

    class Meta:
        verbose_name = _("阶梯分布汇总")
        verbose_name_plural = _("阶梯分布汇总")
        constraints = [
            models.UniqueConstraint(fields=["period", "branch", "station", "tier"], name="tier_summary_key"),
        ]
        indexes = [models.Index(fields=["branch", "period"], name="tier_summary_branch")]


class CustomerSummary(models.Model):
    """Accounts opened (立户) in one month per station and customer category: customer growth."""

    period = models.DateField(_("立户年月"))
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+", verbose_name=_("县公司"))
    station = models.ForeignKey(ServiceStation, on_delete=models.CASCADE, related_name="+", verbose_name=_("供电所"))
    category = models.CharField(_("用电类别"), max_length=20, choices=CustomerCategory.choices)
    opened = models.PositiveIntegerField(_("新增户数"), default=0)

    class Meta:
        verbose_name = _("客户增长汇总")
        verbose_name_plural = _("客户增长汇总")
        constraints = [
            models.UniqueConstraint(fields=["period", "branch", "station", "category"], name="customer_summary_key"),
        ]
        indexes = [models.Index(fields=["branch", "period"], name="customer_summary_branch")]


class TicketSummary(models.Model):
    """Tickets accepted in one month (Asia/Shanghai) per branch, station (of the ticket's account; none when the
    ticket has no account) and business type, with how many were closed and how many of those on time."""

    period = models.DateField(_("受理年月"))
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+", verbose_name=_("县公司"))
    station = models.ForeignKey(
        ServiceStation, on_delete=models.CASCADE, related_name="+", verbose_name=_("供电所"), null=True, blank=True
    )
    business_type = models.CharField(_("业务类型"), max_length=40, choices=BusinessType.choices)
    opened = models.PositiveIntegerField(_("受理量"), default=0)
    closed = models.PositiveIntegerField(_("办结量"), default=0)
    closed_due = models.PositiveIntegerField(_("有承诺时限的办结量"), default=0)
    closed_on_time = models.PositiveIntegerField(_("按时办结量"), default=0)
    cancelled = models.PositiveIntegerField(_("撤销量"), default=0)

    class Meta:
        verbose_name = _("工单汇总")
        verbose_name_plural = _("工单汇总")
        indexes = [
            models.Index(fields=["period", "branch"], name="ticket_summary_period"),
            models.Index(fields=["branch", "period"], name="ticket_summary_branch"),
        ]


class OutageSummary(models.Model):
    """Outages that started in one month, per 10 kV feeder and kind (cancelled ones left out): how many, the
    transformer areas and service points they cut, and customer-interruption duration (停电时户数: each
    area's service points times the outage's length, for outages with power restored)."""

    period = models.DateField(_("停电年月"))
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+", verbose_name=_("县公司"))
    feeder = models.ForeignKey(Feeder, on_delete=models.CASCADE, related_name="+", verbose_name=_("10kV线路"))
    kind = models.CharField(_("停电类型"), max_length=10, choices=OutageKind.choices)
    outages = models.PositiveIntegerField(_("停电次数"), default=0)
    areas = models.PositiveIntegerField(_("停电台区数"), default=0)
    customers = models.PositiveIntegerField(_("影响计量点数"), default=0)
    customer_interruption = models.DurationField(_("停电时户数"))

    class Meta:
        verbose_name = _("线路停电汇总")
        verbose_name_plural = _("线路停电汇总")
        constraints = [
            models.UniqueConstraint(fields=["period", "branch", "feeder", "kind"], name="outage_summary_key"),
        ]
        indexes = [models.Index(fields=["branch", "period"], name="outage_summary_branch")]


class FaultReportSummary(models.Model):
    """Fault repair tickets (故障报修) accepted in one month per 10 kV feeder of their transformer area."""

    period = models.DateField(_("受理年月"))
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+", verbose_name=_("县公司"))
    feeder = models.ForeignKey(Feeder, on_delete=models.CASCADE, related_name="+", verbose_name=_("10kV线路"))
    reports = models.PositiveIntegerField(_("报修量"), default=0)
    closed = models.PositiveIntegerField(_("办结量"), default=0)
    closed_on_time = models.PositiveIntegerField(_("按时办结量"), default=0)

    class Meta:
        verbose_name = _("线路报修汇总")
        verbose_name_plural = _("线路报修汇总")
        constraints = [
            models.UniqueConstraint(fields=["period", "branch", "feeder"], name="fault_report_summary_key"),
        ]
        indexes = [models.Index(fields=["branch", "period"], name="fault_report_summary_branch")]
