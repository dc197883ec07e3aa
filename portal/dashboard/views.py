"""The account dashboard and what hangs off it: bill history and detail, bill PDFs, payments and receipts.
Every view names its account through bound_account_or_404; bills and payments must belong to that account."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.selectors.portal_access import BindingVersioned, bindings_active_versioned
from core.selectors.portal_bills import (
    bill_of_account_or_none,
    bill_view,
    bills_of_account,
    payment_allocations,
    payment_of_account_or_none,
    payments_of_account,
)
from portal.access import bound_account_or_404
from portal.pdf import bill_pdf_render, payment_receipt_pdf_render

from .cache import dashboard_panel

BILL_HISTORY_LIMIT = 60


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _render_dashboard(
    request: HttpRequest, binding: BindingVersioned, bindings: list[BindingVersioned],
) -> HttpResponse:
    context = {
        "panel": dashboard_panel(account_id=binding.account_id, as_of=timezone.localdate(),
                                 version=binding.data_version),
        "bindings": bindings,
        "current_number": binding.account_number,
    }
    return render(request, "portal/dashboard/dashboard.html", context)


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The first bound account's dashboard, or a prompt to bind one."""
    bindings = bindings_active_versioned(user=request.user)
    if not bindings:
        return render(request, "portal/dashboard/no_account.html")
    return _render_dashboard(request, bindings[0], bindings)


@login_required
@require_GET
def account_dashboard(request: HttpRequest, number: str) -> HttpResponse:
    """One bound account's dashboard. The user's active bindings (wanted anyway for the account switcher) are the
    guard: a number not among them, someone else's or nobody's, is 404, as bound_account_or_404 answers."""
    bindings = bindings_active_versioned(user=request.user)
    binding = next((binding for binding in bindings if binding.account_number == number), None)
    if binding is None:
        raise Http404
    return _render_dashboard(request, binding, bindings)


@login_required
@require_GET
def bill_list(request: HttpRequest, number: str) -> HttpResponse:
    account = bound_account_or_404(request, number)
    bills = bills_of_account(account=account, limit=BILL_HISTORY_LIMIT)
    return render(request, "portal/dashboard/bill_list.html", {"account": account, "bills": bills})


def _bill_or_404(request: HttpRequest, number: str, bill_number: str):
    account = bound_account_or_404(request, number)
    bill = bill_of_account_or_none(account=account, number=bill_number)
    if bill is None:
        raise Http404
    return account, bill


@login_required
@require_GET
def bill_detail(request: HttpRequest, number: str, bill_number: str) -> HttpResponse:
    account, bill = _bill_or_404(request, number, bill_number)
    return render(request, "portal/dashboard/bill_detail.html", {"account": account, "view": bill_view(bill=bill)})


@login_required
@require_GET
def bill_pdf(request: HttpRequest, number: str, bill_number: str) -> HttpResponse:
    account, bill = _bill_or_404(request, number, bill_number)
    return _pdf_response(bill_pdf_render(account=account, view=bill_view(bill=bill)), f"bill-{bill.number}.pdf")


@login_required
@require_GET
def payment_list(request: HttpRequest, number: str) -> HttpResponse:
    account = bound_account_or_404(request, number)
    payments = payments_of_account(account=account, limit=BILL_HISTORY_LIMIT)
    return render(request, "portal/dashboard/payment_list.html", {"account": account, "payments": payments})


@login_required
@require_GET
def payment_receipt(request: HttpRequest, number: str, payment_id: int) -> HttpResponse:
    account = bound_account_or_404(request, number)
    payment = payment_of_account_or_none(account=account, payment_id=payment_id)
    if payment is None:
        raise Http404
    content = payment_receipt_pdf_render(account=account, payment=payment, allocations=payment_allocations(payment=payment))
    return _pdf_response(content, f"receipt-{payment.pk}.pdf")
