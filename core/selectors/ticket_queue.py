"""Reads for the staff ticket pages: a person's work queue, who may see a ticket, and the supervision figures.

Every function here runs a fixed number of queries whatever the number of tickets (select_related and
grouped aggregates, never a query per row).
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Min, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import (
    BusinessType,
    Evaluation,
    StaffAssignment,
    StepDefinition,
    StepPriority,
    Ticket,
    TicketEvent,
    TicketStep,
    TransitionDefinition,
)
from core.services.roles import ROLE_AUDITOR, ROLE_NAMES, ROLE_SUPERVISOR
from core.services.tickets import step_can_work, ticket_supervises

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
CURRENT_STATES = (TicketStep.State.ACTIVE, TicketStep.State.SUSPENDED)
FINISHED_STATES = (TicketStep.State.COMPLETED, TicketStep.State.SKIPPED)
# How far back the supervision page looks when no period is chosen: twelve weeks make a readable chart.
DEFAULT_PERIOD_DAYS = 83
LIST_LIMIT = 200


class Badge:
    OVERDUE = "overdue"
    WARNING = "warning"
    NORMAL = "normal"
    SUSPENDED = "suspended"


BADGE_LABELS = {
    Badge.OVERDUE: _("已超时"),
    Badge.WARNING: _("即将超时"),
    Badge.NORMAL: _("正常"),
    Badge.SUSPENDED: _("已挂起"),
}


def staff_name(user) -> str:
    """A staff member as colleagues write them: family name first (张三), else the username; "" for nobody."""
    if user is None:
        return ""
    return f"{user.last_name}{user.first_name}".strip() or user.get_username()


@dataclass(frozen=True)
class EventRow:
    event: TicketEvent
    actor_name: str


@dataclass(frozen=True)
class VisitRow:
    """One visit of a ticket to a step, with its holder's name."""

    step: TicketStep
    assignee_name: str


@dataclass(frozen=True)
class EvaluationRow:
    evaluation: Evaluation
    user_name: str


def step_badge(*, step: TicketStep, now: datetime.datetime) -> str:
    """Overdue once due, warning once past the warning time, normal before; a suspended step's clock is stopped."""
    if step.state == TicketStep.State.SUSPENDED:
        return Badge.SUSPENDED
    if step.due_at <= now:
        return Badge.OVERDUE
    if step.warn_at <= now:
        return Badge.WARNING
    return Badge.NORMAL


@dataclass(frozen=True)
class QueueRow:
    step: TicketStep
    badge: str

    @property
    def ticket(self) -> Ticket:
        return self.step.ticket

    @property
    def badge_label(self) -> str:
        return str(BADGE_LABELS[self.badge])


@dataclass(frozen=True)
class WorkQueue:
    mine: list[QueueRow]
    pool: list[QueueRow]
    badge_counts: dict[str, int]

    @property
    def total(self) -> int:
        return len(self.mine) + len(self.pool)


def _queue_steps() -> QuerySet[TicketStep]:
    return TicketStep.objects.select_related(
        "ticket", "ticket__branch", "step_definition", "post", "branch", "assignee"
    ).order_by("due_at", "id")


def staff_pool_filter(*, user) -> Q | None:
    """The (post, branch) pairs of the user's active assignments; a null branch covers every branch."""
    pairs = set(StaffAssignment.objects.filter(user=user, active=True).values_list("post_id", "branch_id"))
    if not pairs:
        return None
    query = Q()
    for post_id, branch_id in sorted(pairs, key=lambda pair: (pair[0], pair[1] or 0)):
        query |= Q(post_id=post_id) if branch_id is None else Q(post_id=post_id, branch_id=branch_id)
    return query


def work_queue_for(*, user, now: datetime.datetime | None = None) -> WorkQueue:
    """My steps (assigned to me) and my posts' pools (unassigned steps of my posts in my branches), by due time."""
    now = now or timezone.now()
    mine = [QueueRow(step, step_badge(step=step, now=now))
            for step in _queue_steps().filter(assignee=user, state__in=CURRENT_STATES)[:LIST_LIMIT]]
    pool_filter = staff_pool_filter(user=user)
    pool = []
    if pool_filter is not None:
        steps = _queue_steps().filter(pool_filter, assignee__isnull=True, state__in=CURRENT_STATES)[:LIST_LIMIT]
        pool = [QueueRow(step, step_badge(step=step, now=now)) for step in steps]
    counts = {badge: 0 for badge in BADGE_LABELS}
    for row in mine + pool:
        counts[row.badge] += 1
    return WorkQueue(mine=mine, pool=pool, badge_counts=counts)


def staff_is_supervisor(*, user) -> bool:
    """Supervisors (班长) and anyone allowed to reassign steps see every ticket and the supervision page."""
    if not (user.is_authenticated and user.is_staff):
        return False
    if ticket_supervises(user=user):
        return True
    return user.groups.filter(name=ROLE_NAMES[ROLE_SUPERVISOR]).exists()


def _staff_is_auditor(*, user) -> bool:
    return user.is_authenticated and user.is_staff and user.groups.filter(name=ROLE_NAMES[ROLE_AUDITOR]).exists()


def ticket_visible_to(*, ticket: Ticket, user) -> bool:
    """A ticket is visible to a supervisor, to an auditor (稽查员: read-only, their work list links every complaint),
    to anyone who held one of its steps, and to staff of its branch (or of the current step's post, for an
    assignment that covers every branch)."""
    if staff_is_supervisor(user=user) or _staff_is_auditor(user=user):
        return True
    if TicketStep.objects.filter(ticket=ticket, assignee=user).exists():
        return True
    current_post_id = ticket.current_step.post_id if ticket.current_step_id else None
    return StaffAssignment.objects.filter(
        Q(branch_id=ticket.branch_id) | Q(branch__isnull=True, post_id=current_post_id), user=user, active=True
    ).exists()


def ticket_for_staff(*, number: str) -> Ticket | None:
    return (
        Ticket.objects.select_related(
            "definition", "branch", "customer", "account", "account__station", "transformer_area",
            "current_step", "current_step__step_definition", "current_step__post", "current_step__assignee",
        )
        .filter(number=number)
        .first()
    )


@dataclass(frozen=True)
class MapNode:
    step: StepDefinition
    status: str  # done / current / skipped / pending
    status_label: str
    is_current: bool


MAP_STATUS_LABELS = {
    "done": _("已完成"),
    "current": _("当前环节"),
    "skipped": _("已跳过"),
    "pending": _("未到达"),
}


@dataclass(frozen=True)
class TicketDetail:
    ticket: Ticket
    steps: list[VisitRow]
    events: list[EventRow]
    process_map: list[MapNode]
    return_targets: list[StepDefinition]
    current_badge: str | None
    current_badge_label: str

    @property
    def current_step(self) -> TicketStep | None:
        return self.ticket.current_step

    @property
    def current_assignee_name(self) -> str:
        step = self.ticket.current_step
        return staff_name(step.assignee) if step is not None else ""

    @property
    def contact_name(self) -> str:
        """Who to call back: the contact given with the request, else the customer on file."""
        customer = self.ticket.customer
        return self.ticket.contact_name or (customer.name if customer is not None else "")

    @property
    def contact_phone(self) -> str:
        customer = self.ticket.customer
        return self.ticket.contact_phone or (customer.phone if customer is not None else "")


def ticket_detail(*, ticket: Ticket, now: datetime.datetime | None = None) -> TicketDetail:
    """Everything the staff ticket page shows: its visits to steps, the event history, the process map
    (the definition's steps, each marked done, current, skipped or not reached) and where it may return to."""
    now = now or timezone.now()
    steps = list(
        TicketStep.objects.filter(ticket=ticket)
        .select_related("step_definition", "post", "branch", "assignee", "finished_by")
        .order_by("sequence")
    )
    events = list(
        TicketEvent.objects.filter(ticket=ticket).select_related("actor", "step__step_definition").order_by("at", "id")
    )
    definitions = list(StepDefinition.objects.filter(definition_id=ticket.definition_id).select_related("post"))
    latest_state = {}
    for step in steps:
        latest_state[step.step_definition_id] = step.state
    current = ticket.current_step
    nodes = []
    for definition in definitions:
        if current is not None and definition.id == current.step_definition_id:
            status = "current"
        elif latest_state.get(definition.id) == TicketStep.State.COMPLETED:
            status = "done"
        elif latest_state.get(definition.id) == TicketStep.State.SKIPPED:
            status = "skipped"
        else:
            status = "pending"
        nodes.append(MapNode(definition, status, str(MAP_STATUS_LABELS[status]), status == "current"))
    return_targets = []
    if current is not None:
        return_targets = [
            transition.to_step
            for transition in TransitionDefinition.objects.filter(
                from_step_id=current.step_definition_id, kind=TransitionDefinition.Kind.RETURN, to_step__isnull=False
            ).select_related("to_step")
        ]
    badge = step_badge(step=current, now=now) if current is not None else None
    return TicketDetail(
        ticket=ticket,
        steps=[VisitRow(step, staff_name(step.assignee)) for step in steps],
        events=[EventRow(event, staff_name(event.actor) or event.actor_label) for event in events],
        process_map=nodes,
        return_targets=return_targets,
        current_badge=badge,
        current_badge_label=str(BADGE_LABELS[badge]) if badge else "",
    )


# --- supervision ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupervisionFilters:
    """Branch, business type and post narrow everything; the period (local dates, inclusive) narrows what was
    finished or evaluated in it. Open, warning and overdue counts are always as of now."""

    branch_id: int | None = None
    business_type: str = ""
    post_id: int | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None

    def period(self, *, now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
        today = now.astimezone(LOCAL_TZ).date()
        last = self.date_to or today
        first = self.date_from or (last - datetime.timedelta(days=DEFAULT_PERIOD_DAYS))
        start = datetime.datetime.combine(first, datetime.time.min, tzinfo=LOCAL_TZ)
        end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=LOCAL_TZ)
        return start, end


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class SummaryRow:
    """One group's figures: steps open now (and of them in warning and overdue), finished in the period and of
    those finished on time (submitted by the due time; a skipped step is never on time)."""

    key: str
    label: str
    open: int
    warning: int
    overdue: int
    finished: int
    on_time: int

    @property
    def on_time_rate(self) -> Decimal | None:
        return _percent(self.on_time, self.finished)

    @property
    def on_time_rate_display(self) -> str:
        rate = self.on_time_rate
        return "—" if rate is None else f"{rate}%"


@dataclass(frozen=True)
class WeekPoint:
    week_start: datetime.date
    finished: int
    on_time: int

    @property
    def rate(self) -> Decimal | None:
        return _percent(self.on_time, self.finished)


@dataclass
class SupervisionSummary:
    filters: SupervisionFilters
    period_start: datetime.datetime
    period_end: datetime.datetime
    totals: SummaryRow
    by_branch: list[SummaryRow] = field(default_factory=list)
    by_business_type: list[SummaryRow] = field(default_factory=list)
    by_step: list[SummaryRow] = field(default_factory=list)
    by_post: list[SummaryRow] = field(default_factory=list)
    by_person: list[SummaryRow] = field(default_factory=list)
    skipped_steps: list[VisitRow] = field(default_factory=list)
    evaluations: list[EvaluationRow] = field(default_factory=list)
    weekly: list[WeekPoint] = field(default_factory=list)

    @property
    def period_last_day(self) -> datetime.date:
        return (self.period_end - datetime.timedelta(days=1)).astimezone(LOCAL_TZ).date()

    @property
    def groups(self) -> list[tuple[str, list[SummaryRow]]]:
        """The four breakdowns with their headings, in page order."""
        return [
            (str(_("按县公司")), self.by_branch),
            (str(_("按业务类型")), self.by_business_type),
            (str(_("按环节")), self.by_step),
            (str(_("按岗位")), self.by_post),
        ]


def _scoped_steps(filters: SupervisionFilters) -> QuerySet[TicketStep]:
    steps = TicketStep.objects.all()
    if filters.branch_id:
        steps = steps.filter(branch_id=filters.branch_id)
    if filters.business_type:
        steps = steps.filter(ticket__business_type=filters.business_type)
    if filters.post_id:
        steps = steps.filter(post_id=filters.post_id)
    return steps


def _figures(*, now, start, end) -> dict:
    finished = Q(state__in=FINISHED_STATES, finished_at__gte=start, finished_at__lt=end)
    active = Q(state=TicketStep.State.ACTIVE)
    return {
        "open_count": Count("id", filter=Q(state__in=CURRENT_STATES)),
        "warning_count": Count("id", filter=active & Q(warn_at__lte=now, due_at__gt=now)),
        "overdue_count": Count("id", filter=active & Q(due_at__lte=now)),
        "finished_count": Count("id", filter=finished),
        "on_time_count": Count(
            "id", filter=finished & Q(state=TicketStep.State.COMPLETED, finished_at__lte=F("due_at"))
        ),
    }


def _row(key, label, values) -> SummaryRow:
    return SummaryRow(
        key=str(key),
        label=str(label),
        open=values["open_count"],
        warning=values["warning_count"],
        overdue=values["overdue_count"],
        finished=values["finished_count"],
        on_time=values["on_time_count"],
    )


def _grouped(steps, *, group_by: tuple[str, ...], figures: dict, label, order_by=None) -> list[SummaryRow]:
    rows = steps.values(*group_by).annotate(**figures).order_by(*(order_by or group_by))
    return [_row("|".join(str(values[name]) for name in group_by), label(values), values) for values in rows]


def _person_label(values) -> str:
    full_name = f"{values['assignee__last_name']}{values['assignee__first_name']}".strip()
    return full_name or values["assignee__username"]


def supervision_summary(*, filters: SupervisionFilters, now: datetime.datetime | None = None) -> SupervisionSummary:
    """Open, warning and overdue steps now by branch, business type, step and post; each person's workload and
    on-time rate; skipped steps and evaluations in the period; the on-time rate per week. Nine queries."""
    now = now or timezone.now()
    start, end = filters.period(now=now)
    steps = _scoped_steps(filters).filter(
        Q(state__in=CURRENT_STATES) | Q(state__in=FINISHED_STATES, finished_at__gte=start, finished_at__lt=end)
    )
    figures = _figures(now=now, start=start, end=end)
    types = dict(BusinessType.choices)

    totals = _row("total", _("合计"), steps.aggregate(**figures))
    summary = SupervisionSummary(filters=filters, period_start=start, period_end=end, totals=totals)
    summary.by_branch = _grouped(
        steps, group_by=("branch__code", "branch__name"), figures=figures, label=lambda v: v["branch__name"]
    )
    summary.by_business_type = _grouped(
        steps, group_by=("ticket__business_type",), figures=figures,
        label=lambda v: types.get(v["ticket__business_type"], v["ticket__business_type"]),
    )
    # Steps in process order; versions of a process share a step's code, so they count together.
    summary.by_step = _grouped(
        steps, group_by=("ticket__business_type", "step_definition__code", "step_definition__name"),
        figures={**figures, "step_order": Min("step_definition__order")},
        order_by=("ticket__business_type", "step_order", "step_definition__code"),
        label=lambda v: f"{types.get(v['ticket__business_type'], v['ticket__business_type'])} · "
        f"{v['step_definition__name']}",
    )
    summary.by_post = _grouped(
        steps, group_by=("post__code", "post__name"), figures=figures, label=lambda v: v["post__name"]
    )
    summary.by_person = _grouped(
        steps.filter(assignee__isnull=False),
        group_by=("assignee__username", "assignee__last_name", "assignee__first_name"),
        figures=figures, label=_person_label,
    )

    skipped = (
        _scoped_steps(filters)
        .filter(state=TicketStep.State.SKIPPED, finished_at__gte=start, finished_at__lt=end)
        .select_related("ticket", "step_definition", "post", "branch", "assignee")
        .order_by("-finished_at", "-id")[:LIST_LIMIT]
    )
    summary.skipped_steps = [VisitRow(step, staff_name(step.assignee)) for step in skipped]
    evaluations = Evaluation.objects.filter(created_at__gte=start, created_at__lt=end)
    if filters.branch_id:
        evaluations = evaluations.filter(branch_id=filters.branch_id)
    if filters.business_type:
        evaluations = evaluations.filter(ticket__business_type=filters.business_type)
    if filters.post_id:
        evaluations = evaluations.filter(post_id=filters.post_id)
    summary.evaluations = [
        EvaluationRow(evaluation, staff_name(evaluation.user))
        for evaluation in evaluations.select_related("ticket", "step__step_definition", "post", "branch", "user")
        .order_by("-created_at", "-id")[:LIST_LIMIT]
    ]

    weekly = (
        _scoped_steps(filters)
        .filter(state__in=FINISHED_STATES, finished_at__gte=start, finished_at__lt=end)
        .annotate(week=TruncWeek("finished_at", tzinfo=LOCAL_TZ))
        .values("week")
        .annotate(
            finished_count=Count("id"),
            on_time_count=Count("id", filter=Q(state=TicketStep.State.COMPLETED, finished_at__lte=F("due_at"))),
        )
        .order_by("week")
    )
    summary.weekly = [_week_point(values) for values in weekly]
    return summary


def _week_point(values) -> WeekPoint:
    week = values["week"]
    week_start = week.astimezone(LOCAL_TZ).date() if isinstance(week, datetime.datetime) else week
    return WeekPoint(week_start=week_start, finished=values["finished_count"], on_time=values["on_time_count"])


@dataclass(frozen=True)
class TicketActions:
    """Which action forms the ticket page offers this user; the services still decide and may refuse."""

    can_claim: bool = False
    can_submit: bool = False
    can_return: bool = False
    can_suspend: bool = False
    can_resume: bool = False
    can_skip: bool = False
    can_assign: bool = False

    @property
    def has_any(self) -> bool:
        return any(vars(self).values())


def ticket_actions_for(
    *, detail: TicketDetail, user, supervisor: bool, now: datetime.datetime | None = None
) -> TicketActions:
    """What to offer, by the engine's own permission rules (core.services.tickets.step_can_work)."""
    now = now or timezone.now()
    ticket, step = detail.ticket, detail.current_step
    if step is None or ticket.state not in (Ticket.State.OPEN, Ticket.State.SUSPENDED):
        return TicketActions()
    active = step.state == TicketStep.State.ACTIVE and ticket.state == Ticket.State.OPEN
    works = step_can_work(user=user, step=step)
    # A step held by someone else is theirs to work, unless a supervisor steps in.
    free_to_work = works and (step.assignee_id in (None, user.pk) or supervisor)
    return TicketActions(
        can_claim=active and works and step.assignee_id is None,
        can_submit=active and free_to_work,
        can_return=active and free_to_work and bool(detail.return_targets),
        can_suspend=active and (works or supervisor),
        can_resume=ticket.state == Ticket.State.SUSPENDED and (works or supervisor),
        can_skip=active and supervisor and step.step_definition.priority == StepPriority.LOW
        and step.due_at <= now,
        can_assign=active and supervisor,
    )


def step_assign_candidates(*, step: TicketStep) -> QuerySet:
    """Staff who hold the step's post in its branch (or in every branch): whom a supervisor may assign it to."""
    holders = StaffAssignment.objects.filter(
        Q(branch_id=step.branch_id) | Q(branch__isnull=True), post_id=step.post_id, active=True
    ).values("user_id")
    return get_user_model().objects.filter(pk__in=holders, is_active=True).order_by("username")
