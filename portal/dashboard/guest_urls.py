"""Guest bill lookup: /bill/lookup/ (name "bill_lookup")."""
from django.urls import path

from portal.guest_views import bill_lookup

urlpatterns = [
    path("", bill_lookup, name="bill_lookup"),
]
