"""Guest pages of the portal that need no login: the bill lookup at /bill/lookup/.

The number and holder's name are checked by the binding service on every request (one generic refusal,
rate-limited per address); what is shown is masked by the selector and kept rendered in the cache per account,
language and day until the account's data changes (portal/dashboard/cache.py; the version that says so is read
with the account's number and names). Nothing is kept in the session.
"""
from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from core.services.account_binding import bill_lookup_verify
from portal.binding.client import client_ip
from portal.binding.views import form_error_add
from portal.dashboard.cache import bill_lookup_answer


class BillLookupForm(forms.Form):
    account_number = forms.CharField(
        label=_("户号"), max_length=20, widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("10位数字，见电费账单或缴费凭证"),
    )
    holder_name = forms.CharField(label=_("户主姓名"), max_length=100, help_text=_("与电费账单上的户名一致"))


# One blank form per process: its fields are drawn once per language and kept (the template's frame_fragment is
# keyed by it), as a first visit and every answered lookup show it.
BLANK_FORM = BillLookupForm()


@require_http_methods(["GET", "POST"])
@never_cache
def bill_lookup(request: HttpRequest) -> HttpResponse:
    form = BillLookupForm(request.POST or None)
    summary = result = None
    if request.method == "POST" and form.is_valid():
        try:
            verified = bill_lookup_verify(
                account_number=form.cleaned_data["account_number"], holder_name=form.cleaned_data["holder_name"],
                ip_address=client_ip(request),
            )
        except DomainError as error:
            form_error_add(form, error)
        else:
            summary, result = bill_lookup_answer(account_id=verified.account_id, as_of=timezone.localdate(),
                                                 version=verified.data_version)
            form = BillLookupForm()
    context = {"form": form, "blank_form": BLANK_FORM, "summary": summary, "result": result}
    return render(request, "portal/guest/bill_lookup.html", context)
