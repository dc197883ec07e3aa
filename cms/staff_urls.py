"""Staff pages of the CMS under /staff/knowledge/: the knowledge-base search agents use on the phone."""
from django.urls import path

from . import staff_views

app_name = "cms_staff"

urlpatterns = [
    path("", staff_views.knowledge_search_page, name="knowledge_search"),
]
