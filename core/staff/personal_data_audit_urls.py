"""The personal-data access log for auditors, mounted at /staff/audit/personal-data/."""
from django.urls import path

from . import personal_data_audit_views as views

app_name = "core_audit"

urlpatterns = [
    path("", views.index, name="personal_data"),
    path("export.csv", views.export, name="personal_data_export"),
]
