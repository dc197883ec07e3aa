"""The statements every dashboard view and guest lookup runs are prepared once per PostgreSQL connection
(core/db.py cursor_prepared); elsewhere they run through Django's ordinary cursor. Either way they answer the
same and show in Django's query log."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.db import cursor_prepared
from core.selectors.portal_access import bindings_active_versioned
from core.selectors.portal_bills import account_data_version
from tests.portal.factories import AccountBindingFactory

pytestmark = pytest.mark.django_db


def prepared_statements(fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{fragment}%"])
        return cursor.fetchone()[0]


def test_the_dashboard_statement_answers_the_same_each_time_and_is_prepared_once():
    first = AccountBindingFactory(label="家")
    second = AccountBindingFactory(user=first.user)
    with CaptureQueriesContext(connection) as queries:
        answers = [bindings_active_versioned(user=first.user) for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert [(b.binding_id, b.label, b.account_number) for b in answers[0]] == [
        (first.pk, "家", first.account.number), (second.pk, "", second.account.number)]
    assert answers[0][0].data_version == account_data_version(account_id=first.account_id)[0]
    assert len(queries) == 3 and all("core_accountbinding" in query["sql"] for query in queries.captured_queries)
    if connection.vendor == "postgresql":
        assert prepared_statements('FROM "core_accountbinding" INNER JOIN "core_account"') == 1


def test_a_prepared_statement_takes_its_values_from_the_server_side_parameters():
    with cursor_prepared() as cursor:
        answers = []
        for value in (1, 41):
            cursor.execute("SELECT %s + 1", [value])
            answers.append(cursor.fetchone()[0])
    assert answers == [2, 42]
    if connection.vendor == "postgresql":
        assert prepared_statements("+ 1") == 1


def test_the_guest_lookups_two_reads_go_to_the_server_together(tmp_path):
    """The address's tries and the account are sent before either answer is awaited (one round trip on
    PostgreSQL); elsewhere they run one after the other. Either way the lookup answers the same."""
    from core.services.account_binding import bill_lookup_verify

    binding = AccountBindingFactory()
    account = binding.account
    trace = tmp_path / "protocol.trace"
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with open(trace, "w") as file:
            connection.connection.pgconn.trace(file.fileno())
            verified = bill_lookup_verify(account_number=account.number, holder_name=account.customer.name,
                                          ip_address="198.51.100.7")
            connection.connection.pgconn.untrace()
        messages = [line.split("\t")[1:4:2] for line in trace.read_text().splitlines()]
        first_answer = next(index for index, (side, _name) in enumerate(messages) if side == "B")
        sent_before = [name for side, name in messages[:first_answer] if side == "F"]
        assert sent_before.count("Execute") == 2, messages[:first_answer]
    else:
        verified = bill_lookup_verify(account_number=account.number, holder_name=account.customer.name,
                                      ip_address="198.51.100.7")
    assert verified.account_id == account.pk
    assert verified.data_version == account_data_version(account_id=account.pk)[0]
