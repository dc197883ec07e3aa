"""The API's door: keys, scopes, rate limits, one error body, idempotent replays, the request log, the schema and
the docs page (served without a CDN)."""
import json

import pytest
from django.core.management import call_command
from django.test import Client, RequestFactory

from integrations.api.auth import scope_require
from integrations.api.errors import ApiError
from integrations.api.idempotency import idempotent
from integrations.clients import api_client_create, api_client_for_key
from integrations.models import ApiClient, ApiRequestLog, IdempotentResponse

pytestmark = pytest.mark.django_db


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_a_request_without_a_key_is_refused_with_the_error_body_and_logged():
    response = Client().get("/api/v1/whoami/")

    assert response.status_code == 401
    assert response.json() == {"error": {"code": "unauthenticated", "message": "缺少或无效的接口密钥", "fields": {}}}
    assert response["WWW-Authenticate"] == 'Bearer realm="95598"'
    [log] = ApiRequestLog.objects.all()
    assert (log.client, log.method, log.path, log.status) == (None, "GET", "/api/v1/whoami/", 401)
    assert log.request_id == response["X-Request-ID"]


def test_the_error_speaks_english_when_asked():
    response = Client().get("/api/v1/whoami/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.json()["error"]["message"] == "The API key is missing or invalid"


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_a_key_in_either_header_names_its_client_and_scopes(header):
    issued = api_client_create(name="用电信息采集系统", system="acquisition", scopes=["readings:write"])
    headers = bearer(issued.key) if header == "bearer" else {"HTTP_X_API_KEY": issued.key}

    response = Client().get("/api/v1/whoami/", HTTP_X_REQUEST_ID="acq-20261124-0001", **headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["client"], body["system"], body["scopes"]) == ("用电信息采集系统", "acquisition", ["readings:write"])
    assert response["X-Request-ID"] == "acq-20261124-0001"
    log = ApiRequestLog.objects.get()
    assert (log.client_id, log.status, log.request_id) == (issued.client.pk, 200, "acq-20261124-0001")
    assert ApiClient.objects.get().last_used_at is not None


def test_only_the_hash_of_the_key_is_kept_and_a_wrong_secret_or_a_disabled_client_is_refused():
    issued = api_client_create(name="财务", system="finance", scopes=["finance:read"])
    client = ApiClient.objects.get()
    assert issued.key not in (client.key_hash, client.key_prefix) and issued.key.startswith(client.key_prefix + ".")

    forged = issued.key[:-1] + ("A" if issued.key[-1] != "A" else "B")
    assert Client().get("/api/v1/whoami/", **bearer(forged)).status_code == 401
    assert api_client_for_key("no-dot-here") is None
    ApiClient.objects.update(active=False)
    assert Client().get("/api/v1/whoami/", **bearer(issued.key)).status_code == 401


def test_a_missing_scope_is_a_403_naming_it():
    issued = api_client_create(name="银行", system="bank", scopes=["bank:read"])
    request = RequestFactory().post("/api/v1/readings/")
    request.auth = issued.client

    with pytest.raises(ApiError) as refused:
        scope_require(request, "readings:write")

    assert refused.value.status == 403 and refused.value.code == "scope_missing"
    assert str(refused.value.message) == "此密钥无权执行该操作（需要权限：readings:write 上传抄表示数（用电信息采集/集抄））"
    assert scope_require(request, "bank:read") == issued.client


def test_each_client_has_its_own_rate_limit_per_minute():
    slow = api_client_create(name="慢", system="other", scopes=[], rate_limit_per_minute=2)
    other = api_client_create(name="另一个", system="other", scopes=[], rate_limit_per_minute=2)
    browser = Client()

    statuses = [browser.get("/api/v1/whoami/", **bearer(slow.key)).status_code for _ in range(3)]
    refused = browser.get("/api/v1/whoami/", **bearer(slow.key))

    assert statuses == [200, 200, 429]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert browser.get("/api/v1/whoami/", **bearer(other.key)).status_code == 200


def test_a_write_with_an_idempotency_key_acts_once_and_replays_its_first_answer():
    issued = api_client_create(name="呼叫中心", system="callcenter", scopes=[])
    calls = []

    def write():
        calls.append(1)
        return 201, {"ticket": f"T{len(calls)}"}

    def request(body: bytes):
        made = RequestFactory().post(
            "/api/v1/tickets/", data=body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="call-42"
        )
        made.auth = issued.client
        return made

    first = idempotent(request(b'{"summary": "a"}'), write)
    repeat_request = request(b'{"summary": "a"}')
    repeat = idempotent(repeat_request, write)

    assert first == repeat == (201, {"ticket": "T1"})
    assert calls == [1] and repeat_request.idempotent_replayed is True
    assert IdempotentResponse.objects.get().key == "call-42"
    with pytest.raises(ApiError) as refused:
        idempotent(request(b'{"summary": "b"}'), write)
    assert refused.value.code == "idempotency_key_reused" and calls == [1]


def test_a_write_without_the_header_is_left_to_its_natural_key():
    issued = api_client_create(name="呼叫中心", system="callcenter", scopes=[])
    made = RequestFactory().post("/api/v1/tickets/", data=b"{}", content_type="application/json")
    made.auth = issued.client

    assert idempotent(made, lambda: (200, {"ok": True})) == (200, {"ok": True})
    assert not IdempotentResponse.objects.exists()


def test_the_schema_lists_the_operations_with_the_key_schemes():
    response = Client().get("/api/schema/")

    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "95598 Integrations API"
    assert "/api/v1/whoami/" in schema["paths"]
    assert set(schema["components"]["securitySchemes"]) == {"BearerKey", "HeaderKey"}


def test_the_docs_page_uses_the_bundled_swagger_ui_and_no_cdn():
    page = Client().get("/api/docs/").content.decode()

    assert '/static/ninja/swagger-ui-bundle.js' in page
    assert "cdn" not in page.lower()


def test_the_command_prints_the_key_once_and_refuses_bad_input(capsys):
    call_command("api_client_create", "--name", "配网", "--system", "distribution", "--scope", "topology:write")

    printed = capsys.readouterr().out
    key = printed.rsplit(": ", 1)[1].strip()
    assert ApiClient.objects.get().name == "配网" and api_client_for_key(key).name == "配网"
    with pytest.raises(Exception) as refused:
        call_command("api_client_create", "--name", "配网", "--system", "distribution")
    assert "已有同名的客户端" in str(refused.value)
    assert ApiClient.objects.count() == 1


def test_an_unknown_address_under_the_api_is_a_json_404():
    issued = api_client_create(name="x", system="other", scopes=[])
    response = Client().get("/api/v1/no-such-thing/", **bearer(issued.key))

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "没有这个接口地址", "fields": {}}}


def test_a_body_that_is_not_json_at_all_is_a_422_not_a_400():
    issued = api_client_create(name="呼叫中心", system="callcenter", scopes=["callcenter:write"])

    response = Client().post(
        "/api/v1/callcenter/tickets/", data=b"\x00{", content_type="application/json", **bearer(issued.key)
    )

    assert response.status_code == 422
    assert response.json() == {"error": {"code": "invalid_request", "message": "请求体应为JSON对象", "fields": {}}}


def test_a_body_over_the_upload_limit_is_a_413_with_the_error_body(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    issued = api_client_create(name="呼叫中心", system="callcenter", scopes=["callcenter:write"])

    response = Client().post(
        "/api/v1/callcenter/tickets/", data=b'{"summary": "x"}' + b" " * 2000,
        content_type="application/json", **bearer(issued.key),
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
