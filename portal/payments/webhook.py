"""Stripe's webhook: the signature verified over the raw body, then one core service call per event."""
from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.errors import OnlinePaymentSignatureInvalid
from core.services.online_payments import online_payment_event_apply
from portal.payments.stripe_gateway import StripeGateway

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """400 and nothing recorded for a bad or missing signature; 200 for an event applied, repeated or ignored."""
    try:
        event = StripeGateway.from_settings().event_parse(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except OnlinePaymentSignatureInvalid as refusal:
        logger.warning("stripe webhook refused: %s", refusal.detail)
        return JsonResponse({"error": "invalid signature"}, status=400)
    result = online_payment_event_apply(event=event)
    return JsonResponse({"event": result.event_id, "duplicate": result.duplicate, "outcome": result.outcome})
