"""Business-hall counter pages under /staff/counter/ (收费员 and 账务员)."""
from django.urls import path

from . import counter_views as views

app_name = "core_counter"

urlpatterns = [
    path("", views.search, name="search"),
    path("accounts/<str:number>/pay/", views.pay, name="pay"),
    path("accounts/<str:number>/pay/confirm/", views.pay_confirm, name="pay_confirm"),
    path("receipts/<str:number>/", views.receipt, name="receipt"),
    path("receipts/<str:number>/receipt.pdf", views.receipt_pdf, name="receipt_pdf"),
    path("receipts/<str:number>/reverse/", views.receipt_reverse, name="reverse"),
    path("day/", views.day, name="day"),
    path("day/close/", views.close, name="close"),
    path("review/", views.review, name="review"),
    path("review/<int:settlement_id>/", views.review_detail, name="review_detail"),
]
