"""/api/v1/callcenter/: what the call-centre system asks of the platform — account lookup by account number or
calling number, bills and charges, ticket query and acceptance, and the fee-reminder list — answered from the
same core selectors and services the IVR and the agent console use. Personal data leaves masked."""
from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal
from typing import Literal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status

from core.account_numbers import account_number_validate
from core.errors import InvalidAccountNumber, TicketError, TicketValidationError
from core.models import Account, BillLine, BusinessType, Channel, ComplaintClass, LateFee, Ticket
from core.selectors.binding import address_mask, name_mask
from core.selectors.caller_profile import phone_mask
from core.selectors.callers import (
    account_by_number,
    account_ivr_summary,
    accounts_for_caller_number,
    caller_number_normalise,
    outage_now_for_account,
    ticket_by_number,
)
from core.selectors.fee_reminders import branch_by_code, fee_reminders_for_branch
from core.selectors.accounts import account_amount_due
from core.selectors.portal_bills import bill_summary, bills_of_account
from core.selectors.tickets import ticket_progress_text, ticket_timeline
from core.services.tickets import ticket_open
from integrations import scopes
from integrations.api.auth import scope_require
from integrations.api.errors import ApiError, ErrorOut
from integrations.api.idempotency import idempotent
from integrations.models import ApiClient

router = Router(tags=["callcenter"])

ACCOUNTS_LIMIT = 10
BILLS_DEFAULT = 12
BILLS_MAX = 60
TICKETS_DEFAULT = 20
TICKETS_MAX = 100
REMINDERS_PAGE_SIZE = 50
REMINDERS_PAGE_SIZE_MAX = 200
REMINDERS_PAGE_MAX = 100_000
# The call centre's own acceptance serial, the natural key of an accepted ticket.
REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
# ticket_open names its own arguments; the request body names them as the call centre sends them.
TICKET_FIELD_NAMES = {"account": "account_number", "branch": "branch_code"}


# --- schemas --------------------------------------------------------------------------------------------------


class CallcenterBranch(Schema):
    code: str
    name: str


class CallcenterLatestBill(Schema):
    period: str = Field(description="YYYY-MM")
    kwh: str
    total: str
    due_date: datetime.date


class CallcenterOutage(Schema):
    title: str
    reason: str
    starts_at: datetime.datetime
    # When power was expected back; past_expected_end says it has passed with no restoration recorded (the outage
    # overran and crews are still at it), so a caller must not be told that time as a promise.
    ends_at: datetime.datetime
    past_expected_end: bool


class CallcenterAccount(Schema):
    number: str
    name_masked: str
    address_masked: str
    phone_masked: str
    category: str
    category_label: str
    billing_mode: str
    billing_mode_label: str
    status: str
    status_label: str
    branch: CallcenterBranch
    total_due: str = Field(description=str(_("应缴金额（欠费与违约金，扣除预存），元")))
    arrears: str
    prepaid_credit: str
    latest_bill: CallcenterLatestBill | None
    outage_now: CallcenterOutage | None


class CallcenterAccountList(Schema):
    accounts: list[CallcenterAccount]
    more: bool = Field(description=str(_("该号码名下还有更多用电户未列出（每次最多10户）")))


class CallcenterBillLine(Schema):
    kind: str
    label: str
    quantity: str
    unit_price: str
    amount: str


class CallcenterBill(Schema):
    number: str
    period: str = Field(description="YYYY-MM")
    kind: str
    kind_label: str
    state: str
    state_label: str
    issued_on: datetime.date
    due_date: datetime.date
    kwh: str
    total: str
    amount_paid: str
    amount_adjusted: str
    outstanding: str
    summary: str
    lines: list[CallcenterBillLine]


class CallcenterLateFee(Schema):
    bill_number: str
    accrued_from: datetime.date
    accrued_to: datetime.date
    days: int
    amount: str
    amount_paid: str
    amount_waived: str
    outstanding: str


class CallcenterAmountDue(Schema):
    bills_outstanding: str
    late_fees_outstanding: str
    late_fees_accruing: str
    prepaid_credit: str
    total_due: str


class CallcenterBills(Schema):
    account_number: str
    as_of: datetime.date
    amount_due: CallcenterAmountDue
    bills: list[CallcenterBill]
    late_fees: list[CallcenterLateFee]


class CallcenterTimelineEntry(Schema):
    at: datetime.datetime
    text: str


class CallcenterTicketBrief(Schema):
    number: str
    business_type: str
    business_type_label: str
    channel: str
    state: str
    state_label: str
    summary: str
    account_number: str
    opened_at: datetime.datetime
    due_at: datetime.datetime | None
    closed_at: datetime.datetime | None


class CallcenterTicket(CallcenterTicketBrief):
    contact_name_masked: str
    contact_phone_masked: str
    progress: str
    timeline: list[CallcenterTimelineEntry]


class CallcenterTicketList(Schema):
    account_number: str
    tickets: list[CallcenterTicketBrief]


class CallcenterTicketAccept(Schema):
    reference: str = Field(
        pattern=REFERENCE_PATTERN,
        description=str(_("呼叫中心的受理流水号；同一流水号只生成一张工单")),
    )
    business_type: Literal[tuple(BusinessType.values)]
    summary: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=4000)
    account_number: str | None = Field(None, max_length=20)
    branch_code: str | None = Field(None, max_length=16, description=str(_("无户号时受理的县公司编码")))
    contact_name: str = Field("", max_length=60)
    contact_phone: str = Field("", max_length=20)
    address: str = Field("", max_length=200)
    complaint_class: Literal[("",) + tuple(ComplaintClass.values)] = ""
    anonymous: bool = False
    call_id: str = Field("", max_length=64, description=str(_("呼叫中心的通话编号（可选）")))


class CallcenterTicketAccepted(CallcenterTicket):
    duplicate: bool = Field(description=str(_("该流水号此前已受理，返回原工单")))


class CallcenterFeeReminder(Schema):
    account_number: str
    name_masked: str
    phone_masked: str
    address_masked: str
    billing_mode: str
    overdue_amount: str
    overdue_bills: int
    oldest_due_date: datetime.date
    days_overdue: int


class CallcenterFeeReminderPage(Schema):
    branch: CallcenterBranch
    as_of: datetime.date
    count: int
    page: int
    page_size: int
    pages: int
    total_amount: str
    results: list[CallcenterFeeReminder]


ERRORS = {401: ErrorOut, 403: ErrorOut, 422: ErrorOut, 429: ErrorOut}
ERRORS_404 = {**ERRORS, 404: ErrorOut}


# --- helpers ------------------------------------------------------------------------------------------------------


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _number_or_422(raw: str, field: str) -> str:
    try:
        return account_number_validate(raw)
    except InvalidAccountNumber as exc:
        raise ApiError(422, exc.code, exc.message, fields={field: [str(exc.message)]}) from exc


def _account_or_404(number: str) -> Account:
    account = account_by_number(number=_number_or_422(number, "number"))
    if account is None:
        raise ApiError(404, "not_found", _("户号不存在"))
    return account


def _account_out(account: Account, *, now: datetime.datetime) -> dict:
    summary = account_ivr_summary(account=account, as_of=timezone.localdate(now))
    outage = outage_now_for_account(account=account, at=now)
    latest = None
    if summary.latest_bill_period is not None:
        latest = {
            "period": f"{summary.latest_bill_period:%Y-%m}",
            "kwh": f"{summary.latest_bill_kwh:.2f}",
            "total": _money(summary.latest_bill_total),
            "due_date": summary.latest_bill_due_date,
        }
    return {
        "number": account.number,
        "name_masked": name_mask(account.name),
        "address_masked": address_mask(account.address),
        "phone_masked": phone_mask(account.customer.phone),
        "category": account.category,
        "category_label": str(account.get_category_display()),
        "billing_mode": account.billing_mode,
        "billing_mode_label": str(account.get_billing_mode_display()),
        "status": account.status,
        "status_label": str(account.get_status_display()),
        "branch": {"code": account.branch.code, "name": account.branch.name},
        "total_due": _money(summary.total_due),
        "arrears": _money(summary.arrears),
        "prepaid_credit": _money(summary.prepaid_credit),
        "latest_bill": latest,
        "outage_now": {
            "title": outage.title, "reason": outage.reason, "starts_at": outage.starts_at, "ends_at": outage.ends_at,
            "past_expected_end": outage.past_expected_end,
        } if outage is not None else None,
    }


def _ticket_brief(ticket: Ticket) -> dict:
    return {
        "number": ticket.number,
        "business_type": ticket.business_type,
        "business_type_label": str(ticket.get_business_type_display()),
        "channel": ticket.channel,
        "state": ticket.state,
        "state_label": str(ticket.get_state_display()),
        "summary": ticket.summary,
        "account_number": ticket.account.number if ticket.account_id else "",
        "opened_at": ticket.opened_at,
        "due_at": ticket.due_at,
        "closed_at": ticket.closed_at,
    }


def _ticket_out(ticket: Ticket) -> dict:
    return {
        **_ticket_brief(ticket),
        "contact_name_masked": name_mask(ticket.contact_name),
        "contact_phone_masked": phone_mask(ticket.contact_phone),
        "progress": ticket_progress_text(ticket=ticket),
        "timeline": [{"at": entry.at, "text": entry.text} for entry in ticket_timeline(ticket=ticket)],
    }


# --- account lookup ---------------------------------------------------------------------------------------------


@router.get(
    "/callcenter/accounts/",
    response={200: CallcenterAccountList, **ERRORS},
    summary=str(_("按户号或来电号码查找用电户（脱敏）")),
)
def accounts_lookup(
    request,
    number: str | None = Query(None, max_length=20, description=str(_("户号（10位，含校验位）"))),
    phone: str | None = Query(None, max_length=32, description=str(_("来电号码"))),
):
    scope_require(request, scopes.CALLCENTER_READ)
    number = (number or "").strip()
    phone = (phone or "").strip()
    if bool(number) == bool(phone):
        message = _("请提供户号或来电号码其中之一")
        raise ApiError(422, "invalid_request", message, fields={"number": [str(message)], "phone": [str(message)]})
    if number:
        found = account_by_number(number=_number_or_422(number, "number"))
        accounts = [found] if found is not None else []
    else:
        if not caller_number_normalise(phone):
            message = _("来电号码应包含数字")
            raise ApiError(422, "invalid_request", message, fields={"phone": [str(message)]})
        accounts = accounts_for_caller_number(phone=phone)
    now = timezone.now()
    # Each account is read as the IVR reads it (amount due with late fees accruing today, latest bill, outage now):
    # a few queries per account, so a number on file for many accounts answers the first ACCOUNTS_LIMIT of them.
    return {
        "accounts": [_account_out(account, now=now) for account in accounts[:ACCOUNTS_LIMIT]],
        "more": len(accounts) > ACCOUNTS_LIMIT,
    }


# --- bills and charges ----------------------------------------------------------------------------------------


@router.get(
    "/callcenter/accounts/{number}/bills/",
    response={200: CallcenterBills, **ERRORS_404},
    summary=str(_("用电户的账单、电费明细与违约金")),
)
def account_bills(request, number: str, limit: int = Query(BILLS_DEFAULT, ge=1, le=BILLS_MAX)):
    scope_require(request, scopes.CALLCENTER_READ)
    account = _account_or_404(number)
    as_of = timezone.localdate()
    due = account_amount_due(account=account, as_of=as_of)
    bills = bills_of_account(account=account, limit=limit)
    lines_by_bill: dict[int, list[BillLine]] = defaultdict(list)
    for line in BillLine.objects.filter(bill__in=[bill.pk for bill in bills]).order_by("bill_id", "position"):
        lines_by_bill[line.bill_id].append(line)
    late_fees = (
        LateFee.objects.filter(account=account, bill__in=[bill.pk for bill in bills])
        .select_related("bill")
        .order_by("bill__period", "id")
    )
    return {
        "account_number": account.number,
        "as_of": as_of,
        "amount_due": {
            "bills_outstanding": _money(due.bills_outstanding),
            "late_fees_outstanding": _money(due.late_fees_outstanding),
            "late_fees_accruing": _money(due.late_fees_accruing),
            "prepaid_credit": _money(due.prepaid_credit),
            "total_due": _money(due.total_due),
        },
        "bills": [
            {
                "number": bill.number,
                "period": f"{bill.period:%Y-%m}",
                "kind": bill.kind,
                "kind_label": str(bill.get_kind_display()),
                "state": bill.state,
                "state_label": str(bill.get_state_display()),
                "issued_on": bill.issued_on,
                "due_date": bill.due_date,
                "kwh": f"{bill.kwh:.2f}",
                "total": _money(bill.total),
                "amount_paid": _money(bill.amount_paid),
                "amount_adjusted": _money(bill.amount_adjusted),
                "outstanding": _money(bill.outstanding),
                "summary": bill_summary(bill=bill, lines=lines_by_bill[bill.pk]),
                "lines": [
                    {
                        "kind": line.kind,
                        "label": line.label,
                        "quantity": f"{line.quantity:.2f}",
                        "unit_price": f"{line.unit_price:.4f}",
                        "amount": _money(line.amount),
                    }
                    for line in lines_by_bill[bill.pk]
                ],
            }
            for bill in bills
        ],
        "late_fees": [
            {
                "bill_number": fee.bill.number,
                "accrued_from": fee.accrued_from,
                "accrued_to": fee.accrued_to,
                "days": fee.days,
                "amount": _money(fee.amount),
                "amount_paid": _money(fee.amount_paid),
                "amount_waived": _money(fee.amount_waived),
                "outstanding": _money(fee.outstanding),
            }
            for fee in late_fees
        ],
    }


# --- tickets ----------------------------------------------------------------------------------------------------


@router.get(
    "/callcenter/tickets/",
    response={200: CallcenterTicketList, **ERRORS_404},
    summary=str(_("按户号查询工单（新受理的在前）")),
)
def tickets_of_account(
    request,
    account: str = Query(..., max_length=20, description=str(_("户号"))),
    state: Literal[tuple(Ticket.State.values)] | None = None,
    limit: int = Query(TICKETS_DEFAULT, ge=1, le=TICKETS_MAX),
):
    scope_require(request, scopes.CALLCENTER_READ)
    found = account_by_number(number=_number_or_422(account, "account"))
    if found is None:
        raise ApiError(404, "not_found", _("户号不存在"))
    rows = Ticket.objects.filter(account=found).select_related("account")
    if state:
        rows = rows.filter(state=state)
    tickets = list(rows.order_by("-opened_at", "-id")[:limit])
    return {"account_number": found.number, "tickets": [_ticket_brief(ticket) for ticket in tickets]}


@router.get(
    "/callcenter/tickets/{number}/",
    response={200: CallcenterTicket, **ERRORS_404},
    summary=str(_("按工单号查询工单进度")),
)
def ticket_detail(request, number: str):
    scope_require(request, scopes.CALLCENTER_READ)
    ticket = ticket_by_number(number=number.strip())
    if ticket is None:
        raise ApiError(404, "not_found", _("工单不存在"))
    ticket = Ticket.objects.select_related("account").get(pk=ticket.pk)
    return _ticket_out(ticket)


def ticket_channel_of(client: ApiClient) -> str:
    """The channel a ticket accepted through this API came in by: the call centre's own system is the hotline's
    agents (95598坐席), any other system granted the scope is a system interface (系统接口)."""
    return Channel.AGENT if client.system == ApiClient.System.CALLCENTER else Channel.API


def _ticket_accept(request, payload: CallcenterTicketAccept) -> tuple[int, dict]:
    client = request.auth
    account = None
    if payload.account_number:
        account = account_by_number(number=_number_or_422(payload.account_number, "account_number"))
        if account is None:
            message = _("户号不存在")
            raise ApiError(422, "account_not_found", message, fields={"account_number": [str(message)]})
    branch = None
    if payload.branch_code:
        branch = branch_by_code(code=payload.branch_code.strip())
        if branch is None:
            message = _("县公司编码不存在")
            raise ApiError(422, "branch_not_found", message, fields={"branch_code": [str(message)]})
    key = f"callcenter:{client.pk}:{payload.reference}"
    duplicate = Ticket.objects.filter(idempotency_key=key).exists()
    try:
        ticket = ticket_open(
            business_type=payload.business_type,
            channel=ticket_channel_of(client),
            summary=payload.summary,
            description=payload.description,
            account=account,
            branch=branch,
            contact_name=payload.contact_name,
            contact_phone=payload.contact_phone,
            address=payload.address,
            complaint_class=payload.complaint_class,
            anonymous=payload.anonymous,
            data={"callcenter_reference": payload.reference, "call_id": payload.call_id, "api_client": client.name},
            idempotency_key=key,
        )
    except TicketError as exc:
        if isinstance(exc, TicketValidationError):
            raise  # already names the body's own fields
        field = TICKET_FIELD_NAMES.get(exc.field, exc.field)
        raise ApiError(422, exc.code, exc.message, fields={field: [str(exc)]} if field else {}) from exc
    ticket = Ticket.objects.select_related("account").get(pk=ticket.pk)
    return (200 if duplicate else 201), {**_ticket_out(ticket), "duplicate": duplicate}


@router.post(
    "/callcenter/tickets/",
    response={200: CallcenterTicketAccepted, 201: CallcenterTicketAccepted, **ERRORS},
    summary=str(_("受理工单（同一受理流水号或幂等键只生成一张）")),
)
def ticket_accept(request, payload: CallcenterTicketAccept):
    scope_require(request, scopes.CALLCENTER_WRITE)
    status, body = idempotent(request, lambda: _ticket_accept(request, payload))
    return Status(status, body)


# --- fee reminders ------------------------------------------------------------------------------------------------


@router.get(
    "/callcenter/fee-reminders/",
    response={200: CallcenterFeeReminderPage, **ERRORS},
    summary=str(_("催费清单：县公司欠费用电户（分页）")),
)
def fee_reminders(
    request,
    branch: str = Query(..., max_length=16, description=str(_("县公司编码"))),
    page: int = Query(1, ge=1, le=REMINDERS_PAGE_MAX),
    page_size: int = Query(REMINDERS_PAGE_SIZE, ge=1, le=REMINDERS_PAGE_SIZE_MAX),
    min_amount: Decimal = Query(Decimal("0.01"), ge=Decimal("0.01"), le=Decimal("99999999.99"), decimal_places=2),
):
    scope_require(request, scopes.CALLCENTER_READ)
    found = branch_by_code(code=branch.strip())
    if found is None:
        message = _("县公司编码不存在")
        raise ApiError(422, "branch_not_found", message, fields={"branch": [str(message)]})
    result = fee_reminders_for_branch(
        branch=found, as_of=timezone.localdate(), offset=(page - 1) * page_size, limit=page_size,
        min_amount=min_amount,
    )
    return {
        "branch": {"code": found.code, "name": found.name},
        "as_of": result.as_of,
        "count": result.count,
        "page": page,
        "page_size": page_size,
        "pages": (result.count + page_size - 1) // page_size,
        "total_amount": _money(result.total_amount),
        "results": [
            {
                "account_number": reminder.account.number,
                "name_masked": name_mask(reminder.account.name),
                "phone_masked": phone_mask(reminder.account.customer.phone),
                "address_masked": address_mask(reminder.account.address),
                "billing_mode": reminder.account.billing_mode,
                "overdue_amount": _money(reminder.overdue_amount),
                "overdue_bills": reminder.overdue_bills,
                "oldest_due_date": reminder.oldest_due_date,
                "days_overdue": reminder.days_overdue,
            }
            for reminder in result.reminders
        ],
    }
