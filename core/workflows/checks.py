"""Named checks a step definition can ask for (StepDefinition.checks).

Horizontal checks compare fields of the ticket against each other; vertical checks compare them with master data
and history (the account, its meter readings and bills). Each returns (field name or "__all__", message) pairs;
a check whose fields are absent passes, since completeness is the field spec's job.
"""
from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.db.models import F
from django.utils.translation import gettext as _

from core.models import Account, Bill, Meter, MeterReading, StepDefinition, Ticket
from core.money import format_yuan

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
ALL = "__all__"
DISCONNECTION_OVERDUE_DAYS = 30
DISCONNECTION_NOTICE_DAYS = 7
CONTACT_WITHIN = datetime.timedelta(hours=24)


@dataclass(frozen=True)
class CheckContext:
    ticket: Ticket
    step_definition: StepDefinition
    data: dict  # this submission's cleaned data merged over the ticket's data
    now: datetime.datetime


CheckFn = Callable[[CheckContext], list[tuple[str, str]]]


def _decimal(value) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _moment(value) -> datetime.datetime | None:
    if not value:
        return None
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        try:
            moment = datetime.datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=LOCAL_TZ)


def _day(value) -> datetime.date | None:
    if not value:
        return None
    if isinstance(value, datetime.datetime):
        return value.astimezone(LOCAL_TZ).date()
    if isinstance(value, datetime.date):
        return value
    text = str(value)
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        moment = _moment(text)
        return moment.astimezone(LOCAL_TZ).date() if moment else None


def _account(ctx: CheckContext) -> Account | None:
    """The ticket's account, read afresh: vertical checks must see the balance as it is now."""
    if ctx.ticket.account_id is None:
        return None
    return Account.objects.select_related("customer").get(pk=ctx.ticket.account_id)


def _no_account() -> list[tuple[str, str]]:
    return [(ALL, _("工单未关联户号，无法核对户档案"))]


# --- horizontal -------------------------------------------------------------------------------------------------


def end_after_start(ctx: CheckContext) -> list[tuple[str, str]]:
    start, end = _moment(ctx.data.get("start_at")), _moment(ctx.data.get("end_at"))
    if start and end and end <= start:
        return [("end_at", _("结束时间必须晚于开始时间"))]
    return []


def restored_after_arrival(ctx: CheckContext) -> list[tuple[str, str]]:
    arrived, restored = _moment(ctx.data.get("arrived_at")), _moment(ctx.data.get("restored_at"))
    if arrived and restored and restored < arrived:
        return [("restored_at", _("恢复送电时间不能早于到达现场时间"))]
    return []


def notice_at_least_7_days(ctx: CheckContext) -> list[tuple[str, str]]:
    served, disconnect = _day(ctx.data.get("notice_served_on")), _day(ctx.data.get("disconnect_on"))
    if served and disconnect and (disconnect - served).days < DISCONNECTION_NOTICE_DAYS:
        return [("disconnect_on", _("停电日期须在送达停电通知后至少%(days)s天") % {"days": DISCONNECTION_NOTICE_DAYS})]
    return []


def contact_within_24h(ctx: CheckContext) -> list[tuple[str, str]]:
    contacted = _moment(ctx.data.get("contacted_at"))
    if contacted is None:
        return []
    if contacted < ctx.ticket.opened_at:
        return [("contacted_at", _("联系客户时间不能早于受理时间"))]
    if contacted - ctx.ticket.opened_at > CONTACT_WITHIN:
        return [("contacted_at", _("须在受理后24小时内联系客户"))]
    return []


# --- vertical ---------------------------------------------------------------------------------------------------


def _capacity(ctx: CheckContext) -> tuple[Decimal | None, Account | None]:
    return _decimal(ctx.data.get("new_capacity_kva")), _account(ctx)


def capacity_above_current(ctx: CheckContext) -> list[tuple[str, str]]:
    new, account = _capacity(ctx)
    if new is None:
        return []
    if account is None:
        return _no_account()
    if new <= account.contracted_capacity_kva:
        return [("new_capacity_kva", _("增容后容量须大于现有合同容量%(current)s kVA")
                 % {"current": account.contracted_capacity_kva})]
    return []


def capacity_below_current(ctx: CheckContext) -> list[tuple[str, str]]:
    new, account = _capacity(ctx)
    if new is None:
        return []
    if account is None:
        return _no_account()
    if new <= 0:
        return [("new_capacity_kva", _("减容后容量须大于0"))]
    if new >= account.contracted_capacity_kva:
        return [("new_capacity_kva", _("减容后容量须小于现有合同容量%(current)s kVA")
                 % {"current": account.contracted_capacity_kva})]
    return []


def _meter(ctx: CheckContext, account: Account) -> Meter | None:
    meters = Meter.objects.filter(service_point__account=account)
    asset_number = ctx.data.get("meter_asset_number")
    if asset_number:
        return meters.filter(asset_number=asset_number).first()
    return meters.filter(removed_on__isnull=True).order_by("-installed_on", "-id").first()


def reading_not_below_previous(ctx: CheckContext) -> list[tuple[str, str]]:
    final = _decimal(ctx.data.get("final_reading"))
    if final is None:
        return []
    account = _account(ctx)
    if account is None:
        return _no_account()
    meter = _meter(ctx, account)
    if meter is None:
        return [(ALL, _("该户没有在用电能表，无法核对示数"))]
    previous = (
        MeterReading.objects.filter(meter=meter, status=MeterReading.Status.VALID)
        .order_by("-read_on", "-id").values_list("total", flat=True).first()
    )
    if previous is None:
        previous = meter.initial_reading
    if final < previous:
        return [("final_reading", _("本次示数%(final)s小于上次有效示数%(previous)s")
                 % {"final": final, "previous": previous})]
    return []


def account_without_arrears(ctx: CheckContext) -> list[tuple[str, str]]:
    account = _account(ctx)
    if account is None:
        return _no_account()
    if account.balance > 0:
        return [(ALL, _("该户尚欠电费%(amount)s，请先结清") % {"amount": format_yuan(account.balance)})]
    return []


def account_arrears_over_30_days(ctx: CheckContext) -> list[tuple[str, str]]:
    account = _account(ctx)
    if account is None:
        return _no_account()
    today = ctx.now.astimezone(LOCAL_TZ).date()
    overdue = (
        Bill.objects.filter(account=account, due_date__lt=today - datetime.timedelta(days=DISCONNECTION_OVERDUE_DAYS))
        .exclude(kind=Bill.Kind.CREDIT_NOTE)
        .exclude(state__in=[Bill.State.WRITTEN_OFF, Bill.State.CREDITED, Bill.State.PAID])
        .filter(total__gt=F("amount_paid") + F("amount_adjusted"))
    )
    if not overdue.exists():
        return [(ALL, _("该户没有逾期超过%(days)s天的欠费，不能停电") % {"days": DISCONNECTION_OVERDUE_DAYS})]
    return []


def new_name_differs(ctx: CheckContext) -> list[tuple[str, str]]:
    new_name = (ctx.data.get("new_name") or "").strip()
    if not new_name:
        return []
    account = _account(ctx)
    customer = ctx.ticket.customer if ctx.ticket.customer_id else (account.customer if account else None)
    if customer is None:
        return [(ALL, _("工单未关联客户，无法核对户名"))]
    if new_name == customer.name.strip():
        return [("new_name", _("新户名与现户名相同"))]
    return []


def new_tariff_differs(ctx: CheckContext) -> list[tuple[str, str]]:
    new_category = ctx.data.get("new_category")
    if not new_category:
        return []
    account = _account(ctx)
    if account is None:
        return _no_account()
    if new_category == account.category:
        return [("new_category", _("新用电类别与现用电类别相同"))]
    return []


CHECKS: dict[str, CheckFn] = {
    "end_after_start": end_after_start,
    "restored_after_arrival": restored_after_arrival,
    "capacity_above_current": capacity_above_current,
    "capacity_below_current": capacity_below_current,
    "reading_not_below_previous": reading_not_below_previous,
    "account_without_arrears": account_without_arrears,
    "account_arrears_over_30_days": account_arrears_over_30_days,
    "notice_at_least_7_days": notice_at_least_7_days,
    "new_name_differs": new_name_differs,
    "new_tariff_differs": new_tariff_differs,
    "contact_within_24h": contact_within_24h,
}


def checks_run(*, names: list[str], ctx: CheckContext) -> dict[str, list[str]]:
    """Run the named checks; errors per field name. An unknown name is a definition error (KeyError)."""
    errors: dict[str, list[str]] = {}
    for name in names:
        for field, message in CHECKS[name](ctx):
            errors.setdefault(field, []).append(str(message))
    return errors
