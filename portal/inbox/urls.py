"""Portal inbox URLs (names in the "portal" namespace): the messages inbox and notification preferences."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:message_id>/", views.inbox_message, name="inbox_message"),
    path("<int:message_id>/read/", views.inbox_mark_read, name="inbox_mark_read"),
    path("preferences/", views.preferences, name="preferences"),
    path("preferences/<str:number>/", views.preferences_save, name="preferences_save"),
]
