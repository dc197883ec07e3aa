"""Portal binding URLs (names in the "portal" namespace), under /portal/accounts/."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.binding_list, name="binding_list"),
    path("add/", views.binding_add, name="binding_add"),
    path("<str:number>/settings/", views.binding_settings, name="binding_settings"),
    path("<str:number>/unbind/", views.binding_unbind_view, name="binding_unbind"),
]
