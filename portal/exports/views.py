"""Downloads of a customer's own data. Each names its account through bound_account_or_404, so an account that is
not bound to the signed-in user, whoever's it is, answers 404."""
from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.selectors.data_export import account_data_export, account_export_bills, account_usage_intervals
from portal.access import bound_account_or_404

from .formats import bills_csv_text, green_button_document, usage_csv_text


def _download(content: str, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content.encode("utf-8"), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def usage_csv(request: HttpRequest, number: str) -> HttpResponse:
    account = bound_account_or_404(request, number)
    content = usage_csv_text(intervals=account_usage_intervals(account=account))
    return _download(content, content_type="text/csv; charset=utf-8", filename=f"usage-{account.number}.csv")


@login_required
@require_GET
def bills_csv(request: HttpRequest, number: str) -> HttpResponse:
    account = bound_account_or_404(request, number)
    content = bills_csv_text(bills=account_export_bills(account=account))
    return _download(content, content_type="text/csv; charset=utf-8", filename=f"bills-{account.number}.csv")


@login_required
@require_GET
def green_button_json(request: HttpRequest, number: str) -> HttpResponse:
    account = bound_account_or_404(request, number)
    document = green_button_document(export=account_data_export(account=account), generated_at=timezone.now())
    content = json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    return _download(
        content, content_type="application/json; charset=utf-8", filename=f"green-button-{account.number}.json"
    )
