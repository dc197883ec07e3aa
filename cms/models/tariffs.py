"""The tariff page: prices rendered from core's tariff catalogue (never retyped) and a bill calculator."""
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, InlinePanel
from wagtail.fields import StreamField
from wagtail.models import Orderable, Page
from wagtail.search import index

from cms.blocks import BaseStreamBlock


class TariffPage(Page):
    """Shows the chosen core tariffs as in force today, their history, and a calculator using the billing service."""

    intro = models.TextField(_("导语"), blank=True)
    body = StreamField(BaseStreamBlock(), verbose_name=_("电价说明"), blank=True)

    content_panels = Page.content_panels + [
        FieldPanel("intro"),
        InlinePanel("tariffs", label=_("展示的电价"), min_num=1),
        FieldPanel("body"),
    ]

    search_fields = Page.search_fields + [index.SearchField("intro"), index.SearchField("body")]

    parent_page_types = ["cms.HomePage", "cms.SectionPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("电价页")
        verbose_name_plural = _("电价页")


class TariffPageTariff(Orderable):
    """One core tariff shown on a tariff page; the first one is the calculator's default."""

    page = ParentalKey(TariffPage, on_delete=models.CASCADE, related_name="tariffs")
    tariff = models.ForeignKey("core.Tariff", on_delete=models.PROTECT, related_name="+", verbose_name=_("电价"))

    panels = [FieldPanel("tariff")]

    class Meta(Orderable.Meta):
        verbose_name = _("展示的电价")
        verbose_name_plural = _("展示的电价")
        constraints = [models.UniqueConstraint(fields=["page", "tariff"], name="cms_tariff_page_tariff_unique")]
