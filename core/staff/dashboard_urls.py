"""Decision-support dashboards, mounted at /staff/reports/ (the quality reports sit under /staff/reports/quality/)."""
from django.urls import path

from . import dashboard_views as views

app_name = "core_reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("consumption/", views.consumption, name="consumption"),
    path("customers/", views.customers, name="customers"),
    path("tiers/", views.tiers, name="tiers"),
    path("arrears/", views.arrears, name="arrears"),
    path("tickets/", views.tickets, name="tickets"),
    path("outages/", views.outages, name="outages"),
]
