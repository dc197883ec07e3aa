"""The tariff page: prices rendered from core's tariff catalogue (never retyped) and a bill calculator."""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, InlinePanel
from wagtail.fields import StreamField
from wagtail.models import Orderable, Page
from wagtail.search import index

from cms.blocks import BaseStreamBlock
from cms.tariff_calculator import TariffCalculatorForm
from core.models import Tariff, TariffVersion
from core.services.tariffs import PERIODS


@dataclass(frozen=True)
class TierRow:
    number: int
    lower_kwh: Decimal
    upper_kwh: Decimal | None
    price: Decimal


@dataclass(frozen=True)
class PeriodRow:
    label: str
    price: Decimal
    bands: list[str]


@dataclass(frozen=True)
class TariffSheet:
    """One tariff as the page shows it: the version in force on a date, its price tables and the version history."""

    tariff: Tariff
    current: TariffVersion | None
    tiers: list[TierRow]
    tier_prices_are_surcharges: bool
    periods: list[PeriodRow]
    history: list[TariffVersion]


def _sheet(*, tariff: Tariff, versions: list[TariffVersion], on_date: datetime.date) -> TariffSheet:
    """versions are the tariff's versions newest first, with tiers, period prices and time bands prefetched;
    the one in force is the newest starting on or before the date (core.selectors.tariffs.tariff_version_for)."""
    current = next((v for v in versions if v.effective_from <= on_date), None)
    tiers: list[TierRow] = []
    periods: list[PeriodRow] = []
    if current is not None:
        lower = Decimal("0")
        for tier in sorted(current.tiers.all(), key=lambda t: t.number):
            tiers.append(TierRow(number=tier.number, lower_kwh=lower, upper_kwh=tier.upper_kwh, price=tier.price))
            lower = tier.upper_kwh if tier.upper_kwh is not None else lower
        bands = sorted(current.time_bands.all(), key=lambda b: b.starts_at)
        for price in sorted(current.period_prices.all(), key=lambda p: PERIODS.index(p.period)):
            periods.append(
                PeriodRow(
                    label=price.get_period_display(),
                    price=price.price,
                    bands=[f"{b.starts_at:%H:%M}–{b.ends_at:%H:%M}" for b in bands if b.period == price.period],
                )
            )
    return TariffSheet(
        tariff=tariff,
        current=current,
        tiers=tiers,
        tier_prices_are_surcharges=current is not None and current.structure == TariffVersion.Structure.TIERED_TOU,
        periods=periods,
        history=versions,
    )


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

    # The calculator is a GET form: a query string bypasses the page cache, the plain page stays cacheable.

    class Meta:
        verbose_name = _("电价页")
        verbose_name_plural = _("电价页")

    def shown_tariffs(self) -> list[Tariff]:
        """The chosen core tariffs in the editors' order; the first is the calculator's default."""
        return [row.tariff for row in self.tariffs.select_related("tariff").order_by("sort_order")]

    def tariff_sheets(self, *, tariffs: list[Tariff], on_date: datetime.date) -> list[TariffSheet]:
        """Each tariff as in force on the date with its history, in one query plus three prefetches."""
        versions: dict[int, list[TariffVersion]] = {tariff.pk: [] for tariff in tariffs}
        for version in (
            TariffVersion.objects.filter(tariff__in=tariffs)
            .order_by("tariff_id", "-effective_from")
            .prefetch_related("tiers", "period_prices", "time_bands")
        ):
            versions[version.tariff_id].append(version)
        return [_sheet(tariff=tariff, versions=versions[tariff.pk], on_date=on_date) for tariff in tariffs]

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        today = timezone.localdate()
        tariffs = self.shown_tariffs()
        form = TariffCalculatorForm(
            request.GET if TariffCalculatorForm.is_submitted(request.GET) else None,
            tariffs=tariffs,
            on_date=today,
        )
        context.update(
            today=today,
            sheets=self.tariff_sheets(tariffs=tariffs, on_date=today),
            calculator=form,
            quote=form.quote if form.is_bound and form.is_valid() else None,
        )
        return context


class TariffPageTariff(Orderable):
    """One core tariff shown on a tariff page; the first one is the calculator's default."""

    page = ParentalKey(TariffPage, on_delete=models.CASCADE, related_name="tariffs")
    tariff = models.ForeignKey("core.Tariff", on_delete=models.PROTECT, related_name="+", verbose_name=_("电价"))

    panels = [FieldPanel("tariff")]

    class Meta(Orderable.Meta):
        verbose_name = _("展示的电价")
        verbose_name_plural = _("展示的电价")
        constraints = [models.UniqueConstraint(fields=["page", "tariff"], name="cms_tariff_page_tariff_unique")]
