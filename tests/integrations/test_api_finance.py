"""GET /api/v1/finance/summary/: receivable, received and outstanding per branch and bill month."""
import pytest

from integrations import scopes
from integrations.clients import api_client_create
from tests.core.test_finance import book_build

pytestmark = pytest.mark.django_db
URL = "/api/v1/finance/summary/"


def key_for(*granted: str) -> str:
    return api_client_create(name="财务系统", system="finance", scopes=list(granted)).key


def get(client, key, **params):
    return client.get(URL, params, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_no_key_is_401(client):
    response = client.get(URL, {"period": "2026-01"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_wrong_scope_is_403(client):
    response = get(client, key_for(scopes.TOPOLOGY_READ), period="2026-01")
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "scope_missing",
        "message": "此密钥无权执行该操作（需要权限：finance:read 读取应收、实收、欠费（财务））",
        "fields": {},
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "period"),
        ({"period": "2026-13"}, "period"),
        ({"period": "202601"}, "period"),
        ({"period": "2026-01", "branch": ""}, "branch"),
        ({"period": "2026-01", "branch": "N0\u00001"}, "branch"),
    ],
)
def test_bad_query_is_422_naming_the_field(client, params, field):
    response = get(client, key_for(scopes.FINANCE_READ), **params)
    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "invalid_request"
    assert list(body["fields"]) == [field]


def test_month_the_calendar_lacks_is_422(client):
    response = get(client, key_for(scopes.FINANCE_READ), period="0000-01")
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "invalid_period",
        "message": "电费年月无效",
        "fields": {"period": ["电费年月应为YYYY-MM，例如2026-01"]},
    }


def test_unknown_branch_is_422(client):
    response = get(client, key_for(scopes.FINANCE_READ), period="2026-01", branch="X99")
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "unknown_branch",
        "message": "县公司编码X99不存在",
        "fields": {"branch": ["县公司编码不存在"]},
    }


def test_summary_for_every_branch(client, django_assert_max_num_queries):
    book_build()
    key = key_for(scopes.FINANCE_READ)
    # 14 for the key, the rate counter (the database cache in tests) and the request log; 4 for the figures.
    with django_assert_max_num_queries(18):
        response = get(client, key, period="2026-01")
    assert response.status_code == 200
    assert response.json() == {
        "period": "2026-01",
        "currency": "CNY",
        "branches": [
            {
                "code": "N01", "name": "恩施市", "bills": 4, "receivable": "480.44", "received": "148.00",
                "written_off": "80.00", "outstanding": "252.44", "late_fees": "2.00", "late_fees_received": "2.00",
                "late_fees_waived": "0.00", "collected": "120.00",
            },
            {
                "code": "N02", "name": "利川市", "bills": 1, "receivable": "300.00", "received": "0.00",
                "written_off": "0.00", "outstanding": "300.00", "late_fees": "6.00", "late_fees_received": "0.00",
                "late_fees_waived": "2.00", "collected": "0.00",
            },
            {
                "code": "N03", "name": "鹤峰县", "bills": 0, "receivable": "0.00", "received": "0.00",
                "written_off": "0.00", "outstanding": "0.00", "late_fees": "0.00", "late_fees_received": "0.00",
                "late_fees_waived": "0.00", "collected": "0.00",
            },
        ],
        "totals": {
            "bills": 5, "receivable": "780.44", "received": "148.00", "written_off": "80.00", "outstanding": "552.44",
            "late_fees": "8.00", "late_fees_received": "2.00", "late_fees_waived": "2.00", "collected": "120.00",
        },
    }


def test_summary_for_one_branch(client):
    book_build()
    response = get(client, key_for(scopes.FINANCE_READ), period="2026-01", branch="N02")
    assert response.status_code == 200
    body = response.json()
    assert [row["code"] for row in body["branches"]] == ["N02"]
    assert body["totals"]["outstanding"] == "300.00"
    assert body["totals"]["late_fees_waived"] == "2.00"


def test_schema_documents_the_endpoint(client):
    schema = client.get("/api/schema/").json()
    operation = schema["paths"][URL]["get"]
    assert [parameter["name"] for parameter in operation["parameters"]] == ["period", "branch"]
    assert set(operation["responses"]) >= {"200", "422"}
