"""Schemathesis against the published schema: every operation /api/schema/ lists (whoever added it) is called with
generated valid and invalid inputs through the Django WSGI app, with a key holding every scope. No answer may be
a server error, and every answer must be one the schema declares, in its declared content type and shape.

Kept short and repeatable for CI (which runs it on SQLite and again on PostgreSQL): a fixed seed, a bounded
number of examples per operation, no coverage phase, no example database."""
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
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
def api_schema(db, api_key):
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
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
    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_answers_as_documented(case):
    case.call_and_validate(checks=CHECKS)


@pytest.mark.django_db
def test_the_schema_lists_the_stable_entry_points(client):
    paths = client.get("/api/schema/").json()["paths"]
    assert "/api/v1/whoami/" in paths
    assert "/api/v1/callcenter/tickets/" in paths
