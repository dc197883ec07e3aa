"""Wagtail admin registrations for the content area: the news category snippet."""
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from cms.models import NewsCategory


class NewsCategoryViewSet(SnippetViewSet):
    model = NewsCategory
    icon = "tag"
    menu_label = _("新闻分类")
    add_to_admin_menu = True
    menu_order = 310
    list_display = ["name", "name_en", "slug", "is_notice"]
    list_filter = ["is_notice"]
    search_fields = ["name", "name_en", "slug"]
    # A plain model, not in the Wagtail search index: the listing searches with the ORM.
    search_backend_name = None
    panels = [FieldPanel("name"), FieldPanel("name_en"), FieldPanel("slug"), FieldPanel("is_notice")]


register_snippet(NewsCategoryViewSet)
