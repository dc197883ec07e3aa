"""/metrics for Prometheus: django-prometheus' request, response and latency figures (summed over every ASGI process
sharing PROMETHEUS_MULTIPROC_DIR when it is set) and the domain's own figures (core.selectors.operational_metrics).

Guarded: with METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>` is let in; without one, only a scraper
on this host (REMOTE_ADDR 127.0.0.1 or ::1). nginx denies /metrics from outside, since everything it forwards comes
from loopback too."""
from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily

from core.selectors.operational_metrics import operational_figures

logger = logging.getLogger(__name__)

PREFIX = "power95598"
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1"})
DOMAIN_FIGURES_CACHE_KEY = "metrics:domain_figures"


def _figures_shared():
    """The domain figures, computed at most once per METRICS_DOMAIN_FIGURES_SECONDS for every process and scraper:
    the payments total is a scan of the whole payments table (about 1 s per 5 million rows on PostgreSQL)."""
    seconds = settings.METRICS_DOMAIN_FIGURES_SECONDS
    if not seconds:
        return operational_figures()
    figures = cache.get(DOMAIN_FIGURES_CACHE_KEY)
    if figures is None:
        figures = operational_figures()
        cache.set(DOMAIN_FIGURES_CACHE_KEY, figures, timeout=seconds)
    return figures


class DomainFiguresCollector:
    """Read at each scrape from the database; money leaves Decimal here only, as Prometheus samples are floats."""

    def collect(self):
        up = GaugeMetricFamily(f"{PREFIX}_domain_figures_up", "1 when the domain figures below could be read.")
        try:
            figures = _figures_shared()
        except DatabaseError:
            # The request figures are still worth serving while the database is away; this gauge says why the
            # domain's are missing.
            logger.warning("domain figures unavailable for /metrics", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(f"{PREFIX}_tickets_open", "Tickets open now.", value=figures.tickets_open)
        yield GaugeMetricFamily(
            f"{PREFIX}_tickets_overdue", "Open tickets whose current step is past its due time.",
            value=figures.tickets_overdue,
        )
        yield GaugeMetricFamily(f"{PREFIX}_calls_waiting", "Calls queued or ringing now.", value=figures.calls_waiting)
        yield GaugeMetricFamily(
            f"{PREFIX}_calls_waiting_oldest_seconds", "How long the longest-waiting call has waited.",
            value=figures.calls_waiting_oldest_seconds,
        )
        pending = GaugeMetricFamily(
            f"{PREFIX}_notifications_pending", "Notifications not yet sent, by where they stand.", labels=["state"]
        )
        for state in ("queued", "retrying", "held", "sending"):
            pending.add_metric([state], getattr(figures.notifications_pending, state))
        yield pending
        yield GaugeMetricFamily(
            f"{PREFIX}_payments_posted_today", "Payments received since midnight (Beijing time).",
            value=figures.payments_posted_today,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_payments_posted_today_amount_yuan", "Yuan received since midnight (Beijing time).",
            value=float(figures.payments_posted_today_amount),
        )
        yield CounterMetricFamily(
            f"{PREFIX}_payments_posted", "Payments received, ever.", value=figures.payments_posted_total
        )
        yield CounterMetricFamily(
            f"{PREFIX}_payments_posted_amount_yuan", "Yuan received, ever.",
            value=float(figures.payments_posted_total_amount),
        )


# Its own registry, never the global one: registering there would read the database at import, and in multiprocess
# mode the global registry is not what is served.
DOMAIN_REGISTRY = CollectorRegistry(auto_describe=False)
DOMAIN_REGISTRY.register(DomainFiguresCollector())


def metrics_access_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        offered = request.headers.get("Authorization", "")
        return hmac.compare_digest(offered.encode(), f"Bearer {token}".encode())
    return request.META.get("REMOTE_ADDR") in LOOPBACK_ADDRESSES


def _process_metrics() -> bytes:
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_access_allowed(request):
        return HttpResponseForbidden(_("无权读取监控指标"), content_type="text/plain; charset=utf-8")
    # Text format 0.0.4, which every Prometheus reads; the names here are all plain, so nothing needs 1.0.0's escaping.
    body = _process_metrics() + generate_latest(DOMAIN_REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)
