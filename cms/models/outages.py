"""Planned-outage announcements (停电公告): structured notices that become core outage records when published."""
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Orderable, Page
from wagtail.search import index

from core.models import OutageKind


class OutageNoticeIndexPage(Page):
    """Lists current and upcoming outages, searchable by county, street or account number."""

    intro = models.TextField(_("栏目简介"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]

    parent_page_types = ["cms.HomePage", "cms.SectionPage"]
    subpage_types = ["cms.OutageNoticePage"]

    class Meta:
        verbose_name = _("停电公告栏目")
        verbose_name_plural = _("停电公告栏目")


class OutageNoticePage(Page):
    """One planned or temporary outage notice; publishing it announces the outage in core and informs customers."""

    kind = models.CharField(
        _("停电类型"),
        max_length=10,
        choices=[(OutageKind.PLANNED, OutageKind.PLANNED.label), (OutageKind.TEMPORARY, OutageKind.TEMPORARY.label)],
        default=OutageKind.PLANNED,
        help_text=_("计划停电须提前7天公告；临时检修（紧急）停电须提前24小时。"),
    )
    branch = models.ForeignKey("core.Branch", on_delete=models.PROTECT, related_name="+", verbose_name=_("县公司"))
    starts_at = models.DateTimeField(_("停电开始时间"))
    ends_at = models.DateTimeField(_("预计恢复送电时间"))
    reason = models.CharField(_("停电原因"), max_length=200)
    streets = models.TextField(_("停电范围(街道、小区、村)"))
    details = RichTextField(_("补充说明"), blank=True, features=["bold", "italic", "link", "ol", "ul"])
    # Set when the notice is first published: the core record the IVR, console and fault reports consult.
    outage = models.ForeignKey(
        "core.Outage", on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+",
        verbose_name=_("停电信息"),
    )

    content_panels = Page.content_panels + [
        MultiFieldPanel(
            [
                FieldPanel("kind"),
                FieldPanel("branch"),
                FieldRowPanel([FieldPanel("starts_at"), FieldPanel("ends_at")]),
                FieldPanel("reason"),
                FieldPanel("streets"),
            ],
            heading=_("停电信息"),
        ),
        InlinePanel("substations", label=_("停电变电站（整站）")),
        InlinePanel("feeders", label=_("停电线路（整条）")),
        InlinePanel("transformer_areas", label=_("停电台区")),
        FieldPanel("details"),
    ]

    search_fields = Page.search_fields + [
        index.SearchField("streets"),
        index.SearchField("reason"),
        index.FilterField("starts_at"),
        index.FilterField("ends_at"),
        index.FilterField("branch"),
    ]

    parent_page_types = ["cms.OutageNoticeIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("停电公告")
        verbose_name_plural = _("停电公告")


class OutageNoticeSubstation(Orderable):
    page = ParentalKey(OutageNoticePage, on_delete=models.CASCADE, related_name="substations")
    substation = models.ForeignKey("core.Substation", on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("变电站"))

    class Meta(Orderable.Meta):
        verbose_name = _("停电变电站")
        verbose_name_plural = _("停电变电站")


class OutageNoticeFeeder(Orderable):
    page = ParentalKey(OutageNoticePage, on_delete=models.CASCADE, related_name="feeders")
    feeder = models.ForeignKey("core.Feeder", on_delete=models.PROTECT, related_name="+", verbose_name=_("10kV线路"))

    class Meta(Orderable.Meta):
        verbose_name = _("停电线路")
        verbose_name_plural = _("停电线路")


class OutageNoticeTransformerArea(Orderable):
    page = ParentalKey(OutageNoticePage, on_delete=models.CASCADE, related_name="transformer_areas")
    transformer_area = models.ForeignKey(
        "core.TransformerArea", on_delete=models.PROTECT, related_name="+", verbose_name=_("台区")
    )

    class Meta(Orderable.Meta):
        verbose_name = _("停电台区")
        verbose_name_plural = _("停电台区")
