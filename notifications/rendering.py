"""Template rendering and SMS segment counting: pure functions, no database."""
from __future__ import annotations

import math
from dataclasses import dataclass

from django.template import Context, Template, TemplateSyntaxError
from django.utils.translation import gettext_lazy as _

from .errors import TemplateRenderError

# GSM 03.38 basic character set (one septet each) and its extension table (escape + char: two septets).
_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsSegments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def sms_segments(text: str) -> SmsSegments:
    """Count SMS segments as carriers bill them: GSM-7 160/153 per part, UCS-2 (any Chinese) 70/67."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in text):
        units = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in text)
        single, part = 160, 153
        encoding = "GSM-7"
    else:
        # Characters outside the BMP (emoji) take a surrogate pair: two UCS-2 units.
        units = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
        encoding = "UCS-2"
    if units == 0:
        return SmsSegments(encoding, 0, 0)
    segments = 1 if units <= single else math.ceil(units / part)
    return SmsSegments(encoding, units, segments)


def template_render(*, source: str, data: dict, autoescape: bool) -> str:
    """Render a staff-edited template string; HTML-escaped for e-mail and inbox, verbatim for SMS."""
    try:
        template = Template(source)
        return template.render(Context(data, autoescape=autoescape)).strip()
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(_("消息模板有语法错误：%(error)s") % {"error": exc}) from exc
