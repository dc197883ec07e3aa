"""Ticket workflows held as data: field specs (fields.py), named checks (checks.py) and transition conditions.

A transition's condition is {"field", "op", "value"} over the submitted data (merged over the ticket's data);
an empty condition always matches. The engine (core.services.tickets) takes the first forward transition,
by order, whose condition matches.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

CONDITION_OPS = ("eq", "ne", "in", "gt", "gte", "lt", "lte", "truthy")


def _as_decimal(value) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _comparable(actual, expected):
    """Numbers compare as numbers (cleaned decimals are strings), booleans as booleans, the rest as text."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual, expected
    left, right = _as_decimal(actual), _as_decimal(expected)
    if left is not None and right is not None:
        return left, right
    return str(actual), str(expected)


def condition_matches(*, condition: dict, data: dict) -> bool:
    """Whether a transition condition holds for this data. A missing field matches only ne and falsy truthy."""
    if not condition:
        return True
    op = condition.get("op", "eq")
    if op not in CONDITION_OPS:
        raise ValueError(f"unknown condition op {op!r}")
    actual = data.get(condition.get("field", ""))
    expected = condition.get("value")
    if op == "truthy":
        wanted = True if expected is None else bool(expected)
        return bool(actual) is wanted
    if actual is None or actual == "":
        return op == "ne" and expected not in (None, "")
    if op == "in":
        return any(_equal(actual, option) for option in (expected or []))
    if op == "eq":
        return _equal(actual, expected)
    if op == "ne":
        return not _equal(actual, expected)
    left, right = _comparable(actual, expected)
    if type(left) is not type(right) or isinstance(left, bool):
        return False
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


def _equal(actual, expected) -> bool:
    left, right = _comparable(actual, expected)
    return left == right
