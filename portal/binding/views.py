"""The binding pages: my accounts, bind one (ID digits or an SMS code), its alert settings, unbind.

Each view parses, calls one service and renders; refusals are shown as messages on the form, never a 500.
An account number in the address goes through bound_account_or_404 (someone else's -> 404).
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError, InvalidAccountNumber
from core.selectors.binding import binding_for_account
from core.selectors.portal_access import bindings_active
from core.services.account_binding import CODE_MINUTES, binding_create, binding_settings_update, binding_unbind
from portal.access import bound_account_or_404

from .client import client_ip
from .delivery import binding_code_request
from .forms import BindForm, BindingSettingsForm


def form_error_add(form, error: DomainError) -> None:
    """Show a refusal beside its field (an invalid account number beside the number), else above the form."""
    field = "account_number" if isinstance(error, InvalidAccountNumber) else error.field
    form.add_error(field if field in form.fields else None, str(error))


@require_GET
@never_cache
@login_required
def binding_list(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/binding/list.html", {"bindings": bindings_active(user=request.user)})


@require_http_methods(["GET", "POST"])
@never_cache
@login_required
def binding_add(request: HttpRequest) -> HttpResponse:
    form = BindForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if request.POST.get("action") == "send_code":
                binding_code_request(
                    user=request.user, account_number=data["account_number"], holder_name=data["holder_name"],
                    ip_address=client_ip(request),
                )
                messages.info(request, _(
                    "如户号与户主姓名相符，验证码已发送到该户号预留的手机，%(minutes)s分钟内有效。"
                    "未收到可改用证件号后四位验证，或拨打95598。"
                ) % {"minutes": CODE_MINUTES})
            else:
                binding = binding_create(
                    user=request.user, account_number=data["account_number"], holder_name=data["holder_name"],
                    method=data["method"], id_last4=data["id_last4"], sms_code=data["sms_code"],
                    label=data["label"], ip_address=client_ip(request),
                )
                messages.success(request, _("户号%(number)s绑定成功") % {"number": binding.account.number})
                return redirect("portal:binding_list")
        except DomainError as error:
            form_error_add(form, error)
    return render(request, "portal/binding/add.html", {"form": form})


@require_http_methods(["GET", "POST"])
@never_cache
@login_required
def binding_settings(request: HttpRequest, number: str) -> HttpResponse:
    account = bound_account_or_404(request, number)
    binding = binding_for_account(user=request.user, account=account)
    if binding is None:
        raise Http404
    initial = {
        "label": binding.label, "low_balance_threshold": binding.low_balance_threshold,
        "tier_alerts": binding.tier_alerts,
    }
    form = BindingSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            binding_settings_update(
                binding=binding, label=data["label"], low_balance_threshold=data["low_balance_threshold"],
                tier_alerts=data["tier_alerts"],
            )
        except DomainError as error:
            form_error_add(form, error)
        else:
            messages.success(request, _("提醒设置已保存"))
            return redirect("portal:binding_list")
    return render(request, "portal/binding/settings.html", {"form": form, "binding": binding, "account": account})


@require_http_methods(["GET", "POST"])
@never_cache
@login_required
def binding_unbind_view(request: HttpRequest, number: str) -> HttpResponse:
    account = bound_account_or_404(request, number)
    binding = binding_for_account(user=request.user, account=account)
    if binding is None:
        raise Http404
    if request.method == "POST":
        binding_unbind(binding=binding)
        messages.success(request, _("已解除绑定户号%(number)s") % {"number": account.number})
        return redirect("portal:binding_list")
    return render(request, "portal/binding/unbind.html", {"binding": binding, "account": account})
