"""Public views of the website that are not pages (owner: site helper)."""
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def search(request: HttpRequest) -> HttpResponse:
    """Site search over all published pages (built by the site helper)."""
    return TemplateResponse(request, "cms/search.html", {"query": request.GET.get("q", "")})
