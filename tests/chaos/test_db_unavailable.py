"""A database that is down answers 503 with the translated retry page (JSON under /api/), never a 500 or a
traceback; other errors are not disguised as it. The outage is made real at the cursor: every query of the request's
connection fails the way psycopg does when PostgreSQL restarts."""
from __future__ import annotations

import json

import pytest
from django.db import OperationalError, ProgrammingError, connection

from tests.factories import CustomerFactory

RETRY_TITLE = "系统繁忙，请稍后重试"


def _refuse(execute, sql, params, many, context):
    raise OperationalError("terminating connection due to administrator command")


def _broken_sql(execute, sql, params, many, context):
    raise ProgrammingError('relation "core_customer" does not exist')


def _assert_retry_page(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Type"] == "text/html; charset=utf-8"
    body = response.content.decode()
    assert f"<h1>{RETRY_TITLE}</h1>" in body
    assert '<meta http-equiv="refresh" content="5">' in body
    assert "页面将在 5 秒后自动刷新" in body
    assert "Traceback" not in body and "OperationalError" not in body and "administrator command" not in body


@pytest.mark.django_db
def test_a_query_failing_in_the_view_answers_the_retry_page(client):
    """The home page (a Wagtail page looked up in the view): the error reaches process_exception, so nothing is
    re-raised (the test client would raise it if Django had logged an uncaught exception)."""
    with connection.execute_wrapper(_refuse):
        response = client.get("/")
    _assert_retry_page(response)
    assert '<a href="/">立即重试</a>' in response.content.decode()


@pytest.mark.django_db
def test_a_query_failing_in_a_middleware_answers_the_retry_page(client):
    """An address no view serves: the 404 goes through Wagtail's redirect middleware, whose query fails outside any
    view; Django has already made that a 500 when it comes back up, and it is answered as the retry page."""
    client.raise_request_exception = False
    with connection.execute_wrapper(_refuse):
        response = client.get("/missing.txt")
    _assert_retry_page(response)


@pytest.mark.django_db
def test_a_signed_in_customers_page_answers_the_retry_page(client):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="chaos-customer", password="x-Secret-123")
    CustomerFactory()
    client.force_login(user)
    client.raise_request_exception = False
    with connection.execute_wrapper(_refuse):
        response = client.get("/portal/")
    _assert_retry_page(response)


@pytest.mark.django_db
def test_the_api_answers_its_json_error_body_with_503(client):
    with connection.execute_wrapper(_refuse):
        response = client.get("/api/v1/whoami/", headers={"authorization": "Bearer prefix.secret"})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "error": {"code": "service_unavailable", "message": RETRY_TITLE, "fields": {}}
    }


@pytest.mark.django_db
def test_other_database_errors_stay_server_errors(client):
    """A broken query is a bug, not an outage: retrying would not help, so it is not dressed as one."""
    client.raise_request_exception = False
    with connection.execute_wrapper(_broken_sql):
        response = client.get("/")
    assert response.status_code == 500
    assert "Retry-After" not in response


@pytest.mark.django_db
def test_requests_with_the_database_up_are_untouched(client):
    response = client.get("/bill/lookup/")
    assert response.status_code == 200
    assert "Retry-After" not in response
