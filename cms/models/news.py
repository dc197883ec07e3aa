"""News and notices (新闻公告) with categories and dates."""
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from cms.blocks import BaseStreamBlock


class NewsCategory(models.Model):
    """A news category (e.g. 通知公告, 供电新闻, 电价政策解读); a snippet."""

    name = models.CharField(_("名称"), max_length=40, unique=True)
    name_en = models.CharField(_("英文名称"), max_length=60, blank=True)
    slug = models.SlugField(_("代码"), max_length=40, unique=True)
    is_notice = models.BooleanField(_("属于公告"), default=False, help_text=_("公告类新闻显示在首页“通知公告”中"))

    panels = [FieldPanel("name"), FieldPanel("name_en"), FieldPanel("slug"), FieldPanel("is_notice")]

    class Meta:
        ordering = ["name"]
        verbose_name = _("新闻分类")
        verbose_name_plural = _("新闻分类")

    def __str__(self) -> str:
        return self.name


class NewsIndexPage(Page):
    """Lists news and notices, newest first, filterable by category."""

    intro = models.TextField(_("栏目简介"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]

    parent_page_types = ["cms.HomePage", "cms.SectionPage"]
    subpage_types = ["cms.NewsPage"]

    class Meta:
        verbose_name = _("新闻公告栏目")
        verbose_name_plural = _("新闻公告栏目")


class NewsPage(Page):
    """One news item or notice."""

    date = models.DateField(_("日期"))
    category = models.ForeignKey(
        NewsCategory, on_delete=models.PROTECT, related_name="pages", verbose_name=_("分类")
    )
    summary = models.TextField(_("摘要"), blank=True)
    body = StreamField(BaseStreamBlock(), verbose_name=_("正文"))

    content_panels = Page.content_panels + [
        FieldPanel("date"),
        FieldPanel("category"),
        FieldPanel("summary"),
        FieldPanel("body"),
    ]

    search_fields = Page.search_fields + [
        index.SearchField("summary"),
        index.SearchField("body"),
        index.FilterField("date"),
        index.FilterField("category"),
    ]

    parent_page_types = ["cms.NewsIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("新闻公告")
        verbose_name_plural = _("新闻公告")
