"""Site-wide template tags of the public website: the language switcher (owner: site helper)."""
from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.conf import settings
from django.utils.translation import get_language
from wagtail.models import Page

register = template.Library()


@dataclass(frozen=True)
class LanguageLink:
    code: str
    name: str
    url: str
    current: bool


@register.inclusion_tag("includes/language_switcher.html", takes_context=True)
def language_switcher(context) -> dict:
    """On a Wagtail page: links to its live translations (no form, so no CSRF token and the page stays cacheable).
    Elsewhere: the set_language POST form."""
    request = context.get("request")
    page = context.get("page")
    current = get_language()
    names = dict(settings.LANGUAGES)
    links: list[LanguageLink] = []
    if isinstance(page, Page):
        for translation in page.get_translations(inclusive=True).live().select_related("locale").order_by("locale_id"):
            code = translation.locale.language_code
            links.append(
                LanguageLink(
                    code=code,
                    name=names.get(code, code),
                    url=translation.get_url(request=request) or "",
                    current=translation.pk == page.pk,
                )
            )
    return {
        "request": request,
        "is_page": isinstance(page, Page),
        "links": links,
        "languages": settings.LANGUAGES,
        "current_language": current,
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag(takes_context=True)
def page_language(context) -> str:
    """The <html lang> value: the page's locale on Wagtail pages, the active language elsewhere."""
    page = context.get("page")
    if isinstance(page, Page):
        return page.locale.language_code
    return get_language()
