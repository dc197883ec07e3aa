"""Demo tickets: forty tickets in the first demo branch, worked by the demo staff through the engine's own services
(ticket_open, ticket_claim, ticket_step_submit, ticket_step_return, ticket_suspend, ticket_rate), so every step,
event, deadline and evaluation is what the engine itself writes.

The tickets are spread over the last 14 days and left at different points: closed with the customer's
satisfaction, waiting in a post's pool, held by a demo login, suspended, returned once, late or overdue. A final
SLA scan raises the warnings and overdue marks (and auto-skips overdue follow-up calls), so the staff queue and
the supervision page have something real to show. Ticket number n carries the idempotency key "demo:<n>": a
ticket already there is left alone, so running the seed again adds nothing.
"""
from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.models import Account, Branch, BusinessType, Channel, ComplaintClass, Ticket, TicketStep
from core.services.ticket_sla import sla_scan
from core.services.tickets import (
    ticket_claim,
    ticket_open,
    ticket_rate,
    ticket_step_return,
    ticket_step_submit,
    ticket_suspend,
)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
KEY_PREFIX = "demo:"
DAY = 24 * 60
# Nothing is done closer to the seed's own clock than this, so no event is ever dated in the future.
LATEST_GAP = datetime.timedelta(minutes=2)

AGENT, CLERK, SUPERVISOR = "demo-agent", "demo-clerk", "demo-supervisor"

# What a ticket's current step is left as once its plan has run out.
POOL, CLAIMED, SUSPENDED = "pool", "claimed", "suspended"


@dataclass(frozen=True)
class Moment:
    """What a step's data may depend on: when the step is done, when the ticket was opened, its account."""

    at: datetime.datetime
    opened_at: datetime.datetime
    account: Account | None
    n: int

    @property
    def local(self) -> datetime.datetime:
        return self.at.astimezone(LOCAL_TZ)


@dataclass(frozen=True)
class StepWork:
    """One step of a process as the demo staff work it: who, how long after it arrives, and what they submit."""

    code: str
    worker: str
    minutes: int
    data: Callable[[Moment], dict]


def _fault_script(*, arrive_minutes: int = 50) -> list[StepWork]:
    crews = ("抢修一班", "抢修二班", "城区抢修班")
    return [
        StepWork("dispatch", AGENT, 6, lambda m: {
            "crew": crews[m.n % len(crews)], "fault_kind": ("low_voltage", "meter", "high_voltage")[m.n % 3],
        }),
        StepWork("arrive", CLERK, arrive_minutes, lambda m: {
            "arrived_at": m.at, "site_findings": "低压下户线接头烧断" if m.n % 2 else "表箱内空开跳闸，熔丝熔断",
        }),
        StepWork("restore", CLERK, 95, lambda m: {
            "restored_at": m.at, "cause": ("equipment", "weather", "external_damage")[m.n % 3],
            "repair_actions": "更换接头并紧固，恢复供电" if m.n % 2 else "更换熔丝，检查线路后恢复供电",
        }),
        StepWork("report_back", AGENT, 25, lambda m: {"report": "抢修完毕，现场已清理，客户确认来电"}),
        StepWork("follow_up", AGENT, 20 * 60, lambda m: _satisfaction(m, "客户对抢修速度表示满意")),
    ]


def _complaint_script() -> list[StepWork]:
    return [
        StepWork("route", SUPERVISOR, 50, lambda m: {
            "complaint_class": _COMPLAINTS[m.n % len(_COMPLAINTS)][0], "responsible_unit": "营业及电费室",
        }),
        StepWork("handle", SUPERVISOR, 22 * 60, lambda m: {
            "contacted_at": m.opened_at + datetime.timedelta(hours=3),
            "findings": "已电话联系客户，核实情况属实",
            "handling": "已向客户说明原因并致歉，相关人员已批评教育",
        }),
        StepWork("reply", AGENT, 4 * 60, lambda m: {"replied_at": m.at, "reply": "已将调查处理结果电话告知客户"}),
        StepWork("review", SUPERVISOR, 2 * 60, lambda m: {"review_opinion": "处理及时，答复到位，同意办结"}),
        StepWork("follow_up", AGENT, DAY, lambda m: _satisfaction(m, "客户认可处理结果")),
    ]


def _connection_script() -> list[StepWork]:
    return [
        StepWork("accept", CLERK, 30, lambda m: {
            "applicant_name": _APPLICANTS[m.n % len(_APPLICANTS)], "supply_address": _address(m.n),
            "requested_capacity_kva": ("8", "10", "12")[m.n % 3], "documents_complete": True,
        }),
        StepWork("survey", CLERK, DAY, lambda m: {
            "surveyed_on": m.local.date(), "meter_location": "楼道集中表箱",
            "supply_plan": "由附近台区低压380/220V接入，单相供电，新装智能电能表一只",
        }),
        StepWork("meter_install", CLERK, DAY, lambda m: {
            "meter_asset_number": f"3330001{m.n:06d}", "initial_reading": "0", "connected_at": m.at,
        }),
        StepWork("archive", CLERK, 4 * 60, lambda m: {"archive_number": f"BZ-{m.local:%Y%m}-{m.n:04d}"}),
        StepWork("follow_up", AGENT, DAY, lambda m: _satisfaction(m, "客户对装表接电速度满意")),
    ]


def _name_change_script() -> list[StepWork]:
    return [
        StepWork("accept", CLERK, 25, lambda m: {"new_name": _new_name(m), "documents_complete": True}),
        StepWork("review", SUPERVISOR, 20 * 60, lambda m: {
            "reviewed_on": m.local.date(), "review_opinion": "房产证明与身份证件一致，同意更名",
        }),
        StepWork("archive", CLERK, 3 * 60, lambda m: {"archive_number": f"GM-{m.local:%Y%m}-{m.n:04d}"}),
        StepWork("follow_up", AGENT, DAY, lambda m: _satisfaction(m, "")),
    ]


def _meter_check_script() -> list[StepWork]:
    return [
        StepWork("test", CLERK, 2 * DAY, lambda m: {"tested_at": m.at, "error_percent": "0.6", "result": "pass"}),
        StepWork("notify_result", AGENT, 3 * 60, lambda m: {
            "replied_at": m.at, "reply": "经现场校验，电能表误差0.6%，在允许范围内，计量准确",
        }),
    ]


_COMPLAINTS = (
    (ComplaintClass.SERVICE, "营业厅工作人员态度生硬", "客户反映在营业厅办理业务时工作人员态度生硬、解释不耐心。"),
    (ComplaintClass.TARIFF_BILLING, "本月电费明显偏高", "客户认为本月电费比往月高出一倍，怀疑计费有误。"),
    (ComplaintClass.POWER_QUALITY, "晚间电压偏低，空调无法启动", "客户反映每天晚上七点到十点电压偏低。"),
    (ComplaintClass.BUSINESS_PROCESS, "新装申请迟迟未处理", "客户反映提交新装申请后一周无人联系。"),
)
_FAULTS = ("家中突然停电，邻居家有电", "整栋楼停电", "电能表冒烟，有焦味", "路边电线被树枝压断", "频繁跳闸")
_APPLICANTS = ("谭家兴", "向春梅", "黄志刚", "覃小燕", "田德明", "邓丽华", "杨光荣", "张秀英")
_SATISFACTION = ("5", "5", "4", "5", "3", "4")


def _satisfaction(moment: Moment, note: str) -> dict:
    data = {"satisfaction": _SATISFACTION[moment.n % len(_SATISFACTION)]}
    return {**data, "follow_up_note": note} if note else data


def _address(n: int) -> str:
    return f"巴东县信陵镇江北社区{n % 9 + 1}组{n % 40 + 2}号"


def _new_name(moment: Moment) -> str:
    current = moment.account.customer.name if moment.account is not None else ""
    for name in _APPLICANTS:
        if name != current:
            return name
    return "新户主"


@dataclass(frozen=True)
class TicketPlan:
    """One demo ticket: its type, how long ago it was opened, how many steps are done, and how it is left."""

    n: int
    business_type: str
    opened_minutes_ago: int
    steps_done: int
    left: str = POOL
    returned_from: str = ""
    rated: int | None = None
    slow_arrival: bool = False
    extras: dict = field(default_factory=dict)


def _plans() -> list[TicketPlan]:
    """The forty tickets: mostly fault repairs (the commonest 95598 request), then complaints, residential
    connections, name changes and meter checks, at every point of their processes."""
    fault, complaint = BusinessType.FAULT_REPAIR, BusinessType.COMPLAINT
    connection, name_change = BusinessType.LV_RESIDENTIAL_CONNECTION, BusinessType.NAME_CHANGE
    meter = BusinessType.METER_ACCURACY_CHECK
    rows = [
        # Fault repairs: closed, late, on every step, warning and overdue.
        (fault, 13 * DAY + 300, 5, POOL, {}),
        (fault, 12 * DAY + 120, 5, POOL, {}),
        (fault, 10 * DAY + 600, 5, POOL, {}),
        (fault, 9 * DAY + 200, 5, POOL, {"slow_arrival": True}),
        (fault, 8 * DAY + 60, 5, POOL, {}),
        (fault, 6 * DAY + 400, 5, POOL, {}),
        (fault, 5 * DAY + 90, 5, POOL, {}),
        (fault, 4 * DAY + 500, 5, POOL, {}),
        (fault, 3 * DAY + 30, 5, POOL, {}),
        (fault, 36 * 60, 4, POOL, {}),  # the follow-up call is overdue: the SLA scan skips it
        (fault, 10 * 60, 4, POOL, {}),  # follow-up call waiting in the agents' pool
        (fault, 170, 3, CLAIMED, {}),  # repair report held by the dispatcher (demo-agent)
        (fault, 210, 2, CLAIMED, {}),  # restoring, past the warning time
        (fault, 2 * DAY, 1, CLAIMED, {}),  # the crew never arrived: overdue
        (fault, 30, 1, POOL, {}),  # dispatched, crew on the way
        (fault, 3 * 60, 0, POOL, {}),  # never dispatched: overdue in the dispatchers' pool
        (fault, 4, 0, POOL, {}),
        # Complaints, each with its class.
        (complaint, 13 * DAY + 200, 5, POOL, {}),
        (complaint, 11 * DAY + 100, 5, POOL, {}),
        (complaint, 9 * DAY + 30, 5, POOL, {}),
        (complaint, 8 * DAY, 1, CLAIMED, {}),  # investigation overdue
        (complaint, 30 * 60, 3, POOL, {}),  # review waiting for the supervisor
        (complaint, 26 * 60, 2, POOL, {}),  # reply waiting for an agent
        (complaint, 2 * DAY, 1, CLAIMED, {}),
        (complaint, 120, 0, POOL, {}),
        # Low-voltage residential connections.
        (connection, 13 * DAY + 60, 5, POOL, {}),
        (connection, 12 * DAY + 240, 5, POOL, {}),
        (connection, 11 * DAY + 30, 5, POOL, {}),
        (connection, 10 * DAY, 1, CLAIMED, {}),  # survey overdue
        (connection, 7 * DAY, 2, CLAIMED, {"returned_from": "survey"}),  # returned once for missing documents
        (connection, 2 * DAY + 120, 3, POOL, {}),  # filing waiting for the archivist
        (connection, 4 * DAY, 1, SUSPENDED, {}),  # the customer was not at home
        (connection, 60, 0, POOL, {}),
        # Name changes (accounts without arrears only).
        (name_change, 13 * DAY, 4, POOL, {}),
        (name_change, 9 * DAY, 4, POOL, {}),
        (name_change, 12 * DAY, 2, POOL, {}),  # filing overdue: a supervisor may skip it
        (name_change, DAY, 1, POOL, {}),  # review waiting for the account manager
        (name_change, 180, 0, CLAIMED, {}),
        # Meter accuracy checks.
        (meter, 8 * DAY, 2, POOL, {"rated": 4}),
        (meter, 2 * DAY, 0, CLAIMED, {}),
    ]
    return [
        TicketPlan(n=n, business_type=business_type, opened_minutes_ago=ago, steps_done=done, left=left, **extra)
        for n, (business_type, ago, done, left, extra) in enumerate(rows, start=1)
    ]


SCRIPTS: dict[str, Callable[[TicketPlan], list[StepWork]]] = {
    BusinessType.FAULT_REPAIR: lambda plan: _fault_script(arrive_minutes=110 if plan.slow_arrival else 50),
    BusinessType.COMPLAINT: lambda plan: _complaint_script(),
    BusinessType.LV_RESIDENTIAL_CONNECTION: lambda plan: _connection_script(),
    BusinessType.NAME_CHANGE: lambda plan: _name_change_script(),
    BusinessType.METER_ACCURACY_CHECK: lambda plan: _meter_check_script(),
}
NEEDS_ACCOUNT = {BusinessType.NAME_CHANGE, BusinessType.METER_ACCURACY_CHECK}


@dataclass
class DemoTicketsResult:
    added: int = 0
    existing: int = 0
    skipped: list[str] = field(default_factory=list)
    warned: int = 0
    overdue: int = 0
    auto_skipped: int = 0


@dataclass
class _World:
    branch: Branch
    staff: dict
    accounts: list[Account]
    clear_accounts: list[Account]
    now: datetime.datetime


def _world(now: datetime.datetime) -> _World | None:
    # The first branch by code is where the demo logins hold their posts (core.services.demo_logins).
    branch = Branch.objects.order_by("code").first()
    users = {user.username: user for user in get_user_model().objects.filter(username__in=[AGENT, CLERK, SUPERVISOR])}
    if branch is None or len(users) < 3:
        return None
    accounts = list(
        Account.objects.filter(branch=branch, status=Account.Status.ACTIVE).select_related("customer")
        .order_by("number")[:200]
    )
    return _World(branch, users, accounts, [a for a in accounts if a.balance <= 0], now)


def _open_kwargs(plan: TicketPlan, world: _World) -> dict | None:
    """What the request said when it came in: channel, summary, customer or applicant, by type."""
    n = plan.n
    account = None
    if plan.business_type == BusinessType.NAME_CHANGE:
        account = world.clear_accounts[n % len(world.clear_accounts)] if world.clear_accounts else None
    elif world.accounts and plan.business_type != BusinessType.LV_RESIDENTIAL_CONNECTION:
        account = world.accounts[n % len(world.accounts)]
    if plan.business_type in NEEDS_ACCOUNT and account is None:
        return None
    kwargs = {"branch": world.branch, "account": account}
    if account is not None:
        kwargs.update(contact_name=account.customer.name, contact_phone=account.customer.phone,
                      address=account.address)
    if plan.business_type == BusinessType.FAULT_REPAIR:
        kwargs.update(channel=(Channel.AGENT, Channel.IVR, Channel.AGENT)[n % 3], summary=_FAULTS[n % len(_FAULTS)],
                      opened_by=world.staff[AGENT] if n % 3 != 1 else None)
        if account is None:
            kwargs.update(contact_name=_APPLICANTS[n % len(_APPLICANTS)], contact_phone=f"1397180{n:04d}",
                          address=_address(n))
    elif plan.business_type == BusinessType.COMPLAINT:
        complaint_class, summary, description = _COMPLAINTS[n % len(_COMPLAINTS)]
        kwargs.update(channel=Channel.AGENT, summary=summary, description=description,
                      complaint_class=complaint_class, opened_by=world.staff[AGENT])
        if account is None:
            kwargs.update(contact_name=_APPLICANTS[n % len(_APPLICANTS)], contact_phone=f"1397181{n:04d}")
    elif plan.business_type == BusinessType.LV_RESIDENTIAL_CONNECTION:
        kwargs.update(channel=(Channel.COUNTER, Channel.PORTAL)[n % 2], summary="居民生活用电新装申请",
                      contact_name=_APPLICANTS[n % len(_APPLICANTS)], contact_phone=f"1397182{n:04d}",
                      address=_address(n), opened_by=world.staff[CLERK] if n % 2 == 0 else None)
    elif plan.business_type == BusinessType.NAME_CHANGE:
        kwargs.update(channel=Channel.COUNTER, summary="房屋买卖后申请更名", opened_by=world.staff[CLERK])
    else:
        kwargs.update(channel=Channel.AGENT, summary="怀疑电能表走得快，申请校验", opened_by=world.staff[AGENT])
    return kwargs


def _labels(plan: TicketPlan) -> dict:
    return {"key": f"{KEY_PREFIX}{plan.n}", "business": BusinessType(plan.business_type).label}


def _current_step(ticket: Ticket) -> TicketStep | None:
    ticket.refresh_from_db(fields=["state", "current_step"])
    return TicketStep.objects.select_related("step_definition").filter(pk=ticket.current_step_id).first()


def _ticket_make(plan: TicketPlan, world: _World) -> str:
    """Open and work one demo ticket; returns "" or why it was not made."""
    kwargs = _open_kwargs(plan, world)
    if kwargs is None:
        return _("%(key)s（%(business)s）：该县公司没有可用的户号") % _labels(plan)
    latest = world.now - LATEST_GAP
    opened_at = world.now - datetime.timedelta(minutes=plan.opened_minutes_ago)
    script = SCRIPTS[plan.business_type](plan)
    with transaction.atomic():
        ticket = ticket_open(business_type=plan.business_type, idempotency_key=f"{KEY_PREFIX}{plan.n}",
                             at=opened_at, **kwargs)
        at = opened_at
        done = 0
        returned = False
        while done < plan.steps_done:
            step = _current_step(ticket)
            work = script[done]
            if step is None or step.step_definition.code != work.code:
                break  # the process was edited since: leave the ticket where it is
            user = world.staff[work.worker]
            claim_at, finish_at = at + datetime.timedelta(minutes=3), at + datetime.timedelta(minutes=work.minutes)
            if finish_at > latest:
                break
            ticket_claim(step_id=step.pk, user=user, at=claim_at)
            if work.code == plan.returned_from and not returned:
                ticket_step_return(step_id=step.pk, user=user, to_step_code=script[done - 1].code,
                                   reason="申请资料缺少房屋产权证明，退回补充", at=finish_at)
                returned, done, at = True, done - 1, finish_at
                continue
            moment = Moment(at=finish_at, opened_at=opened_at, account=kwargs["account"], n=plan.n)
            ticket_step_submit(step_id=step.pk, user=user, data=work.data(moment), at=finish_at)
            done, at = done + 1, finish_at
        step = _current_step(ticket)
        if step is not None and plan.left in (CLAIMED, SUSPENDED) and done < len(script):
            user = world.staff[script[done].worker]
            claim_at = min(at + datetime.timedelta(minutes=8), latest)
            ticket_claim(step_id=step.pk, user=user, at=claim_at)
            if plan.left == SUSPENDED:
                ticket_suspend(ticket_id=ticket.pk, user=user, reason="客户不在家，约定下周再上门勘查",
                               at=min(claim_at + datetime.timedelta(hours=2), latest))
        if plan.rated and ticket.state == Ticket.State.CLOSED:
            ticket_rate(ticket_id=ticket.pk, satisfaction=plan.rated, comment="校验及时，解释清楚",
                        user=world.staff[AGENT], at=min(at + datetime.timedelta(hours=2), latest))
    return ""


def demo_tickets_seed(*, stdout=None, now: datetime.datetime | None = None) -> DemoTicketsResult:
    """Add the demo tickets not there yet (keys "demo:1".."demo:40"), then run one SLA scan.
    Each ticket is made in its own transaction; a ticket the engine refuses is reported and left out."""
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    result = DemoTicketsResult()

    def say(text: str) -> None:
        if stdout is not None:
            stdout.write(text)

    world = _world(now)
    if world is None:
        say(_("演示工单：缺少县公司或演示员工账号，未生成工单。"))
        return result
    plans = _plans()
    existing = set(
        Ticket.objects.filter(idempotency_key__in=[f"{KEY_PREFIX}{plan.n}" for plan in plans])
        .values_list("idempotency_key", flat=True)
    )
    for index, plan in enumerate(plans, start=1):
        if f"{KEY_PREFIX}{plan.n}" in existing:
            result.existing += 1
            continue
        try:
            why = _ticket_make(plan, world)
        except DomainError as error:
            why = _("%(key)s（%(business)s）：%(error)s") % {**_labels(plan), "error": error}
        if why:
            result.skipped.append(why)
        else:
            result.added += 1
        if index % 10 == 0 or index == len(plans):
            say(_("演示工单 [%(done)s/%(total)s] 新增 %(added)s 张")
                % {"done": index, "total": len(plans), "added": result.added})
    for why in result.skipped:
        say(_("  未生成：%(why)s") % {"why": why})
    if result.added:
        scan = sla_scan(now=now)
        result.warned, result.overdue, result.auto_skipped = len(scan.warned), len(scan.overdue), len(scan.skipped)
    say(
        _("演示工单：新增 %(added)s 张，已存在 %(existing)s 张；时限扫描预警 %(warned)s 个、超时 %(overdue)s 个、"
          "自动跳过 %(skipped)s 个环节。")
        % {"added": result.added, "existing": result.existing, "warned": result.warned,
           "overdue": result.overdue, "skipped": result.auto_skipped}
    )
    return result
