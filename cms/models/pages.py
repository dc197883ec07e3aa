"""Sections and standard content pages (company introduction, service guide, safety tips, energy saving)."""
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from cms.blocks import BaseStreamBlock


class SectionPage(Page):
    """A section of the site (栏目) listing its pages, with an optional introduction."""

    intro = models.TextField(_("栏目简介"), blank=True)
    body = StreamField(BaseStreamBlock(), verbose_name=_("正文"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("body")]

    search_fields = Page.search_fields + [index.SearchField("intro"), index.SearchField("body")]

    parent_page_types = ["cms.HomePage", "cms.SectionPage"]
    # A section may hold any listing a site puts under a heading, e.g. 服务指南 > 营业厅 or 信息公开 > 停电公告.
    subpage_types = [
        "cms.SectionPage",
        "cms.StandardPage",
        "cms.PolicyIndexPage",
        "cms.NewsIndexPage",
        "cms.TariffPage",
        "cms.OutageNoticeIndexPage",
        "cms.KnowledgeIndexPage",
        "cms.OutletIndexPage",
        "cms.SurveyPage",
    ]

    class Meta:
        verbose_name = _("栏目")
        verbose_name_plural = _("栏目")

    def live_children(self) -> list[Page]:
        """The section's published, unrestricted pages in the editors' order (one query per page type)."""
        return list(self.get_children().live().public().specific())

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["children"] = self.live_children()
        return context


class StandardPage(Page):
    """A page of content built from the shared blocks."""

    intro = models.TextField(_("摘要"), blank=True)
    body = StreamField(BaseStreamBlock(), verbose_name=_("正文"))

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("body")]

    search_fields = Page.search_fields + [index.SearchField("intro"), index.SearchField("body")]

    parent_page_types = ["cms.HomePage", "cms.SectionPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("内容页")
        verbose_name_plural = _("内容页")
