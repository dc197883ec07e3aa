"""POST /api/v1/readings/ (JSON and CSV) and POST /api/v1/meter-events/ through the real API: keys, scopes, bad
payloads, duplicates and each row's exact result."""
import datetime
import json
from decimal import Decimal as D

import pytest
from django.test import Client
from django.utils import timezone

from core.models import MeterEvent, MeterReading, Outage, OutageKind
from integrations.clients import api_client_create
from integrations.models import IdempotentResponse
from integrations.scopes import METER_EVENTS_WRITE, READINGS_WRITE, TOPOLOGY_READ
from tests.factories import BranchFactory, FeederFactory, MeterFactory, SubstationFactory, TransformerAreaFactory

pytestmark = pytest.mark.django_db
READINGS = "/api/v1/readings/"
EVENTS = "/api/v1/meter-events/"


@pytest.fixture
def key():
    return api_client_create(name="采集主站", system="acquisition", scopes=[READINGS_WRITE, METER_EVENTS_WRITE]).key


def auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def post_json(key, path, body, **extra):
    return Client().post(path, data=json.dumps(body), content_type="application/json", **auth(key), **extra)


def post_csv(key, text, query="", **extra):
    return Client().post(READINGS + query, data=text.encode(), content_type="text/csv", **auth(key), **extra)


@pytest.fixture
def meters():
    MeterFactory(asset_number="A1", initial_reading=D("100"))
    MeterFactory(asset_number="A2", initial_reading=D("500"), tou_capable=True)


def test_no_key_is_401_and_a_key_without_the_scope_is_403(meters):
    body = {"readings": [{"meter": "A1", "read_on": "2026-01-31", "total": "150"}]}
    assert Client().post(READINGS, data=json.dumps(body), content_type="application/json").status_code == 401
    other = api_client_create(name="配网", system="distribution", scopes=[TOPOLOGY_READ]).key
    response = post_json(other, READINGS, body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "scope_missing"
    events = {"events": [{"meter": "A1", "kind": "power_off", "occurred_at": timezone.now().isoformat()}]}
    assert post_json(other, EVENTS, events).status_code == 403
    assert Client().post(EVENTS, data=json.dumps(events), content_type="application/json").status_code == 401
    assert MeterReading.objects.count() == MeterEvent.objects.count() == 0


def test_json_readings_get_a_result_per_row(key, meters):
    body = {"source": "ami", "readings": [
        {"meter": "A1", "read_on": "2026-01-31", "total": 250.25},
        {"meter": "A1", "read_on": "2026-01-31", "total": "250.25"},
        {"meter": "ZZ", "read_on": "2026-01-31", "total": 1},
        {"meter": "A2", "read_on": "2026-01-31", "total": "400"},
        {"meter": "A2", "read_on": "2026-01-31", "total": 700, "peak": 400, "valley": 300},
        {"meter": "A1", "read_on": "2026-02-28", "total": "260.123"},
    ]}
    response = post_json(key, READINGS, body)
    assert response.status_code == 200
    result = response.json()
    ids = dict(MeterReading.objects.values_list("meter__asset_number", "pk"))
    assert result == {
        "source": "ami", "accepted": 2, "duplicates": 1, "rejected": 3,
        "rows": [
            {"row": 1, "status": "accepted", "reason": "", "reading_id": ids["A1"]},
            {"row": 2, "status": "duplicate", "reason": "", "reading_id": ids["A1"]},
            {"row": 3, "status": "rejected", "reason": "电能表ZZ不存在", "reading_id": None},
            {"row": 4, "status": "rejected", "reason": "本次示数小于上次示数", "reading_id": None},
            {"row": 5, "status": "accepted", "reason": "", "reading_id": ids["A2"]},
            {"row": 6, "status": "rejected", "reason": "总示数最多保留两位小数", "reading_id": None},
        ],
    }
    # A JSON number is read as the decimal it spells: 250.25 - 100 = 150.25 kWh exactly.
    assert sorted(MeterReading.objects.values_list("meter__asset_number", "consumption", "source")) == [
        ("A1", D("150.25"), "ami"), ("A2", D("200.00"), "ami"),
    ]


def test_csv_readings_are_numbered_by_line(key, meters):
    text = "meter,read_on,total,peak,valley\nA1,2026-01-31,180,,\nA2,2026-01-31,600,350,250\nA2,2026-02-01,590,,\n"
    response = post_csv(key, text, "?source=manual")
    assert response.status_code == 200
    result = response.json()
    assert (result["source"], result["accepted"], result["rejected"]) == ("manual", 2, 1)
    assert [(row["row"], row["status"], row["reason"]) for row in result["rows"]] == [
        (2, "accepted", ""), (3, "accepted", ""), (4, "rejected", "本次示数小于上次示数"),
    ]
    reading = MeterReading.objects.get(meter__asset_number="A2")
    assert (reading.source, reading.peak, reading.valley, reading.consumption) == (
        "manual", D("350.00"), D("250.00"), D("100.00"))
    # The same file again: every row a duplicate, nothing new.
    again = post_csv(key, text, "?source=manual").json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 2, 1)
    assert MeterReading.objects.count() == 2


@pytest.mark.parametrize("body, field", [
    ({}, "readings"),
    ({"readings": []}, "readings"),
    ({"readings": [{"meter": "A1", "read_on": "2026-01-31"}]}, "readings.0.total"),
    ({"source": "install", "readings": [{"meter": "A1", "read_on": "2026-01-31", "total": 1}]}, "source"),
    ({"readings": [{"meter": "", "read_on": "2026-01-31", "total": 1}]}, "readings.0.meter"),
    ([1, 2], "__all__"),
])
def test_bad_json_payloads_are_422_naming_the_field(key, meters, body, field):
    response = post_json(key, READINGS, body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("invalid_request", "请求内容有误")
    assert field in error["fields"]
    assert MeterReading.objects.count() == 0


def test_broken_json_and_other_media_types_are_refused(key):
    response = Client().post(READINGS, data=b"{not json", content_type="application/json", **auth(key))
    assert (response.status_code, response.json()["error"]["fields"]) == (422, {"__all__": ["请求体应为JSON对象"]})
    response = Client().post(READINGS, data=b"x", content_type="text/plain", **auth(key))
    assert (response.status_code, response.json()["error"]["code"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize("text, query, field, message", [
    ("meter,total\nA1,1\n", "", "header", "缺少列：read_on"),
    ("meter,read_on,total,colour\nA1,2026-01-31,1,red\n", "", "header", "未知的列：colour"),
    ("meter,read_on,total\n", "", "readings", "没有数据行"),
    ("meter,read_on,total\nA1,2026-01-31,1,extra\n", "", "line 2", "列数多于表头"),
    ("meter,read_on,total\nA1,2026-01-31,1\n", "?source=install", "source", "取值不在允许范围内"),
])
def test_bad_csv_is_422_and_changes_nothing(key, meters, text, query, field, message):
    response = post_csv(key, text, query)
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {field: [message]}
    assert MeterReading.objects.count() == 0


def test_csv_that_is_not_utf8_is_refused(key):
    response = Client().post(READINGS, data="meter,read_on,total\n表,2026-01-31,1\n".encode("gbk"),
                             content_type="text/csv", **auth(key))
    assert (response.status_code, response.json()["error"]["fields"]) == (422, {"__all__": ["CSV文件应为UTF-8编码"]})


def test_an_idempotency_key_replays_the_first_answer(key, meters):
    body = {"readings": [{"meter": "A1", "read_on": "2026-01-31", "total": "150"}]}
    first = post_json(key, READINGS, body, HTTP_IDEMPOTENCY_KEY="push-1")
    second = post_json(key, READINGS, body, HTTP_IDEMPOTENCY_KEY="push-1")
    assert first.json() == second.json()
    assert first.json()["accepted"] == 1
    assert second["Idempotent-Replayed"] == "true"
    assert (MeterReading.objects.count(), IdempotentResponse.objects.count()) == (1, 1)


def test_meter_events_mark_an_area_outage(key):
    branch = BranchFactory()
    area = TransformerAreaFactory(feeder=FeederFactory(substation=SubstationFactory(branch=branch)), name="城东台区")
    for n in range(1, 5):
        MeterFactory(asset_number=f"E{n}", service_point__transformer_area=area,
                     service_point__account__station__branch=branch)
    now = timezone.now().replace(microsecond=0)
    off = (now - datetime.timedelta(minutes=10)).isoformat()
    body = {"source": "acquisition", "events": [
        {"meter": "E1", "kind": "power_off", "occurred_at": off},
        {"meter": "E2", "kind": "power_off", "occurred_at": off},
        {"meter": "E3", "kind": "power_off", "occurred_at": off},
        {"meter": "E3", "kind": "power_off", "occurred_at": off},
        {"meter": "E4", "kind": "flicker", "occurred_at": off},
        {"meter": "E4", "kind": "power_off", "occurred_at": "2026-11-23 08:00"},
    ]}
    response = post_json(key, EVENTS, body)
    assert response.status_code == 200
    result = response.json()
    outage = Outage.objects.get()
    events = dict(MeterEvent.objects.values_list("meter__asset_number", "pk"))
    assert result["rows"] == [
        {"row": 1, "status": "accepted", "reason": "", "event_id": events["E1"]},
        {"row": 2, "status": "accepted", "reason": "", "event_id": events["E2"]},
        {"row": 3, "status": "accepted", "reason": "", "event_id": events["E3"]},
        {"row": 4, "status": "duplicate", "reason": "", "event_id": events["E3"]},
        {"row": 5, "status": "rejected", "reason": "未知的事件类型：flicker", "event_id": None},
        {"row": 6, "status": "rejected", "reason": "发生时间须带时区", "event_id": None},
    ]
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (3, 1, 2)
    assert outage.kind == OutageKind.FAULT
    assert result["outages_marked"] == [{
        "id": outage.pk, "title": "城东台区故障停电",
        "starts_at": timezone.localtime(outage.starts_at).isoformat(),
        "ends_at": timezone.localtime(outage.ends_at).isoformat(),
    }]
    assert (result["outages_restored"], result["tickets_closed"], result["tickets_left"]) == ([], [], [])
    # Sent again: all duplicates, still one outage.
    again = post_json(key, EVENTS, body).json()
    assert (again["accepted"], again["duplicates"], again["outages_marked"]) == (0, 4, [])
    assert Outage.objects.count() == 1


@pytest.mark.parametrize("body, field", [
    ({"events": []}, "events"),
    ({"source": "scada", "events": [{"meter": "E1", "kind": "power_off", "occurred_at": "x"}]}, "source"),
    ({"events": [{"meter": "E1", "kind": "power_off"}]}, "events.0.occurred_at"),
])
def test_bad_meter_event_payloads_are_422_naming_the_field(key, body, field):
    response = post_json(key, EVENTS, body)
    assert response.status_code == 422
    assert field in response.json()["error"]["fields"]
    assert MeterEvent.objects.count() == 0


def test_the_schema_documents_both_bodies(key):
    operation = Client().get("/api/schema/").json()["paths"][READINGS]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) == {"application/json", "text/csv"}
    assert "$ref" not in json.dumps(content)
    assert {"200", "401", "403", "413", "415", "422", "429"} <= set(operation["responses"])
