"""Public views of the website that are not pages (owner: site helper)."""
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_safe

from cms.search import SearchQueryTooLong
from cms.services import site_search


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    """Site search over the live pages of the current language: /search/?q=...&page=n."""
    query = request.GET.get("q", "").strip()
    context = {"query": query, "error": None, "results": None}
    try:
        context["results"] = site_search(query=query, page_number=request.GET.get("page"), request=request)
    except SearchQueryTooLong as error:
        context["error"] = error.message
    return TemplateResponse(request, "cms/search.html", context)
