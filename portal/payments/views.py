"""Online payment pages: choose an account, the server's amount, the card form (Stripe.js), and the status the
server knows. Every URL names its account through bound_account_or_404, and its payment must be that account's."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import OnlinePaymentError
from core.models import Account
from core.models.online_payments import OnlinePaymentPurpose, OnlinePaymentState
from core.selectors.accounts import account_amount_due
from core.selectors.online_payments import online_payment_of_account_or_none, online_payments_of_account
from core.selectors.portal_access import bindings_active
from core.services.online_payments import (
    TOPUP_MAXIMUM,
    TOPUP_MINIMUM,
    online_payment_card_confirm,
    online_payment_start,
)
from portal.access import bound_account_or_404
from portal.payments.stripe_gateway import StripeGateway


def _purpose(account: Account) -> str:
    return OnlinePaymentPurpose.TOPUP if account.billing_mode == Account.BillingMode.PREPAID else OnlinePaymentPurpose.ARREARS


def _unavailable(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/payments/unavailable.html")


@login_required
@require_GET
def pay(request: HttpRequest) -> HttpResponse:
    """The bound accounts, each with what is due and a link to pay or top up."""
    if not StripeGateway.configured():
        return _unavailable(request)
    today = timezone.localdate()
    rows = [
        {
            "account": binding.account,
            "label": binding.label,
            "due": account_amount_due(account=binding.account, as_of=today),
            "topup": _purpose(binding.account) == OnlinePaymentPurpose.TOPUP,
        }
        for binding in bindings_active(user=request.user)
    ]
    return render(request, "portal/payments/pay.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def pay_account(request: HttpRequest, number: str) -> HttpResponse:
    """GET: the amount (or the top-up field); POST: create the PaymentIntent and go to the card form."""
    account = bound_account_or_404(request, number)
    if not StripeGateway.configured():
        return _unavailable(request)
    purpose = _purpose(account)
    error = None
    amount_entered = ""
    if request.method == "POST":
        amount_entered = request.POST.get("amount", "")
        try:
            online_payment = online_payment_start(
                account=account,
                user=request.user,
                purpose=purpose,
                amount_entered=amount_entered if purpose == OnlinePaymentPurpose.TOPUP else None,
                request_key=request.POST.get("request_key", ""),
                gateway=StripeGateway.from_settings(),
            )
        except OnlinePaymentError as refusal:
            error = refusal.message
        else:
            return redirect("portal:pay_checkout", number=account.number, online_payment_id=online_payment.pk)
    context = {
        "account": account,
        "topup": purpose == OnlinePaymentPurpose.TOPUP,
        "due": account_amount_due(account=account, as_of=timezone.localdate()),
        "topup_minimum": TOPUP_MINIMUM,
        "topup_maximum": TOPUP_MAXIMUM,
        "amount_entered": amount_entered,
        "request_key": secrets.token_urlsafe(24),
        "error": error,
        "history": online_payments_of_account(account=account, limit=10),
    }
    return render(request, "portal/payments/pay_account.html", context, status=400 if error else 200)


def _online_payment_or_404(request: HttpRequest, number: str, online_payment_id: int):
    account = bound_account_or_404(request, number)
    online_payment = online_payment_of_account_or_none(account=account, online_payment_id=online_payment_id)
    if online_payment is None:
        raise Http404
    return account, online_payment


@login_required
@require_GET
def pay_checkout(request: HttpRequest, number: str, online_payment_id: int) -> HttpResponse:
    """The card element: Stripe.js tokenises the card, the server confirms, confirmCardPayment authenticates."""
    account, online_payment = _online_payment_or_404(request, number, online_payment_id)
    if online_payment.state != OnlinePaymentState.CREATED or not StripeGateway.configured():
        return redirect("portal:pay_status", number=account.number, online_payment_id=online_payment.pk)
    context = {
        "account": account,
        "online_payment": online_payment,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "confirm_url": reverse("portal:pay_confirm", args=[account.number, online_payment.pk]),
        "status_url": reverse("portal:pay_status", args=[account.number, online_payment.pk]),
    }
    return render(request, "portal/payments/checkout.html", context)


@login_required
@require_POST
def pay_confirm(request: HttpRequest, number: str, online_payment_id: int) -> JsonResponse:
    """pay.js posts the card token here; the answer says whether the cardholder must still authenticate."""
    account, online_payment = _online_payment_or_404(request, number, online_payment_id)
    try:
        intent = online_payment_card_confirm(
            online_payment=online_payment, card_token=request.POST.get("token", ""), gateway=StripeGateway.from_settings()
        )
    except OnlinePaymentError as refusal:
        return JsonResponse({"error": str(refusal.message)}, status=400)
    return JsonResponse({
        "status": intent.status,
        "client_secret": intent.client_secret if intent.status == "requires_action" else "",
    })


@login_required
@require_GET
def pay_status(request: HttpRequest, number: str, online_payment_id: int) -> HttpResponse:
    """What the server knows: credited only once Stripe's signed webhook said so, whatever the browser claimed."""
    account, online_payment = _online_payment_or_404(request, number, online_payment_id)
    context = {
        "account": account,
        "online_payment": online_payment,
        "credited": online_payment.payment_id is not None and online_payment.state == OnlinePaymentState.SUCCEEDED,
        "pending": online_payment.state == OnlinePaymentState.CREATED,
        "due": account_amount_due(account=account, as_of=timezone.localdate()),
    }
    return render(request, "portal/payments/status.html", context)
