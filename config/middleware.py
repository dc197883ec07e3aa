"""Language selection for a site whose public pages carry their language in the path and whose portal and staff
pages do not."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from django.urls import Resolver404, resolve
from django.utils import translation

# Views mounted under i18n_patterns (config/urls.py): their language is the path's (Chinese at /, English at /en/).
_PATH_LANGUAGE_VIEWS = frozenset({"wagtail_serve", "cms_search"})


def _public_site_path(path: str) -> bool:
    try:
        with translation.override(settings.LANGUAGE_CODE):
            return resolve(path).url_name in _PATH_LANGUAGE_VIEWS
    except Resolver404:
        return False


class SiteLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, except that addresses outside the public site (portal, staff, accounts) follow the
    visitor's choice (language cookie, then Accept-Language): with prefix_default_language=False Django would give
    every unprefixed address the default language, so the portal could never be English."""

    def process_request(self, request: HttpRequest) -> None:
        if translation.get_language_from_path(request.path_info) or _public_site_path(request.path_info):
            super().process_request(request)
            return
        translation.activate(translation.get_language_from_request(request, check_path=False))
        request.LANGUAGE_CODE = translation.get_language()
