"""News and notices (新闻公告) with categories and dates."""
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.utils.http import urlencode
from django.utils.translation import get_language
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

    @property
    def label(self) -> str:
        """The name in the visitor's language (English when there is one and the page is English)."""
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


class NewsIndexPage(Page):
    """Lists news and notices, newest first, filterable by category."""

    intro = models.TextField(_("栏目简介"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]

    parent_page_types = ["cms.HomePage", "cms.SectionPage"]
    subpage_types = ["cms.NewsPage"]

    news_per_page = 20

    class Meta:
        verbose_name = _("新闻公告栏目")
        verbose_name_plural = _("新闻公告栏目")

    def news(self) -> QuerySet["NewsPage"]:
        """Live news under this index, newest first, with their categories."""
        return NewsPage.objects.child_of(self).live().public().select_related("category").order_by("-date", "-pk")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        news = self.news()
        # Only categories that have news here, so the filter bar never leads to an empty page.
        categories = list(NewsCategory.objects.filter(pages__in=news).distinct().order_by("name"))
        slug = request.GET.get("category", "")
        category = None
        if slug:
            category = next((c for c in categories if c.slug == slug), None)
            news = news.filter(category=category) if category else news.none()
        context.update(
            page_obj=Paginator(news, self.news_per_page).get_page(request.GET.get("page")),
            categories=[
                {"category": c, "query": urlencode({"category": c.slug}), "current": c == category}
                for c in categories
            ],
            category=category,
            unknown_category=bool(slug) and category is None,
            filter_query=urlencode({"category": category.slug}) if category else "",
        )
        return context


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
