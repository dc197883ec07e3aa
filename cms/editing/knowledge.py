"""Wagtail admin registrations for the knowledge area: knowledge categories as a snippet."""
from django.utils.translation import gettext_lazy as _
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from cms.models import KnowledgeCategory


class KnowledgeCategoryViewSet(SnippetViewSet):
    model = KnowledgeCategory
    icon = "folder-open-inverse"
    menu_label = _("知识分类")
    list_display = ["name", "name_en", "slug", "sort_order"]
    search_fields = ["name", "name_en", "slug"]
    ordering = ["sort_order", "name"]


register_snippet(KnowledgeCategoryViewSet)
