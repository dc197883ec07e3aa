"""Page cache for anonymous visitors, dropped whenever published content changes (owner: site helper).

Wagtail renders a page with dozens of queries; anonymous visitors all see the same bytes, so the first rendering is
kept and replayed. What is kept: GET responses to anonymous visitors (no session cookie, no query string) of pages
Wagtail served (the before_serve_page hook marks the request), status 200, no CSRF token used, no cookie set, and
the page class does not say `page_cache_enabled = False`. The key is host + path (the language is in the path).

Invalidation is by generation: every entry stores the generation it was rendered under, and publishing,
unpublishing, deleting or moving a page, a core outage change or a tariff change replaces the generation, so every
entry is stale at once. A hit costs one cache round trip (get_many of the generation key and the page key). Entries
also expire after settings.CMS_PAGE_CACHE_SECONDS because the home page's "next 7 days" moves with the clock.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import translation
from wagtail import views as wagtail_views

logger = logging.getLogger(__name__)

GENERATION_KEY = "cms:page-cache:generation"
REQUEST_FLAG = "cms_page_cacheable"
HEADER = "X-Page-Cache"


def _page_key(request: HttpRequest) -> str:
    digest = hashlib.sha256(f"{request.get_host()}|{request.path}".encode()).hexdigest()
    return f"cms:page-cache:page:{digest}"


def _generation_replace() -> None:
    try:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
    except Exception:
        # The cache is down: publishing must not fail for it. Entries written before the outage expire within
        # CMS_PAGE_CACHE_SECONDS; nothing is written while it is down.
        logger.warning("page cache unreachable: generation not replaced", exc_info=True)


def page_cache_generation_bump(**kwargs) -> None:
    """Make every cached page stale: now (this process's later readers) and again after the current transaction
    commits (so a reader that saw the old data before commit cannot have stored it under the new generation)."""
    _generation_replace()
    transaction.on_commit(_generation_replace)


def page_cache_mark(*, request: HttpRequest, page) -> None:
    """Called as Wagtail serves `page`: its response may be cached unless the page type opts out."""
    setattr(request, REQUEST_FLAG, getattr(page, "page_cache_enabled", True) is not False)


def _served_by_wagtail(request: HttpRequest) -> bool:
    """Only addresses Wagtail's page view answers can be in the cache; the portal, staff pages, health checks
    and the admin never pay for a lookup. Resolved in the default language (LocaleMiddleware has not run yet, and
    the thread may still hold the previous request's): /en/... then reaches Wagtail's catch-all too."""
    try:
        with translation.override(settings.LANGUAGE_CODE):
            return resolve(request.path_info).func is wagtail_views.serve
    except Resolver404:
        return False


def _request_is_cacheable(request: HttpRequest) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and not request.META.get("QUERY_STRING")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and _served_by_wagtail(request)
    )


def _cached(key: str) -> tuple[str | None, tuple | None]:
    """(generation, entry) in one round trip; (None, None) when the cache cannot be reached."""
    try:
        found = cache.get_many([GENERATION_KEY, key])
        generation = found.get(GENERATION_KEY)
        if generation is None:
            cache.add(GENERATION_KEY, uuid.uuid4().hex, None)
            generation = cache.get(GENERATION_KEY)
        return generation, found.get(key)
    except Exception:
        logger.warning("page cache unreachable: serving uncached", exc_info=True)
        return None, None


def _response_is_cacheable(request: HttpRequest, response: HttpResponse) -> bool:
    user = getattr(request, "user", None)
    return bool(
        request.method == "GET"
        and getattr(request, REQUEST_FLAG, False)
        and response.status_code == 200
        and not response.streaming
        and not response.cookies
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        and not (user is not None and user.is_authenticated)
    )


class PageCacheMiddleware:
    """Serve and keep anonymous copies of Wagtail pages; place it near the top of MIDDLEWARE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _request_is_cacheable(request):
            return self.get_response(request)
        key = _page_key(request)
        generation, entry = _cached(key)
        if generation is None:
            return self.get_response(request)
        if entry is not None and entry[0] == generation:
            _generation, status, headers, content = entry
            response = HttpResponse(content, status=status)
            for name, value in headers:
                response[name] = value
            response[HEADER] = "hit"
            return response
        response = self.get_response(request)
        if _response_is_cacheable(request, response):
            try:
                cache.set(
                    key,
                    (generation, response.status_code, list(response.items()), response.content),
                    settings.CMS_PAGE_CACHE_SECONDS,
                )
            except Exception:
                logger.warning("page cache unreachable: page not kept", exc_info=True)
                return response
            response[HEADER] = "miss"
        return response


def _page_deleted(sender, instance, **kwargs) -> None:
    from wagtail.models import Page

    if isinstance(instance, Page):
        page_cache_generation_bump()


def connect_signals() -> None:
    """Subscribe to publish/unpublish and core's outage and tariff changes."""
    from wagtail.signals import page_published, page_unpublished, post_page_move

    from core.models import Tariff, TariffPeriodPrice, TariffTier, TariffVersion, TimeBand
    from core.signals import outage_changed

    page_published.connect(page_cache_generation_bump, dispatch_uid="cms.cache.published")
    page_unpublished.connect(page_cache_generation_bump, dispatch_uid="cms.cache.unpublished")
    post_page_move.connect(page_cache_generation_bump, dispatch_uid="cms.cache.moved")
    post_delete.connect(_page_deleted, dispatch_uid="cms.cache.page_deleted")
    outage_changed.connect(page_cache_generation_bump, dispatch_uid="cms.cache.outage_changed")
    for model in (Tariff, TariffVersion, TariffTier, TariffPeriodPrice, TimeBand):
        post_save.connect(page_cache_generation_bump, sender=model, dispatch_uid=f"cms.cache.saved.{model.__name__}")
        post_delete.connect(page_cache_generation_bump, sender=model, dispatch_uid=f"cms.cache.deleted.{model.__name__}")
