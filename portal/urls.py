"""The customer portal's addresses, mounted at the site root (stable entry points: /portal/, /bill/lookup/,
/track/, /payments/stripe/webhook/); each area's views live in its own package."""
from django.urls import include, path

app_name = "portal"

urlpatterns = [
    path("portal/", include("portal.dashboard.urls")),
    path("portal/accounts/", include("portal.binding.urls")),
    path("portal/pay/", include("portal.payments.urls")),
    path("portal/requests/", include("portal.requests.urls")),
    path("portal/tickets/", include("portal.tickets.urls")),
    path("portal/inbox/", include("portal.inbox.urls")),
    path("portal/export/", include("portal.exports.urls")),
    path("bill/lookup/", include("portal.dashboard.guest_urls")),
    path("track/", include("portal.tickets.guest_urls")),
    path("payments/stripe/", include("portal.payments.webhook_urls")),
]
