"""POST /api/v1/topology/ (with dry_run) and GET /api/v1/topology/imports/<id>/."""
import json

import pytest

from core.models import TopologyImport
from integrations import scopes
from integrations.clients import api_client_create
from tests.core.test_topology_import import GROWTH, grid_build, state

pytestmark = pytest.mark.django_db
URL = "/api/v1/topology/"


@pytest.fixture
def grid():
    return grid_build()


def key_for(*granted: str, name="配网信息系统") -> str:
    return api_client_create(name=name, system="distribution", scopes=list(granted)).key


def post(client, key, body, query="", **headers):
    return client.post(
        URL + query,
        data=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        **headers,
    )


EXPECTED_COUNTS = {"created": 3, "updated": 1, "moved": 2, "retired": 0, "unchanged": 1, "accounts_remapped": 1}


def test_no_key_is_401(client):
    response = client.post(URL, data="{}", content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_wrong_scope_is_403_and_changes_nothing(client, grid):
    before = state()
    response = post(client, key_for(scopes.TOPOLOGY_READ), GROWTH)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "此密钥无权执行该操作（需要权限：topology:write 导入配网拓扑（配网信息系统））"
    assert state() == before


def test_import_applies_the_diff_and_the_report_can_be_read_back(client, grid):
    key = key_for(scopes.TOPOLOGY_WRITE, scopes.TOPOLOGY_READ)
    response = post(client, key, GROWTH)
    assert response.status_code == 201
    body = response.json()
    record = TopologyImport.objects.get()
    assert (body["id"], body["status"], body["mode"], body["branch"], body["source"]) == (
        record.pk, "applied", "partial", None, "api:配网信息系统"
    )
    assert body["report"]["counts"] == EXPECTED_COUNTS
    assert body["report"]["service_points"]["moved"] == [
        {"code": "P1", "account": "0000000001", "from": "A1", "to": "A4"}
    ]
    assert ("P1", "A4") in state()[3]

    again = client.get(f"/api/v1/topology/imports/{record.pk}/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert again.status_code == 200
    assert again.json() == body


def test_dry_run_answers_200_and_changes_nothing(client, grid):
    before = state()
    response = post(client, key_for(scopes.TOPOLOGY_WRITE), GROWTH, query="?dry_run=true")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["report"]["dry_run"], body["report"]["counts"]) == ("dry_run", True, EXPECTED_COUNTS)
    assert state() == before


def test_orphaning_document_is_422_with_every_problem_and_nothing_changed(client, grid):
    before = state()
    response = post(
        client,
        key_for(scopes.TOPOLOGY_WRITE),
        {"mode": "partial", "transformer_areas": [{"code": "A3", "retired": True}],
         "service_points": [{"code": "P404", "transformer_area": "A1"}]},
    )
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "topology_refused",
        "message": "配网拓扑文档未导入：发现2处问题，未做任何修改",
        "fields": {
            "service_points.0.code": ["计量点P404不存在"],
            "transformer_areas.0.retired": ["台区A3退运后，计量点P4将失去所属台区；请先在文档中把它们迁到其他台区"],
        },
    }
    assert state() == before
    assert not TopologyImport.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "mode"),
        ({"mode": "replace"}, "mode"),
        ({"mode": "partial", "feeders": [{"code": "F 1"}]}, "feeders.0.code"),
        ({"mode": "partial", "transformer_areas": [{"code": "A1", "capacity_kva": -1}]}, "transformer_areas.0.capacity_kva"),
        ({"mode": "partial", "service_points": [{"code": "P1"}]}, "service_points.0.transformer_area"),
        ({"mode": "partial", "substations": [{"code": "S1", "name": "a\u0000b"}]}, "substations.0.name"),
    ],
)
def test_bad_payload_is_422_naming_the_field(client, grid, body, field):
    before = state()
    response = post(client, key_for(scopes.TOPOLOGY_WRITE), body)
    assert response.status_code == 422
    assert list(response.json()["error"]["fields"]) == [field]
    assert state() == before


def test_body_that_is_not_json_is_422(client):
    response = client.post(
        URL, data="mode=full", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key_for(scopes.TOPOLOGY_WRITE)}"
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_idempotency_key_replays_the_first_answer(client, grid):
    key = key_for(scopes.TOPOLOGY_WRITE)
    first = post(client, key, GROWTH, HTTP_IDEMPOTENCY_KEY="topo-2026-01-15")
    second = post(client, key, GROWTH, HTTP_IDEMPOTENCY_KEY="topo-2026-01-15")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert TopologyImport.objects.count() == 1


def test_the_same_document_without_a_key_changes_nothing_the_second_time(client, grid):
    key = key_for(scopes.TOPOLOGY_WRITE)
    post(client, key, GROWTH)
    after_first = state()
    second = post(client, key, GROWTH)
    assert second.status_code == 201
    assert second.json()["report"]["counts"] == {
        "created": 0, "updated": 0, "moved": 0, "retired": 0, "unchanged": 7, "accounts_remapped": 0
    }
    assert state() == after_first


def test_report_of_unknown_import_is_404(client):
    key = key_for(scopes.TOPOLOGY_READ)
    for import_id in ("999", str(2**63 - 1)):
        response = client.get(f"/api/v1/topology/imports/{import_id}/", HTTP_AUTHORIZATION=f"Bearer {key}")
        assert response.status_code == 404
        assert response.json()["error"] == {"code": "not_found", "message": "没有这次配网拓扑导入", "fields": {}}
    too_big = client.get(f"/api/v1/topology/imports/{2**63}/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert too_big.status_code == 422
    assert list(too_big.json()["error"]["fields"]) == ["import_id"]


def test_report_needs_the_read_scope(client, grid):
    record = TopologyImport.objects.create(mode="partial", status="applied", source="x", document_sha256="0" * 64)
    response = client.get(
        f"/api/v1/topology/imports/{record.pk}/", HTTP_AUTHORIZATION=f"Bearer {key_for(scopes.FINANCE_READ)}"
    )
    assert response.status_code == 403
