"""Small builders for StreamField raw data, so the demo's text modules read as content rather than JSON."""
from __future__ import annotations

from decimal import Decimal


def heading(text: str, level: str = "h2") -> dict:
    return {"type": "heading", "value": {"text": text, "level": level}}


def paragraph(html: str) -> dict:
    return {"type": "paragraph", "value": html}


def table(rows: list[list[str]], caption: str = "") -> dict:
    """A table whose first row is the header."""
    return {
        "type": "table",
        "value": {
            "data": rows,
            "first_row_is_table_header": True,
            "first_col_is_header": False,
            "table_caption": caption,
        },
    }


def chart(title: str, rows: list[tuple[str, str]], *, kind: str = "bar", unit: str = "") -> dict:
    return {
        "type": "chart",
        "value": {
            "title": title,
            "kind": kind,
            "unit": unit,
            # Strings in the raw JSON; the DecimalBlock reads them back as Decimal.
            "rows": [{"label": label, "value": str(Decimal(value))} for label, value in rows],
        },
    }


def faq(title: str, items: list[tuple[str, str]]) -> dict:
    return {
        "type": "faq",
        "value": {"title": title, "items": [{"question": q, "answer": a} for q, a in items]},
    }


def call_to_action(text: str, button_label: str, *, page_id: int | None = None, url: str = "") -> dict:
    return {"type": "call_to_action", "value": {"text": text, "button_label": button_label, "page": page_id, "url": url}}


def document(document_id: int, label: str = "") -> dict:
    return {"type": "document", "value": {"document": document_id, "label": label}}
