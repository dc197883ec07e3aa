"""Reads of the knowledge base, outlets and surveys the pages and the agents' console share."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby

from django.db.models import QuerySet
from django.utils.translation import get_supported_language_variant
from wagtail.models import Locale, Page

from cms.models import KnowledgeArticlePage, KnowledgeArticleTag, KnowledgeCategory, OutletPage
from cms.search import search_annotate, search_terms_parse


@dataclass(frozen=True)
class KnowledgeHit:
    """One article an agent can read out: its question, short answer and its path on the public site."""

    page_id: int
    title: str
    short_answer: str
    url: str
    category: str


def _locale_for(language: str) -> Locale | None:
    try:
        return Locale.objects.get_for_language(get_supported_language_variant(language))
    except (LookupError, Locale.DoesNotExist):
        return None


def knowledge_search(*, query: str, language: str, limit: int = 20) -> list[KnowledgeHit]:
    """Live articles of the language's locale matching the query, best first, in one query.

    Chinese-aware through the site search's matcher (cms.search): "电费" and a spoken "阶梯电价怎么算" both find
    the right article on SQLite and PostgreSQL. Raises SearchQueryTooLong past SEARCH_QUERY_MAX_LENGTH characters;
    an empty query, an unknown language or a limit of 0 find nothing."""
    terms = search_terms_parse(query)
    locale = _locale_for(language)
    if not terms or locale is None or limit <= 0:
        return []
    articles = search_annotate(
        KnowledgeArticlePage.objects.live().filter(locale=locale).select_related("category"), terms=terms
    )[:limit]
    url_cache = _SiteRootPathCache()
    return [
        KnowledgeHit(
            page_id=article.pk,
            title=article.title,
            short_answer=article.short_answer,
            url=_page_path(article, cache_object=url_cache),
            category=article.category.display_name(language=locale.language_code),
        )
        for article in articles
    ]


class _SiteRootPathCache:
    """Wagtail caches the site root paths on whatever object is passed to get_url_parts() as the request: one of
    these shared by a batch of pages reads them once instead of once per page."""


def _page_path(page: Page, *, cache_object: object) -> str:
    """The page's path on the public site ("/knowledge/tiered-price/", "/en/..."); "" when it is not routable."""
    parts = page.get_url_parts(request=cache_object)
    return parts[2] if parts is not None and parts[2] is not None else ""


@dataclass(frozen=True)
class FaqGroup:
    """One category of the FAQ with its articles in page order."""

    category: KnowledgeCategory
    name: str
    articles: list[KnowledgeArticlePage]


@dataclass(frozen=True)
class Faq:
    groups: list[FaqGroup]
    tags: list[str] = field(default_factory=list)
    tag: str = ""


def knowledge_faq(*, index: Page, tag: str = "", language: str) -> Faq:
    """The index's live FAQ articles grouped by category (category order), optionally only those with a tag;
    also every tag used by its FAQ articles, for the filter. Three queries whatever the size."""
    tag = tag.strip()[:100]
    base = KnowledgeArticlePage.objects.child_of(index).live().filter(show_as_faq=True)
    articles: QuerySet = base
    if tag:
        articles = articles.filter(tags__name=tag)
    articles = articles.select_related("category").order_by(
        "category__sort_order", "category__name", "category_id", "path"
    ).distinct()
    groups = [
        FaqGroup(category=category, name=category.display_name(language=language), articles=list(items))
        for category, items in groupby(articles, key=lambda a: a.category)
    ]
    tags = list(
        KnowledgeArticleTag.objects.filter(content_object__in=base)
        .order_by("tag__name")
        .values_list("tag__name", flat=True)
        .distinct()
    )
    return Faq(groups=groups, tags=tags, tag=tag)


@dataclass(frozen=True)
class OutletCounty:
    """The outlets of one county branch."""

    name: str
    outlets: list[OutletPage]


def outlets_by_county(*, index: Page) -> list[OutletCounty]:
    """The index's live outlets grouped by their county branch (branch code order), one query."""
    outlets = (
        OutletPage.objects.child_of(index).live().select_related("branch").order_by("branch__code", "path")
    )
    return [
        OutletCounty(name=branch.name, outlets=list(items))
        for branch, items in groupby(outlets, key=lambda o: o.branch)
    ]


MAP_WIDTH = Decimal(640)
MAP_HEIGHT = Decimal(440)
MAP_PADDING = Decimal(40)
_MAP_PLACES = Decimal("0.1")


@dataclass(frozen=True)
class MapPoint:
    """An outlet placed on the map: circle centre, where its label goes and which way the label runs."""

    title: str
    url: str
    x: Decimal
    y: Decimal
    label_x: Decimal
    label_y: Decimal
    anchor: str


@dataclass(frozen=True)
class OutletMap:
    width: Decimal
    height: Decimal
    points: list[MapPoint]


def outlet_map(*, outlets: list[OutletPage], request=None) -> OutletMap | None:
    """The outlets drawn by latitude/longitude (equirectangular, longitude shrunk by the cosine of the middle
    latitude so distances look right), fitted with one scale into the frame; None when there is nothing to draw."""
    if not outlets:
        return None
    lats = [o.latitude for o in outlets]
    lons = [o.longitude for o in outlets]
    middle = (max(lats) + min(lats)) / 2
    shrink = Decimal(str(round(math.cos(math.radians(middle)), 6)))
    span_x = (max(lons) - min(lons)) * shrink
    span_y = max(lats) - min(lats)
    inner_w = MAP_WIDTH - 2 * MAP_PADDING * 3  # labels need room beside the outermost points
    inner_h = MAP_HEIGHT - 2 * MAP_PADDING
    scales = [s for s in (inner_w / span_x if span_x else None, inner_h / span_y if span_y else None) if s]
    scale = min(scales) if scales else Decimal(0)
    offset_x = (MAP_WIDTH - span_x * scale) / 2
    offset_y = (MAP_HEIGHT - span_y * scale) / 2
    points = []
    for outlet in outlets:
        x = (offset_x + (outlet.longitude - min(lons)) * shrink * scale).quantize(_MAP_PLACES)
        y = (offset_y + (max(lats) - outlet.latitude) * scale).quantize(_MAP_PLACES)
        on_right = x > MAP_WIDTH * Decimal("0.6")
        points.append(
            MapPoint(
                title=outlet.title,
                url=outlet.get_url(request=request) or "",
                x=x,
                y=y,
                label_x=x - 9 if on_right else x + 9,
                label_y=y + 4,
                anchor="end" if on_right else "start",
            )
        )
    return OutletMap(width=MAP_WIDTH, height=MAP_HEIGHT, points=points)
