"""The SLA clock of ticket steps: warnings at each operator's threshold, overdue marks with their evaluation
(考核), automatic skips of overdue low-priority steps; and the operators' own warning thresholds.

`sla_scan` runs every minute (beat task core.sla_tick) and from `manage.py sla_tick`. Two scans may overlap
(a slow beat, a manual run): each mark is claimed by a conditional UPDATE (... WHERE warned_at IS NULL ...
RETURNING id) that only one of them can win, and a skip goes through the engine, which locks the ticket and
refuses a step no longer active; so every warning, overdue mark and skip is raised once, never twice.
Only ACTIVE steps are read, through the partial indexes ticket_step_to_warn and ticket_step_to_mark_overdue:
a suspended step's clock is stopped.
"""
from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, TicketError
from core.models import (
    Evaluation,
    LimitKind,
    StepPriority,
    Ticket,
    TicketEvent,
    TicketStep,
    WarningThreshold,
)
from core.services.tickets import ticket_step_skip
from core.services.working_calendar import (
    LOCAL_TZ,
    calendar_overrides,
    warn_at_compute,
    working_seconds_between,
)
from core.signals import ticket_changed

logger = logging.getLogger(__name__)

# Marks raised per kind in one scan at most; a backlog larger than this drains over the following minutes.
DEFAULT_LIMIT = 20000
BATCH_SIZE = 500
# A warning threshold of at most 30 days before due (the longest step limits are a few weeks).
MAX_MINUTES_BEFORE_DUE = 30 * 24 * 60


class WarningThresholdInvalid(TicketError):
    code = "warning_threshold_invalid"
    default_message = _("预警阈值设置有误")


@dataclass(frozen=True)
class SlaMark:
    """One step the scan raised something for."""

    step_id: int
    ticket_id: int
    ticket_number: str


@dataclass(frozen=True)
class SlaScanResult:
    warned: tuple[SlaMark, ...] = ()
    overdue: tuple[SlaMark, ...] = ()
    skipped: tuple[SlaMark, ...] = ()
    # Evaluations (考核) written for overdue marks; a skip's evaluation is written by the engine.
    evaluations: int = 0

    @property
    def total(self) -> int:
        return len(self.warned) + len(self.overdue) + len(self.skipped)


@dataclass(frozen=True)
class _Candidate:
    step_id: int
    ticket_id: int
    auto_skip: bool


def _stored_text(message) -> str:
    """Text kept in the event log, in the default language whatever language is active."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(message)


def _iso(moment: datetime.datetime) -> str:
    return moment.isoformat()


# --- the scan -----------------------------------------------------------------------------------------------


def sla_scan(*, now: datetime.datetime | None = None, limit: int = DEFAULT_LIMIT,
             batch_size: int = BATCH_SIZE) -> SlaScanResult:
    """Raise the warnings and overdue marks that have fallen due by `now`, and skip the overdue steps whose
    definition allows it. Safe to run concurrently with itself and with the engine; each batch commits alone."""
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValueError("sla_scan needs a timezone-aware time")
    warned = _warnings_raise(now=now, limit=limit, batch_size=batch_size)
    overdue, skipped, evaluations = _overdue_raise(now=now, limit=limit, batch_size=batch_size)
    return SlaScanResult(warned=tuple(warned), overdue=tuple(overdue), skipped=tuple(skipped),
                         evaluations=evaluations)


def _warning_candidates(*, now: datetime.datetime, size: int) -> list[_Candidate]:
    """Active steps not yet warned whose warning time has come, earliest first (index ticket_step_to_warn)."""
    rows = (
        TicketStep.objects.filter(state=TicketStep.State.ACTIVE, warned_at__isnull=True, warn_at__lte=now)
        .order_by("warn_at")
        .values_list("id", "ticket_id")[:size]
    )
    return [_Candidate(step_id, ticket_id, False) for step_id, ticket_id in rows]


def _overdue_candidates(*, now: datetime.datetime, size: int) -> list[_Candidate]:
    """Active steps not yet marked whose due time has passed, earliest first (index ticket_step_to_mark_overdue)."""
    rows = (
        TicketStep.objects.filter(state=TicketStep.State.ACTIVE, overdue_at__isnull=True, due_at__lte=now)
        .order_by("due_at")
        .values_list("id", "ticket_id", "step_definition__priority", "step_definition__auto_skip_when_overdue")[:size]
    )
    return [
        _Candidate(step_id, ticket_id, priority == StepPriority.LOW and bool(auto_skip))
        for step_id, ticket_id, priority, auto_skip in rows
    ]


def _tickets_lock(ticket_ids: list[int]) -> None:
    """Lock the candidates' tickets in id order before touching their steps, the order the engine locks in
    (ticket, then step): a scan and a submission of the same step wait for each other instead of deadlocking."""
    list(
        Ticket.objects.select_for_update(no_key=True)
        .filter(id__in=sorted(set(ticket_ids)))
        .order_by("id")
        .values_list("id", flat=True)
    )


def _claim(*, field: str, step_ids: list[int], now: datetime.datetime) -> list[int]:
    """Set `field` (warned_at or overdue_at) to `now` on those steps still active with it unset; return the ids
    this call set. The WHERE is evaluated again under each row's lock, so of two overlapping claims exactly one
    gets a row. Plain SQL because the ORM's update() cannot say which rows it changed (RETURNING)."""
    if not step_ids:
        return []
    quote = connection.ops.quote_name
    column = quote(TicketStep._meta.get_field(field).column)
    placeholders = ", ".join(["%s"] * len(step_ids))
    sql = (
        f"UPDATE {quote(TicketStep._meta.db_table)} SET {column} = %s "
        f"WHERE {quote('id')} IN ({placeholders}) AND {quote('state')} = %s AND {column} IS NULL "
        f"RETURNING {quote('id')}"
    )
    params = [connection.ops.adapt_datetimefield_value(now), *sorted(step_ids), TicketStep.State.ACTIVE]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _events_write(*, kind: str, rows: list[dict], now: datetime.datetime, note: str,
                  after: Callable[[dict], dict]) -> None:
    """One staff-only event per raised step, and ticket_changed for each once the transaction commits."""
    actor_label = _stored_text(_("系统"))
    events = TicketEvent.objects.bulk_create([
        TicketEvent(ticket_id=row["ticket_id"], step_id=row["id"], kind=kind, actor=None, actor_label=actor_label,
                    at=now, before={}, after=after(row), note=note, public=False)
        for row in rows
    ])
    for event in events:
        transaction.on_commit(
            partial(ticket_changed.send, sender=Ticket, ticket_id=event.ticket_id, event_id=event.pk, kind=kind,
                    step_id=event.step_id),
            robust=True,
        )


_STEP_COLUMNS = ("id", "ticket_id", "ticket__number", "post_id", "branch_id", "assignee_id", "due_at", "warn_at",
                 "step_definition__limit_kind")


def _raised_rows(step_ids: list[int], *, order_by: str) -> list[dict]:
    return list(TicketStep.objects.filter(id__in=step_ids).order_by(order_by, "id").values(*_STEP_COLUMNS))


def _mark(row: dict) -> SlaMark:
    return SlaMark(step_id=row["id"], ticket_id=row["ticket_id"], ticket_number=row["ticket__number"])


def _warnings_raise(*, now: datetime.datetime, limit: int, batch_size: int) -> list[SlaMark]:
    marks: list[SlaMark] = []
    examined = 0
    note = _stored_text(_("环节即将到期"))
    while examined < limit:
        candidates = _warning_candidates(now=now, size=min(batch_size, limit - examined))
        if not candidates:
            break
        examined += len(candidates)
        with transaction.atomic():
            _tickets_lock([c.ticket_id for c in candidates])
            claimed = _claim(field="warned_at", step_ids=[c.step_id for c in candidates], now=now)
            rows = _raised_rows(claimed, order_by="warn_at")
            _events_write(kind=TicketEvent.Kind.WARNED, rows=rows, now=now, note=note,
                          after=lambda row: {"warned_at": _iso(now), "warn_at": _iso(row["warn_at"]),
                                             "due_at": _iso(row["due_at"])})
        marks.extend(_mark(row) for row in rows)
    return marks


def _minutes_late(row: dict, *, now: datetime.datetime, overrides: dict) -> int:
    """How late the step is, in its limit's own time (working minutes for a working-day limit)."""
    if row["step_definition__limit_kind"] == LimitKind.CALENDAR_MINUTES:
        seconds = (now - row["due_at"]).total_seconds()
    else:
        seconds = working_seconds_between(start=row["due_at"], end=now, overrides=overrides)
    return max(0, int(seconds // 60))


def _evaluations_write(rows: list[dict], *, now: datetime.datetime) -> int:
    """Evaluation(reason=overdue) against each step's post, branch and assignee; the engine updates its
    minutes_late when the step is finally done."""
    if not rows:
        return 0
    overrides = calendar_overrides(first=min(row["due_at"] for row in rows).astimezone(LOCAL_TZ).date(),
                                   last=now.astimezone(LOCAL_TZ).date())
    already = set(Evaluation.objects.filter(step_id__in=[row["id"] for row in rows],
                                            reason=Evaluation.Reason.OVERDUE).values_list("step_id", flat=True))
    note = _stored_text(_("环节超时未办结"))
    new = [
        Evaluation(step_id=row["id"], ticket_id=row["ticket_id"], post_id=row["post_id"], branch_id=row["branch_id"],
                   user_id=row["assignee_id"], reason=Evaluation.Reason.OVERDUE,
                   minutes_late=_minutes_late(row, now=now, overrides=overrides), created_at=now, note=note)
        for row in rows if row["id"] not in already
    ]
    Evaluation.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def _skip(candidate: _Candidate, *, now: datetime.datetime, reason: str) -> bool:
    """Skip one overdue step through the engine; False when it refuses (the step moved on meanwhile, the
    process has nowhere to go): the step is then marked overdue like any other."""
    try:
        ticket_step_skip(step_id=candidate.step_id, reason=reason, automatic=True, at=now)
    except (DomainError, DatabaseError) as error:
        logger.info("SLA scan: step %s not skipped: %s", candidate.step_id, error)
        return False
    return True


def _overdue_raise(*, now: datetime.datetime, limit: int, batch_size: int) -> tuple[list[SlaMark], list[SlaMark], int]:
    overdue: list[SlaMark] = []
    skipped: list[SlaMark] = []
    evaluations = 0
    examined = 0
    note = _stored_text(_("环节已超时"))
    skip_reason = _stored_text(_("环节超时，按流程设置自动跳过"))
    while examined < limit:
        candidates = _overdue_candidates(now=now, size=min(batch_size, limit - examined))
        if not candidates:
            break
        examined += len(candidates)
        # Skips first, each in the engine's own transaction: a skipped step leaves the scan's index, so a crash
        # between two skips loses nothing, and the loser of two concurrent skips is refused by the engine.
        skipped_ids = {c.step_id for c in candidates if c.auto_skip and _skip(c, now=now, reason=skip_reason)}
        if skipped_ids:
            skipped.extend(_mark(row) for row in _raised_rows(list(skipped_ids), order_by="due_at"))
        rest = [c for c in candidates if c.step_id not in skipped_ids]
        if not rest:
            continue
        with transaction.atomic():
            _tickets_lock([c.ticket_id for c in rest])
            claimed = _claim(field="overdue_at", step_ids=[c.step_id for c in rest], now=now)
            rows = _raised_rows(claimed, order_by="due_at")
            _events_write(kind=TicketEvent.Kind.OVERDUE, rows=rows, now=now, note=note,
                          after=lambda row: {"overdue_at": _iso(now), "due_at": _iso(row["due_at"])})
            evaluations += _evaluations_write(rows, now=now)
        overdue.extend(_mark(row) for row in rows)
    return overdue, skipped, evaluations


# --- warning thresholds -------------------------------------------------------------------------------------


def _threshold_value(value, *, field: str, low: int, high: int, message) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise WarningThresholdInvalid(message, field=field)
    return value


def warning_threshold_set(
    *, user, minutes_before_due: int | None = None, percent_elapsed: int | None = None
) -> WarningThreshold | None:
    """Set an operator's own warning threshold (warn this many minutes before due, or when this share of the
    limit has elapsed, whichever comes first); with neither, go back to the defaults. The steps they hold and
    have not been warned about yet get their warning time moved at once.

    Locks the user's current steps (select_for_update) while their warning times are rewritten."""
    minutes_before_due = _threshold_value(
        minutes_before_due, field="minutes_before_due", low=1, high=MAX_MINUTES_BEFORE_DUE,
        message=_("到期前分钟数应为 1 到 %(max)d 之间的整数") % {"max": MAX_MINUTES_BEFORE_DUE},
    )
    percent_elapsed = _threshold_value(
        percent_elapsed, field="percent_elapsed", low=1, high=99,
        message=_("时限已用百分比应为 1 到 99 之间的整数"),
    )
    with transaction.atomic():
        if minutes_before_due is None and percent_elapsed is None:
            WarningThreshold.objects.filter(user=user).delete()
            threshold = None
        else:
            threshold, _created = WarningThreshold.objects.update_or_create(
                user=user, defaults={"minutes_before_due": minutes_before_due, "percent_elapsed": percent_elapsed}
            )
        _warn_at_recompute(user=user, minutes_before_due=minutes_before_due, percent_elapsed=percent_elapsed)
    return threshold


def _warn_at_recompute(*, user, minutes_before_due: int | None, percent_elapsed: int | None) -> int:
    """New warning times for the user's current steps not yet warned about (a warning already raised stays)."""
    steps = list(
        TicketStep.objects.select_for_update(of=("self",))
        .filter(assignee=user, state__in=[TicketStep.State.ACTIVE, TicketStep.State.SUSPENDED],
                warned_at__isnull=True)
        .select_related("step_definition")
        .order_by("id")
    )
    if not steps:
        return 0
    overrides = calendar_overrides(first=min(s.arrived_at for s in steps).astimezone(LOCAL_TZ).date(),
                                   last=max(s.due_at for s in steps).astimezone(LOCAL_TZ).date())
    for step in steps:
        step.warn_at = warn_at_compute(
            arrived_at=step.arrived_at, due_at=step.due_at, minutes_before_due=minutes_before_due,
            percent_elapsed=percent_elapsed, limit_kind=step.step_definition.limit_kind, overrides=overrides,
        )
    TicketStep.objects.bulk_update(steps, ["warn_at"], batch_size=500)
    return len(steps)
