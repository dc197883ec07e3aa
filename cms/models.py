"""Wagtail page models of the public 95598 website."""
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page
from wagtail.search import index


class HomePage(Page):
    """The 95598 website's front page: service hotline, quick links to self-service, notices."""

    intro = RichTextField(_("导语"), blank=True)
    hotline = models.CharField(_("服务热线"), max_length=20, default="95598")

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("hotline")]

    search_fields = Page.search_fields + [index.SearchField("intro")]

    # One site, one front page, always at the top of the tree.
    parent_page_types = ["wagtailcore.Page"]
    max_count = 1

    class Meta:
        verbose_name = _("首页")
