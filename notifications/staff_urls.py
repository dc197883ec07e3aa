"""The staff failures page under /staff/notifications/."""
from django.urls import path

from . import views

app_name = "notifications_staff"

urlpatterns = [
    path("", views.staff_failures, name="failures"),
    path("<int:message_id>/resend/", views.staff_resend, name="resend"),
]
