"""The engine under real concurrency: threads, each on its own database connection, against the committed test
database. The same tests run on SQLite and PostgreSQL (CI runs the suite on both).

SQLite's in-memory test database is shared between connections through its shared cache, where a writer that
finds the database busy fails at once with "database table is locked" instead of waiting out the busy timeout
as the file database does in production. `_waiting_out_sqlite_locks` stands in for that wait by starting the
call again; on PostgreSQL it never retries, and the row locks alone decide the outcome.
"""
import threading
import time

import pytest
from django.db import OperationalError, connection, connections

from core.errors import StepNotActive
from core.models import TicketDaySequence, TicketEvent, TicketStep
from core.services.tickets import ticket_open, ticket_step_submit
from tests.factories import AccountFactory
from tests.ticket_factories import TEST_BUSINESS_TYPE, local, sample_process, staff_user

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

MONDAY = local(2026, 11, 23, 10)


def _waiting_out_sqlite_locks(call):
    for _attempt in range(2000):
        try:
            return call()
        except OperationalError as error:
            if connection.vendor != "sqlite" or "locked" not in str(error):
                raise
            time.sleep(0.005)
    raise AssertionError("SQLite stayed locked for 10 s")


def run_together(calls):
    """Start every call at the same moment, each in its own thread; (results, errors) in call order."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = _waiting_out_sqlite_locks(call)
        except Exception as error:  # collected for the test to assert on
            errors[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


def _open(account, **kwargs):
    return lambda: ticket_open(
        business_type=TEST_BUSINESS_TYPE, channel="ivr", summary="电表停走", account=account, at=MONDAY, **kwargs
    )


def test_concurrent_openers_get_distinct_consecutive_numbers():
    sample_process()
    account = AccountFactory()

    tickets, errors = run_together([_open(account) for _ in range(8)])

    assert errors == [None] * 8
    assert sorted(t.number for t in tickets) == [f"2611230{n:04d}" for n in range(1, 9)]
    assert TicketDaySequence.objects.get().last == 8


def test_concurrent_opens_with_one_idempotency_key_make_one_ticket():
    sample_process()
    account = AccountFactory()

    tickets, errors = run_together([_open(account, idempotency_key="ivr-call-7") for _ in range(4)])

    assert errors == [None] * 4
    assert len({t.pk for t in tickets}) == 1
    assert TicketEvent.objects.filter(kind="opened").count() == 1


def test_two_people_submitting_one_step_at_once_exactly_one_succeeds():
    sample_process()
    account = AccountFactory()
    first, second = staff_user("agent", account.branch), staff_user("agent", account.branch)
    ticket = ticket_open(business_type=TEST_BUSINESS_TYPE, channel="agent", summary="电表走快", account=account,
                         at=MONDAY)
    step_id = ticket.current_step_id

    results, errors = run_together([
        lambda user=user: ticket_step_submit(step_id=step_id, user=user, data={"category": "fast"}, at=MONDAY)
        for user in (first, second)
    ])

    assert sum(result is not None for result in results) == 1
    assert [type(error) for error in errors if error is not None] == [StepNotActive]
    assert TicketEvent.objects.filter(ticket=ticket, kind="submitted").count() == 1
    assert list(TicketStep.objects.filter(ticket=ticket).values_list("step_definition__code", "state")
                .order_by("sequence")) == [("accept", "completed"), ("archive", "active")]
