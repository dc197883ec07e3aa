"""Found by the PostgreSQL restart fault test: a fan-out batch that failed on the database was acknowledged and gone,
and its customers never told. Tasks that create messages now retry on database errors, and the retry creates each
message once."""
from __future__ import annotations

import pytest
from django.db import OperationalError, connection

from notifications.models import Message
from notifications.tasks import (
    arrears_reminders_batch_task,
    arrears_reminders_task,
    fan_out_batch_task,
    fan_out_plan_task,
    ticket_event_notify_task,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

OUTAGE = {"area": "舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00", "reason": "线路检修"}


class FailFirstMessageInsert:
    """The database goes away once, at the batch's first write of messages (as PostgreSQL restarting would)."""

    def __init__(self) -> None:
        self.failures = 0

    def __call__(self, execute, sql, params, many, context):
        if self.failures == 0 and sql.startswith("INSERT") and "notifications_message" in sql:
            self.failures += 1
            raise OperationalError("terminating connection due to administrator command")
        return execute(sql, params, many, context)


def test_a_fan_out_batch_failing_on_the_database_is_retried_and_creates_each_message_once():
    customers = CustomerFactory.create_batch(3)
    refuse_once = FailFirstMessageInsert()
    # apply() as a worker runs it: the failure is not raised to the caller but turned into the task's retry, which
    # runs at once here (eager) instead of after its backoff.
    with connection.execute_wrapper(refuse_once):
        result = fan_out_batch_task.apply(kwargs={
            "customer_ids": [c.pk for c in customers], "event": "outage_planned", "data": OUTAGE,
            "idempotency_prefix": "retry-test", "urgency": "urgent"}, throw=False)
    assert refuse_once.failures == 1
    assert result.state == "SUCCESS"
    sent_to = sorted(Message.objects.filter(idempotency_key__startswith="retry-test")
                     .values_list("recipient_customer_id", "channel"))
    # Each customer once per channel (SMS and the portal inbox), as a batch that never failed would have made.
    assert sent_to == sorted((c.pk, channel) for c in customers for channel in ("inbox", "sms"))
    assert result.result == len(sent_to)


def test_the_tasks_that_create_messages_retry_on_database_errors():
    for task in (fan_out_plan_task, fan_out_batch_task, arrears_reminders_task, arrears_reminders_batch_task,
                 ticket_event_notify_task):
        assert OperationalError in task.autoretry_for, task.name
        assert task.max_retries == 10, task.name
