"""The supervision page's on-time-rate chart, laid out here so the template only draws it as inline SVG."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.selectors.ticket_queue import WeekPoint

WIDTH = 640
HEIGHT = 240
LEFT = 44
RIGHT = 16
TOP = 16
BOTTOM = 36


@dataclass(frozen=True)
class ChartPoint:
    x: int
    y: int
    label: str
    value_text: str
    title: str


@dataclass(frozen=True)
class GridLine:
    y: int
    label: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    right_edge: int
    top: int
    bottom_edge: int
    points: list[ChartPoint]
    grid: list[GridLine]

    @property
    def y_label_x(self) -> int:
        return self.left - 6

    @property
    def x_label_y(self) -> int:
        return self.bottom_edge + 18

    @property
    def polyline(self) -> str:
        return " ".join(f"{point.x},{point.y}" for point in self.points)

    @property
    def empty(self) -> bool:
        return not self.points


def on_time_rate_chart(*, weeks: list[WeekPoint]) -> LineChart:
    """A 0-100 % line of the on-time rate, one point per week that finished any step."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    bottom_edge = TOP + plot_height

    def y_of(percent: Decimal) -> int:
        return round(bottom_edge - plot_height * float(percent) / 100)

    rated = [week for week in weeks if week.rate is not None]
    step = plot_width / max(len(rated) - 1, 1)
    points = []
    for index, week in enumerate(rated):
        x = round(LEFT + (index * step if len(rated) > 1 else plot_width / 2))
        label = week.week_start.strftime("%m-%d")
        points.append(
            ChartPoint(
                x=x,
                y=y_of(week.rate),
                label=label,
                value_text=f"{week.rate}%",
                title=f"{week.week_start.isoformat()}: {week.rate}% ({week.on_time}/{week.finished})",
            )
        )
    grid = [GridLine(y=y_of(Decimal(percent)), label=f"{percent}%") for percent in (0, 25, 50, 75, 100)]
    return LineChart(
        width=WIDTH, height=HEIGHT, left=LEFT, right_edge=WIDTH - RIGHT, top=TOP, bottom_edge=bottom_edge,
        points=points, grid=grid,
    )
