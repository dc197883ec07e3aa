"""Reads of the knowledge base, outlets and surveys the pages and the agents' console share."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import groupby

from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import get_supported_language_variant
from wagtail.models import Locale, Page

from cms.models import KnowledgeArticlePage, KnowledgeArticleTag, KnowledgeCategory, OutletPage

KNOWLEDGE_QUERY_MAX_CHARS = 50

# Question words carry no topic: "阶梯电价怎么算" is about 阶梯电价, not about 怎么.
_STOP_TERMS = frozenset(
    {
        "怎么", "么算", "么办", "如何", "什么", "为什", "么时", "时候", "哪里", "可以", "是否", "需要", "一下",
        "请问", "我的", "我家", "我们", "有没", "没有",
        "how", "what", "when", "where", "why", "can", "the", "and", "for", "does", "with", "my", "is", "do",
        "to", "of", "in", "an", "a", "i",
    }
)
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9A-Za-z]+")

# Where a term is found counts for more in the title than deep in the answer.
_WEIGHT_TITLE = 8
_WEIGHT_TAG = 5
_WEIGHT_SHORT_ANSWER = 3
_WEIGHT_ANSWER = 1
_WEIGHT_WHOLE_QUERY_IN_TITLE = 20


@dataclass(frozen=True)
class KnowledgeHit:
    """One article an agent can read out: its question, short answer and where it lives on the site."""

    page_id: int
    title: str
    short_answer: str
    url: str
    category: str


def search_terms(query: str) -> list[str]:
    """The terms of a query: Chinese runs as overlapping two-character pieces (Chinese has no spaces between
    words, so "阶梯电价怎么算" becomes 阶梯, 梯电, 电价, ...), Latin words as they are; question words dropped."""
    text = query.strip()[:KNOWLEDGE_QUERY_MAX_CHARS].lower()
    terms: list[str] = []
    for run in _CJK_RUN.findall(text):
        pieces = [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
        terms.extend(pieces)
    terms.extend(_WORD.findall(text))
    kept = [t for t in dict.fromkeys(terms) if t not in _STOP_TERMS]
    return kept


def _locale_for(language: str) -> Locale | None:
    try:
        return Locale.objects.get_for_language(get_supported_language_variant(language))
    except (LookupError, Locale.DoesNotExist):
        return None


def knowledge_search(*, query: str, language: str, limit: int = 20) -> list[KnowledgeHit]:
    """Live articles of the language's locale matching the query, best first (portable: SQLite and PostgreSQL).

    Each term found in the title, a tag, the short answer or the answer adds its weight; the whole query
    found in the title adds the most, so "电费" and "阶梯电价怎么算" both put the right article first."""
    terms = search_terms(query)
    locale = _locale_for(language)
    if not terms or locale is None or limit <= 0:
        return []
    whole = query.strip()[:KNOWLEDGE_QUERY_MAX_CHARS]
    weights = []
    matches = Q()
    for term in terms:
        tagged = Exists(
            KnowledgeArticleTag.objects.filter(content_object_id=OuterRef("pk"), tag__name__icontains=term)
        )
        for condition, weight in (
            (Q(title__icontains=term), _WEIGHT_TITLE),
            (Q(tagged), _WEIGHT_TAG),
            (Q(short_answer__icontains=term), _WEIGHT_SHORT_ANSWER),
            (Q(answer__icontains=term), _WEIGHT_ANSWER),
        ):
            weights.append(Case(When(condition, then=Value(weight)), default=Value(0), output_field=IntegerField()))
            matches |= condition
    weights.append(
        Case(When(title__icontains=whole, then=Value(_WEIGHT_WHOLE_QUERY_IN_TITLE)), default=Value(0),
             output_field=IntegerField())
    )
    score = sum(weights[1:], weights[0])
    articles = (
        KnowledgeArticlePage.objects.live()
        .filter(locale=locale)
        .filter(matches)
        .select_related("category")
        .annotate(score=Coalesce(score, Value(0)))
        .order_by("-score", "title", "pk")[:limit]
    )
    return [
        KnowledgeHit(
            page_id=article.pk,
            title=article.title,
            short_answer=article.short_answer,
            url=article.get_url() or "",
            category=article.category.display_name(language=locale.language_code),
        )
        for article in articles
    ]


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
