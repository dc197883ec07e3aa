"""The 95598 website's front page."""
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page
from wagtail.search import index


class HomePage(Page):
    """The front page: the hotline, quick links to self-service, notices and the next 7 days' planned outages."""

    intro = RichTextField(_("导语"), blank=True)
    hotline = models.CharField(_("服务热线"), max_length=20, default="95598")
    notices_shown = models.PositiveSmallIntegerField(_("首页显示公告条数"), default=6)

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("hotline"), FieldPanel("notices_shown")]

    search_fields = Page.search_fields + [index.SearchField("intro")]

    # One site, one front page per language, always at the top of the tree.
    parent_page_types = ["wagtailcore.Page"]

    class Meta:
        verbose_name = _("首页")
