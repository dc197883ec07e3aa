"""The request id (config/request_id.py) through real requests: taken from a sane X-Request-ID, made otherwise, echoed
on every answer (redirects, errors, the API and the ASGI path included), kept in the API's request log, and gone
once the request is over."""
from __future__ import annotations

import io
import json
import logging
import logging.config
import re

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from config.logging import ACCESS_LOGGER, logging_config
from config.request_id import request_id_get, task_context_get
from integrations.models import ApiRequestLog

pytestmark = pytest.mark.django_db
NEW_ID = re.compile(r"[0-9a-f]{32}")


def test_an_answer_without_an_offered_id_gets_a_new_one_each_time(client):
    first, second = client.get("/healthz/"), client.get("/healthz/")

    assert NEW_ID.fullmatch(first["X-Request-ID"]) and NEW_ID.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize("offered", ["a", "lb-7f3a.2", "0f8fad5b-d9cb-469f-a165-70867728950e", "A_b-9" * 7 + "x"])
def test_a_sane_offered_id_is_kept_and_echoed(client, offered):
    response = client.get("/healthz/", HTTP_X_REQUEST_ID=offered)

    assert response["X-Request-ID"] == offered


@pytest.mark.parametrize("offered", [
    "", "x" * 37, "has space", 'quote"d', "semi;colon", "中文编号", "line\tbreak", "../../etc/passwd/",
])
def test_an_unsafe_or_overlong_offered_id_is_replaced(client, offered):
    response = client.get("/healthz/", HTTP_X_REQUEST_ID=offered)

    assert NEW_ID.fullmatch(response["X-Request-ID"])


def test_redirects_and_missing_pages_carry_the_id_too(client):
    redirect = client.get("/healthz", HTTP_X_REQUEST_ID="rq-redirect")
    missing = client.get("/portal/no-such-page/", HTTP_X_REQUEST_ID="rq-404")

    assert (redirect.status_code, redirect["X-Request-ID"]) == (301, "rq-redirect")
    assert (missing.status_code, missing["X-Request-ID"]) == (404, "rq-404")


def test_the_api_request_log_keeps_the_same_id_as_the_answer(client):
    offered = client.get("/api/v1/whoami/", HTTP_X_REQUEST_ID="acq-20261124-0002")
    made = client.get("/api/v1/whoami/")

    assert (offered.status_code, made.status_code) == (401, 401)
    assert list(ApiRequestLog.objects.order_by("id").values_list("request_id", flat=True)) == [
        "acq-20261124-0002", made["X-Request-ID"],
    ]


def test_the_id_is_gone_once_the_request_is_over(client):
    client.get("/healthz/", HTTP_X_REQUEST_ID="rq-over")

    assert request_id_get() == ""
    assert task_context_get() == ("", "")


def test_under_asgi_the_answer_and_its_log_line_carry_the_id(settings):
    stream = io.StringIO()
    config = logging_config(log_format="json", level="INFO", access_log=True)
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        response = async_to_sync(AsyncClient().get)("/healthz/", headers={"X-Request-ID": "asgi-1"})
    finally:
        logging.config.dictConfig(settings.LOGGING)

    assert (response.status_code, response["X-Request-ID"]) == (200, "asgi-1")
    [line] = [json.loads(raw) for raw in stream.getvalue().splitlines()]
    assert (line["logger"], line["request_id"], line["path"]) == (ACCESS_LOGGER, "asgi-1", "/healthz/")
