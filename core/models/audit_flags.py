"""Business audit flags (稽查): anomalies the audit rules found, each worked off the auditors' list with a note.

Written only by core.services.audit_rules: the daily scan raises flags (once per anomaly, whatever the number of
scans) and an auditor or supervisor resolves them. `state` is never assigned outside that module.
"""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.money import format_yuan


class AuditRule(models.TextChoices):
    ZERO_CONSUMPTION = "zero_consumption", _("连续零电量")
    CONSUMPTION_JUMP = "consumption_jump", _("电量突增")
    BILL_CORRECTED = "bill_corrected", _("账单发行后更正")
    PAYMENT_REVERSED = "payment_reversed", _("缴费冲正")
    LATE_FEE_WAIVED = "late_fee_waived", _("违约金减免")


# Rules about a month's consumption carry the period; rules about a ledger event carry the ledger entry.
CONSUMPTION_RULES = (AuditRule.ZERO_CONSUMPTION, AuditRule.CONSUMPTION_JUMP)
EVENT_RULES = (AuditRule.BILL_CORRECTED, AuditRule.PAYMENT_REVERSED, AuditRule.LATE_FEE_WAIVED)


class AuditFlag(models.Model):
    """One anomaly on one account: a month's consumption (zero for months running, or a jump), or a ledger event
    an auditor should look at (a bill corrected after issue, a payment reversed, a late fee waived)."""

    class State(models.TextChoices):
        OPEN = "open", _("待核查")
        RESOLVED = "resolved", pgettext_lazy("audit flag state", "已处理")

    rule = models.CharField(_("稽查规则"), max_length=20, choices=AuditRule.choices)
    account = models.ForeignKey(
        "core.Account", on_delete=models.PROTECT, related_name="audit_flags", verbose_name=_("用电户")
    )
    # The branch of the account when flagged: the work list filters and counts by it without a join.
    branch = models.ForeignKey(
        "core.Branch", on_delete=models.PROTECT, related_name="audit_flags", verbose_name=_("县公司")
    )
    # Consumption rules: the month assessed (the last of the zero months, or the month that jumped).
    period = models.DateField(_("电费年月"), null=True, blank=True)
    # Event rules: the ledger line of the correction (credit note), the reversal or the waiver.
    ledger_entry = models.ForeignKey(
        "core.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="audit_flags",
        verbose_name=_("账务流水"),
    )
    kwh = models.DecimalField(_("当月电量(kWh)"), max_digits=14, decimal_places=2, null=True, blank=True)
    baseline_kwh = models.DecimalField(
        _("前12个月月均电量(kWh)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2, null=True, blank=True)
    reason = models.CharField(_("业务原因"), max_length=200, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"))
    raised_at = models.DateTimeField(_("发现时间"))
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.OPEN)
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("处理人"),
    )
    resolution_note = models.TextField(_("处理说明"), blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        verbose_name = _("稽查疑点")
        verbose_name_plural = _("稽查疑点")
        constraints = [
            # A scan run twice (or two at once) raises each anomaly once.
            models.UniqueConstraint(
                fields=["rule", "account", "period"], condition=Q(period__isnull=False),
                name="audit_flag_once_per_account_period",
            ),
            models.UniqueConstraint(
                fields=["rule", "ledger_entry"], condition=Q(ledger_entry__isnull=False),
                name="audit_flag_once_per_ledger_entry",
            ),
            models.CheckConstraint(
                condition=Q(period__isnull=False, ledger_entry__isnull=True)
                | Q(period__isnull=True, ledger_entry__isnull=False),
                name="audit_flag_period_or_ledger_entry",
            ),
            models.CheckConstraint(
                condition=Q(state="open") | ~Q(resolution_note=""), name="audit_flag_resolved_with_note",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "branch", "rule", "raised_at"], name="audit_flag_work_list"),
            models.Index(fields=["account", "rule", "period"], name="audit_flag_account_rule"),
        ]

    def __str__(self) -> str:
        return f"{self.get_rule_display()} · {self.account_id}"

    @property
    def amount_display(self) -> str:
        return "" if self.amount is None else format_yuan(self.amount)

    @property
    def description(self) -> str:
        """What was found, in a line for the work list and its exports."""
        if self.rule == AuditRule.ZERO_CONSUMPTION:
            return str(_("截至%(period)s连续多月零电量")) % {"period": self.period.strftime("%Y-%m")}
        if self.rule == AuditRule.CONSUMPTION_JUMP:
            return str(_("%(period)s电量%(kwh)s kWh，为前12个月月均%(baseline)s kWh的%(ratio)s倍")) % {
                "period": self.period.strftime("%Y-%m"), "kwh": self.kwh, "baseline": self.baseline_kwh,
                "ratio": self.jump_ratio,
            }
        return " · ".join(part for part in (self.amount_display, self.reason) if part)

    @property
    def jump_ratio(self) -> Decimal | None:
        """How many times the 12-month average this month's consumption is (one decimal)."""
        if self.kwh is None or not self.baseline_kwh:
            return None
        return (self.kwh / self.baseline_kwh).quantize(Decimal("0.1"))
