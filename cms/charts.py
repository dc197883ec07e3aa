"""Server-drawn charts: the geometry of a small bar or line chart, computed here so the SVG template only prints
numbers (no script on the page, nothing fetched by the browser, readable by screen readers through <title>/<desc>)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

WIDTH = Decimal(640)
HEIGHT = Decimal(320)
LEFT, RIGHT, TOP, BOTTOM = Decimal(64), Decimal(16), Decimal(24), Decimal(48)
TICKS = 5
NICE_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))
PIXEL = Decimal("0.1")


@dataclass(frozen=True)
class Tick:
    y: Decimal
    label: str


@dataclass(frozen=True)
class Mark:
    """One data row: its bar (or point), the category label under the axis and the value printed at the mark."""

    label: str
    value_label: str
    x: Decimal
    y: Decimal
    width: Decimal
    height: Decimal
    center_x: Decimal
    point_y: Decimal
    value_y: Decimal


@dataclass(frozen=True)
class Chart:
    title: str
    kind: str
    unit: str
    description: str
    dom_id: str
    width: Decimal
    height: Decimal
    plot_left: Decimal
    tick_label_x: Decimal
    plot_right: Decimal
    plot_top: Decimal
    plot_bottom: Decimal
    label_y: Decimal
    zero_y: Decimal
    ticks: list[Tick]
    marks: list[Mark]
    line_points: str

    @property
    def is_bar(self) -> bool:
        return self.kind != "line"


def _number_label(value: Decimal) -> str:
    """'1200', '0.5', '-3.25': no exponent, no trailing zeros."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _nice_step(span: Decimal) -> Decimal:
    """The smallest 1/2/2.5/5 x 10^n step giving at most TICKS intervals over the span."""
    raw = span / TICKS
    magnitude = Decimal(1).scaleb(raw.adjusted())
    for factor in NICE_STEPS:
        if factor * magnitude >= raw:
            return factor * magnitude
    return NICE_STEPS[-1] * magnitude


def _axis(values: list[Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    low, high = min([Decimal(0), *values]), max([Decimal(0), *values])
    if low == high:
        high = low + 1
    step = _nice_step(high - low)
    axis_min = (low / step).to_integral_value(rounding=ROUND_FLOOR) * step
    axis_max = (high / step).to_integral_value(rounding=ROUND_CEILING) * step
    return axis_min, axis_max, step


def chart_build(*, title: str, kind: str, unit: str, rows: list[tuple[str, Decimal]]) -> Chart:
    """Axis with rounded ticks (zero always included), bars or line points scaled to the plot area."""
    values = [Decimal(value) for _, value in rows]
    axis_min, axis_max, step = _axis(values)
    plot_bottom, plot_right = HEIGHT - BOTTOM, WIDTH - RIGHT
    plot_height, plot_width = plot_bottom - TOP, plot_right - LEFT

    def y_of(value: Decimal) -> Decimal:
        return (TOP + plot_height * (axis_max - value) / (axis_max - axis_min)).quantize(PIXEL)

    ticks = []
    tick = axis_min
    while tick <= axis_max:
        ticks.append(Tick(y=y_of(tick), label=_number_label(tick)))
        tick += step
    zero_y = y_of(Decimal(0))
    slot = plot_width / max(len(rows), 1)
    marks = []
    for index, (label, value) in enumerate(zip([label for label, _ in rows], values)):
        point_y = y_of(value)
        top = min(point_y, zero_y)
        marks.append(
            Mark(
                label=label,
                value_label=_number_label(value),
                x=(LEFT + slot * index + slot / 5).quantize(PIXEL),
                y=top,
                width=(slot * 3 / 5).quantize(PIXEL),
                height=abs(zero_y - point_y),
                center_x=(LEFT + slot * index + slot / 2).quantize(PIXEL),
                point_y=point_y,
                value_y=(top - 4).quantize(PIXEL) if value >= 0 else (point_y + 14).quantize(PIXEL),
            )
        )
    suffix = f" {unit}" if unit else ""
    description = "; ".join(f"{mark.label}: {mark.value_label}{suffix}" for mark in marks)
    return Chart(
        title=title,
        kind=kind,
        unit=unit,
        description=description,
        # Stable per content, so a cached page and a fresh render carry the same ids.
        dom_id="chart-" + hashlib.sha1(f"{kind}|{title}|{unit}|{description}".encode()).hexdigest()[:10],
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        tick_label_x=LEFT - 8,
        plot_right=plot_right,
        plot_top=TOP,
        plot_bottom=plot_bottom,
        label_y=plot_bottom + 20,
        zero_y=zero_y,
        ticks=ticks,
        marks=marks,
        line_points=" ".join(f"{mark.center_x},{mark.point_y}" for mark in marks),
    )
