"""Quality-management pages, mounted at /staff/reports/quality/ (namespace core_quality)."""
from django.urls import path

from . import quality_views as views

app_name = "core_quality"

urlpatterns = [
    path("", views.index, name="index"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/export.<str:file_format>", views.audit_export, name="audit_export"),
    path("audit/<int:flag_id>/resolve/", views.audit_resolve, name="audit_resolve"),
    path("complaints/list/", views.complaints, name="complaint_list"),
    path("monthly.xlsx", views.monthly_pack, name="monthly_pack"),
    path("monthly/<int:year>-<int:month>.xlsx", views.monthly_pack_download, name="monthly_pack_download"),
    path("<slug:slug>/", views.report_page, name="report"),
    path("<slug:slug>/export.<str:file_format>", views.report_export, name="report_export"),
]
