from django.http import JsonResponse
from django.urls import path, re_path
from django.utils.translation import gettext

from integrations.api import api
from integrations.api.errors import error_body


def unknown_address(request, rest: str = ""):
    """Any other address under /api/: the API's own 404 body, not the website's HTML page."""
    body = error_body("not_found", gettext("没有这个接口地址"))
    return JsonResponse(body, status=404, json_dumps_params={"ensure_ascii": False})


urlpatterns = [path("", api.urls), re_path(r"^(?P<rest>.*)$", unknown_address)]
