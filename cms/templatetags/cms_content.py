"""Template helpers for the content pages: rich text sanitising and the server-drawn chart."""
from django import template
from django.utils.safestring import mark_safe

from cms.charts import Chart, chart_build
from cms.rich_text import rich_text_sanitise

register = template.Library()


@register.filter
def sanitised_html(html) -> str:
    """Expanded rich text HTML through the allow-list (the one place rich text becomes markup on the site)."""
    return mark_safe(rich_text_sanitise(str(html or "")))  # the sanitiser's output is safe by construction


@register.simple_tag
def chart_svg(value) -> Chart:
    """The geometry of a ChartBlock value, for templates/cms/blocks/chart_block.html to draw."""
    return chart_build(
        title=value["title"], kind=value["kind"], unit=value.get("unit") or "",
        rows=[(row["label"], row["value"]) for row in value["rows"]],
    )
