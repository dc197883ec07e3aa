"""Reads of the work-quality layer (营销工作质量管理): the audit work list, complaint figures and the reports —
SLA compliance, complaint statistics, call-centre KPIs with first-contact resolution, collection rate and arrears
ageing, self-service share by channel.

Every figure is an aggregate computed by the database (grouped counts and sums, conditional aggregates, EXISTS
subqueries); only the grouped rows come back to Python, so a report costs the same few queries whatever the
number of tickets, calls or bills. Periods are local (Asia/Shanghai) dates, inclusive.

Definitions:
- SLA: a ticket step finished in the period is on time when it was submitted by its due time; a skipped step is
  never on time. A ticket closed in the period kept its commitment when it closed by its due time.
- Complaints are tickets of business type complaint, counted by when they were opened; a repeat complainer is a
  customer (or, without one, a contact phone) with two or more complaints in the period.
- Calls (as on the wallboard, core.selectors.call_kpis): of the calls that reached the queue and left it, the answer
  rate is the share answered, the service level the share answered within CALLCENTER_SERVICE_LEVEL_SECONDS, the
  abandonment rate the share abandoned; the average handle time is talk plus after-call work over answered calls.
- First-contact resolution across channels: a contact is a call served by an agent or the IVR, or a ticket opened
  through any other channel (a ticket opened from a call is that call's contact), of an identified customer. Its
  matter is the business type of the ticket the call touched, else what the caller chose in the IVR (billing,
  fault, ticket progress) or the agent's wrap-up (complaint), else "general". A contact is not resolved at first
  contact when the same customer contacts again, by any channel, about the same matter within
  FCR_REPEAT_WINDOW after it.
- Collection: bills of the billing months in the period (regular bills and re-bills; a bill replaced by a credit
  note and its re-bill counts once, as the re-bill); receivable is their total, collected what has been paid on
  them so far. Arrears ageing: what is still owed on open bills by days past the due date, as of a day.
- Self-service: payments, tickets and hotline calls of the period by channel; self-service channels are those
  where the customer served themselves (online, mobile, IVR payments; portal and IVR tickets; calls the IVR
  resolved).
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    DecimalField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import (
    AuditFlag,
    Bill,
    Branch,
    BusinessType,
    Call,
    CallOutcome,
    CallTicket,
    CallTicketRelation,
    Channel,
    ComplaintClass,
    Payment,
    Ticket,
    TicketStep,
)
from core.models.audit_flags import AuditRule
from core.money import to_money
from core.selectors.caller_profile import phone_mask
from core.services.calls import WrapUpCode

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZERO = Decimal("0.00")
LIST_LIMIT = 200
REPEAT_COMPLAINERS_LIMIT = 100
FCR_REPEAT_WINDOW = datetime.timedelta(days=7)
IVR_OUTCOMES = (CallOutcome.IVR_RESOLVED, CallOutcome.STORM_INFORMED)
SERVED_OUTCOMES = (CallOutcome.ANSWERED, *IVR_OUTCOMES)
OPEN_BILL_STATES = (Bill.State.ISSUED, Bill.State.PARTLY_PAID, Bill.State.OVERDUE)
CHARGE_KINDS = (Bill.Kind.REGULAR, Bill.Kind.REBILL)
SELF_SERVICE_PAYMENT_CHANNELS = (Payment.Channel.ONLINE, Payment.Channel.MOBILE, Payment.Channel.IVR)
SELF_SERVICE_TICKET_CHANNELS = (Channel.PORTAL, Channel.IVR)
# Ageing buckets by days past due: (label, fewest days, most days); None is open-ended.
AGEING_BUCKETS = (
    ("not_due", _("未到期"), None, 0),
    ("d1_30", _("逾期1-30天"), 1, 30),
    ("d31_90", _("逾期31-90天"), 31, 90),
    ("d91_180", _("逾期91-180天"), 91, 180),
    ("d181_365", _("逾期181-365天"), 181, 365),
    ("d365_plus", _("逾期一年以上"), 366, None),
)
# The complaint-class filter value for complaints not yet classified.
UNCLASSIFIED = "none"
MATTER_GENERAL = "general"
MATTER_BILLING = "billing"
MATTER_TICKET_PROGRESS = "ticket_progress"
MATTER_LABELS = {
    MATTER_GENERAL: _("一般咨询"),
    MATTER_BILLING: _("电费查询缴费"),
    MATTER_TICKET_PROGRESS: _("工单进度"),
}
IVR_INTENT_MATTERS = {
    "balance": MATTER_BILLING,
    "arrears": MATTER_BILLING,
    "bill": MATTER_BILLING,
    "payment_link": MATTER_BILLING,
    "outage": BusinessType.FAULT_REPAIR,
    "fault_report": BusinessType.FAULT_REPAIR,
    "ticket_progress": MATTER_TICKET_PROGRESS,
}
CHANNEL_AGENT = "agent"
CHANNEL_IVR = "ivr"


# --- periods and rates ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPeriod:
    """Local dates, both inclusive."""

    first: datetime.date
    last: datetime.date

    @classmethod
    def month(cls, period: datetime.date) -> ReportPeriod:
        first = period.replace(day=1)
        following = (first + datetime.timedelta(days=32)).replace(day=1)
        return cls(first=first, last=following - datetime.timedelta(days=1))

    @classmethod
    def previous_month(cls, *, today: datetime.date) -> ReportPeriod:
        return cls.month(today.replace(day=1) - datetime.timedelta(days=1))

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.combine(self.first, datetime.time.min, tzinfo=SHANGHAI)

    @property
    def end(self) -> datetime.datetime:
        """The moment after the last day."""
        return datetime.datetime.combine(self.last + datetime.timedelta(days=1), datetime.time.min, tzinfo=SHANGHAI)

    @property
    def billing_months(self) -> tuple[datetime.date, datetime.date]:
        """The first and last billing month (bill periods are the first of their month) the period covers."""
        return self.first.replace(day=1), self.last.replace(day=1)

    @property
    def label(self) -> str:
        return f"{self.first.isoformat()} ~ {self.last.isoformat()}"


@dataclass(frozen=True)
class Rate:
    """A share in percent with one decimal (not money), None when nothing was counted."""

    part: int | Decimal
    whole: int | Decimal

    @property
    def percent(self) -> Decimal | None:
        if not self.whole:
            return None
        return (Decimal(self.part) * 100 / Decimal(self.whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    def __str__(self) -> str:
        percent = self.percent
        return "—" if percent is None else f"{percent}%"


# --- audit work list ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    state: str = AuditFlag.State.OPEN
    rule: str = ""
    branch_id: int | None = None


@dataclass(frozen=True)
class AuditWorkList:
    flags: list[AuditFlag]
    total: int
    counts_by_rule: list[tuple[str, int]]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.flags)


def audit_flags_for(filters: AuditFilters) -> QuerySet[AuditFlag]:
    flags = AuditFlag.objects.all()
    if filters.state:
        flags = flags.filter(state=filters.state)
    if filters.rule:
        flags = flags.filter(rule=filters.rule)
    if filters.branch_id:
        flags = flags.filter(branch_id=filters.branch_id)
    return flags


def audit_work_list(*, filters: AuditFilters, limit: int = LIST_LIMIT) -> AuditWorkList:
    """The flags matching the filters, newest first, with their account, branch and resolver; the count of each
    rule's flags under the same filters. Three queries."""
    flags = audit_flags_for(filters)
    by_rule = dict(
        audit_flags_for(AuditFilters(state=filters.state, branch_id=filters.branch_id))
        .values_list("rule").annotate(count=Count("id")).order_by()
    )
    rows = list(
        flags.select_related("account", "branch", "resolved_by", "ledger_entry").order_by("-raised_at", "-id")[:limit]
    )
    total = sum(count for rule, count in by_rule.items() if not filters.rule or rule == filters.rule)
    counts = [(str(label), by_rule.get(value, 0)) for value, label in AuditRule.choices]
    return AuditWorkList(flags=rows, total=total, counts_by_rule=counts)


# --- SLA compliance -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaRow:
    label: str
    finished: int
    on_time: int
    late: int
    skipped: int

    @property
    def compliance(self) -> Rate:
        return Rate(self.on_time, self.finished)


@dataclass(frozen=True)
class TicketSlaRow:
    label: str
    closed: int
    within_commitment: int

    @property
    def compliance(self) -> Rate:
        return Rate(self.within_commitment, self.closed)


@dataclass
class SlaReport:
    period: ReportPeriod
    totals: SlaRow
    by_business_type: list[SlaRow] = field(default_factory=list)
    by_step: list[SlaRow] = field(default_factory=list)
    by_post: list[SlaRow] = field(default_factory=list)
    by_person: list[SlaRow] = field(default_factory=list)
    tickets: list[TicketSlaRow] = field(default_factory=list)


_STEP_FIGURES = {
    "finished_count": Count("id"),
    "on_time_count": Count("id", filter=Q(state=TicketStep.State.COMPLETED, finished_at__lte=F("due_at"))),
    "late_count": Count("id", filter=Q(state=TicketStep.State.COMPLETED, finished_at__gt=F("due_at"))),
    "skipped_count": Count("id", filter=Q(state=TicketStep.State.SKIPPED)),
}


def _sla_row(label, values) -> SlaRow:
    return SlaRow(
        label=str(label), finished=values["finished_count"], on_time=values["on_time_count"],
        late=values["late_count"], skipped=values["skipped_count"],
    )


def _business_type_label(value: str) -> str:
    return str(dict(BusinessType.choices).get(value, value))


def sla_report(*, period: ReportPeriod, branch_id: int | None = None) -> SlaReport:
    """Steps finished in the period, on time or not, by business type, step, post and person; tickets closed in
    the period within their commitment, by business type. Six queries."""
    steps = TicketStep.objects.filter(
        state__in=(TicketStep.State.COMPLETED, TicketStep.State.SKIPPED),
        finished_at__gte=period.start, finished_at__lt=period.end,
    )
    tickets = Ticket.objects.filter(
        state=Ticket.State.CLOSED, closed_at__gte=period.start, closed_at__lt=period.end, due_at__isnull=False
    )
    if branch_id:
        steps = steps.filter(branch_id=branch_id)
        tickets = tickets.filter(branch_id=branch_id)
    report = SlaReport(period=period, totals=_sla_row(_("合计"), steps.aggregate(**_STEP_FIGURES)))
    report.by_business_type = [
        _sla_row(_business_type_label(values["ticket__business_type"]), values)
        for values in steps.values("ticket__business_type").annotate(**_STEP_FIGURES).order_by("ticket__business_type")
    ]
    # A step counts with its namesakes in other versions of the same process.
    report.by_step = [
        _sla_row(f"{_business_type_label(values['ticket__business_type'])} · {values['step_definition__name']}", values)
        for values in steps.values("ticket__business_type", "step_definition__code", "step_definition__name")
        .annotate(step_order=Min("step_definition__order"), **_STEP_FIGURES)
        .order_by("ticket__business_type", "step_order", "step_definition__code")
    ]
    report.by_post = [
        _sla_row(values["post__name"], values)
        for values in steps.values("post__code", "post__name").annotate(**_STEP_FIGURES).order_by("post__code")
    ]
    report.by_person = [
        _sla_row(
            f"{values['assignee__last_name']}{values['assignee__first_name']}".strip() or values["assignee__username"],
            values,
        )
        for values in steps.filter(assignee__isnull=False)
        .values("assignee__username", "assignee__last_name", "assignee__first_name")
        .annotate(**_STEP_FIGURES)
        .order_by("assignee__username")
    ]
    report.tickets = [
        TicketSlaRow(
            label=_business_type_label(values["business_type"]), closed=values["closed"],
            within_commitment=values["within"],
        )
        for values in tickets.values("business_type")
        .annotate(closed=Count("id"), within=Count("id", filter=Q(closed_at__lte=F("due_at"))))
        .order_by("business_type")
    ]
    return report


# --- complaints -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComplaintFilters:
    complaint_class: str = ""
    branch_id: int | None = None
    month: datetime.date | None = None
    complainer: str = ""


@dataclass(frozen=True)
class ComplaintRow:
    key: str
    label: str
    count: int
    closed: int
    closed_in_time: int
    appealed: int

    @property
    def in_time_rate(self) -> Rate:
        return Rate(self.closed_in_time, self.closed)


@dataclass(frozen=True)
class RepeatComplainer:
    key: str
    name: str
    phone_masked: str
    count: int
    classes: int
    first_at: datetime.datetime
    last_at: datetime.datetime


@dataclass
class ComplaintReport:
    period: ReportPeriod
    totals: ComplaintRow
    by_class: list[ComplaintRow] = field(default_factory=list)
    by_branch: list[ComplaintRow] = field(default_factory=list)
    by_month: list[ComplaintRow] = field(default_factory=list)
    repeat_complainers: list[RepeatComplainer] = field(default_factory=list)


_COMPLAINT_FIGURES = {
    "count": Count("id"),
    "closed": Count("id", filter=Q(state=Ticket.State.CLOSED)),
    "closed_in_time": Count("id", filter=Q(state=Ticket.State.CLOSED, closed_at__lte=F("due_at"))),
    "appealed": Count("id", filter=Q(appealed_to_regulator=True)),
}


def _complainer_key() -> Case:
    """Who complained: the customer when known ("c<id>"), else the contact phone ("p<phone>"), else nobody."""
    return Case(
        When(customer__isnull=False, then=Concat(Value("c"), Cast("customer_id", output_field=CharField()))),
        When(~Q(contact_phone=""), then=Concat(Value("p"), "contact_phone")),
        default=Value(""),
        output_field=CharField(),
    )


def _complaint_row(key, label, values) -> ComplaintRow:
    return ComplaintRow(
        key=str(key), label=str(label), count=values["count"], closed=values["closed"],
        closed_in_time=values["closed_in_time"], appealed=values["appealed"],
    )


def complaints_in(*, period: ReportPeriod, branch_id: int | None = None) -> QuerySet[Ticket]:
    complaints = Ticket.objects.filter(
        business_type=BusinessType.COMPLAINT, opened_at__gte=period.start, opened_at__lt=period.end
    )
    if branch_id:
        complaints = complaints.filter(branch_id=branch_id)
    return complaints


def complaint_report(*, period: ReportPeriod, branch_id: int | None = None) -> ComplaintReport:
    """Complaints opened in the period by class, branch and month, closed and closed in time, appeals to the
    regulator, and the customers who complained more than once. Five queries."""
    complaints = complaints_in(period=period, branch_id=branch_id)
    report = ComplaintReport(
        period=period, totals=_complaint_row("total", _("合计"), complaints.aggregate(**_COMPLAINT_FIGURES))
    )
    classes = dict(ComplaintClass.choices)
    report.by_class = [
        _complaint_row(values["complaint_class"], classes.get(values["complaint_class"], _("未分类")), values)
        for values in complaints.values("complaint_class").annotate(**_COMPLAINT_FIGURES).order_by("complaint_class")
    ]
    report.by_branch = [
        _complaint_row(values["branch_id"], values["branch__name"], values)
        for values in complaints.values("branch_id", "branch__code", "branch__name")
        .annotate(**_COMPLAINT_FIGURES).order_by("branch__code")
    ]
    report.by_month = []
    for values in (
        complaints.annotate(month=TruncMonth("opened_at", tzinfo=SHANGHAI))
        .values("month").annotate(**_COMPLAINT_FIGURES).order_by("month")
    ):
        month = _local_date(values["month"])
        report.by_month.append(_complaint_row(month.isoformat(), month.strftime("%Y-%m"), values))
    repeat = (
        complaints.annotate(complainer=_complainer_key())
        .exclude(complainer="")
        .values("complainer")
        .annotate(
            count=Count("id"), classes=Count("complaint_class", distinct=True), name=Max("customer__name"),
            contact_name=Max("contact_name"), phone=Max("contact_phone"), customer_phone=Max("customer__phone"),
            first_at=Min("opened_at"), last_at=Max("opened_at"),
        )
        .filter(count__gte=2)
        .order_by("-count", "-last_at", "complainer")[:REPEAT_COMPLAINERS_LIMIT]
    )
    report.repeat_complainers = [
        RepeatComplainer(
            key=values["complainer"], name=values["name"] or values["contact_name"] or "",
            phone_masked=phone_mask(values["phone"] or values["customer_phone"] or ""), count=values["count"],
            classes=values["classes"], first_at=values["first_at"], last_at=values["last_at"],
        )
        for values in repeat
    ]
    return report


def _local_date(value) -> datetime.date:
    return value.astimezone(SHANGHAI).date() if isinstance(value, datetime.datetime) else value


@dataclass(frozen=True)
class ComplaintList:
    tickets: list[Ticket]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.tickets)


def complaint_list(*, period: ReportPeriod, filters: ComplaintFilters, limit: int = LIST_LIMIT) -> ComplaintList:
    """The complaints behind a figure: by class, branch, month or complainer, newest first. Two queries."""
    if filters.month:
        period = ReportPeriod.month(filters.month)
    complaints = complaints_in(period=period, branch_id=filters.branch_id)
    if filters.complaint_class:
        complaint_class = "" if filters.complaint_class == UNCLASSIFIED else filters.complaint_class
        complaints = complaints.filter(complaint_class=complaint_class)
    if filters.complainer:
        complaints = complaints.annotate(complainer=_complainer_key()).filter(complainer=filters.complainer)
    rows = list(complaints.select_related("branch", "customer", "account").order_by("-opened_at", "-id")[:limit])
    return ComplaintList(tickets=rows, total=complaints.count())


# --- call centre ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FcrRow:
    channel: str
    label: str
    contacts: int
    repeated: int

    @property
    def resolved(self) -> int:
        return self.contacts - self.repeated

    @property
    def rate(self) -> Rate:
        return Rate(self.resolved, self.contacts)


@dataclass
class CallCentreReport:
    period: ReportPeriod
    service_level_seconds: int
    calls: int
    ivr_resolved: int
    queued: int
    answered: int
    abandoned: int
    answered_within_level: int
    handled: int
    handle_seconds: int
    fcr_totals: FcrRow
    fcr_by_channel: list[FcrRow] = field(default_factory=list)

    @property
    def left_queue(self) -> int:
        return self.answered + self.abandoned

    @property
    def answer_rate(self) -> Rate:
        return Rate(self.answered, self.left_queue)

    @property
    def service_level(self) -> Rate:
        return Rate(self.answered_within_level, self.left_queue)

    @property
    def abandonment(self) -> Rate:
        return Rate(self.abandoned, self.left_queue)

    @property
    def average_handle_seconds(self) -> int | None:
        return round(self.handle_seconds / self.handled) if self.handled else None


def _call_matter() -> Coalesce:
    """What a call was about: the business type of the first ticket it touched, else the IVR choice, else the
    agent's wrap-up, else general."""
    ticket_type = Subquery(
        CallTicket.objects.filter(call_id=OuterRef("pk")).order_by("id").values("ticket__business_type")[:1]
    )
    intents = [When(ivr_data__intent=intent, then=Value(matter)) for intent, matter in IVR_INTENT_MATTERS.items()]
    return Coalesce(
        ticket_type,
        Case(
            *intents,
            When(wrap_up_code=WrapUpCode.COMPLAINT, then=Value(BusinessType.COMPLAINT)),
            default=Value(MATTER_GENERAL),
            output_field=CharField(),
        ),
        output_field=CharField(),
    )


def _call_contacts() -> QuerySet[Call]:
    """Calls served by an agent or the IVR, of an identified customer, with their matter."""
    return Call.objects.filter(outcome__in=SERVED_OUTCOMES, customer__isnull=False).annotate(matter=_call_matter())


def _ticket_contacts() -> QuerySet[Ticket]:
    """Tickets a customer opened other than through a call (a call's ticket is that call's contact)."""
    opened_by_call = CallTicket.objects.filter(ticket_id=OuterRef("pk"), relation=CallTicketRelation.OPENED)
    return (
        Ticket.objects.filter(customer__isnull=False)
        .exclude(channel=Channel.SYSTEM)
        .filter(~Exists(opened_by_call))
        .annotate(matter=F("business_type"))
    )


def _contacted_again(at_field: str):
    """The same customer came back about the same matter, by any channel, within FCR_REPEAT_WINDOW after
    the contact (whose time is `at_field` of the outer row)."""
    window_end = ExpressionWrapper(OuterRef(at_field) + FCR_REPEAT_WINDOW, output_field=DateTimeField())
    again_by_call = _call_contacts().filter(
        customer_id=OuterRef("customer_id"), matter=OuterRef("matter"), started_at__gt=OuterRef(at_field),
        started_at__lte=window_end,
    )
    again_by_ticket = _ticket_contacts().filter(
        customer_id=OuterRef("customer_id"), matter=OuterRef("matter"), opened_at__gt=OuterRef(at_field),
        opened_at__lte=window_end,
    )
    return Q(Exists(again_by_call)) | Q(Exists(again_by_ticket))


def _fcr_rows(*, period: ReportPeriod) -> list[FcrRow]:
    """Contacts of the period and those followed by another about the same matter, per first-contact channel.
    Two queries (calls, tickets)."""
    calls = (
        _call_contacts()
        .filter(started_at__gte=period.start, started_at__lt=period.end)
        .annotate(
            contact_channel=Case(
                When(outcome__in=IVR_OUTCOMES, then=Value(CHANNEL_IVR)), default=Value(CHANNEL_AGENT),
                output_field=CharField(),
            )
        )
        .values("contact_channel")
        .annotate(contacts=Count("id"), repeated=Count("id", filter=_contacted_again("started_at")))
        .order_by()
    )
    tickets = (
        _ticket_contacts()
        .filter(opened_at__gte=period.start, opened_at__lt=period.end)
        .values("channel")
        .annotate(contacts=Count("id"), repeated=Count("id", filter=_contacted_again("opened_at")))
        .order_by()
    )
    totals: dict[str, list[int]] = {}
    for values in calls:
        totals.setdefault(values["contact_channel"], [0, 0])
        totals[values["contact_channel"]][0] += values["contacts"]
        totals[values["contact_channel"]][1] += values["repeated"]
    for values in tickets:
        totals.setdefault(values["channel"], [0, 0])
        totals[values["channel"]][0] += values["contacts"]
        totals[values["channel"]][1] += values["repeated"]
    labels = dict(Channel.choices)
    order = list(Channel.values)
    return [
        FcrRow(channel=channel, label=str(labels.get(channel, channel)), contacts=counts[0], repeated=counts[1])
        for channel, counts in sorted(totals.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99)
    ]


def call_centre_report(*, period: ReportPeriod) -> CallCentreReport:
    """The hotline's KPIs over the period and first-contact resolution across channels. Three queries."""
    level = settings.CALLCENTER_SERVICE_LEVEL_SECONDS
    answered = Q(answered_at__isnull=False)
    handled = Q(talk_seconds__isnull=False)
    wrap_up = ExpressionWrapper(F("wrap_up_ended_at") - F("ended_at"), output_field=DurationField())
    figures = Call.objects.filter(started_at__gte=period.start, started_at__lt=period.end).aggregate(
        calls=Count("id"),
        ivr_resolved=Count("id", filter=Q(outcome__in=IVR_OUTCOMES)),
        queued=Count("id", filter=Q(queued_at__isnull=False)),
        answered=Count("id", filter=answered),
        answered_in_level=Count("id", filter=answered & Q(queue_wait_seconds__lte=level)),
        abandoned=Count("id", filter=Q(outcome=CallOutcome.ABANDONED)),
        handled=Count("id", filter=handled),
        talk_total=Sum("talk_seconds", filter=handled),
        wrap_up_total=Sum(wrap_up, filter=handled & Q(wrap_up_ended_at__isnull=False)),
    )
    wrap_up_seconds = int(figures["wrap_up_total"].total_seconds()) if figures["wrap_up_total"] else 0
    fcr = _fcr_rows(period=period)
    return CallCentreReport(
        period=period, service_level_seconds=level, calls=figures["calls"], ivr_resolved=figures["ivr_resolved"],
        queued=figures["queued"], answered=figures["answered"], abandoned=figures["abandoned"],
        answered_within_level=figures["answered_in_level"], handled=figures["handled"],
        handle_seconds=(figures["talk_total"] or 0) + wrap_up_seconds,
        fcr_totals=FcrRow(
            channel="total", label=str(_("合计")), contacts=sum(row.contacts for row in fcr),
            repeated=sum(row.repeated for row in fcr),
        ),
        fcr_by_channel=fcr,
    )


# --- collection and arrears -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionRow:
    label: str
    bills: int
    receivable: Decimal
    collected: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.receivable - self.collected

    @property
    def rate(self) -> Rate:
        return Rate(self.collected, self.receivable)


@dataclass(frozen=True)
class AgeingRow:
    label: str
    amounts: list[Decimal]
    bills: int

    @property
    def total(self) -> Decimal:
        return sum(self.amounts, ZERO)


@dataclass
class CollectionReport:
    period: ReportPeriod
    as_of: datetime.date
    totals: CollectionRow
    by_branch: list[CollectionRow] = field(default_factory=list)
    ageing_labels: list[str] = field(default_factory=list)
    ageing_totals: AgeingRow | None = None
    ageing_by_branch: list[AgeingRow] = field(default_factory=list)


_MONEY = DecimalField(max_digits=16, decimal_places=2)
_COLLECTION_FIGURES = {
    "bill_count": Count("id"),
    "receivable": Coalesce(Sum("total"), Value(ZERO), output_field=_MONEY),
    "collected": Coalesce(Sum("amount_paid"), Value(ZERO), output_field=_MONEY),
}


def _collection_row(label, values) -> CollectionRow:
    return CollectionRow(
        label=str(label), bills=values["bill_count"], receivable=to_money(values["receivable"]),
        collected=to_money(values["collected"]),
    )


def _ageing_figures(as_of: datetime.date) -> dict:
    outstanding = ExpressionWrapper(F("total") - F("amount_paid") - F("amount_adjusted"), output_field=_MONEY)
    figures = {"bill_count": Count("id")}
    for key, _label, fewest, most in AGEING_BUCKETS:
        condition = Q()
        if fewest is None:
            condition &= Q(due_date__gte=as_of)
        else:
            condition &= Q(due_date__lte=as_of - datetime.timedelta(days=fewest))
        if most is not None and fewest is not None:
            condition &= Q(due_date__gte=as_of - datetime.timedelta(days=most))
        figures[key] = Coalesce(Sum(outstanding, filter=condition), Value(ZERO), output_field=_MONEY)
    return figures


def _ageing_row(label, values) -> AgeingRow:
    return AgeingRow(
        label=str(label), amounts=[to_money(values[key]) for key, *_rest in AGEING_BUCKETS], bills=values["bill_count"]
    )


def collection_report(
    *, period: ReportPeriod, as_of: datetime.date | None = None, branch_id: int | None = None
) -> CollectionReport:
    """Receivable and collected on the bills of the period's billing months, per branch; what open bills still owe
    by days past due as of `as_of` (default today), per branch. Four queries."""
    as_of = as_of or timezone.localdate()
    first_month, last_month = period.billing_months
    bills = Bill.objects.filter(kind__in=CHARGE_KINDS, period__gte=first_month, period__lte=last_month).exclude(
        state=Bill.State.CREDITED
    )
    open_bills = Bill.objects.filter(kind__in=CHARGE_KINDS, state__in=OPEN_BILL_STATES)
    if branch_id:
        bills = bills.filter(account__branch_id=branch_id)
        open_bills = open_bills.filter(account__branch_id=branch_id)
    report = CollectionReport(
        period=period, as_of=as_of, totals=_collection_row(_("合计"), bills.aggregate(**_COLLECTION_FIGURES))
    )
    report.by_branch = [
        _collection_row(values["account__branch__name"], values)
        for values in bills.values("account__branch__code", "account__branch__name")
        .annotate(**_COLLECTION_FIGURES).order_by("account__branch__code")
    ]
    ageing = _ageing_figures(as_of)
    report.ageing_labels = [str(label) for _key, label, *_rest in AGEING_BUCKETS]
    report.ageing_totals = _ageing_row(_("合计"), open_bills.aggregate(**ageing))
    report.ageing_by_branch = [
        _ageing_row(values["account__branch__name"], values)
        for values in open_bills.values("account__branch__code", "account__branch__name")
        .annotate(**ageing).order_by("account__branch__code")
    ]
    return report


# --- self-service ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelRow:
    activity: str
    channel: str
    label: str
    count: int
    self_service: bool


@dataclass(frozen=True)
class ActivityShare:
    activity: str
    label: str
    total: int
    self_service: int

    @property
    def share(self) -> Rate:
        return Rate(self.self_service, self.total)


@dataclass
class SelfServiceReport:
    period: ReportPeriod
    rows: list[ChannelRow]
    activities: list[ActivityShare]

    @property
    def overall(self) -> ActivityShare:
        return ActivityShare(
            activity="total", label=str(_("合计")), total=sum(a.total for a in self.activities),
            self_service=sum(a.self_service for a in self.activities),
        )


ACTIVITY_PAYMENTS = "payments"
ACTIVITY_TICKETS = "tickets"
ACTIVITY_CALLS = "calls"
ACTIVITY_LABELS = {ACTIVITY_PAYMENTS: _("缴费"), ACTIVITY_TICKETS: _("业务受理"), ACTIVITY_CALLS: _("热线来电")}


def self_service_report(*, period: ReportPeriod, branch_id: int | None = None) -> SelfServiceReport:
    """Payments received, tickets opened and hotline calls served in the period by channel, and each activity's
    self-service share. Three queries."""
    payments = Payment.objects.filter(
        status=Payment.Status.POSTED, received_at__gte=period.start, received_at__lt=period.end
    )
    tickets = Ticket.objects.filter(opened_at__gte=period.start, opened_at__lt=period.end).exclude(
        channel=Channel.SYSTEM
    )
    calls = Call.objects.filter(started_at__gte=period.start, started_at__lt=period.end, outcome__in=SERVED_OUTCOMES)
    if branch_id:
        payments = payments.filter(account__branch_id=branch_id)
        tickets = tickets.filter(branch_id=branch_id)
        calls = calls.filter(account__branch_id=branch_id)
    rows: list[ChannelRow] = []
    payment_labels = dict(Payment.Channel.choices)
    for channel, count in payments.values_list("channel").annotate(count=Count("id")).order_by("channel"):
        rows.append(ChannelRow(
            activity=ACTIVITY_PAYMENTS, channel=channel, label=str(payment_labels.get(channel, channel)), count=count,
            self_service=channel in SELF_SERVICE_PAYMENT_CHANNELS,
        ))
    ticket_labels = dict(Channel.choices)
    for channel, count in tickets.values_list("channel").annotate(count=Count("id")).order_by("channel"):
        rows.append(ChannelRow(
            activity=ACTIVITY_TICKETS, channel=channel, label=str(ticket_labels.get(channel, channel)), count=count,
            self_service=channel in SELF_SERVICE_TICKET_CHANNELS,
        ))
    call_figures = calls.aggregate(
        ivr=Count("id", filter=Q(outcome__in=IVR_OUTCOMES)), agent=Count("id", filter=Q(outcome=CallOutcome.ANSWERED))
    )
    for channel, count, self_service in (
        (CHANNEL_IVR, call_figures["ivr"], True), (CHANNEL_AGENT, call_figures["agent"], False)
    ):
        if count:
            rows.append(ChannelRow(
                activity=ACTIVITY_CALLS, channel=channel, label=str(ticket_labels[channel]), count=count,
                self_service=self_service,
            ))
    activities = [
        ActivityShare(
            activity=activity, label=str(label),
            total=sum(row.count for row in rows if row.activity == activity),
            self_service=sum(row.count for row in rows if row.activity == activity and row.self_service),
        )
        for activity, label in ACTIVITY_LABELS.items()
    ]
    return SelfServiceReport(period=period, rows=rows, activities=activities)


def branches_for_filters() -> list[Branch]:
    return list(Branch.objects.order_by("code"))
