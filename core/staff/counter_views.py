"""Business-hall counter pages under /staff/counter/: find an account, take a payment (summary, then confirm),
the receipt and its PDF, a reversal, the cashier's day and its settlement (解款), the accountant's review.

Each view checks access, calls one selector or service and renders; core.services.counter decides every rule and
its refusals are shown against the fields they name or as a message, never as a 500.
"""
from __future__ import annotations

import datetime
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.models.counter import CounterMethod, CounterReceipt
from core.selectors.counter import (
    counter_account,
    counter_account_search,
    counter_amount_due,
    counter_cashier_day,
    counter_deposit_accounts,
    counter_payment_summary,
    counter_receipt_allocations,
    counter_receipt_visible,
    counter_review_list,
    counter_settlement_for_review,
)
from core.selectors.ticket_queue import staff_name
from core.services.personal_data import (
    PersonalDataShown,
    personal_data_access_record,
    personal_data_shown_account,
)
from core.services.counter import (
    REVIEW_PERMISSION,
    TAKE_PERMISSION,
    business_day_of,
    counter_cashier_seat,
    counter_day_close,
    counter_payment_check,
    counter_payment_take,
    counter_receipt_reverse,
    counter_settlement_review,
)

from .access import staff_permission_required
from .counter_forms import (
    AccountSearchForm,
    PaymentConfirmForm,
    PaymentForm,
    ReverseForm,
    ReviewForm,
    SettlementForm,
)
from .counter_pdf import counter_receipt_pdf_render


cashier_required = staff_permission_required(TAKE_PERMISSION)
accountant_required = staff_permission_required(REVIEW_PERMISSION)


def _seat_or_message(request: HttpRequest):
    """The cashier's seat, or None with the reason as a message (a cashier not yet given an outlet)."""
    try:
        return counter_cashier_seat(user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return None


def _errors_to_form(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))


def _today() -> datetime.date:
    return business_day_of(timezone.now())


def _accounts_shown(request: HttpRequest, accounts, context: str) -> None:
    """Every page here shows account names and addresses in full: the auditors' trail, one row per account."""
    personal_data_access_record(staff=request.user, shown=[personal_data_shown_account(a) for a in accounts],
                                context=context)


def _receipts_shown(request: HttpRequest, receipts, context: str) -> None:
    """A day's receipts table shows each receipt's account name."""
    personal_data_access_record(
        staff=request.user, context=context,
        shown=[PersonalDataShown(customer_id=r.account.customer_id, account_id=r.account_id, fields=("account_name",))
               for r in receipts],
    )


# --- account search and payment ----------------------------------------------------------------------------------


@require_GET
@cashier_required
def search(request: HttpRequest) -> HttpResponse:
    form = AccountSearchForm(request.GET or None)
    accounts = counter_account_search(query=form.cleaned_data["q"]) if form.is_bound and form.is_valid() else []
    _accounts_shown(request, accounts, "counter:search")
    return render(request, "core/staff/counter/search.html", {
        "form": form, "accounts": accounts, "searched": form.is_bound, "seat": _seat_or_message(request),
    })


def _account_or_404(number: str):
    account = counter_account(number=number)
    if account is None:
        raise Http404
    return account


def _pay_form_render(request: HttpRequest, account, form: PaymentForm) -> HttpResponse:
    _accounts_shown(request, [account], "counter:pay")
    return render(request, "core/staff/counter/pay.html", {
        "account": account, "form": form, "due": counter_amount_due(account=account, as_of=_today()),
    })


@require_http_methods(["GET", "POST"])
@cashier_required
def pay(request: HttpRequest, number: str) -> HttpResponse:
    """GET: the payment form. POST: the summary to confirm (nothing is written yet)."""
    account = _account_or_404(number)
    if request.method == "GET":
        return _pay_form_render(request, account, PaymentForm())
    form = PaymentForm(request.POST)
    if not form.is_valid():
        return _pay_form_render(request, account, form)
    data = form.cleaned_data
    try:
        draft = counter_payment_check(
            cashier=request.user, account=account, amount=data["amount"], method=data["method"],
            slip_reference=data["slip_reference"],
        )
    except DomainError as exc:
        _errors_to_form(form, exc)
        return _pay_form_render(request, account, form)
    confirm = PaymentConfirmForm(initial={
        "amount": str(draft.amount), "method": draft.method, "slip_reference": draft.slip_reference,
        "token": uuid.uuid4().hex,
    })
    _accounts_shown(request, [account], "counter:pay")
    return render(request, "core/staff/counter/pay_confirm.html", {
        "account": account, "summary": counter_payment_summary(draft=draft, as_of=_today()), "form": confirm,
    })


@require_POST
@cashier_required
def pay_confirm(request: HttpRequest, number: str) -> HttpResponse:
    account = _account_or_404(number)
    confirm = PaymentConfirmForm(request.POST)
    back = PaymentForm({key: request.POST.get(key, "") for key in ("amount", "method", "slip_reference")})
    if not confirm.is_valid():
        back.is_valid()
        back.add_error(None, _("收费确认信息不完整，请重新办理"))
        return _pay_form_render(request, account, back)
    data = confirm.cleaned_data
    try:
        result = counter_payment_take(
            cashier=request.user, account=account, amount=data["amount"], method=data["method"],
            slip_reference=data["slip_reference"], idempotency_key=data["token"],
        )
    except DomainError as exc:
        back.is_valid()
        _errors_to_form(back, exc)
        return _pay_form_render(request, account, back)
    receipt = result.receipt
    if result.created:
        messages.success(request, _("收费成功，收据号 %(number)s") % {"number": receipt.number})
    else:
        messages.info(request, _("该笔收费已办理，收据号 %(number)s") % {"number": receipt.number})
    return redirect("core_counter:receipt", number=receipt.number)


# --- receipts --------------------------------------------------------------------------------------------------


def _visible_receipt(request: HttpRequest, number: str) -> CounterReceipt:
    if not request.user.is_staff:
        raise PermissionDenied
    receipt = counter_receipt_visible(number=number, user=request.user)
    if receipt is None:
        raise Http404
    return receipt


def _receipt_render(request: HttpRequest, receipt: CounterReceipt, *, reverse_form=None) -> HttpResponse:
    can_reverse = (
        receipt.kind == CounterReceipt.Kind.PAYMENT
        and request.user.has_perm(TAKE_PERMISSION)
        and not hasattr(receipt, "reversal")
    )
    _accounts_shown(request, [receipt.account], f"counter:receipt:{receipt.number}")
    return render(request, "core/staff/counter/receipt.html", {
        "receipt": receipt,
        "cashier_name": staff_name(receipt.cashier),
        "allocations": counter_receipt_allocations(receipt=receipt),
        "reverse_form": (reverse_form or ReverseForm()) if can_reverse else None,
    })


@require_GET
@login_required
def receipt(request: HttpRequest, number: str) -> HttpResponse:
    return _receipt_render(request, _visible_receipt(request, number))


@require_GET
@login_required
def receipt_pdf(request: HttpRequest, number: str) -> HttpResponse:
    found = _visible_receipt(request, number)
    _accounts_shown(request, [found.account], f"counter:receipt:{found.number}")
    content = counter_receipt_pdf_render(receipt=found, allocations=counter_receipt_allocations(receipt=found))
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{found.number}.pdf"'
    return response


@require_POST
@cashier_required
def receipt_reverse(request: HttpRequest, number: str) -> HttpResponse:
    found = _visible_receipt(request, number)
    form = ReverseForm(request.POST)
    form.is_valid()
    try:
        reversal = counter_receipt_reverse(
            receipt=found, cashier=request.user, reason=form.cleaned_data.get("reason", "")
        )
    except DomainError as exc:
        _errors_to_form(form, exc)
        return _receipt_render(request, found, reverse_form=form)
    messages.success(request, _("已冲正，冲正凭证号 %(number)s") % {"number": reversal.number})
    return redirect("core_counter:receipt", number=reversal.number)


# --- the cashier's day and its settlement ---------------------------------------------------------------------


def _requested_day(request: HttpRequest) -> datetime.date:
    raw = request.GET.get("day", "")
    if not raw:
        return _today()
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        messages.error(request, _("日期格式不正确，已显示今天"))
        return _today()


def _day_render(request: HttpRequest, seat, business_day: datetime.date, *, form=None) -> HttpResponse:
    day = counter_cashier_day(seat=seat, business_day=business_day)
    if form is None and day.can_close:
        form = SettlementForm(initial={"business_day": business_day}, deposit_accounts=day.deposit_accounts)
    _receipts_shown(request, day.receipts, f"counter:day:{business_day.isoformat()}")
    return render(request, "core/staff/counter/day.html", {
        "day": day, "form": form if day.can_close else None, "is_today": business_day == _today(),
    })


@require_GET
@cashier_required
def day(request: HttpRequest) -> HttpResponse:
    seat = _seat_or_message(request)
    if seat is None:
        return redirect("core_counter:search")
    return _day_render(request, seat, _requested_day(request))


@require_POST
@cashier_required
def close(request: HttpRequest) -> HttpResponse:
    seat = _seat_or_message(request)
    if seat is None:
        return redirect("core_counter:search")
    form = SettlementForm(request.POST, deposit_accounts=counter_deposit_accounts(seat=seat))
    if not form.is_valid():
        return _day_render(request, seat, _today(), form=form)
    data = form.cleaned_data
    try:
        settlement = counter_day_close(
            cashier=request.user,
            business_day=data["business_day"],
            amounts={method: data[f"{method}_amount"] for method in CounterMethod.values},
            deposit_account_id=data["deposit_account"] or None,
        )
    except DomainError as exc:
        _errors_to_form(form, exc)
        return _day_render(request, seat, data["business_day"], form=form)
    messages.success(request, _("%(day)s 已日结，解款 %(total)s，等待账务员审核") % {
        "day": settlement.business_day.isoformat(), "total": settlement.total_display,
    })
    return redirect(f"{reverse('core_counter:day')}?day={settlement.business_day.isoformat()}")


# --- the accountant's review ----------------------------------------------------------------------------------


@require_GET
@accountant_required
def review(request: HttpRequest) -> HttpResponse:
    settlements = counter_review_list(accountant=request.user)
    return render(request, "core/staff/counter/review.html", {"settlements": settlements})


@require_http_methods(["GET", "POST"])
@accountant_required
def review_detail(request: HttpRequest, settlement_id: int) -> HttpResponse:
    detail = counter_settlement_for_review(settlement_id=settlement_id, accountant=request.user)
    if detail is None:
        raise Http404
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            counter_settlement_review(
                settlement=detail.settlement, accountant=request.user, note=form.cleaned_data["note"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("已审核 %(cashier)s %(day)s 的解款单") % {
                "cashier": staff_name(detail.settlement.cashier), "day": detail.settlement.business_day.isoformat(),
            })
            return redirect("core_counter:review")
    _receipts_shown(request, detail.receipts, f"counter:settlement:{detail.settlement.pk}")
    return render(request, "core/staff/counter/review_detail.html", {
        "detail": detail, "cashier_name": staff_name(detail.settlement.cashier),
        "form": form if detail.settlement.state == detail.settlement.State.SUBMITTED else None,
    })
