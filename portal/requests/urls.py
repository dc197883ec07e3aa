"""Portal requests URLs (names in the "portal" namespace): the applications wizard, feedback, fault reports."""
from django.urls import path

from . import views

urlpatterns = [
    path("apply/", views.apply_start, name="apply"),
    path("apply/details/", views.apply_details, name="apply_details"),
    path("apply/documents/", views.apply_documents, name="apply_documents"),
    path("apply/summary/", views.apply_summary, name="apply_summary"),
    path("apply/done/<str:number>/", views.apply_done, name="apply_done"),
    path("feedback/", views.feedback, name="complaint"),
    path("fault/", views.fault_report, name="fault_report"),
]
