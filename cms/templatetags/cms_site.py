"""Site-wide template tags of the public website: the language switcher and the frame's fixed fragments."""
from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.template.base import FilterExpression, NodeList, token_kwargs
from django.urls import get_urlconf
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from wagtail.models import Page

register = template.Library()

# The frame's fixed fragments as rendered, per process: (name, language, URLconf, *vary values) -> HTML. Bounded by
# the fragments in the templates times the languages times the values they vary on (a few view names).
_fragments: dict[tuple, SafeString] = {}


def _fragments_clear(**kwargs) -> None:
    _fragments.clear()


# A test that overrides LANGUAGES, ROOT_URLCONF, STATIC_URL or the like must not get a fragment of before.
setting_changed.connect(_fragments_clear, dispatch_uid="cms.templatetags.cms_site.fragments")


class FrameFragmentNode(template.Node):
    def __init__(self, name: str, vary: dict[str, FilterExpression], nodelist: NodeList) -> None:
        self.name = name
        self.vary = vary
        self.nodelist = nodelist

    def render(self, context) -> str:
        values = {name: value.resolve(context) for name, value in self.vary.items()}
        # The body sees only the vary values: no request, user or CSRF token, so nothing personal can be kept.
        clean = context.new(values)
        if settings.DEBUG:
            # Template and translation edits show at once in development.
            return self.nodelist.render(clean)
        key = (self.name, get_language(), get_urlconf(), *values.values())
        html = _fragments.get(key)
        if html is None:
            html = _fragments[key] = mark_safe(self.nodelist.render(clean))
        return html


@register.tag
def frame_fragment(parser, token) -> FrameFragmentNode:
    """{% frame_fragment "name" key=value ... %}...{% endframe_fragment %}: a part of the page frame that is the same
    for every visitor in a language (header, footer, nav links), rendered once per process, language, URLconf and
    key values, then reused. The body sees only the key values (no request, user or CSRF token), and the name must
    be unique across templates. Rendered every time when DEBUG is on."""
    bits = token.split_contents()
    if len(bits) < 2 or bits[1][0] not in "\"'" or bits[1][-1] != bits[1][0]:
        raise template.TemplateSyntaxError(f"{bits[0]} takes a quoted name, then key=value pairs")
    remaining = bits[2:]
    vary = token_kwargs(remaining, parser, support_legacy=False)
    if remaining:
        raise template.TemplateSyntaxError(f"{bits[0]} takes only key=value pairs after its name")
    nodelist = parser.parse(("endframe_fragment",))
    parser.delete_first_token()
    return FrameFragmentNode(bits[1][1:-1], vary, nodelist)


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
        "languages": tuple((code, name) for code, name in settings.LANGUAGES),
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
