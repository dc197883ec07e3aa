"""Portal payments URLs (names in the "portal" namespace), under /portal/pay/."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.pay, name="pay"),
    path("<str:number>/", views.pay_account, name="pay_account"),
    path("<str:number>/<int:online_payment_id>/", views.pay_checkout, name="pay_checkout"),
    path("<str:number>/<int:online_payment_id>/confirm/", views.pay_confirm, name="pay_confirm"),
    path("<str:number>/<int:online_payment_id>/status/", views.pay_status, name="pay_status"),
]
