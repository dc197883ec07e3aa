"""Policies and regulations (法规政策)."""
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, InlinePanel, MultiFieldPanel
from wagtail.fields import StreamField
from wagtail.models import Orderable, Page
from wagtail.search import index

from cms.blocks import BaseStreamBlock


class PolicyIndexPage(Page):
    """Lists policies and regulations, newest effective first."""

    intro = models.TextField(_("栏目简介"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]

    parent_page_types = ["cms.HomePage", "cms.SectionPage"]
    subpage_types = ["cms.PolicyPage"]

    class Meta:
        verbose_name = _("法规政策栏目")
        verbose_name_plural = _("法规政策栏目")


class PolicyPage(Page):
    """One law, regulation, rule or tariff notice, with its document number, issuer and effective date."""

    document_number = models.CharField(_("文号"), max_length=80, blank=True)
    issuing_body = models.CharField(_("发布机关"), max_length=120)
    issued_on = models.DateField(_("发布日期"), null=True, blank=True)
    effective_on = models.DateField(_("施行日期"))
    repealed_on = models.DateField(_("废止日期"), null=True, blank=True)
    summary = models.TextField(_("摘要"), blank=True)
    body = StreamField(BaseStreamBlock(), verbose_name=_("全文"))

    content_panels = Page.content_panels + [
        MultiFieldPanel(
            [
                FieldPanel("document_number"),
                FieldPanel("issuing_body"),
                FieldPanel("issued_on"),
                FieldPanel("effective_on"),
                FieldPanel("repealed_on"),
            ],
            heading=_("文件信息"),
        ),
        FieldPanel("summary"),
        FieldPanel("body"),
        InlinePanel("attachments", label=_("附件")),
    ]

    search_fields = Page.search_fields + [
        index.SearchField("document_number"),
        index.SearchField("issuing_body"),
        index.SearchField("summary"),
        index.SearchField("body"),
        index.FilterField("effective_on"),
    ]

    parent_page_types = ["cms.PolicyIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("法规政策")
        verbose_name_plural = _("法规政策")


class PolicyAttachment(Orderable):
    page = ParentalKey(PolicyPage, on_delete=models.CASCADE, related_name="attachments")
    document = models.ForeignKey(
        "wagtaildocs.Document", on_delete=models.PROTECT, related_name="+", verbose_name=_("文件")
    )
    label = models.CharField(_("显示名称"), max_length=120, blank=True)

    panels = [FieldPanel("document"), FieldPanel("label")]

    class Meta(Orderable.Meta):
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
