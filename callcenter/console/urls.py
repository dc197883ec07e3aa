"""The agent console under /callcenter/: the page and the JSON actions about a call."""
from django.urls import path

from . import views

urlpatterns = [
    path("console/", views.console_page, name="console"),
    path("calls/<int:call_id>/", views.call_profile_view, name="call_profile"),
    path("calls/<int:call_id>/reveal/", views.reveal_view, name="call_reveal"),
    path("calls/<int:call_id>/identify/", views.identify_view, name="call_identify"),
    path("calls/<int:call_id>/tickets/", views.ticket_open_view, name="call_ticket_open"),
    path("calls/<int:call_id>/tickets/note/", views.ticket_note_view, name="call_ticket_note"),
    path("calls/<int:call_id>/sms/", views.sms_view, name="call_sms"),
    path("calls/<int:call_id>/wrap-up/", views.wrap_up_view, name="call_wrap_up"),
    path("calls/<int:call_id>/callback/", views.callback_view, name="call_callback"),
]
