"""The agents' knowledge-base search: an HTML list for the console and the same hits as JSON (?format=json)."""
from __future__ import annotations

from dataclasses import asdict
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cms.search import SearchQueryTooLong
from cms.selectors import knowledge_search

KNOWLEDGE_SEARCH_LANGUAGES = ("zh-hans", "en")


def staff_only(view):
    """Signed-in staff; anonymous visitors go to sign in, signed-in customers are refused."""

    @wraps(view)
    def check(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(check)


@require_GET
@staff_only
def knowledge_search_page(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    language = request.GET.get("lang", "") or get_language() or "zh-hans"
    error = ""
    hits = []
    if language not in KNOWLEDGE_SEARCH_LANGUAGES:
        error = _("不支持的语言。")
    elif query:
        try:
            hits = knowledge_search(query=query, language=language)
        except SearchQueryTooLong as refused:
            error = str(refused)
    if request.GET.get("format") == "json":
        status = 400 if error else 200
        body = {"query": query, "language": language, "error": error, "results": [asdict(hit) for hit in hits]}
        return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    context = {"query": query, "language": language, "error": error, "hits": hits,
               "languages": KNOWLEDGE_SEARCH_LANGUAGES}
    return render(request, "cms/staff/knowledge_search.html", context, status=400 if error else 200)
