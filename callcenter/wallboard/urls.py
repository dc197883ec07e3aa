"""The supervisors' wallboard under /callcenter/wallboard/."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.wallboard_page, name="wallboard"),
    path("snapshot/", views.wallboard_snapshot_view, name="wallboard_snapshot"),
]
