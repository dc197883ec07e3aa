"""The daily online-payment reconciliation (网上缴费对账), mounted at /staff/reports/reconciliation/."""
from django.urls import path, re_path

from . import reconciliation_views as views

app_name = "core_reconciliation"

urlpatterns = [
    path("", views.index, name="index"),
    re_path(r"^(?P<day>\d{4}-\d{2}-\d{2})/$", views.day, name="day"),
]
