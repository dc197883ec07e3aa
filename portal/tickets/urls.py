"""Portal tickets URLs (names in the "portal" namespace): my tickets, a ticket's timeline and rating, documents."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.ticket_list, name="ticket_list"),
    path("<str:number>/", views.ticket_detail, name="ticket_detail"),
    path("<str:number>/rate/", views.ticket_rate_view, name="ticket_rate"),
    path("<str:number>/documents/<int:attachment_id>/", views.document_download, name="document_download"),
]
