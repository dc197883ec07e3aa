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

from cms.selectors import KNOWLEDGE_QUERY_MAX_CHARS, knowledge_search

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
    if language not in KNOWLEDGE_SEARCH_LANGUAGES:
        error = _("不支持的语言。")
    elif len(query) > KNOWLEDGE_QUERY_MAX_CHARS:
        error = _("搜索词太长，请不超过%(max)s个字。") % {"max": KNOWLEDGE_QUERY_MAX_CHARS}
    hits = [] if error or not query else knowledge_search(query=query, language=language)
    if request.GET.get("format") == "json":
        status = 400 if error else 200
        body = {"query": query, "language": language, "error": error, "results": [asdict(hit) for hit in hits]}
        return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    context = {"query": query, "language": language, "error": error, "hits": hits,
               "languages": KNOWLEDGE_SEARCH_LANGUAGES}
    return render(request, "cms/staff/knowledge_search.html", context, status=400 if error else 200)
