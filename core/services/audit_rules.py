"""Business audit (稽查): rules that flag anomalies for the auditors' work list, and resolving a flag with a note.

Five rules (the quality-management layer of the source plan):
- zero consumption for ZERO_MONTHS months running on an occupied (active) account: one flag per run of zero
  months, on the month the run reached ZERO_MONTHS;
- a month's consumption over JUMP_FACTOR times the account's average over the BASELINE_MONTHS months before it
  (months with readings, at least BASELINE_MIN_MONTHS of them, average above zero);
- a bill corrected after issue (its credit note's ledger line), a payment reversed (the reversal's ledger line),
  a late fee waived (each waiver's ledger line).

Each rule is one grouped query that returns only the anomalies not yet flagged, written with one bulk insert per
chunk; the unique constraints on AuditFlag make a rerun, or two scans at once, raise nothing twice.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count, DecimalField, Exists, ExpressionWrapper, F, Max, Min, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.models import Account, AuditFlag, AuditRule, LedgerEntry, MeterReading
from core.services.roles import ROLE_AUDITOR, ROLE_NAMES, ROLE_SUPERVISOR

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZERO_MONTHS = 3
JUMP_FACTOR = 3
BASELINE_MONTHS = 12
BASELINE_MIN_MONTHS = 3
INSERT_CHUNK = 1000
# The daily scan looks this far back for ledger events; a full scan (since=None) catches up on anything older.
EVENT_LOOKBACK = datetime.timedelta(days=35)
KWH = Decimal("0.01")
ZERO_KWH = Decimal("0.00")

EVENT_KINDS = {
    AuditRule.BILL_CORRECTED: LedgerEntry.Kind.CREDIT_NOTE,
    AuditRule.PAYMENT_REVERSED: LedgerEntry.Kind.PAYMENT_REVERSAL,
    AuditRule.LATE_FEE_WAIVED: LedgerEntry.Kind.LATE_FEE_WAIVER,
}


class AuditFlagError(DomainError):
    code = "audit_flag_error"


class AuditFlagNotFound(AuditFlagError):
    code = "audit_flag_not_found"


class AuditFlagAlreadyResolved(AuditFlagError):
    code = "audit_flag_already_resolved"


class AuditFlagNotPermitted(AuditFlagError):
    code = "audit_flag_not_permitted"


@dataclass
class AuditScanResult:
    periods: list[datetime.date]
    raised: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.raised.values())


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def month_add(period: datetime.date, months: int) -> datetime.date:
    index = period.year * 12 + period.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def _moment(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=SHANGHAI)


def _insert(flags: list[AuditFlag]) -> None:
    for start in range(0, len(flags), INSERT_CHUNK):
        AuditFlag.objects.bulk_create(flags[start:start + INSERT_CHUNK], ignore_conflicts=True)


def zero_consumption_flag(*, period: datetime.date, now: datetime.datetime) -> int:
    """Active accounts whose readings of `period` and the ZERO_MONTHS - 1 months before it all show no consumption,
    unless this run of zero months was flagged already (a zero flag with no consumption after its month)."""
    first = month_add(period, -(ZERO_MONTHS - 1))
    flagged_in_this_run = AuditFlag.objects.filter(
        rule=AuditRule.ZERO_CONSUMPTION, account_id=OuterRef("account_id"), period__lte=period
    ).exclude(
        Exists(
            MeterReading.objects.filter(
                account_id=OuterRef("account_id"), consumption__gt=0, period__gt=OuterRef("period"),
                period__lte=period,
            )
        )
    )
    rows = (
        MeterReading.objects.filter(
            period__gte=first, period__lte=period, account__status=Account.Status.ACTIVE,
        )
        .filter(~Exists(flagged_in_this_run))
        .values("account_id", "account__branch_id")
        .annotate(
            months=Count("period", distinct=True), most=Max("consumption"), least=Min("consumption"),
            last_read=Max("read_on"),
        )
        .filter(months=ZERO_MONTHS, most=0, least=0)
        .order_by("account_id")
    )
    flags = [
        AuditFlag(
            rule=AuditRule.ZERO_CONSUMPTION, account_id=row["account_id"], branch_id=row["account__branch_id"],
            period=period, kwh=ZERO_KWH, occurred_at=_moment(row["last_read"]), raised_at=now,
        )
        for row in rows
    ]
    _insert(flags)
    return len(flags)


def consumption_jump_flag(*, period: datetime.date, now: datetime.datetime) -> int:
    """Accounts whose consumption in `period` is over JUMP_FACTOR times their monthly average over the
    BASELINE_MONTHS months before it (compared as kwh x months > factor x total, no division in the database)."""
    first = month_add(period, -BASELINE_MONTHS)
    energy = DecimalField(max_digits=20, decimal_places=2)
    already = AuditFlag.objects.filter(
        rule=AuditRule.CONSUMPTION_JUMP, account_id=OuterRef("account_id"), period=period
    )
    rows = (
        MeterReading.objects.filter(period__gte=first, period__lte=period)
        .filter(~Exists(already))
        .values("account_id", "account__branch_id")
        .annotate(
            kwh=Sum("consumption", filter=Q(period=period)),
            last_read=Max("read_on", filter=Q(period=period)),
            history=Sum("consumption", filter=Q(period__lt=period)),
            history_months=Count("period", distinct=True, filter=Q(period__lt=period)),
        )
        .annotate(
            scaled=ExpressionWrapper(F("kwh") * F("history_months"), output_field=energy),
            limit=ExpressionWrapper(F("history") * JUMP_FACTOR, output_field=energy),
        )
        .filter(kwh__isnull=False, history__gt=0, history_months__gte=BASELINE_MIN_MONTHS, scaled__gt=F("limit"))
        .order_by("account_id")
    )
    flags = [
        AuditFlag(
            rule=AuditRule.CONSUMPTION_JUMP, account_id=row["account_id"], branch_id=row["account__branch_id"],
            period=period, kwh=row["kwh"],
            baseline_kwh=(Decimal(row["history"]) / row["history_months"]).quantize(KWH, rounding=ROUND_HALF_UP),
            occurred_at=_moment(row["last_read"]), raised_at=now,
        )
        for row in rows
    ]
    _insert(flags)
    return len(flags)


def ledger_event_flag(*, rule: str, now: datetime.datetime, since: datetime.datetime | None = None) -> int:
    """One flag per ledger line of the rule's kind (credit note, payment reversal, late-fee waiver) not yet flagged,
    posted at or after `since` (None: any time)."""
    entries = LedgerEntry.objects.filter(kind=EVENT_KINDS[rule]).filter(
        ~Exists(AuditFlag.objects.filter(rule=rule, ledger_entry_id=OuterRef("pk")))
    )
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    rows = entries.values_list("pk", "account_id", "account__branch_id", "amount", "memo", "created_at").order_by("pk")
    flags = [
        AuditFlag(
            rule=rule, account_id=account_id, branch_id=branch_id, ledger_entry_id=pk, amount=abs(amount),
            reason=memo[:200], occurred_at=created_at, raised_at=now,
        )
        for pk, account_id, branch_id, amount, memo, created_at in rows
    ]
    _insert(flags)
    return len(flags)


def audit_scan(
    *, as_of: datetime.date, now: datetime.datetime | None = None, since: datetime.datetime | None = None,
    full: bool = False,
) -> AuditScanResult:
    """Run every rule: the consumption rules on the month of `as_of` and the month before (readings of a month
    arrive into the next), the event rules on ledger lines since `since` (default: EVENT_LOOKBACK before now;
    `full` scans all). Idempotent."""
    now = now or timezone.now()
    current = month_start(as_of)
    periods = [month_add(current, -1), current]
    if since is None and not full:
        since = now - EVENT_LOOKBACK
    result = AuditScanResult(periods=periods, raised={rule: 0 for rule in AuditRule.values})
    for period in periods:
        result.raised[AuditRule.ZERO_CONSUMPTION] += zero_consumption_flag(period=period, now=now)
        result.raised[AuditRule.CONSUMPTION_JUMP] += consumption_jump_flag(period=period, now=now)
    for rule in EVENT_KINDS:
        result.raised[rule] += ledger_event_flag(rule=rule, now=now, since=since)
    return result


def audit_staff(*, user) -> bool:
    """Who works the audit list and reads the quality reports: auditors (稽查员), supervisors (班长) and anyone
    granted core.change_auditflag."""
    if not (user.is_authenticated and user.is_staff and user.is_active):
        return False
    if user.has_perm("core.change_auditflag"):
        return True
    names = (ROLE_NAMES[ROLE_AUDITOR], ROLE_NAMES[ROLE_SUPERVISOR])
    return Group.objects.filter(user=user, name__in=names).exists()


def audit_flag_resolve(*, flag_id: int, user, note: str) -> AuditFlag:
    """Close a flag with what was found and done. Locks the flag row; a flag is resolved once."""
    note = (note or "").strip()
    if not audit_staff(user=user):
        raise AuditFlagNotPermitted(_("只有稽查员或班长可以处理稽查疑点"))
    if not note:
        raise AuditFlagError(_("请填写处理说明"), field="note")
    with transaction.atomic():
        flag = AuditFlag.objects.select_for_update().filter(pk=flag_id).first()
        if flag is None:
            raise AuditFlagNotFound(_("稽查疑点不存在"))
        if flag.state == AuditFlag.State.RESOLVED:
            raise AuditFlagAlreadyResolved(_("该稽查疑点已处理"))
        flag.state = AuditFlag.State.RESOLVED
        flag.resolved_at = timezone.now()
        flag.resolved_by = user
        flag.resolution_note = note[:2000]
        flag.save(update_fields=["state", "resolved_at", "resolved_by", "resolution_note"])
    return flag
