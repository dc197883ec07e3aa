"""Guest ticket tracking: /track/ (name "ticket_track")."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.ticket_track, name="ticket_track"),
]
