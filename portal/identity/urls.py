"""Identity addresses beside allauth's, under /accounts/."""
from django.urls import path

from . import views

urlpatterns = [
    path("sessions/<int:session_id>/end/", views.session_end, name="identity_session_end"),
]
