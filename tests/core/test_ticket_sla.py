"""The SLA clock (core.services.ticket_sla): warnings, overdue marks with their evaluation, automatic skips,
each raised once even when two scans overlap; operators' warning thresholds; `manage.py sla_tick`; the beat task."""
from __future__ import annotations

import datetime
import io
import threading

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from core.models import (
    Evaluation,
    Ticket,
    TicketEvent,
    TicketStep,
    TransitionDefinition,
    WarningThreshold,
)
from core.services import ticket_sla
from core.services.ticket_sla import WarningThresholdInvalid, sla_scan, warning_threshold_set
from core.services.tickets import (
    ticket_claim,
    ticket_open,
    ticket_resume,
    ticket_step_submit,
    ticket_suspend,
)
from core.signals import ticket_changed
from tests.factories import BranchFactory
from tests.ticket_factories import TEST_BUSINESS_TYPE, local, sample_process, staff_user

MINUTE = datetime.timedelta(minutes=1)
# Monday 23 November 2026, an ordinary working day: accept (1 working day) falls due Tuesday 09:00.
OPENED = local(2026, 11, 23, 9)


@pytest.fixture
def world(db):
    branch = BranchFactory()
    process = sample_process()
    return {"branch": branch, "process": process, "agent": staff_user("agent", branch),
            "clerk": staff_user("counter_clerk", branch)}


def open_ticket(world, *, at=OPENED, summary="电能表走快") -> Ticket:
    return ticket_open(business_type=TEST_BUSINESS_TYPE, channel="agent", summary=summary, branch=world["branch"],
                       at=at)


def current_step(ticket: Ticket) -> TicketStep:
    return TicketStep.objects.get(ticket=ticket, state__in=[TicketStep.State.ACTIVE, TicketStep.State.SUSPENDED])


def to_follow_up(world, ticket: Ticket, *, at=OPENED) -> TicketStep:
    """accept -> archive -> follow_up (LOW priority, auto-skip), all submitted at `at`."""
    ticket_step_submit(step_id=current_step(ticket).pk, user=world["agent"],
                       data={"needs_survey": False, "category": "fast"}, at=at)
    ticket_step_submit(step_id=current_step(ticket).pk, user=world["clerk"], data={"archived": True}, at=at)
    step = current_step(ticket)
    assert step.step_definition.code == "follow_up"
    return step


def events(kind: str) -> list[TicketEvent]:
    return list(TicketEvent.objects.filter(kind=kind).order_by("id"))


@pytest.fixture
def sent():
    """ticket_changed signals received, as (ticket_id, kind, step_id, event_id)."""
    received = []

    def receiver(sender, ticket_id, event_id, kind, step_id, **kwargs):
        received.append((ticket_id, kind, step_id, event_id))

    ticket_changed.connect(receiver, dispatch_uid="test_ticket_sla")
    yield received
    ticket_changed.disconnect(dispatch_uid="test_ticket_sla")


# --- warnings ---------------------------------------------------------------------------------------------------


def test_warning_raised_at_warn_at_once(world, sent, django_capture_on_commit_callbacks):
    ticket = open_ticket(world)
    step = current_step(ticket)
    assert sla_scan(now=step.warn_at - MINUTE).total == 0

    with django_capture_on_commit_callbacks(execute=True):
        result = sla_scan(now=step.warn_at)
    assert [(m.step_id, m.ticket_number) for m in result.warned] == [(step.pk, ticket.number)]
    assert (result.overdue, result.skipped, result.evaluations) == ((), (), 0)
    step.refresh_from_db()
    assert step.warned_at == step.warn_at and step.overdue_at is None
    [event] = events(TicketEvent.Kind.WARNED)
    assert (event.ticket_id, event.step_id, event.public, event.actor_id, event.actor_label, event.at) == (
        ticket.pk, step.pk, False, None, "系统", step.warn_at)
    assert event.after["due_at"] == step.due_at.isoformat()
    assert (ticket.pk, TicketEvent.Kind.WARNED, step.pk, event.pk) in sent

    assert sla_scan(now=step.warn_at + 5 * MINUTE).total == 0
    assert len(events(TicketEvent.Kind.WARNED)) == 1


def test_signals_wait_for_the_commit(world, sent, django_capture_on_commit_callbacks):
    step = current_step(open_ticket(world))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sla_scan(now=step.warn_at)
    assert not [s for s in sent if s[1] == TicketEvent.Kind.WARNED]
    assert len(callbacks) == 1


def test_warnings_come_earliest_first_in_batches(world):
    tickets = [open_ticket(world, at=OPENED + n * MINUTE) for n in range(5)]
    last = current_step(tickets[-1])
    result = sla_scan(now=last.warn_at, batch_size=2)
    assert [m.ticket_number for m in result.warned] == [t.number for t in tickets]
    assert TicketStep.objects.filter(warned_at__isnull=True).count() == 0


def test_limit_leaves_the_rest_for_the_next_scan(world):
    tickets = [open_ticket(world, at=OPENED + n * MINUTE) for n in range(3)]
    now = current_step(tickets[-1]).warn_at
    assert [m.ticket_number for m in sla_scan(now=now, limit=2, batch_size=1).warned] == [
        tickets[0].number, tickets[1].number]
    assert [m.ticket_number for m in sla_scan(now=now, limit=2).warned] == [tickets[2].number]


def test_finished_steps_are_not_scanned(world):
    ticket = open_ticket(world)
    step = current_step(ticket)
    ticket_step_submit(step_id=step.pk, user=world["agent"], data={"needs_survey": False, "category": "slow"},
                       at=OPENED + MINUTE)
    result = sla_scan(now=step.due_at + MINUTE)
    assert step.pk not in {m.step_id for m in result.warned + result.overdue}


# --- overdue ----------------------------------------------------------------------------------------------------


def test_overdue_marked_once_with_an_evaluation(world, sent, django_capture_on_commit_callbacks):
    ticket = open_ticket(world)
    step = current_step(ticket)
    ticket_claim(step_id=step.pk, user=world["agent"], at=OPENED + MINUTE)
    step.refresh_from_db()
    now = step.due_at + 90 * MINUTE

    with django_capture_on_commit_callbacks(execute=True):
        result = sla_scan(now=now)
    # A scan that comes late raises the warning and the overdue mark together.
    assert [m.step_id for m in result.warned] == [step.pk]
    assert [m.step_id for m in result.overdue] == [step.pk]
    assert result.evaluations == 1
    step.refresh_from_db()
    assert (step.state, step.overdue_at, step.warned_at) == (TicketStep.State.ACTIVE, now, now)
    evaluation = Evaluation.objects.get(step=step)
    assert (evaluation.reason, evaluation.minutes_late, evaluation.post_id, evaluation.branch_id,
            evaluation.user_id, evaluation.ticket_id, evaluation.created_at) == (
        Evaluation.Reason.OVERDUE, 90, step.post_id, world["branch"].pk, world["agent"].pk, ticket.pk, now)
    [event] = events(TicketEvent.Kind.OVERDUE)
    assert (event.step_id, event.public, event.at) == (step.pk, False, now)
    assert (ticket.pk, TicketEvent.Kind.OVERDUE, step.pk, event.pk) in sent

    again = sla_scan(now=now + 10 * MINUTE)
    assert again.total == 0 and again.evaluations == 0
    assert Evaluation.objects.count() == 1 and len(events(TicketEvent.Kind.OVERDUE)) == 1


def test_pool_step_evaluation_has_no_person(world):
    step = current_step(open_ticket(world))
    sla_scan(now=step.due_at)
    evaluation = Evaluation.objects.get(step=step)
    assert (evaluation.user_id, evaluation.minutes_late) == (None, 0)


def test_working_day_lateness_counts_working_minutes(world):
    # Opened Friday 27 November 2026 10:00: due Monday 30 November 10:00; scanned Monday 11:30.
    step = current_step(open_ticket(world, at=local(2026, 11, 27, 10)))
    assert step.due_at == local(2026, 11, 30, 10)
    sla_scan(now=local(2026, 11, 30, 11, 30))
    assert Evaluation.objects.get(step=step).minutes_late == 90


def test_late_submission_updates_the_scan_evaluation(world):
    step = current_step(open_ticket(world))
    sla_scan(now=step.due_at + 10 * MINUTE)
    ticket_step_submit(step_id=step.pk, user=world["agent"], data={"needs_survey": False, "category": "fast"},
                       at=step.due_at + 45 * MINUTE)
    evaluation = Evaluation.objects.get(step=step, reason=Evaluation.Reason.OVERDUE)
    assert (evaluation.minutes_late, evaluation.user_id) == (45, world["agent"].pk)


# --- suspended steps -------------------------------------------------------------------------------------------


def test_suspended_steps_are_not_scanned(world):
    ticket = open_ticket(world)
    step = current_step(ticket)
    ticket_claim(step_id=step.pk, user=world["agent"], at=OPENED + MINUTE)
    ticket_suspend(ticket_id=ticket.pk, user=world["agent"], reason="等待客户提供资料", at=OPENED + 2 * MINUTE)

    result = sla_scan(now=step.due_at + datetime.timedelta(days=3))
    assert result.total == 0 and result.evaluations == 0
    step.refresh_from_db()
    assert (step.state, step.warned_at, step.overdue_at) == (TicketStep.State.SUSPENDED, None, None)

    # Resumed Wednesday 09:02 after two working days paused: due and warning move by the pause.
    ticket_resume(ticket_id=ticket.pk, user=world["agent"], at=local(2026, 11, 25, 9, 2))
    step.refresh_from_db()
    assert step.due_at == local(2026, 11, 26, 9)
    assert sla_scan(now=step.warn_at - MINUTE).total == 0
    assert [m.step_id for m in sla_scan(now=step.due_at).overdue] == [step.pk]


# --- automatic skip --------------------------------------------------------------------------------------------


def test_overdue_low_priority_step_is_skipped_with_an_evaluation(world):
    ticket = open_ticket(world)
    follow_up = to_follow_up(world, ticket)
    archive_step = TicketStep.objects.get(ticket=ticket, step_definition__code="archive")
    now = follow_up.due_at + 30 * MINUTE

    result = sla_scan(now=now)
    assert [(m.step_id, m.ticket_number) for m in result.skipped] == [(follow_up.pk, ticket.number)]
    assert follow_up.pk not in {m.step_id for m in result.overdue}
    follow_up.refresh_from_db()
    ticket.refresh_from_db()
    assert (follow_up.state, follow_up.finished_at, ticket.state) == (
        TicketStep.State.SKIPPED, now, Ticket.State.CLOSED)
    evaluation = Evaluation.objects.get(step=follow_up)
    assert (evaluation.reason, evaluation.minutes_late, evaluation.post_id, evaluation.user_id) == (
        Evaluation.Reason.SKIPPED, 30, follow_up.post_id, None)
    skip_event = TicketEvent.objects.get(step=follow_up, kind=TicketEvent.Kind.SKIPPED)
    assert skip_event.after["automatic"] is True
    assert not Evaluation.objects.filter(step=archive_step).exists()

    assert sla_scan(now=now + MINUTE).total == 0
    assert Evaluation.objects.count() == 1


def test_normal_priority_step_is_marked_not_skipped(world):
    ticket = open_ticket(world)
    ticket_step_submit(step_id=current_step(ticket).pk, user=world["agent"],
                       data={"needs_survey": False, "category": "fast"}, at=OPENED)
    archive = current_step(ticket)
    result = sla_scan(now=archive.due_at)
    assert [m.step_id for m in result.overdue] == [archive.pk] and result.skipped == ()
    archive.refresh_from_db()
    assert archive.state == TicketStep.State.ACTIVE


def test_refused_skip_falls_back_to_an_overdue_mark(world):
    ticket = open_ticket(world)
    follow_up = to_follow_up(world, ticket)
    # A broken definition (nowhere to go after the follow-up): the engine refuses the skip and changes nothing.
    TransitionDefinition.objects.filter(from_step=world["process"].follow_up).delete()
    result = sla_scan(now=follow_up.due_at)
    assert result.skipped == () and [m.step_id for m in result.overdue] == [follow_up.pk]
    follow_up.refresh_from_db()
    assert (follow_up.state, follow_up.overdue_at) == (TicketStep.State.ACTIVE, follow_up.due_at)
    assert Evaluation.objects.get(step=follow_up).reason == Evaluation.Reason.OVERDUE
    assert sla_scan(now=follow_up.due_at + MINUTE).total == 0


# --- warning thresholds ----------------------------------------------------------------------------------------


def test_operator_threshold_moves_the_warning_of_their_steps(world):
    mine = current_step(open_ticket(world))
    pool = current_step(open_ticket(world))
    ticket_claim(step_id=mine.pk, user=world["agent"], at=OPENED + MINUTE)

    threshold = warning_threshold_set(user=world["agent"], minutes_before_due=30)
    assert (threshold.minutes_before_due, threshold.percent_elapsed) == (30, None)
    mine.refresh_from_db()
    assert mine.warn_at == local(2026, 11, 24, 8, 30)
    pool.refresh_from_db()
    # The pool step keeps the defaults (80% of one working day: 04:12).
    assert pool.warn_at == local(2026, 11, 24, 4, 12)

    assert [m.step_id for m in sla_scan(now=local(2026, 11, 24, 8)).warned] == [pool.pk]
    assert [m.step_id for m in sla_scan(now=local(2026, 11, 24, 8, 30)).warned] == [mine.pk]


def test_threshold_whichever_comes_first_and_back_to_defaults(world):
    step = current_step(open_ticket(world))
    ticket_claim(step_id=step.pk, user=world["agent"], at=OPENED)
    warning_threshold_set(user=world["agent"], minutes_before_due=60, percent_elapsed=50)
    step.refresh_from_db()
    assert step.warn_at == local(2026, 11, 23, 21)
    assert warning_threshold_set(user=world["agent"]) is None
    assert not WarningThreshold.objects.filter(user=world["agent"]).exists()
    step.refresh_from_db()
    assert step.warn_at == local(2026, 11, 24, 4, 12)


def test_threshold_leaves_raised_warnings_alone(world):
    step = current_step(open_ticket(world))
    ticket_claim(step_id=step.pk, user=world["agent"], at=OPENED)
    sla_scan(now=step.warn_at)
    step.refresh_from_db()
    raised = (step.warn_at, step.warned_at)
    warning_threshold_set(user=world["agent"], minutes_before_due=10)
    step.refresh_from_db()
    assert (step.warn_at, step.warned_at) == raised


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"minutes_before_due": 0}, "minutes_before_due"),
        ({"minutes_before_due": 30 * 24 * 60 + 1}, "minutes_before_due"),
        ({"minutes_before_due": "60"}, "minutes_before_due"),
        ({"percent_elapsed": 0}, "percent_elapsed"),
        ({"percent_elapsed": 100}, "percent_elapsed"),
        ({"percent_elapsed": True}, "percent_elapsed"),
    ],
)
def test_threshold_validation(world, values, field):
    with pytest.raises(WarningThresholdInvalid) as raised:
        warning_threshold_set(user=world["agent"], **values)
    assert raised.value.field == field
    assert raised.value.code == "warning_threshold_invalid"
    assert not WarningThreshold.objects.exists()


def test_threshold_error_messages_are_chinese(world):
    with pytest.raises(WarningThresholdInvalid, match="时限已用百分比应为 1 到 99 之间的整数"):
        warning_threshold_set(user=world["agent"], percent_elapsed=120)
    with pytest.raises(WarningThresholdInvalid, match="到期前分钟数应为 1 到 43200 之间的整数"):
        warning_threshold_set(user=world["agent"], minutes_before_due=-5)


# --- the command and the beat task -----------------------------------------------------------------------------


def test_command_prints_what_it_raised(world):
    now = timezone.now()
    late = open_ticket(world, at=now - datetime.timedelta(days=10))
    open_ticket(world, at=now)
    out = io.StringIO()
    call_command("sla_tick", stdout=out)
    text = out.getvalue()
    assert "预警：1 个环节" in text
    assert "超时：1 个环节" in text
    assert "超时自动跳过：0 个环节" in text
    assert f"工单号：{late.number}" in text
    assert "新增考核记录：1 条" in text

    out = io.StringIO()
    call_command("sla_tick", stdout=out)
    assert "预警：0 个环节" in out.getvalue()
    assert "没有到期的预警或超时" in out.getvalue()


def test_command_refuses_a_zero_limit(world):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="必须大于0"):
        call_command("sla_tick", "--limit", "0", stdout=io.StringIO())


def test_beat_runs_the_scan_every_minute(world):
    from config.celery import app
    from core.tasks import sla_tick

    assert settings.CELERY_BEAT_SCHEDULE["core.sla_tick"] == {"task": "core.sla_tick", "schedule": 60.0}
    assert "core.sla_tick" in app.tasks
    late = current_step(open_ticket(world, at=timezone.now() - datetime.timedelta(days=10)))
    assert sla_tick.delay().get() == {"warned": 1, "overdue": 1, "skipped": 0, "evaluations": 1}
    late.refresh_from_db()
    assert late.overdue_at is not None
    assert sla_tick.delay().get() == {"warned": 0, "overdue": 0, "skipped": 0, "evaluations": 0}


# --- overlapping scans (real threads, committed transactions) -------------------------------------------------


def _in_thread(target, results, name):
    def run():
        try:
            results[name] = target()
        except BaseException as error:  # the assertion below reports it
            results[name] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def _overlap(monkeypatch, candidates_name: str, now):
    """Scan A reads its candidates, then waits while scan B runs from start to end, then goes on with what it
    read: the worst overlap of two beats. (On SQLite the test database is one shared in-memory cache, where
    two open write transactions fail at once instead of waiting, so the threads are ordered by events.)"""
    real = getattr(ticket_sla, candidates_name)
    a_has_read, b_done = threading.Event(), threading.Event()

    def candidates(**kwargs):
        found = real(**kwargs)
        if threading.current_thread().name == "scan-a" and not a_has_read.is_set():
            a_has_read.set()
            assert b_done.wait(30), "scan B did not finish"
        return found

    monkeypatch.setattr(ticket_sla, candidates_name, candidates)
    results = {}
    a = _in_thread(lambda: sla_scan(now=now), results, "scan-a")
    assert a_has_read.wait(30), "scan A never read its candidates"
    b = _in_thread(lambda: sla_scan(now=now), results, "scan-b")
    b.join(60)
    b_done.set()
    a.join(60)
    for name in ("scan-a", "scan-b"):
        if isinstance(results.get(name), BaseException):
            raise results[name]
    return results["scan-a"], results["scan-b"]


def _transactional_world():
    branch = BranchFactory()
    process = sample_process()
    return {"branch": branch, "process": process, "agent": staff_user("agent", branch),
            "clerk": staff_user("counter_clerk", branch)}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_scans_in_a_row_raise_nothing_twice():
    world = _transactional_world()
    steps = [current_step(open_ticket(world, at=OPENED + n * MINUTE)) for n in range(3)]
    now = steps[-1].due_at + MINUTE
    first, second = sla_scan(now=now), sla_scan(now=now)
    assert (len(first.warned), len(first.overdue), first.evaluations) == (3, 3, 3)
    assert second.total == 0 and second.evaluations == 0
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.WARNED).count() == 3
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.OVERDUE).count() == 3
    assert Evaluation.objects.count() == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_overlapping_scans_warn_once(monkeypatch):
    world = _transactional_world()
    steps = [current_step(open_ticket(world, at=OPENED + n * MINUTE)) for n in range(4)]
    a, b = _overlap(monkeypatch, "_warning_candidates", steps[-1].warn_at)
    warned = sorted(m.step_id for m in a.warned + b.warned)
    assert warned == sorted(s.pk for s in steps)
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.WARNED).count() == 4
    assert a.warned == ()  # B raised them all while A held its stale read


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_overlapping_scans_mark_overdue_once_and_skip_once(monkeypatch):
    world = _transactional_world()
    plain = [current_step(open_ticket(world, at=OPENED + n * MINUTE)) for n in range(3)]
    skippable_ticket = open_ticket(world)
    follow_up = to_follow_up(world, skippable_ticket)
    now = max(follow_up.due_at, plain[-1].due_at) + MINUTE

    a, b = _overlap(monkeypatch, "_overdue_candidates", now)
    assert sorted(m.step_id for m in a.overdue + b.overdue) == sorted(s.pk for s in plain)
    assert [m.step_id for m in a.skipped + b.skipped] == [follow_up.pk]
    assert a.evaluations + b.evaluations == 3
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.OVERDUE).count() == 3
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.SKIPPED).count() == 1
    assert sorted(Evaluation.objects.values_list("reason", flat=True)) == ["overdue"] * 3 + ["skipped"]
    skippable_ticket.refresh_from_db()
    assert skippable_ticket.state == Ticket.State.CLOSED
