"""Chinese-aware search over Wagtail's search index, the same on SQLite and PostgreSQL.

Wagtail's database backend tokenises on spaces and punctuation, so "阶梯电价怎么算" is one token and "电费" never
matches inside "电费查询". The index rows also keep each object's searchable text as plain text (SQLite:
title/body; PostgreSQL: title_text/body_text), filled and kept current by Wagtail on every save. We search those
columns instead: each Chinese run of the query becomes overlapping two-character terms (电费查询 -> 电费 费查 查询),
each Latin word or number stays one term; a row matches when, for every run/word of the query, at least half of
its terms occur (so a question worded differently still finds the article), and rows rank by how many terms hit,
title hits counting three times. Contains-matches (LIKE) cost a scan of the index rows of the models searched,
which is fine for a site of some thousands of pages.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, F, IntegerField, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError

SEARCH_QUERY_MAX_LENGTH = 50
SNIPPET_LENGTH = 120
TITLE_WEIGHT = 3

# CJK ideographs (unified, extension A, compatibility) form runs that are split into bigrams.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W{_CJK}_]+", re.UNICODE)
_CJK_RUN = re.compile(rf"^[{_CJK}]+$")


class SearchQueryTooLong(DomainError):
    """The visitor typed more than SEARCH_QUERY_MAX_LENGTH characters."""

    code = "search_query_too_long"


@dataclass(frozen=True)
class SearchTerms:
    """A parsed query: groups of terms, one group per Chinese run or Latin word; `required[i]` of group i must hit."""

    groups: tuple[tuple[str, ...], ...]

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(term for group in self.groups for term in group))

    def required(self, group: tuple[str, ...]) -> int:
        return max(1, math.ceil(len(group) / 2))

    def __bool__(self) -> bool:
        return bool(self.groups)


def search_terms_parse(query: str) -> SearchTerms:
    """Split a query into search terms (Chinese runs -> bigrams, other words whole, lower-cased).
    Raises SearchQueryTooLong past SEARCH_QUERY_MAX_LENGTH characters; an empty or punctuation-only query
    gives empty SearchTerms."""
    query = (query or "").strip()
    if len(query) > SEARCH_QUERY_MAX_LENGTH:
        raise SearchQueryTooLong(
            _("搜索内容不能超过%(limit)d个字") % {"limit": SEARCH_QUERY_MAX_LENGTH}, field="q"
        )
    groups: list[tuple[str, ...]] = []
    for token in _TOKEN.findall(query.lower()):
        if _CJK_RUN.match(token) and len(token) > 2:
            group = tuple(dict.fromkeys(token[i : i + 2] for i in range(len(token) - 1)))
        else:
            group = (token,)
        if group not in groups:
            groups.append(group)
    return SearchTerms(groups=tuple(groups))


def _index_text_columns() -> tuple[str, str]:
    """The plain-text title and body columns of Wagtail's IndexEntry on this database."""
    if connection.vendor == "postgresql":
        return "title_text", "body_text"
    return "title", "body"


def search_annotate(queryset: QuerySet, *, terms: SearchTerms) -> QuerySet:
    """Keep the rows of an indexed model's queryset that match `terms`, best first.

    Adds `search_score` (int) and `search_body` (the indexed plain text, for snippets). The model must be indexed
    by Wagtail (index.Indexed, e.g. any Page); one query, joined to the index rows."""
    title_column, body_column = _index_text_columns()
    title = f"index_entries__{title_column}"
    body = f"index_entries__{body_column}"
    hits = {
        term: Case(
            When(Q(**{f"{title}__icontains": term}), then=Value(TITLE_WEIGHT)),
            When(Q(**{f"{body}__icontains": term}), then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        )
        for term in terms.terms
    }
    annotations = {"search_body": Coalesce(F(body), Value(""), output_field=TextField()), "search_score": sum(hits.values(), Value(0))}
    conditions = Q()
    for index, group in enumerate(terms.groups):
        found = sum(
            (
                Case(
                    When(Q(**{f"{title}__icontains": term}) | Q(**{f"{body}__icontains": term}), then=Value(1)),
                    default=Value(0),
                    output_field=IntegerField(),
                )
                for term in group
            ),
            Value(0),
        )
        annotations[f"search_group_{index}"] = found
        conditions &= Q(**{f"search_group_{index}__gte": terms.required(group)})
    return (
        queryset.filter(index_entries__isnull=False)
        .annotate(**annotations)
        .filter(conditions)
        .order_by("-search_score", "-pk")
    )


def search_snippet(*, text: str, terms: SearchTerms, length: int = SNIPPET_LENGTH) -> str:
    """A piece of `text` around the first term found (plain text; the template escapes it)."""
    text = " ".join((text or "").split())
    lowered = text.lower()
    positions = [lowered.find(term) for term in terms.terms if term in lowered]
    start = max(0, min(positions) - length // 4) if positions else 0
    piece = text[start : start + length]
    return ("…" if start else "") + piece + ("…" if start + length < len(text) else "")
