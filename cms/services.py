"""Setting up the public site's page tree."""
from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page as PaginatorPage
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest
from wagtail.models import Locale, Page, Site

from cms.models import HomePage
from cms.search import search_annotate, search_snippet, search_terms_parse

HOME_TITLE = "国网95598供电服务"
HOME_INTRO = (
    "<p>电费查询、交费、用电业务办理、故障报修、投诉与建议，"
    "请拨打95598供电服务热线，7×24小时为您服务。</p>"
)


def cms_site_ensure() -> HomePage:
    """Make a HomePage the root of the default site, replacing Wagtail's welcome page (idempotent).
    Locks the tree root (select_for_update) so two callers never add two home pages."""
    with transaction.atomic():
        root = Page.objects.select_for_update().get(depth=1)
        home = HomePage.objects.filter(depth=2).first()
        if home is None:
            home = root.add_child(
                instance=HomePage(title=HOME_TITLE, slug="95598", intro=HOME_INTRO, hotline="95598")
            )
            home.save_revision().publish()
        site = Site.objects.filter(is_default_site=True).first()
        if site is None:
            site = Site.objects.create(
                hostname="localhost", port=80, site_name="国网95598", root_page=home, is_default_site=True
            )
        previous_root_id = site.root_page_id
        if previous_root_id != home.pk:
            site.root_page = home
            site.save()
            _welcome_page_remove(page_id=previous_root_id)
    return home


def _welcome_page_remove(*, page_id: int) -> None:
    """Delete Wagtail's stock welcome page; any other page someone made stays."""
    page = Page.objects.filter(pk=page_id, depth=2, numchild=0).select_related("content_type").first()
    if page is not None and page.content_type.model_class() is Page:
        page.delete()


@dataclass(frozen=True)
class SearchHit:
    """One site-search result as the template shows it."""

    title: str
    url: str
    type_name: str
    snippet: str


@dataclass(frozen=True)
class SearchResults:
    """A page of site-search results plus the paginator's page (for the pagination links)."""

    hits: list[SearchHit]
    page: PaginatorPage | None
    total: int


SEARCH_RESULTS_PER_PAGE = 10


def site_search(*, query: str, page_number: str | int | None, request: HttpRequest | None = None) -> SearchResults:
    """Live pages of the active locale matching `query` (Chinese-aware, see cms.search), best first, paginated.
    An empty query gives no results; an overlong one raises SearchQueryTooLong; a bad page number shows the last
    or first page."""
    terms = search_terms_parse(query)
    if not terms:
        return SearchResults(hits=[], page=None, total=0)
    pages = search_annotate(
        Page.objects.live().public().filter(locale=Locale.get_active(), depth__gt=1).select_related("content_type"),
        terms=terms,
    )
    paginator = Paginator(pages, SEARCH_RESULTS_PER_PAGE)
    page = paginator.get_page(page_number)
    hits = [
        SearchHit(
            title=result.title,
            url=result.get_url(request=request) or "",
            type_name=str(result.specific_class._meta.verbose_name) if result.specific_class else "",
            snippet=search_snippet(text=result.search_body, terms=terms),
        )
        for result in page.object_list
    ]
    return SearchResults(hits=hits, page=page, total=paginator.count)
