"""The portal's navigation: one link per area that is installed (an area's URL name that resolves)."""
from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

register = template.Library()

NAV = (
    ("portal:dashboard", _("我的用电")),
    ("portal:binding_list", _("我的户号")),
    ("portal:pay", _("交电费")),
    ("portal:apply", _("业务办理")),
    ("portal:fault_report", _("故障报修")),
    ("portal:complaint", _("投诉建议")),
    ("portal:ticket_list", _("我的工单")),
    ("portal:inbox", _("消息")),
    ("usersessions_list", _("登录设备")),
)


@register.inclusion_tag("portal/includes/nav.html", takes_context=True)
def portal_nav(context) -> dict:
    """The nav, marking the current area: its links are kept per language and area (cms_site's frame_fragment), so
    only the sign-out form's CSRF token is drawn per request."""
    request = context.get("request")
    current = getattr(getattr(request, "resolver_match", None), "view_name", "")
    return {"current": current, "csrf_token": context.get("csrf_token")}


@register.simple_tag
def portal_nav_links(current: str) -> list[dict]:
    links = []
    for name, label in NAV:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        links.append({"url": url, "label": label, "current": name == current})
    return links
