"""Schemathesis against the published schema: every operation /api/schema/ lists (whoever added it) is called with
generated valid and invalid inputs through the Django WSGI app, with a key holding every scope. No answer may be
a server error, and every answer must be one the schema declares, in its declared content type and shape.

Kept short and repeatable for CI (which runs it on SQLite and again on PostgreSQL): a fixed seed, a bounded
number of examples per operation, no coverage phase, no example database."""
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from integrations.clients import api_client_create
from integrations.scopes import SCOPES

SEED = 95598
EXAMPLES_PER_OPERATION = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_key(db) -> str:
    """A key holding every scope, with a limit no fuzz run reaches (429s would hide what is under them)."""
    return api_client_create(
        name="fuzz", system="other", scopes=list(SCOPES), rate_limit_per_minute=1_000_000
    ).key


@pytest.fixture
def wsgi_app(db):
    """The project's WSGI app, called in the test's own transaction: like django.test.Client, it must not close
    the database connection at the end of each request (PostgreSQL would then need a new one, which an open
    atomic block refuses)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(wsgi_app, api_key):
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            # The only health check that hangs on the clock, not the inputs: a busy CI machine must not fail it.
            "suppress-health-check": ["too_slow"],
            "headers": {"Authorization": f"Bearer {api_key}"},
            "generation": {
                "max-examples": EXAMPLES_PER_OPERATION,
                "deterministic": True,
                "database": "none",
                "with-security-parameters": False,
            },
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_answers_as_documented(case):
    case.call_and_validate(checks=CHECKS)


@pytest.mark.django_db
def test_the_schema_lists_the_stable_entry_points(client):
    paths = client.get("/api/schema/").json()["paths"]
    assert "post" in paths["/api/v1/readings/"]
    assert "get" in paths["/api/v1/whoami/"]
    assert set(paths["/api/v1/callcenter/tickets/"]) == {"get", "post"}
