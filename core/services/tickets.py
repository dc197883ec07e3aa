"""Electronic work tickets (电子传票): the only code that moves a ticket.

Every service locks the ticket row (select_for_update) inside its own transaction (a savepoint inside the
caller's), re-reads what it changes under that lock, writes one TicketEvent per change with the values before
and after, and sends core.signals.ticket_changed after commit. A refused operation raises a TicketError and
changes nothing. Ticket and step `state` fields are assigned nowhere else.
"""
from __future__ import annotations

import datetime
import json
import os
import uuid
from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import (
    ProcessDefinitionInvalid,
    ProcessDefinitionMissing,
    ReturnNotAllowed,
    StepAlreadyClaimed,
    StepNotActive,
    StepNotSkippable,
    TicketAlreadyRated,
    TicketAttachmentRejected,
    TicketIdempotencyConflict,
    TicketNotClosed,
    TicketNotFound,
    TicketNotOpen,
    TicketNotSuspended,
    TicketNumbersExhausted,
    TicketOpenInvalid,
    TicketPermissionDenied,
    TicketValidationError,
)
from core.models import (
    BusinessType,
    Channel,
    ComplaintClass,
    Evaluation,
    LimitKind,
    ProcessDefinition,
    StaffAssignment,
    StepDefinition,
    StepPriority,
    Ticket,
    TicketDaySequence,
    TicketEvent,
    TicketStep,
    TransitionDefinition,
    WarningThreshold,
)
from core.models.tickets import TicketAttachment
from core.services.working_calendar import (
    deadline_compute,
    deadline_extend,
    warn_at_compute,
    working_seconds_between,
)
from core.signals import ticket_changed
from core.workflows import condition_matches
from core.workflows.checks import CheckContext, checks_run
from core.workflows.fields import step_data_clean

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
SEQUENCE_DIGITS = 5
SEQUENCE_MAX = 10**SEQUENCE_DIGITS - 1
SUPERVISE_PERMISSION = "core.change_ticketstep"
SATISFACTION_FIELD = "satisfaction"
_KEY_LENGTH = Ticket._meta.get_field("idempotency_key").max_length
_SUMMARY_LENGTH = Ticket._meta.get_field("summary").max_length
_COMMENT_LENGTH = Ticket._meta.get_field("satisfaction_comment").max_length
_EVALUATION_NOTE_LENGTH = Evaluation._meta.get_field("note").max_length
CURRENT_STEP_STATES = (TicketStep.State.ACTIVE, TicketStep.State.SUSPENDED)


# --- small helpers ------------------------------------------------------------------------------------------


def _now(at: datetime.datetime | None) -> datetime.datetime:
    if at is None:
        return timezone.now()
    if timezone.is_naive(at):
        raise ValueError("ticket times must be timezone-aware")
    return at


def _json_safe(value) -> dict:
    """Decimals, dates and lazy strings as JSON text, so JSONField stores what a later read returns."""
    return json.loads(json.dumps(value or {}, cls=DjangoJSONEncoder))


def _iso(moment: datetime.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _user_label(user) -> str:
    if user is None:
        return _stored_text(_("系统"))
    return (user.get_full_name() or user.get_username())[:60]


def _stored_text(message, params: dict | None = None) -> str:
    """Text kept in the event log, in the default language whatever the request's language was."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(message) % params if params else str(message)


def _satisfaction_value(value) -> int | None:
    """A 1-5 score from a follow-up step's data (an integer field, or a choice of "1".."5")."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 5:
        return None
    return int(text)


def _required_text(value: str, field: str) -> str:
    text = (value or "").strip()
    if not text:
        raise TicketValidationError(errors={field: [gettext("此项为必填项")]}, field=field)
    return text


@dataclass(frozen=True)
class _Actor:
    user: object | None
    label: str


def _staff(user) -> _Actor:
    return _Actor(user, _user_label(user))


def _customer_actor() -> _Actor:
    return _Actor(None, _stored_text(_("客户")))


def _system_actor() -> _Actor:
    return _Actor(None, _stored_text(_("系统")))


def _event_write(
    *, ticket: Ticket, kind: str, actor: _Actor, at: datetime.datetime, step: TicketStep | None = None,
    before: dict | None = None, after: dict | None = None, note: str = "", public: bool = False,
) -> TicketEvent:
    """One immutable event, and ticket_changed sent once the transaction commits."""
    event = TicketEvent.objects.create(
        ticket=ticket, step=step, kind=kind, actor=actor.user, actor_label=actor.label, at=at,
        before=_json_safe(before), after=_json_safe(after), note=str(note), public=public,
    )
    transaction.on_commit(
        partial(
            ticket_changed.send, sender=Ticket, ticket_id=ticket.pk, event_id=event.pk, kind=kind,
            step_id=step.pk if step is not None else None,
        ),
        robust=True,
    )
    return event


def ticket_event_record(
    *, ticket: Ticket, kind: str, at: datetime.datetime, step: TicketStep | None = None, user=None,
    before: dict | None = None, after: dict | None = None, note: str = "", public: bool = False,
) -> TicketEvent:
    """Record an event that changes no ticket state (the SLA scan's "warned"/"overdue" marks, a staff note)
    and send ticket_changed after commit, as every engine change does. Runs in the caller's transaction."""
    actor = _staff(user) if user is not None else _system_actor()
    return _event_write(
        ticket=ticket, kind=kind, actor=actor, at=at, step=step, before=before, after=after, note=note, public=public
    )


def _ticket_lock(ticket_id: int) -> Ticket:
    ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
    if ticket is None:
        raise TicketNotFound()
    return ticket


def _step_lock(step_id: int) -> tuple[Ticket, TicketStep]:
    """Lock the step's ticket, then read the step afresh: a concurrent change committed before the lock shows."""
    ticket_id = TicketStep.objects.filter(pk=step_id).values_list("ticket_id", flat=True).first()
    if ticket_id is None:
        raise TicketNotFound()
    ticket = _ticket_lock(ticket_id)
    step = TicketStep.objects.select_related("step_definition", "post", "branch").get(pk=step_id)
    return ticket, step


def _ticket_save(ticket: Ticket, fields: list[str]) -> None:
    ticket.version += 1
    ticket.save(update_fields=[*fields, "version"])


# --- permissions --------------------------------------------------------------------------------------------


def staff_holds_post(*, user, post_id: int, branch_id: int) -> bool:
    """Whether the user holds the post in this branch (an assignment with no branch covers every branch)."""
    if user is None or not user.is_active:
        return False
    return StaffAssignment.objects.filter(
        Q(branch_id=branch_id) | Q(branch__isnull=True), user=user, post_id=post_id, active=True
    ).exists()


def ticket_supervises(*, user) -> bool:
    """Supervisors (core.change_ticketstep) assign, skip and cancel any step."""
    return user is not None and user.is_active and (user.is_superuser or user.has_perm(SUPERVISE_PERMISSION))


def step_can_work(*, user, step: TicketStep) -> bool:
    """Whether the user may claim, submit or return this step: they hold its post in its branch, or are superuser."""
    if user is None or not user.is_active:
        return False
    return user.is_superuser or staff_holds_post(user=user, post_id=step.post_id, branch_id=step.branch_id)


def _require_worker(*, user, step: TicketStep) -> None:
    if not step_can_work(user=user, step=step):
        raise TicketPermissionDenied()
    if step.assignee_id is not None and step.assignee_id != user.pk and not ticket_supervises(user=user):
        raise StepAlreadyClaimed()


def _require_supervisor(user) -> None:
    if not ticket_supervises(user=user):
        raise TicketPermissionDenied(_("只有班长（具有工单派工权限）可以执行此操作"))


# --- numbering ----------------------------------------------------------------------------------------------


def ticket_number_next(*, day: datetime.date) -> str:
    """The next ticket number of a day: YYMMDD and a 5-digit sequence, 11 digits to key in on a phone.

    Locks the day's TicketDaySequence row (select_for_update) until the caller's transaction ends, so
    concurrent openers queue on it; the day's first opener creates the row (get_or_create settles a race on
    the insert through the unique day, and a lost race is retried once).
    """
    for attempt in range(2):
        try:
            with transaction.atomic():
                row, _created = TicketDaySequence.objects.select_for_update().get_or_create(day=day)
                if row.last >= SEQUENCE_MAX:
                    raise TicketNumbersExhausted()
                row.last += 1
                row.save(update_fields=["last"])
            break
        except IntegrityError:
            if attempt:
                raise
    return f"{day:%y%m%d}{row.last:0{SEQUENCE_DIGITS}d}"


# --- definitions and deadlines ------------------------------------------------------------------------------


def _definition_active(business_type: str) -> ProcessDefinition:
    definition = ProcessDefinition.objects.filter(business_type=business_type, active=True).first()
    if definition is None:
        raise ProcessDefinitionMissing()
    return definition


def _first_step(definition: ProcessDefinition) -> StepDefinition:
    first = definition.steps.order_by("order").first()
    if first is None:
        raise ProcessDefinitionInvalid(_("流程定义没有环节"))
    return first


def step_limit(*, step_definition: StepDefinition, area_kind: str) -> int:
    """The step's time limit for a branch's area kind (city/rural/remote), else its default limit."""
    by_area = step_definition.limit_by_area or {}
    value = by_area.get(area_kind)
    return int(value) if value not in (None, "") else step_definition.limit_value


def _warn_at(*, step: TicketStep) -> datetime.datetime:
    """The assignee's own threshold, or the defaults (settings) for a step still in the post's pool."""
    threshold = (
        WarningThreshold.objects.filter(user_id=step.assignee_id).first() if step.assignee_id is not None else None
    )
    return warn_at_compute(
        arrived_at=step.arrived_at, due_at=step.due_at,
        minutes_before_due=threshold.minutes_before_due if threshold else None,
        percent_elapsed=threshold.percent_elapsed if threshold else None,
        limit_kind=step.step_definition.limit_kind,
    )


def _step_arrive(
    *, ticket: Ticket, step_definition: StepDefinition, at: datetime.datetime, actor: _Actor
) -> TicketStep:
    """Create the ticket's next step visit, in the post's pool, with its due and warning times."""
    if step_definition.post_id is None:
        raise ProcessDefinitionInvalid(_("环节“%(step)s”没有指定岗位") % {"step": step_definition.name})
    branch = ticket.branch
    due_at = deadline_compute(
        start=at, limit_kind=step_definition.limit_kind,
        limit_value=step_limit(step_definition=step_definition, area_kind=branch.area_kind),
    )
    last = ticket.steps.aggregate(last=Max("sequence"))["last"] or 0
    step = TicketStep(
        ticket=ticket, step_definition=step_definition, sequence=last + 1, post_id=step_definition.post_id,
        branch=branch, arrived_at=at, due_at=due_at, warn_at=at,
    )
    step.warn_at = _warn_at(step=step)
    step.save()
    before_step = ticket.current_step_id
    ticket.current_step = step
    _ticket_save(ticket, ["current_step"])
    _event_write(
        ticket=ticket, kind=TicketEvent.Kind.ARRIVED, actor=actor, at=at, step=step,
        before={"current_step": before_step},
        after={"current_step": step.pk, "step": step_definition.code, "post": step_definition.post_id,
               "due_at": _iso(due_at), "warn_at": _iso(step.warn_at)},
        note=step_definition.customer_text, public=bool(step_definition.customer_text),
    )
    return step


def _ticket_close(*, ticket: Ticket, at: datetime.datetime, actor: _Actor, data: dict) -> None:
    """End of process: the ticket closes, keeping the satisfaction the follow-up call recorded, if any."""
    before = {"state": ticket.state, "current_step": ticket.current_step_id, "satisfaction": ticket.satisfaction}
    satisfaction = _satisfaction_value(data.get(SATISFACTION_FIELD))
    if satisfaction is not None:
        ticket.satisfaction = satisfaction
    ticket.state = Ticket.State.CLOSED
    ticket.closed_at = at
    ticket.current_step = None
    _ticket_save(ticket, ["state", "closed_at", "current_step", "satisfaction"])
    _event_write(
        ticket=ticket, kind=TicketEvent.Kind.CLOSED, actor=actor, at=at,
        before=before,
        after={"state": ticket.state, "current_step": None, "satisfaction": ticket.satisfaction},
        note=_stored_text(_("工单已办结")), public=True,
    )


def _advance(*, ticket: Ticket, step: TicketStep, data: dict, at: datetime.datetime, actor: _Actor) -> None:
    """Follow the first forward transition whose condition matches; no target ends the process."""
    transitions = TransitionDefinition.objects.filter(
        from_step=step.step_definition, kind=TransitionDefinition.Kind.FORWARD
    ).select_related("to_step").order_by("order", "id")
    for transition in transitions:
        try:
            matched = condition_matches(condition=transition.condition, data=data)
        except ValueError:
            raise ProcessDefinitionInvalid(_("流转条件有误：%(label)s") % {"label": str(transition)}) from None
        if matched:
            if transition.to_step is None:
                _ticket_close(ticket=ticket, at=at, actor=actor, data=data)
            else:
                _step_arrive(ticket=ticket, step_definition=transition.to_step, at=at, actor=actor)
            return
    raise ProcessDefinitionInvalid(
        _("环节“%(step)s”没有可用的流转") % {"step": step.step_definition.name}
    )


def _minutes_late(*, step: TicketStep, at: datetime.datetime) -> int:
    if at <= step.due_at:
        return 0
    if step.step_definition.limit_kind == LimitKind.CALENDAR_MINUTES:
        seconds = (at - step.due_at).total_seconds()
    else:
        seconds = working_seconds_between(start=step.due_at, end=at)
    return int(seconds // 60)


def _step_finish(*, step: TicketStep, state: str, at: datetime.datetime, user, fields: tuple[str, ...] = ()) -> None:
    step.state = state
    step.finished_at = at
    step.finished_by = user
    step.save(update_fields=["state", "finished_at", "finished_by", *fields])


# --- open ---------------------------------------------------------------------------------------------------


def _open_existing(*, idempotency_key: str, business_type: str) -> Ticket | None:
    existing = Ticket.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None and existing.business_type != business_type:
        raise TicketIdempotencyConflict(field="idempotency_key")
    return existing


def ticket_open(
    *,
    business_type: str,
    channel: str,
    summary: str,
    branch=None,
    customer=None,
    account=None,
    description: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    address: str = "",
    complaint_class: str = "",
    anonymous: bool = False,
    data: dict | None = None,
    transformer_area=None,
    opened_by=None,
    idempotency_key: str | None = None,
    at: datetime.datetime | None = None,
) -> Ticket:
    """Accept a request from any channel: number it, pin the active process version, and send it to the first
    step's pool. The same idempotency key returns the first ticket.

    Locks the day's TicketDaySequence row (ticket_number_next) until the transaction commits.
    """
    at = _now(at)
    if business_type not in BusinessType.values:
        raise TicketOpenInvalid(_("业务类型无效"), field="business_type")
    if channel not in Channel.values:
        raise TicketOpenInvalid(_("受理渠道无效"), field="channel")
    summary = _required_text(summary, "summary")
    if len(summary) > _SUMMARY_LENGTH:
        raise TicketValidationError(errors={"summary": [gettext("不能超过200个字符")]}, field="summary")
    if complaint_class and complaint_class not in ComplaintClass.values:
        raise TicketOpenInvalid(_("投诉分类无效"), field="complaint_class")
    key = (idempotency_key or "").strip() or None
    if key is not None and len(key) > _KEY_LENGTH:
        raise TicketOpenInvalid(_("幂等键不超过120个字符"), field="idempotency_key")
    if key is not None:
        existing = _open_existing(idempotency_key=key, business_type=business_type)
        if existing is not None:
            return existing

    definition = _definition_active(business_type)
    if anonymous:
        if not definition.allows_anonymous:
            raise TicketOpenInvalid(_("该业务不受理匿名诉求"), field="anonymous")
        if customer is not None or account is not None:
            raise TicketOpenInvalid(_("匿名诉求不能关联客户或户号"), field="anonymous")
    if definition.requires_account and account is None:
        raise TicketOpenInvalid(_("该业务须提供户号"), field="account")
    if account is not None:
        if customer is None:
            customer = account.customer
        elif customer.pk != account.customer_id:
            raise TicketOpenInvalid(_("户号不属于该客户"), field="account")
        branch = branch or account.branch
    if branch is None:
        raise TicketOpenInvalid(_("请指定受理的县公司"), field="branch")
    first = _first_step(definition)

    try:
        with transaction.atomic():
            number = ticket_number_next(day=at.astimezone(LOCAL_TZ).date())
            due_at = None
            if definition.commitment_kind and definition.commitment_value:
                due_at = deadline_compute(
                    start=at, limit_kind=definition.commitment_kind, limit_value=definition.commitment_value
                )
            ticket = Ticket.objects.create(
                number=number, definition=definition, business_type=business_type, channel=channel,
                branch=branch, customer=customer, account=account, transformer_area=transformer_area,
                anonymous=anonymous, contact_name=contact_name.strip(), contact_phone=contact_phone.strip(),
                address=address.strip(), summary=summary, description=description.strip(),
                complaint_class=complaint_class, data=_json_safe(data), opened_at=at, due_at=due_at,
                opened_by=opened_by, idempotency_key=key,
            )
            actor = _staff(opened_by) if opened_by is not None else _customer_actor()
            _event_write(
                ticket=ticket, kind=TicketEvent.Kind.OPENED, actor=actor, at=at,
                after={"state": ticket.state, "number": number, "definition": definition.pk,
                       "version": definition.version, "channel": channel, "due_at": _iso(due_at)},
                note=_stored_text(_("您的%(business)s申请已受理"), {"business": ticket.get_business_type_display()}),
                public=True,
            )
            _step_arrive(ticket=ticket, step_definition=first, at=at, actor=actor)
    except IntegrityError:
        # A concurrent open with the same key committed first: answer with its ticket.
        existing = _open_existing(idempotency_key=key, business_type=business_type) if key else None
        if existing is None:
            raise
        return existing
    return ticket


# --- claim and assign ---------------------------------------------------------------------------------------


def ticket_claim(*, step_id: int, user, at: datetime.datetime | None = None) -> TicketStep:
    """Take a step from the post's pool. Claiming a step one already holds changes nothing.

    Locks the ticket row.
    """
    at = _now(at)
    with transaction.atomic():
        ticket, step = _step_lock(step_id)
        if step.state not in CURRENT_STEP_STATES:
            raise StepNotActive()
        if not step_can_work(user=user, step=step):
            raise TicketPermissionDenied()
        if step.assignee_id == user.pk:
            return step
        if step.assignee_id is not None:
            raise StepAlreadyClaimed()
        _step_assignee_set(ticket=ticket, step=step, assignee=user, actor=_staff(user), at=at,
                           kind=TicketEvent.Kind.CLAIMED)
    return step


def ticket_assign(*, step_id: int, by, assignee=None, at: datetime.datetime | None = None) -> TicketStep:
    """A supervisor hands a step to a person holding its post, or back to the post's pool (assignee None).

    Locks the ticket row.
    """
    at = _now(at)
    with transaction.atomic():
        ticket, step = _step_lock(step_id)
        _require_supervisor(by)
        if step.state not in CURRENT_STEP_STATES:
            raise StepNotActive()
        if assignee is not None and not step_can_work(user=assignee, step=step):
            raise TicketPermissionDenied(_("该员工不在此环节的岗位上"), field="assignee")
        if (assignee.pk if assignee is not None else None) == step.assignee_id:
            return step
        _step_assignee_set(ticket=ticket, step=step, assignee=assignee, actor=_staff(by), at=at,
                           kind=TicketEvent.Kind.ASSIGNED)
    return step


def _step_assignee_set(*, ticket: Ticket, step: TicketStep, assignee, actor: _Actor, at, kind: str) -> None:
    before = {"assignee": step.assignee_id, "warn_at": _iso(step.warn_at)}
    step.assignee = assignee
    fields = ["assignee"]
    if step.warned_at is None:
        # The warning follows the holder's own threshold (or the pool defaults) until it has been raised.
        step.warn_at = _warn_at(step=step)
        fields.append("warn_at")
    step.save(update_fields=fields)
    _ticket_save(ticket, [])
    _event_write(
        ticket=ticket, kind=kind, actor=actor, at=at, step=step, before=before,
        after={"assignee": step.assignee_id, "warn_at": _iso(step.warn_at)},
    )


# --- submit, return, skip -----------------------------------------------------------------------------------


def ticket_step_validate(*, ticket: Ticket, step: TicketStep, data: dict, at: datetime.datetime) -> dict:
    """Clean a submission and run the step's checks; returns the cleaned data or raises TicketValidationError
    with every problem per field (completeness first; horizontal and vertical checks on complete input)."""
    step_definition = step.step_definition
    cleaned, errors = step_data_clean(fields=step_definition.fields or [], raw=data or {})
    if errors:
        raise TicketValidationError(errors=errors)
    context = CheckContext(ticket=ticket, step_definition=step_definition, data={**ticket.data, **cleaned}, now=at)
    try:
        errors = checks_run(names=step_definition.checks or [], ctx=context)
    except KeyError as unknown:
        raise ProcessDefinitionInvalid(_("未知的校验规则：%(name)s") % {"name": unknown.args[0]}) from None
    if errors:
        raise TicketValidationError(errors=errors)
    return cleaned


def ticket_step_submit(
    *, step_id: int, user, data: dict, note: str = "", at: datetime.datetime | None = None
) -> Ticket:
    """Finish a step with its data: validated (completeness, horizontal and vertical checks), recorded, and the
    ticket moved along the first matching transition. A refused submission changes nothing.

    Locks the ticket row; of two concurrent submissions of one step, the second finds it no longer active.
    """
    at = _now(at)
    with transaction.atomic():
        ticket, step = _step_lock(step_id)
        if ticket.state != Ticket.State.OPEN:
            raise TicketNotOpen()
        if step.state != TicketStep.State.ACTIVE:
            raise StepNotActive()
        _require_worker(user=user, step=step)
        cleaned = ticket_step_validate(ticket=ticket, step=step, data=data, at=at)

        before_data = {name: ticket.data.get(name) for name in cleaned}
        if step.assignee_id is None:
            step.assignee = user
        step.data = cleaned
        step.note = (note or "").strip()
        _step_finish(
            step=step, state=TicketStep.State.COMPLETED, at=at, user=user, fields=("assignee", "data", "note")
        )
        if cleaned:
            ticket.data = {**ticket.data, **cleaned}
            _ticket_save(ticket, ["data"])
        _overdue_evaluation(ticket=ticket, step=step, at=at)
        actor = _staff(user)
        _event_write(
            ticket=ticket, kind=TicketEvent.Kind.SUBMITTED, actor=actor, at=at, step=step,
            before={"state": TicketStep.State.ACTIVE, "data": before_data},
            after={"state": step.state, "data": cleaned}, note=step.note,
        )
        _advance(ticket=ticket, step=step, data=ticket.data, at=at, actor=actor)
    return ticket


def _overdue_evaluation(*, ticket: Ticket, step: TicketStep, at: datetime.datetime) -> None:
    """A step finished after its due time leaves an evaluation (考核) against its post and person."""
    minutes = _minutes_late(step=step, at=at)
    if minutes <= 0:
        return
    evaluation, created = Evaluation.objects.get_or_create(
        step=step, reason=Evaluation.Reason.OVERDUE,
        defaults={"ticket": ticket, "post_id": step.post_id, "branch_id": step.branch_id,
                  "user_id": step.assignee_id, "minutes_late": minutes, "created_at": at},
    )
    if not created:
        # The SLA scan recorded it when the step fell due; the final lateness is known only now.
        evaluation.minutes_late, evaluation.user_id = minutes, evaluation.user_id or step.assignee_id
        evaluation.save(update_fields=["minutes_late", "user"])


def ticket_step_return(
    *, step_id: int, user, to_step_code: str, reason: str, at: datetime.datetime | None = None
) -> Ticket:
    """Send a ticket back to an earlier step, only along a return transition of the definition; the earlier
    step is visited again as a new TicketStep.

    Locks the ticket row.
    """
    at = _now(at)
    reason = _required_text(reason, "reason")
    with transaction.atomic():
        ticket, step = _step_lock(step_id)
        if ticket.state != Ticket.State.OPEN:
            raise TicketNotOpen()
        if step.state != TicketStep.State.ACTIVE:
            raise StepNotActive()
        _require_worker(user=user, step=step)
        transition = TransitionDefinition.objects.filter(
            from_step=step.step_definition, kind=TransitionDefinition.Kind.RETURN, to_step__code=to_step_code
        ).select_related("to_step").first()
        if transition is None:
            raise ReturnNotAllowed(field="to_step_code")
        step.note = reason
        _step_finish(step=step, state=TicketStep.State.RETURNED, at=at, user=user, fields=("note",))
        actor = _staff(user)
        _event_write(
            ticket=ticket, kind=TicketEvent.Kind.RETURNED, actor=actor, at=at, step=step,
            before={"state": TicketStep.State.ACTIVE, "step": step.step_definition.code},
            after={"state": step.state, "step": transition.to_step.code}, note=reason,
        )
        _step_arrive(ticket=ticket, step_definition=transition.to_step, at=at, actor=actor)
    return ticket


def ticket_step_skip(
    *, step_id: int, reason: str, user=None, automatic: bool = False, at: datetime.datetime | None = None
) -> Ticket:
    """Skip an overdue LOW-priority step so the ticket moves on, with an evaluation (考核) against its post and
    assignee. The SLA scan skips with automatic=True where the step allows it; by hand it takes a supervisor.

    Locks the ticket row.
    """
    at = _now(at)
    reason = _required_text(reason, "reason")
    with transaction.atomic():
        ticket, step = _step_lock(step_id)
        if ticket.state != Ticket.State.OPEN:
            raise TicketNotOpen()
        if step.state != TicketStep.State.ACTIVE:
            raise StepNotActive()
        step_definition = step.step_definition
        if automatic:
            if not step_definition.auto_skip_when_overdue:
                raise StepNotSkippable(_("该环节不允许超时自动跳过"))
            actor = _system_actor()
        else:
            _require_supervisor(user)
            actor = _staff(user)
        if step_definition.priority != StepPriority.LOW:
            raise StepNotSkippable(_("只有低优先级环节可以跳过"))
        if at < step.due_at:
            raise StepNotSkippable(_("环节尚未超时，不能跳过"))
        Evaluation.objects.create(
            step=step, ticket=ticket, post_id=step.post_id, branch_id=step.branch_id, user_id=step.assignee_id,
            reason=Evaluation.Reason.SKIPPED, minutes_late=_minutes_late(step=step, at=at), created_at=at,
            note=reason[:_EVALUATION_NOTE_LENGTH],
        )
        _step_finish(step=step, state=TicketStep.State.SKIPPED, at=at, user=user)
        _event_write(
            ticket=ticket, kind=TicketEvent.Kind.SKIPPED, actor=actor, at=at, step=step,
            before={"state": TicketStep.State.ACTIVE}, after={"state": step.state, "automatic": automatic},
            note=reason,
        )
        _advance(ticket=ticket, step=step, data=ticket.data, at=at, actor=actor)
    return ticket


# --- suspend and resume -------------------------------------------------------------------------------------


def _require_current_worker(*, ticket: Ticket, user) -> TicketStep:
    step = TicketStep.objects.select_related("step_definition").filter(
        ticket=ticket, state__in=CURRENT_STEP_STATES
    ).first()
    if step is None:
        raise TicketNotOpen()
    if not (ticket_supervises(user=user) or step_can_work(user=user, step=step)):
        raise TicketPermissionDenied()
    return step


def ticket_suspend(*, ticket_id: int, user, reason: str, at: datetime.datetime | None = None) -> Ticket:
    """Stop the SLA clock while the customer is the cause (documents awaited, site not accessible).

    Locks the ticket row.
    """
    at = _now(at)
    reason = _required_text(reason, "reason")
    with transaction.atomic():
        ticket = _ticket_lock(ticket_id)
        if ticket.state != Ticket.State.OPEN:
            raise TicketNotOpen()
        step = _require_current_worker(ticket=ticket, user=user)
        step.state = TicketStep.State.SUSPENDED
        step.save(update_fields=["state"])
        ticket.state = Ticket.State.SUSPENDED
        ticket.suspended_at = at
        _ticket_save(ticket, ["state", "suspended_at"])
        _event_write(
            ticket=ticket, kind=TicketEvent.Kind.SUSPENDED, actor=_staff(user), at=at, step=step,
            before={"state": Ticket.State.OPEN, "step_state": TicketStep.State.ACTIVE},
            after={"state": ticket.state, "step_state": step.state, "suspended_at": _iso(at), "reason": reason},
            note=_stored_text(_("工单暂停办理，等待您的配合")), public=True,
        )
    return ticket


def ticket_resume(*, ticket_id: int, user, at: datetime.datetime | None = None) -> Ticket:
    """Restart the clock: the step's and the ticket's due and warning times move back by the pause, counted in
    each limit's own time (working time for working-day limits).

    Locks the ticket row.
    """
    at = _now(at)
    with transaction.atomic():
        ticket = _ticket_lock(ticket_id)
        if ticket.state != Ticket.State.SUSPENDED:
            raise TicketNotSuspended()
        step = _require_current_worker(ticket=ticket, user=user)
        paused_from = ticket.suspended_at
        before = {"state": ticket.state, "step_state": step.state, "due_at": _iso(step.due_at),
                  "warn_at": _iso(step.warn_at), "ticket_due_at": _iso(ticket.due_at)}
        limit_kind = step.step_definition.limit_kind
        step.due_at = deadline_extend(due_at=step.due_at, paused_from=paused_from, paused_to=at, limit_kind=limit_kind)
        step.warn_at = deadline_extend(
            due_at=step.warn_at, paused_from=paused_from, paused_to=at, limit_kind=limit_kind
        )
        step.state = TicketStep.State.ACTIVE
        step.save(update_fields=["due_at", "warn_at", "state"])
        if ticket.due_at is not None:
            ticket.due_at = deadline_extend(
                due_at=ticket.due_at, paused_from=paused_from, paused_to=at,
                limit_kind=ticket.definition.commitment_kind or LimitKind.WORKING_DAYS,
            )
        ticket.state = Ticket.State.OPEN
        ticket.suspended_at = None
        _ticket_save(ticket, ["state", "suspended_at", "due_at"])
        _event_write(
            ticket=ticket, kind=TicketEvent.Kind.RESUMED, actor=_staff(user), at=at, step=step, before=before,
            after={"state": ticket.state, "step_state": step.state, "due_at": _iso(step.due_at),
                   "warn_at": _iso(step.warn_at), "ticket_due_at": _iso(ticket.due_at)},
            note=_stored_text(_("工单恢复办理")), public=True,
        )
    return ticket


# --- cancel and rate ----------------------------------------------------------------------------------------


def ticket_cancel(
    *, ticket_id: int, reason: str, user=None, customer=None, at: datetime.datetime | None = None
) -> Ticket:
    """Withdraw a ticket still in progress: by its own customer, or by a supervisor.

    Locks the ticket row.
    """
    at = _now(at)
    reason = _required_text(reason, "reason")
    with transaction.atomic():
        ticket = _ticket_lock(ticket_id)
        if ticket.state not in (Ticket.State.OPEN, Ticket.State.SUSPENDED):
            raise TicketNotOpen()
        if customer is not None:
            if ticket.customer_id is None or ticket.customer_id != customer.pk:
                raise TicketPermissionDenied()
            actor = _customer_actor()
        else:
            _require_supervisor(user)
            actor = _staff(user)
        step = TicketStep.objects.filter(ticket=ticket, state__in=CURRENT_STEP_STATES).first()
        before = {"state": ticket.state, "current_step": ticket.current_step_id}
        if step is not None:
            _step_finish(step=step, state=TicketStep.State.CANCELLED, at=at, user=user)
        ticket.state = Ticket.State.CANCELLED
        ticket.closed_at = at
        ticket.current_step = None
        ticket.suspended_at = None
        _ticket_save(ticket, ["state", "closed_at", "current_step", "suspended_at"])
        _event_write(
            ticket=ticket, kind=TicketEvent.Kind.CANCELLED, actor=actor, at=at, step=step, before=before,
            after={"state": ticket.state, "current_step": None, "reason": reason},
            note=_stored_text(_("工单已撤销")), public=True,
        )
    return ticket


def ticket_rate(
    *, ticket_id: int, satisfaction: int, comment: str = "", customer=None, user=None,
    at: datetime.datetime | None = None,
) -> Ticket:
    """Record the customer's satisfaction (1-5) with a closed ticket, once: by the customer, by the portal user who
    opened it (a complaint or a fault report filed without an account has no customer), or by staff taking it
    down on a follow-up call.

    Locks the ticket row.
    """
    at = _now(at)
    if isinstance(satisfaction, bool) or not isinstance(satisfaction, int) or not 1 <= satisfaction <= 5:
        raise TicketValidationError(errors={"satisfaction": [gettext("满意度应为1到5分")]}, field="satisfaction")
    comment = (comment or "").strip()
    if len(comment) > _COMMENT_LENGTH:
        raise TicketValidationError(errors={"comment": [gettext("评价意见不超过300个字符")]}, field="comment")
    with transaction.atomic():
        ticket = _ticket_lock(ticket_id)
        if customer is not None:
            if ticket.customer_id is None or ticket.customer_id != customer.pk:
                raise TicketPermissionDenied()
            actor = _customer_actor()
        elif user is not None and user.is_active and user.is_staff:
            actor = _staff(user)
        elif (
            user is not None and user.is_active and ticket.channel == Channel.PORTAL and ticket.opened_by_id == user.pk
        ):
            actor = _customer_actor()
        else:
            raise TicketPermissionDenied()
        if ticket.state != Ticket.State.CLOSED:
            raise TicketNotClosed()
        if ticket.satisfaction is not None:
            raise TicketAlreadyRated()
        ticket.satisfaction = satisfaction
        ticket.satisfaction_comment = comment
        _ticket_save(ticket, ["satisfaction", "satisfaction_comment"])
        _event_write(
            ticket=ticket, kind=TicketEvent.Kind.RATED, actor=actor, at=at,
            before={"satisfaction": None},
            after={"satisfaction": satisfaction, "comment": comment},
            note=_stored_text(_("您已对本次服务作出评价")), public=True,
        )
    return ticket


# --- attachments --------------------------------------------------------------------------------------------

ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
# Accepted documents by extension, with the content type stored and served (never the browser's claim).
ATTACHMENT_TYPES = {
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# The first bytes a real PDF, PNG or JPEG starts with. Office files are not sniffed this way (many systems
# export "xls" files that are HTML tables); they are refused only when they start like a program.
ATTACHMENT_SIGNATURES = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
}
EXECUTABLE_SIGNATURES = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe")
_ATTACHMENT_NAME_LENGTH = TicketAttachment._meta.get_field("name").max_length


def _attachment_name(raw: str) -> str:
    """The file's own name without any folder a browser sent, control characters removed, at most 200 characters
    (the extension kept)."""
    name = os.path.basename((raw or "").replace("\\", "/"))
    name = "".join(char for char in name if char.isprintable()).strip()
    if len(name) > _ATTACHMENT_NAME_LENGTH:
        stem, extension = os.path.splitext(name)
        name = stem[: _ATTACHMENT_NAME_LENGTH - len(extension)] + extension
    return name


def ticket_attachment_check(*, uploaded_file) -> tuple[str, str, str]:
    """Accept a PDF, JPEG, PNG, Word or Excel file of at most 10 MB whose first bytes match its extension.
    Returns (name, extension, content type); raises TicketAttachmentRejected with the reason otherwise."""
    name = _attachment_name(getattr(uploaded_file, "name", ""))
    extension = os.path.splitext(name)[1].lower()
    if not name or extension not in ATTACHMENT_TYPES:
        raise TicketAttachmentRejected(
            _("只能上传 PDF、JPG、PNG、Word（doc/docx）或 Excel（xls/xlsx）文件"), field="file"
        )
    size = uploaded_file.size or 0
    if size <= 0:
        raise TicketAttachmentRejected(_("文件是空的"), field="file")
    if size > ATTACHMENT_MAX_BYTES:
        raise TicketAttachmentRejected(_("文件不能超过 10 MB"), field="file")
    uploaded_file.seek(0)
    head = uploaded_file.read(16)
    uploaded_file.seek(0)
    expected = ATTACHMENT_SIGNATURES.get(extension)
    if (expected and not head.startswith(expected)) or head.startswith(EXECUTABLE_SIGNATURES):
        raise TicketAttachmentRejected(
            _("文件内容与扩展名“%(extension)s”不符") % {"extension": extension}, field="file"
        )
    return name, extension, ATTACHMENT_TYPES[extension]


def ticket_attachment_allowed(*, ticket: Ticket, user) -> bool:
    """Whoever may work the ticket's current step (holds its post in its branch) files documents with it;
    supervisors may at any time, even after it closed."""
    if ticket_supervises(user=user):
        return True
    step = ticket.current_step
    return step is not None and step_can_work(user=user, step=step)


def ticket_attachment_add(
    *, ticket_id: int, user, uploaded_file, at: datetime.datetime | None = None
) -> TicketAttachment:
    """File a document with a ticket, against its current step, and note it in the staff event log.
    A refused file (TicketAttachmentRejected) is never stored.

    Locks the ticket row.
    """
    at = _now(at)
    name, extension, content_type = ticket_attachment_check(uploaded_file=uploaded_file)
    attachment = None
    try:
        with transaction.atomic():
            ticket = _ticket_lock(ticket_id)
            step = ticket.current_step
            if not ticket_attachment_allowed(ticket=ticket, user=user):
                raise TicketPermissionDenied()
            attachment = TicketAttachment(
                ticket=ticket, step=step, name=name, content_type=content_type, size=uploaded_file.size,
                uploaded_by=user, uploaded_at=at,
            )
            # Stored under a random name: the person's file name is kept in `name` and only sent on download.
            attachment.file.save(f"{uuid.uuid4().hex}{extension}", uploaded_file, save=False)
            attachment.save()
            _ticket_save(ticket, [])
            _event_write(
                ticket=ticket, kind=TicketEvent.Kind.NOTE, actor=_staff(user), at=at, step=step,
                after={"attachment": name, "attachment_id": attachment.pk, "size": attachment.size},
                note=_stored_text(_("上传附件：%(name)s"), {"name": name}),
            )
    except BaseException:
        if attachment is not None and attachment.file.name:
            attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment
