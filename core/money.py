"""Money and energy arithmetic: Decimal only, 2 places, ROUND_HALF_UP (分 and 0.01 kWh)."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value: Decimal | int | str) -> Decimal:
    """Round to the fen, half up. Floats are refused: they cannot carry money exactly."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def to_kwh(value: Decimal | int | str) -> Decimal:
    """Round energy to 0.01 kWh, half up."""
    if isinstance(value, float):
        raise TypeError("energy must not be a float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def format_yuan(value: Decimal) -> str:
    """"¥1,234.50" for display; negative amounts keep their sign."""
    return f"¥{to_money(value):,.2f}"
