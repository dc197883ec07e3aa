"""Readiness probes of the platform's moving parts: database, cache, Celery broker, channel layer, and the PBX
connection of the run_ami worker."""
from __future__ import annotations

import asyncio
import datetime
import uuid
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

# A readiness probe must answer quickly even when a dependency hangs: the load balancer has its own short timeout.
PROBE_TIMEOUT_SECONDS = 2.0
# Written by the run_ami worker (callcenter/worker.py) at each connect, disconnect and keep-alive Ping:
# {"connected": bool, "at": ISO time}.
PBX_STATUS_CACHE_KEY = "callcenter:pbx_status"


class ProbeFailed(Exception):
    """A dependency answered, but not as a ready platform needs."""


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    detail: str


def _probe_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _probe_cache() -> str:
    cache = caches["default"]
    if hasattr(cache, "ping"):
        # A fail-soft cache hides an outage from set/get; ask Redis itself.
        cache.ping()
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)
    return cache.__class__.__name__


def _probe_broker() -> str:
    from config.celery import app

    # No retries: one refused or timed-out connection is the answer; Celery's own retry loop would take seconds.
    with app.connection_for_write(url=settings.CELERY_BROKER_URL, connect_timeout=PROBE_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=0, timeout=PROBE_TIMEOUT_SECONDS)
        return conn.transport.driver_type


def _probe_channel_layer() -> str:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def roundtrip() -> None:
        channel = await layer.new_channel("healthz.")
        await layer.send(channel, {"type": "healthz.ping"})
        message = await asyncio.wait_for(layer.receive(channel), timeout=PROBE_TIMEOUT_SECONDS)
        if message.get("type") != "healthz.ping":
            raise RuntimeError("channel layer returned a different message")

    async_to_sync(roundtrip)()
    return layer.__class__.__name__


def _probe_pbx() -> str:
    if not settings.AMI_HOST:
        return "not configured"
    status = caches["default"].get(PBX_STATUS_CACHE_KEY)
    if not isinstance(status, dict):
        raise ProbeFailed("no status from the AMI worker (run_ami not running?)")
    at = parse_datetime(status.get("at") or "")
    # The worker re-stores the status every AMI_PING_SECONDS; the same window as the cached status's own expiry.
    fresh_for = datetime.timedelta(seconds=settings.AMI_PING_SECONDS * 3 + 5)
    if at is None or timezone.now() - at > fresh_for:
        raise ProbeFailed(f"the AMI worker's status is stale (last at {status.get('at')})")
    if not status.get("connected"):
        raise ProbeFailed(f"the AMI worker is not connected to {settings.AMI_HOST}:{settings.AMI_PORT}")
    return f"connected to {settings.AMI_HOST}:{settings.AMI_PORT}"


PROBES = {
    "database": _probe_database,
    "cache": _probe_cache,
    "broker": _probe_broker,
    "channel_layer": _probe_channel_layer,
    "pbx": _probe_pbx,
}


def platform_health() -> list[ProbeResult]:
    """Run every probe; a failing probe is reported by name, never raised."""
    results = []
    for name, probe in PROBES.items():
        try:
            results.append(ProbeResult(name=name, ok=True, detail=str(probe())))
        except Exception as exc:  # a probe must report any failure, whatever its type
            results.append(ProbeResult(name=name, ok=False, detail=f"{exc.__class__.__name__}: {exc}"))
    return results
