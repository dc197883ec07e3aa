"""The 95598 website's front page."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page
from wagtail.search import index

# Self-service entry points (issue 6, the customer portal): shown as links when the URL name resolves, otherwise
# as the hotline (tel:) so the home page never links nowhere.
QUICK_LINKS = (
    ("portal:pay", _("交电费")),
    ("portal:bill_lookup", _("账单查询")),
    ("portal:apply", _("业务办理")),
    ("portal:fault_report", _("故障报修")),
    ("portal:complaint", _("投诉建议")),
    ("portal:ticket_track", _("进度查询")),
)
UPCOMING_OUTAGE_DAYS = 7


@dataclass(frozen=True)
class QuickLink:
    """One quick link: a portal page, or the hotline when the portal page does not exist."""

    label: str
    url: str
    by_phone: bool


@dataclass(frozen=True)
class UpcomingOutage:
    """An outage on now or of the next days as the home page lists it, linked to its notice when one is live."""

    title: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    streets: str
    kind: str
    url: str
    # OutageProgress: upcoming, on, or on past its expected end (listed until restored or cancelled).
    progress: str
    progress_label: str


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

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["quick_links"] = self.quick_links()
        context["notices"] = self.notices()
        context["upcoming_outages"] = self.upcoming_outages(request=request)
        context["sections"] = self.get_children().live().in_menu().specific()
        return context

    def quick_links(self) -> list[QuickLink]:
        links = []
        for url_name, label in QUICK_LINKS:
            try:
                links.append(QuickLink(label=str(label), url=reverse(url_name), by_phone=False))
            except NoReverseMatch:
                links.append(QuickLink(label=str(label), url=f"tel:{self.hotline}", by_phone=True))
        return links

    def notices(self):
        """The newest live notices (news whose category is a notice category) of this page's language."""
        from cms.models.news import NewsPage

        return (
            NewsPage.objects.live()
            .filter(locale_id=self.locale_id, category__is_notice=True)
            .select_related("category")
            .order_by("-date", "-first_published_at", "-pk")[: self.notices_shown]
        )

    def upcoming_outages(self, *, request=None) -> list[UpcomingOutage]:
        """Outages on now (however long past their expected end) or starting within UPCOMING_OUTAGE_DAYS, each with
        its progress and linked to its live notice in this language (or the Chinese one) when there is one; two
        queries."""
        from cms.models.outages import OutageNoticePage
        from core.selectors.outages import outage_progress, outages_upcoming

        now = timezone.now()
        outages = list(outages_upcoming(now=now, days=UPCOMING_OUTAGE_DAYS))
        notices = (
            OutageNoticePage.objects.live()
            .filter(outage__in=[outage.pk for outage in outages])
            .only("id", "url_path", "locale_id", "outage_id")
            .order_by("pk")
        )
        urls: dict[int, str] = {}
        for notice in notices:
            if notice.locale_id == self.locale_id or notice.outage_id not in urls:
                urls[notice.outage_id] = notice.get_url(request=request) or ""
        listed = []
        for outage in outages:
            progress = outage_progress(outage=outage, at=now)
            listed.append(UpcomingOutage(
                title=outage.title,
                starts_at=outage.starts_at,
                ends_at=outage.ends_at,
                streets=outage.streets,
                kind=outage.get_kind_display(),
                url=urls.get(outage.pk, ""),
                progress=progress.value,
                progress_label=str(progress.label),
            ))
        return listed
