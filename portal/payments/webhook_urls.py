"""Stripe webhook: /payments/stripe/webhook/ (name "stripe_webhook")."""
urlpatterns: list = []
