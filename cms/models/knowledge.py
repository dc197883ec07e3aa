"""Knowledge base (知识库): answers shown on the site as FAQ and searched by agents from their console."""
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.contrib.taggit import ClusterTaggableManager
from modelcluster.fields import ParentalKey
from taggit.models import TaggedItemBase
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page
from wagtail.search import index


class KnowledgeCategory(models.Model):
    """A knowledge-base category (电费电价, 业务办理, 故障报修, 安全用电...); a snippet."""

    name = models.CharField(_("名称"), max_length=40, unique=True)
    name_en = models.CharField(_("英文名称"), max_length=60, blank=True)
    slug = models.SlugField(_("代码"), max_length=40, unique=True)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)

    panels = [FieldPanel("name"), FieldPanel("name_en"), FieldPanel("slug"), FieldPanel("sort_order")]

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name = _("知识分类")
        verbose_name_plural = _("知识分类")

    def __str__(self) -> str:
        return self.name

    def display_name(self, *, language: str) -> str:
        """The English name on English pages when an editor gave one, the Chinese name otherwise."""
        if language.startswith("en") and self.name_en:
            return self.name_en
        return self.name


class KnowledgeIndexPage(Page):
    """The FAQ: articles grouped by category, filterable by tag."""

    intro = models.TextField(_("栏目简介"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]

    parent_page_types = ["cms.HomePage", "cms.SectionPage"]
    subpage_types = ["cms.KnowledgeArticlePage"]

    class Meta:
        verbose_name = _("知识库栏目")
        verbose_name_plural = _("知识库栏目")

    def get_context(self, request, *args, **kwargs):
        from cms.selectors import knowledge_faq

        context = super().get_context(request, *args, **kwargs)
        context["faq"] = knowledge_faq(index=self, tag=request.GET.get("tag", ""), language=self.locale.language_code)
        return context


class KnowledgeArticleTag(TaggedItemBase):
    content_object = ParentalKey("cms.KnowledgeArticlePage", on_delete=models.CASCADE, related_name="tagged_items")


class KnowledgeArticlePage(Page):
    """One question and its answer; `short_answer` is what an agent reads out on the phone."""

    category = models.ForeignKey(
        KnowledgeCategory, on_delete=models.PROTECT, related_name="articles", verbose_name=_("分类")
    )
    short_answer = models.TextField(_("简要答复"), help_text=_("坐席电话答复用，一两句话"))
    answer = RichTextField(_("详细解答"), features=["h3", "bold", "italic", "link", "ol", "ul", "document-link"])
    tags = ClusterTaggableManager(through=KnowledgeArticleTag, blank=True, verbose_name=_("标签"))
    show_as_faq = models.BooleanField(_("在常见问题中显示"), default=True)

    content_panels = Page.content_panels + [
        FieldPanel("category"),
        FieldPanel("short_answer"),
        FieldPanel("answer"),
        FieldPanel("tags"),
        FieldPanel("show_as_faq"),
    ]

    search_fields = Page.search_fields + [
        index.SearchField("short_answer"),
        index.SearchField("answer"),
        index.RelatedFields("tags", [index.SearchField("name")]),
        index.FilterField("category"),
        index.FilterField("show_as_faq"),
    ]

    parent_page_types = ["cms.KnowledgeIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("知识库文章")
        verbose_name_plural = _("知识库文章")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["category_name"] = self.category.display_name(language=self.locale.language_code)
        context["tag_names"] = sorted(tag.name for tag in self.tags.all())
        context["index_page"] = self.get_parent()
        return context
