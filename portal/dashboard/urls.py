"""Portal dashboard URLs (names in the "portal" namespace): the account dashboard, bills, PDFs and receipts."""
from django.urls import path, register_converter

from . import views


class AccountNumberConverter:
    """A 10-digit account number, so /portal/<number>/ never shadows the other areas under /portal/."""

    regex = r"\d{10}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AccountNumberConverter, "account_number")

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("<account_number:number>/", views.account_dashboard, name="account_dashboard"),
    path("<account_number:number>/bills/", views.bill_list, name="bill_list"),
    path("<account_number:number>/bills/<str:bill_number>/", views.bill_detail, name="bill_detail"),
    path("<account_number:number>/bills/<str:bill_number>/pdf/", views.bill_pdf, name="bill_pdf"),
    path("<account_number:number>/payments/", views.payment_list, name="payment_list"),
    path("<account_number:number>/payments/<int:payment_id>/receipt/", views.payment_receipt, name="payment_receipt"),
]
