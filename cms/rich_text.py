"""Rich text sanitising: what editors (or an import) saved is rendered through an allow-list, so no script,
event handler or javascript: link ever reaches a visitor, whatever reached the database."""
from __future__ import annotations

from bs4 import BeautifulSoup, Comment

# The tags Draftail's features in cms.blocks produce, plus what Wagtail's rewriters expand embeds and links to.
ALLOWED_TAGS = frozenset(
    {
        "a", "b", "blockquote", "br", "code", "div", "em", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
        "li", "ol", "p", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
    }
)
# Content of these is dropped together with the tag (everything else unknown is unwrapped, its text kept).
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math", "form", "textarea"}
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "rel", "target"},
    "img": {"src", "alt", "width", "height", "class"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
    "div": {"class"},
    "p": {"class"},
    "span": {"class"},
}
URL_ATTRIBUTES = frozenset({"href", "src"})
SAFE_URL_SCHEMES = ("http:", "https:", "mailto:", "tel:")


def _url_is_safe(url: str) -> bool:
    """Relative URLs and a few schemes; anything else (javascript:, data:, vbscript:) is refused.
    Browsers ignore whitespace and control characters inside the scheme, so they are removed before checking."""
    compact = "".join(ch for ch in url if ch > " ").lower()
    if ":" not in compact.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]:
        return True
    return compact.startswith(SAFE_URL_SCHEMES)


def rich_text_sanitise(html: str) -> str:
    """The HTML with only allowed tags and attributes; scripts and their content removed, unknown tags unwrapped."""
    if not html:
        return ""
    soup = BeautifulSoup(html, "html.parser")
    for comment in soup.find_all(string=lambda text: isinstance(text, Comment)):
        comment.extract()
    for tag in soup.find_all(True):
        if tag.decomposed:
            continue
        name = tag.name.lower()
        if name in DROPPED_WITH_CONTENT:
            tag.decompose()
            continue
        if name not in ALLOWED_TAGS:
            tag.unwrap()
            continue
        allowed = ALLOWED_ATTRIBUTES.get(name, set())
        for attribute in list(tag.attrs):
            value = tag.attrs[attribute]
            text = " ".join(value) if isinstance(value, list) else str(value)
            if attribute.lower() not in allowed or (attribute.lower() in URL_ATTRIBUTES and not _url_is_safe(text)):
                del tag.attrs[attribute]
        if name == "a" and tag.get("target"):
            tag["rel"] = "noopener noreferrer"
    return str(soup)
