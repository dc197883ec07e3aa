"""/healthz/ through real HTTP: 200 when every dependency answers, 503 naming each one that does not."""
import json
import socket

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def closed_loopback_port() -> int:
    """A loopback port nobody listens on: bound once by the OS, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_reports_every_dependency_up_with_the_configured_backends(client, settings):
    response = client.get("/healthz/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert body["down"] == []
    assert list(body["checks"]) == ["database", "cache", "broker", "channel_layer"]
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["database"]["detail"] == connection.vendor
    if settings.REDIS_URL:
        # CI's second pass: real Redis behind the cache, the broker and the channel layer.
        assert body["checks"]["cache"]["detail"] == "FailSoftRedisCache"
        assert body["checks"]["broker"]["detail"] == "redis"
        assert body["checks"]["channel_layer"]["detail"] == "RedisChannelLayer"
    else:
        assert body["checks"]["cache"]["detail"] == "DatabaseCache"
        assert body["checks"]["broker"]["detail"] == "sql"
        assert body["checks"]["channel_layer"]["detail"] == "InMemoryChannelLayer"


def test_healthz_names_the_broker_when_its_port_is_closed(client, settings):
    port = closed_loopback_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"

    response = client.get("/healthz/")

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "down"
    assert body["down"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert f"127.0.0.1:{port}" in body["checks"]["broker"]["detail"]
    assert "refused" in body["checks"]["broker"]["detail"]


def test_healthz_names_the_cache_and_channel_layer_when_redis_is_unreachable(client, settings):
    url = f"redis://127.0.0.1:{closed_loopback_port()}/0"
    settings.CACHES = {"default": {"BACKEND": "config.cache.FailSoftRedisCache", "LOCATION": url}}
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }

    response = client.get("/healthz/")

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["down"] == ["cache", "channel_layer"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert "ConnectionError" in body["checks"]["cache"]["detail"]
    assert "ConnectionError" in body["checks"]["channel_layer"]["detail"]


def test_healthz_answers_only_get(client):
    response = client.post("/healthz/")

    assert response.status_code == 405
