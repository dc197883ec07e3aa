"""Reads of the stored daily reconciliations (core.models.online_reconciliation) for the staff pages: the recent
days with their difference counts and a chart of them, one day with its differences, and how many recent days
disagreed (the decision-support overview's notice)."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Prefetch
from django.utils.translation import gettext

from core.models import OnlineReconciliation, OnlineReconciliationDifference
from core.selectors.dashboards import Chart

PROVIDER = "stripe"
WINDOW_DAYS = 30
# ECharts leaves a gap for "-": a day the reconciliation did not run is not a day without differences.
NOT_RUN = "-"


@dataclass(frozen=True)
class ReconciliationDays:
    """The days from `first` to `last`: the runs stored (newest first, each with `difference_count`) and the chart."""

    first: datetime.date
    last: datetime.date
    runs: list[OnlineReconciliation]
    chart: Chart

    @property
    def charts_json(self) -> list[dict]:
        return [{"id": self.chart.element_id, **self.chart.as_json()}]


def _runs(*, first: datetime.date, last: datetime.date):
    return OnlineReconciliation.objects.filter(provider=PROVIDER, day__gte=first, day__lte=last).annotate(
        difference_count=Count("differences")
    )


def online_reconciliation_days(*, last: datetime.date, days: int = WINDOW_DAYS) -> ReconciliationDays:
    """The last `days` days up to `last`: each stored run with its number of differences, newest first."""
    first = last - datetime.timedelta(days=days - 1)
    runs = list(_runs(first=first, last=last).order_by("-day"))
    by_day = {run.day: run.difference_count for run in runs}
    window = [first + datetime.timedelta(days=offset) for offset in range(days)]
    chart = Chart(
        "chart-reconciliation",
        gettext("每日对账差异项数"),
        [f"{day:%m-%d}" for day in window],
        [{"name": gettext("差异项数"), "type": "bar", "yAxisIndex": 0,
          "data": [str(by_day[day]) if day in by_day else NOT_RUN for day in window]}],
    )
    return ReconciliationDays(first=first, last=last, runs=runs, chart=chart)


def online_reconciliation_of_day_or_none(*, day: datetime.date) -> OnlineReconciliation | None:
    """The run stored for the day with its differences (prefetched, in the order found), or None."""
    differences = Prefetch("differences", queryset=OnlineReconciliationDifference.objects.order_by("pk"))
    return OnlineReconciliation.objects.filter(provider=PROVIDER, day=day).prefetch_related(differences).first()


def online_reconciliation_days_with_differences(*, last: datetime.date, days: int = WINDOW_DAYS) -> int:
    """How many of the last `days` days up to `last` the reconciliation found differences on."""
    first = last - datetime.timedelta(days=days - 1)
    return _runs(first=first, last=last).filter(difference_count__gt=0).count()
