"""The customer's own data export (names in the "portal" namespace): usage and bills as CSV, and both together as
Green-Button-like JSON, for one bound account."""
from django.urls import path

from . import views

urlpatterns = [
    path("<str:number>/usage.csv", views.usage_csv, name="export_usage_csv"),
    path("<str:number>/bills.csv", views.bills_csv, name="export_bills_csv"),
    path("<str:number>/green-button.json", views.green_button_json, name="export_green_button"),
]
