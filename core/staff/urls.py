"""Staff ticket pages under /staff/ (the notifications failures page keeps /staff/notifications/)."""
from django.urls import path

from . import views

app_name = "core_staff"

urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("steps/<int:step_id>/claim/", views.step_claim, name="claim"),
    path("tickets/<str:number>/", views.ticket_page, name="ticket"),
    path("tickets/<str:number>/submit/", views.step_submit, name="submit"),
    path("tickets/<str:number>/return/", views.step_return, name="return"),
    path("tickets/<str:number>/suspend/", views.suspend, name="suspend"),
    path("tickets/<str:number>/resume/", views.resume, name="resume"),
    path("tickets/<str:number>/skip/", views.step_skip, name="skip"),
    path("tickets/<str:number>/assign/", views.step_assign, name="assign"),
    path("tickets/<str:number>/attachments/", views.attachment_upload, name="attachment_upload"),
    path(
        "tickets/<str:number>/attachments/<int:attachment_id>/", views.attachment_download,
        name="attachment_download",
    ),
    path("supervision/", views.supervision, name="supervision"),
    path("supervision/export.csv", views.supervision_export, name="supervision_export"),
]
