"""/healthz/ (liveness) and /readyz/ (readiness) through real HTTP: liveness touches nothing; readiness is 200 when
every dependency answers, 503 naming each one that does not, the PBX connection included when AMI is configured."""
import datetime
import json
import socket

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from callcenter.worker import _pbx_status_store
from core.health import PBX_STATUS_CACHE_KEY

pytestmark = pytest.mark.django_db


def closed_loopback_port() -> int:
    """A loopback port nobody listens on: bound once by the OS, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_unreachable(settings) -> str:
    url = f"redis://127.0.0.1:{closed_loopback_port()}/0"
    settings.CACHES = {"default": {"BACKEND": "config.cache.FailSoftRedisCache", "LOCATION": url}}
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }
    settings.CELERY_BROKER_URL = url
    return url


def test_healthz_is_liveness_only_and_asks_no_dependency(client, settings, django_assert_num_queries):
    redis_unreachable(settings)

    with django_assert_num_queries(0):
        response = client.get("/healthz/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    assert json.loads(response.content) == {"status": "ok"}


def test_readyz_reports_every_dependency_up_with_the_configured_backends(client, settings):
    settings.AMI_HOST = ""

    response = client.get("/readyz/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert body["down"] == []
    assert list(body["checks"]) == ["database", "cache", "broker", "channel_layer", "pbx"]
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["database"]["detail"] == connection.vendor
    assert body["checks"]["pbx"] == {"ok": True, "detail": "not configured"}
    if settings.REDIS_URL:
        # CI's second pass: real Redis behind the cache, the broker and the channel layer.
        assert body["checks"]["cache"]["detail"] == "FailSoftRedisCache"
        assert body["checks"]["broker"]["detail"] == "redis"
        assert body["checks"]["channel_layer"]["detail"] == "RedisChannelLayer"
    else:
        assert body["checks"]["cache"]["detail"] == "DatabaseCache"
        assert body["checks"]["broker"]["detail"] == "sql"
        assert body["checks"]["channel_layer"]["detail"] == "InMemoryChannelLayer"


def test_readyz_names_the_broker_when_its_port_is_closed(client, settings):
    settings.AMI_HOST = ""
    port = closed_loopback_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"

    response = client.get("/readyz/")

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "down"
    assert body["down"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert f"127.0.0.1:{port}" in body["checks"]["broker"]["detail"]
    assert "refused" in body["checks"]["broker"]["detail"]


def test_readyz_names_the_cache_and_channel_layer_when_redis_is_unreachable(client, settings):
    settings.AMI_HOST = ""
    url = f"redis://127.0.0.1:{closed_loopback_port()}/0"
    settings.CACHES = {"default": {"BACKEND": "config.cache.FailSoftRedisCache", "LOCATION": url}}
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }

    response = client.get("/readyz/")

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["down"] == ["cache", "channel_layer"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert "ConnectionError" in body["checks"]["cache"]["detail"]
    assert "ConnectionError" in body["checks"]["channel_layer"]["detail"]


def test_readyz_is_ready_when_the_ami_worker_says_connected_and_is_fresh(client, settings):
    settings.AMI_HOST, settings.AMI_PORT, settings.AMI_PING_SECONDS = "pbx.example.internal", 5038, 20
    at = timezone.now() - datetime.timedelta(seconds=30)
    cache.set(PBX_STATUS_CACHE_KEY, {"connected": True, "at": at.isoformat()}, timeout=300)

    response = client.get("/readyz/")

    assert response.status_code == 200
    assert json.loads(response.content)["checks"]["pbx"] == {
        "ok": True, "detail": "connected to pbx.example.internal:5038",
    }


def test_readyz_reads_the_status_as_the_ami_worker_writes_it(client, settings):
    settings.AMI_HOST, settings.AMI_PORT = "pbx.example.internal", 5038
    _pbx_status_store(connected=True, at=timezone.now().isoformat())
    assert client.get("/readyz/").status_code == 200

    _pbx_status_store(connected=False, at=timezone.now().isoformat())
    response = client.get("/readyz/")

    assert response.status_code == 503
    assert json.loads(response.content)["down"] == ["pbx"]


@pytest.mark.parametrize(("status", "detail"), [
    (None, "ProbeFailed: no status from the AMI worker (run_ami not running?)"),
    ({"connected": False, "age": 5}, "ProbeFailed: the AMI worker is not connected to pbx.example.internal:5038"),
    ({"connected": True, "age": 66}, "ProbeFailed: the AMI worker's status is stale (last at {at})"),
    ({"connected": True, "at": "not a time"}, "ProbeFailed: the AMI worker's status is stale (last at not a time)"),
])
def test_readyz_names_the_pbx_when_the_ami_worker_is_absent_disconnected_or_stale(client, settings, status, detail):
    settings.AMI_HOST, settings.AMI_PORT, settings.AMI_PING_SECONDS = "pbx.example.internal", 5038, 20
    at = ""
    if status is not None and "age" in status:
        # Fresh for 3 pings and 5 s: 65 s at a 20 s ping.
        at = (timezone.now() - datetime.timedelta(seconds=status["age"])).isoformat()
        cache.set(PBX_STATUS_CACHE_KEY, {"connected": status["connected"], "at": at}, timeout=300)
    elif status is not None:
        cache.set(PBX_STATUS_CACHE_KEY, status, timeout=300)

    response = client.get("/readyz/")

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["down"] == ["pbx"]
    assert body["checks"]["pbx"] == {"ok": False, "detail": detail.format(at=at)}


def test_healthz_and_readyz_answer_only_get(client):
    assert client.post("/healthz/").status_code == 405
    assert client.post("/readyz/").status_code == 405
