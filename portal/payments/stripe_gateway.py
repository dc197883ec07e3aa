"""Stripe adapter: the official stripe library's calls and wire format turned into plain dataclasses, nothing else.

Amounts cross this boundary in minor units (fen) as Stripe sends them; core.services.online_payments converts.
No ORM here: entry points build a StripeGateway from settings and hand it to the core services.
"""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field

import stripe
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.errors import OnlinePaymentProviderError, OnlinePaymentSignatureInvalid

# Stripe answers a list call with at most 100 objects a page.
PAGE_SIZE = 100


def _refused(error: stripe.StripeError) -> OnlinePaymentProviderError:
    """Stripe's refusal as our typed error: a card problem in Stripe's words for the payer, anything else generic."""
    if isinstance(error, stripe.CardError) and error.user_message:
        return OnlinePaymentProviderError(error.user_message, detail=str(error))
    return OnlinePaymentProviderError(_("支付渠道暂时无法处理，请稍后再试"), detail=str(error))


@dataclass(frozen=True)
class IntentInfo:
    id: str
    client_secret: str
    status: str
    amount: int
    currency: str
    metadata: dict[str, str]
    created: int


@dataclass(frozen=True)
class RefundInfo:
    id: str
    status: str
    amount: int
    charge: str
    created: int


@dataclass(frozen=True)
class ChargeInfo:
    id: str
    payment_intent: str
    status: str
    amount: int
    amount_refunded: int
    currency: str
    created: int


@dataclass(frozen=True)
class EventInfo:
    """A verified webhook event. `object` is the event's data.object as plain JSON values."""

    id: str
    type: str
    created: int
    object: dict = field(default_factory=dict)

    @property
    def object_id(self) -> str:
        return str(self.object.get("id") or "")


def timestamp_datetime(value: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(value), tz=datetime.UTC)


class StripeGateway:
    """PaymentIntents, refunds, charges and webhook events of one Stripe account (or localstripe)."""

    def __init__(self, *, secret_key: str, webhook_secret: str, api_base: str,
                 connect_timeout: float = 5.0, read_timeout: float = 10.0, network_retries: int = 2):
        """Each call waits at most connect_timeout for a connection and read_timeout for Stripe's answer (the library
        alone would wait 80 s), and is tried again up to network_retries times when the network fails it (Stripe
        dedupes the creations by their idempotency keys); then it fails as OnlinePaymentProviderError."""
        self.webhook_secret = webhook_secret
        self.client = stripe.StripeClient(
            secret_key, base_addresses={"api": api_base}, max_network_retries=network_retries,
            http_client=stripe.RequestsClient(timeout=(connect_timeout, read_timeout)),
        )

    @classmethod
    def from_settings(cls) -> StripeGateway:
        return cls(
            secret_key=settings.STRIPE_SECRET_KEY,
            webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
            api_base=settings.STRIPE_API_BASE,
            connect_timeout=settings.STRIPE_CONNECT_TIMEOUT_SECONDS,
            read_timeout=settings.STRIPE_READ_TIMEOUT_SECONDS,
        )

    @staticmethod
    def configured() -> bool:
        return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_PUBLISHABLE_KEY)

    # --- PaymentIntents -----------------------------------------------------------------------------------------

    def intent_create(self, *, amount: int, currency: str, metadata: dict[str, str], idempotency_key: str) -> IntentInfo:
        try:
            intent = self.client.v1.payment_intents.create(
                params={"amount": amount, "currency": currency, "metadata": metadata, "payment_method_types": ["card"]},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise _refused(error) from error
        return _intent(intent)

    def intent_get(self, *, intent_id: str) -> IntentInfo:
        try:
            return _intent(self.client.v1.payment_intents.retrieve(intent_id))
        except stripe.StripeError as error:
            raise _refused(error) from error

    def intent_confirm_card(self, *, intent_id: str, card_token: str) -> IntentInfo:
        """Attach the card of a Stripe.js token (stripe.createToken on the card element) and confirm; an intent
        that then needs the cardholder (3-D Secure) comes back `requires_action` for stripe.confirmCardPayment."""
        try:
            token = self.client.v1.tokens.retrieve(card_token)
            self.client.v1.payment_intents.update(intent_id, params={"payment_method": token["card"]["id"]})
            return _intent(self.client.v1.payment_intents.confirm(intent_id))
        except stripe.StripeError as error:
            raise _refused(error) from error

    # --- refunds and charges ------------------------------------------------------------------------------------

    def refund_create(self, *, intent_id: str, amount: int, idempotency_key: str, metadata: dict[str, str]) -> RefundInfo:
        try:
            refund = self.client.v1.refunds.create(
                params={"payment_intent": intent_id, "amount": amount, "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise _refused(error) from error
        return _refund(refund)

    def refunds_created_between(self, *, start: int, end: int) -> list[RefundInfo]:
        """Refunds with start <= created < end (Unix seconds). Stripe lists refunds newest first, so the pages are
        read back to `start` and no further: localstripe filters refunds by charge or intent only, not by created."""
        try:
            found = []
            for refund in self.client.v1.refunds.list(params={"limit": PAGE_SIZE}).auto_paging_iter():
                if int(refund["created"]) < start:
                    break
                if int(refund["created"]) < end:
                    found.append(_refund(refund))
            return found
        except stripe.StripeError as error:
            raise _refused(error) from error

    def charge_get(self, *, charge_id: str) -> ChargeInfo:
        try:
            return _charge(self.client.v1.charges.retrieve(charge_id))
        except stripe.StripeError as error:
            raise _refused(error) from error

    def charges_created_between(self, *, start: int, end: int) -> list[ChargeInfo]:
        """Charges with start <= created < end (Unix seconds), every page."""
        try:
            # created[gt] (not gte): the one bound localstripe implements as well as Stripe.
            pages = self.client.v1.charges.list(params={"created": {"gt": start - 1}, "limit": PAGE_SIZE})
            return [
                _charge(charge) for charge in pages.auto_paging_iter() if start <= int(charge["created"]) < end
            ]
        except stripe.StripeError as error:
            raise _refused(error) from error

    # --- webhooks -----------------------------------------------------------------------------------------------

    def event_parse(self, *, payload: bytes, signature: str) -> EventInfo:
        """Verify Stripe's signature over the raw body and its timestamp's age (what stripe.Webhook.construct_event
        checks, without building the library's event object, which we would not use), then read the event."""
        if not signature or not self.webhook_secret:
            raise OnlinePaymentSignatureInvalid(_("签名无效"), detail="missing Stripe-Signature or secret")
        try:
            text = payload.decode("utf-8")
            stripe.WebhookSignature.verify_header(text, signature, self.webhook_secret,
                                                  stripe.Webhook.DEFAULT_TOLERANCE)
            data = json.loads(text)
            return EventInfo(
                id=str(data["id"]), type=str(data["type"]), created=int(data["created"]),
                object=dict(data["data"]["object"]),
            )
        except (stripe.SignatureVerificationError, ValueError, KeyError, TypeError) as error:
            raise OnlinePaymentSignatureInvalid(_("签名无效"), detail=str(error)) from error


def _intent(intent) -> IntentInfo:
    return IntentInfo(
        id=intent["id"],
        client_secret=intent["client_secret"] or "",
        status=intent["status"],
        amount=int(intent["amount"]),
        currency=intent["currency"],
        metadata={key: str(value) for key, value in (intent["metadata"] or {}).items()},
        created=int(intent["created"]),
    )


def _refund(refund) -> RefundInfo:
    return RefundInfo(
        id=refund["id"], status=refund["status"], amount=int(refund["amount"]), charge=refund["charge"] or "",
        created=int(refund["created"]),
    )


def _charge(charge) -> ChargeInfo:
    return ChargeInfo(
        id=charge["id"],
        payment_intent=charge["payment_intent"] or "",
        status=charge["status"],
        amount=int(charge["amount"]),
        amount_refunded=int(charge["amount_refunded"] or 0),
        currency=charge["currency"],
        created=int(charge["created"]),
    )
