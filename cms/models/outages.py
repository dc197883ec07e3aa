"""Planned-outage announcements (停电公告): structured notices that become core outage records when published."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from django import forms
from django.core.paginator import Paginator
from django.db import models
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Locale, Orderable, Page
from wagtail.search import index

from cms.outage_publishing import OutageNoticePageForm, outage_source_key
from core.models import Branch, Outage, OutageKind
from core.selectors.outages import outage_progress, outage_search

OUTAGES_PER_PAGE = 20


def _local(moment: datetime.datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


class OutageSearchForm(forms.Form):
    """The index page's GET search: county, a street fragment, an account number (户号)."""

    branch = forms.ModelChoiceField(
        label=_("县公司"), queryset=Branch.objects.order_by("code"), required=False, empty_label=_("全部县市")
    )
    street = forms.CharField(label=_("街道、小区或村"), max_length=50, required=False)
    account = forms.RegexField(
        label=_("户号"), regex=r"^\s*\d{10}\s*$", required=False, max_length=20,
        error_messages={"invalid": _("户号应为10位数字")},
    )


@dataclass(frozen=True)
class OutageListing:
    """One outage as the index lists it: the notice's wording in this language when one is live, else core's."""

    title: str
    url: str
    kind: str
    kind_label: str
    branch: str
    starts: str
    ends: str
    streets: str
    reason: str
    affected_accounts: int
    # OutageProgress: upcoming, on, or on past its expected end (listed until restored or cancelled).
    progress: str
    progress_label: str


class OutageNoticeIndexPage(Page):
    """Lists current and upcoming outages, searchable by county, street or account number."""

    intro = models.TextField(_("栏目简介"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]

    parent_page_types = ["cms.HomePage", "cms.SectionPage"]
    subpage_types = ["cms.OutageNoticePage"]

    class Meta:
        verbose_name = _("停电公告栏目")
        verbose_name_plural = _("停电公告栏目")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        form = OutageSearchForm(request.GET or None)
        now = timezone.now()
        outages = Outage.objects.none()
        if not form.is_bound:
            outages = outage_search(now=now)
        elif form.is_valid():
            branch = form.cleaned_data["branch"]
            outages = outage_search(
                now=now, branch_id=branch.pk if branch else None,
                street=form.cleaned_data["street"], account_number=(form.cleaned_data["account"] or "").strip(),
            )
        page_obj = Paginator(outages, OUTAGES_PER_PAGE).get_page(request.GET.get("page"))
        context["search_form"] = form
        context["searching"] = form.is_bound and any(request.GET.get(name) for name in form.fields)
        context["page_obj"] = page_obj
        context["outages"] = self.listings(list(page_obj.object_list), now=now, request=request)
        context["filter_query"] = urlencode(
            [(name, request.GET[name]) for name in form.fields if request.GET.get(name)]
        )
        return context

    def listings(
        self, outages: list[Outage], *, now: datetime.datetime | None = None, request=None
    ) -> list[OutageListing]:
        """The outages with their live notice in this page's language (or the default language's) and their
        progress at `now`; one query."""
        now = now or timezone.now()
        keys = [outage.source_key for outage in outages if outage.source_key]
        translation_keys = [key.removeprefix("cms:") for key in keys if key.startswith("cms:")]
        notices: dict[str, OutageNoticePage] = {}
        if translation_keys:
            default_locale_id = Locale.get_default().pk
            for notice in (
                OutageNoticePage.objects.live()
                .filter(translation_key__in=translation_keys, locale_id__in={self.locale_id, default_locale_id})
                .select_related("locale")
                .order_by("pk")
            ):
                key = outage_source_key(notice)
                if notice.locale_id == self.locale_id or key not in notices:
                    notices[key] = notice
        listings = []
        for outage in outages:
            notice = notices.get(outage.source_key or "")
            wording = notice or outage
            progress = outage_progress(outage=outage, at=now)
            listings.append(
                OutageListing(
                    title=wording.title,
                    url=(notice.get_url(request=request) or "") if notice else "",
                    kind=outage.kind,
                    kind_label=outage.get_kind_display(),
                    branch=outage.branch.name,
                    starts=_local(outage.starts_at),
                    ends=_local(outage.ends_at),
                    streets=wording.streets,
                    reason=wording.reason,
                    affected_accounts=outage.affected_accounts,
                    progress=progress.value,
                    progress_label=str(progress.label),
                )
            )
        return listings


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

    # Refuses, in the editor, a notice that breaks the notice rules (see cms.outage_publishing).
    base_form_class = OutageNoticePageForm

    class Meta:
        verbose_name = _("停电公告")
        verbose_name_plural = _("停电公告")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["substation_names"] = [row.substation.name for row in self.substations.select_related("substation")]
        context["feeder_names"] = [row.feeder.name for row in self.feeders.select_related("feeder")]
        context["area_names"] = [
            row.transformer_area.name for row in self.transformer_areas.select_related("transformer_area")
        ]
        outage = Outage.objects.filter(pk=self.outage_id).first() if self.outage_id else None
        context["outage_state"] = outage.state if outage else ""
        context["outage_state_label"] = outage.get_state_display() if outage else ""
        context["restored_at"] = _local(outage.restored_at) if outage else ""
        context["affected_accounts"] = outage.affected_accounts if outage else None
        return context

    @property
    def kind_label(self) -> str:
        return str(dict(OutageKind.choices).get(self.kind, self.kind))

    @property
    def starts_display(self) -> str:
        return _local(self.starts_at)

    @property
    def ends_display(self) -> str:
        return _local(self.ends_at)

    @property
    def street_lines(self) -> list[str]:
        return [line.strip() for line in self.streets.splitlines() if line.strip()]

    def outage_picks(self) -> dict[str, list[int]]:
        """The picked substations, feeders and transformer areas as ids, as core.services.outages takes them."""
        return {
            "substation_ids": [row.substation_id for row in self.substations.all() if row.substation_id],
            "feeder_ids": [row.feeder_id for row in self.feeders.all() if row.feeder_id],
            "transformer_area_ids": [
                row.transformer_area_id for row in self.transformer_areas.all() if row.transformer_area_id
            ],
        }


class OutageNoticeSubstation(Orderable):
    page = ParentalKey(OutageNoticePage, on_delete=models.CASCADE, related_name="substations")
    substation = models.ForeignKey("core.Substation", on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("变电站"))

    # The field's widget is the searchable chooser registered in cms/editing/outages.py.
    panels = [FieldPanel("substation")]

    class Meta(Orderable.Meta):
        verbose_name = _("停电变电站")
        verbose_name_plural = _("停电变电站")


class OutageNoticeFeeder(Orderable):
    page = ParentalKey(OutageNoticePage, on_delete=models.CASCADE, related_name="feeders")
    feeder = models.ForeignKey("core.Feeder", on_delete=models.PROTECT, related_name="+", verbose_name=_("10kV线路"))

    panels = [FieldPanel("feeder")]

    class Meta(Orderable.Meta):
        verbose_name = _("停电线路")
        verbose_name_plural = _("停电线路")


class OutageNoticeTransformerArea(Orderable):
    page = ParentalKey(OutageNoticePage, on_delete=models.CASCADE, related_name="transformer_areas")
    transformer_area = models.ForeignKey(
        "core.TransformerArea", on_delete=models.PROTECT, related_name="+", verbose_name=_("台区")
    )

    panels = [FieldPanel("transformer_area")]

    class Meta(Orderable.Meta):
        verbose_name = _("停电台区")
        verbose_name_plural = _("停电台区")
