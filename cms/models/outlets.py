"""Service outlets (营业厅)."""
from urllib.parse import quote

from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.models import Page
from wagtail.search import index


class OutletIndexPage(Page):
    """Lists the business halls by county, with a map of where they are."""

    intro = models.TextField(_("栏目简介"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]

    parent_page_types = ["cms.HomePage", "cms.SectionPage"]
    subpage_types = ["cms.OutletPage"]

    class Meta:
        verbose_name = _("营业厅栏目")
        verbose_name_plural = _("营业厅栏目")

    def get_context(self, request, *args, **kwargs):
        from cms.selectors import outlet_map, outlets_by_county

        context = super().get_context(request, *args, **kwargs)
        counties = outlets_by_county(index=self)
        context["counties"] = counties
        context["outlet_map"] = outlet_map(
            outlets=[o for county in counties for o in county.outlets], request=request
        )
        return context


class OutletPage(Page):
    """One business hall: where it is, when it is open and what can be done there."""

    branch = models.ForeignKey("core.Branch", on_delete=models.PROTECT, related_name="+", verbose_name=_("县公司"))
    address = models.CharField(_("地址"), max_length=200)
    phone = models.CharField(_("联系电话"), max_length=40, blank=True)
    opening_hours = models.TextField(_("营业时间"), help_text=_("每行一条，如：周一至周五 8:30-17:30"))
    services = models.TextField(_("办理业务"), help_text=_("每行一项"))
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6)
    has_self_service_terminal = models.BooleanField(_("有自助缴费终端"), default=False)

    content_panels = Page.content_panels + [
        FieldPanel("branch"),
        FieldPanel("address"),
        FieldPanel("phone"),
        FieldPanel("opening_hours"),
        FieldPanel("services"),
        MultiFieldPanel(
            [FieldRowPanel([FieldPanel("latitude"), FieldPanel("longitude")])], heading=_("地图坐标")
        ),
        FieldPanel("has_self_service_terminal"),
    ]

    search_fields = Page.search_fields + [
        index.SearchField("address"),
        index.SearchField("services"),
        index.FilterField("branch"),
    ]

    parent_page_types = ["cms.OutletIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("营业厅")
        verbose_name_plural = _("营业厅")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["index_page"] = self.get_parent()
        return context

    @property
    def opening_hours_lines(self) -> list[str]:
        return _lines(self.opening_hours)

    @property
    def service_lines(self) -> list[str]:
        return _lines(self.services)

    @property
    def phone_href(self) -> str:
        """The number as a tel: link: digits and a leading + only (editors write "0718-8221234")."""
        digits = "".join(ch for ch in self.phone if ch.isdigit() or ch == "+")
        return f"tel:{digits}" if digits else ""

    @property
    def geo_uri(self) -> str:
        """A geo: link (RFC 5870) phones open in their map app, with the hall's name as the label."""
        where = f"{self.latitude},{self.longitude}"
        return f"geo:{where}?q={where}({quote(self.title)})"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
