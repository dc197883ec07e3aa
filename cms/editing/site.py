"""Wagtail admin registrations for the site area (snippets, choosers, hooks)."""
from wagtail import hooks

from cms.cache import page_cache_mark


@hooks.register("before_serve_page")
def _page_cache_mark(page, request, serve_args, serve_kwargs):
    """Tell the page cache that Wagtail served this request (and whether the page type allows caching)."""
    page_cache_mark(request=request, page=page)
