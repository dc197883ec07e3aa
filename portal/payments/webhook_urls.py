"""Stripe webhook: /payments/stripe/webhook/ (name "stripe_webhook")."""
from django.urls import path

from . import webhook

urlpatterns = [
    path("webhook/", webhook.stripe_webhook, name="stripe_webhook"),
]
