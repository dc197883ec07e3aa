"""The domain's monitoring figures (core.selectors.operational_metrics): each counted by the database in one query
per record type, with exact definitions of open, overdue, waiting, pending and posted."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from core.models import Call, CallState, CallTransport, Payment
from core.selectors.operational_metrics import NotificationsPending, operational_figures
from core.services.payments import payment_post, payment_reverse
from core.services.tickets import ticket_cancel, ticket_open, ticket_suspend
from notifications.models import Message
from tests.factories import AccountFactory, BranchFactory, CustomerFactory
from tests.ticket_factories import TEST_BUSINESS_TYPE, local, sample_process, staff_user, supervisor_user

pytestmark = pytest.mark.django_db

# Monday 23 November 2026: the accept step (1 working day) of a ticket opened at 09:00 falls due Tuesday 09:00.
OPENED = local(2026, 11, 23, 9)
BEFORE_DUE = local(2026, 11, 24, 8, 59)
AFTER_DUE = local(2026, 11, 24, 9, 1)


def ticket(branch, summary="电能表走快", at=OPENED):
    return ticket_open(business_type=TEST_BUSINESS_TYPE, channel="agent", summary=summary, branch=branch, at=at)


def queued_call(key: str, *, queued_at: datetime.datetime, state: str = CallState.QUEUED) -> Call:
    return Call.objects.create(
        transport=CallTransport.ASTERISK, call_key=key, caller_number="13800000000", dialled_number="95598",
        state=state, queue="hotline", started_at=queued_at - datetime.timedelta(seconds=30), queued_at=queued_at,
    )


def message(customer, key: str, state: str, attempts: int) -> Message:
    return Message.objects.create(
        channel="sms", event="payment_received", recipient_customer=customer, to=customer.phone,
        language="zh-hans", body="【国网95598】缴费到账", idempotency_key=key, state=state, attempts=attempts,
    )


@pytest.fixture
def memory_cache(settings):
    """The payments' checkpoint in a cache that is not the database's, so that queries count the same on both CI
    passes (SQLite's pass caches in the database, PostgreSQL's in Redis)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "operational-metrics"}}
    from django.core.cache import cache

    cache.clear()


def test_an_empty_platform_counts_zero_everywhere_in_five_queries_then_four(memory_cache, django_assert_num_queries):
    with django_assert_num_queries(5):
        operational_figures(now=AFTER_DUE)
    with django_assert_num_queries(4):
        figures = operational_figures(now=AFTER_DUE)

    assert figures.tickets_open == figures.tickets_overdue == 0
    assert (figures.calls_waiting, figures.calls_waiting_oldest_seconds) == (0, 0)
    assert figures.notifications_pending == NotificationsPending(queued=0, retrying=0, held=0, sending=0)
    assert (figures.payments_posted_today, figures.payments_posted_today_amount) == (0, Decimal("0.00"))
    assert (figures.payments_posted_total, figures.payments_posted_total_amount) == (0, Decimal("0.00"))


def test_tickets_open_and_overdue_follow_the_current_step_due_time():
    branch = BranchFactory()
    sample_process()
    ticket(branch, "第一张")
    ticket(branch, "第二张")
    suspended = ticket(branch, "挂起的")
    cancelled = ticket(branch, "撤销的")
    ticket_suspend(ticket_id=suspended.pk, user=staff_user("agent", branch), reason="等待客户补充资料", at=OPENED)
    ticket_cancel(ticket_id=cancelled.pk, reason="客户撤回", user=supervisor_user(branch), at=OPENED)

    before, after = operational_figures(now=BEFORE_DUE), operational_figures(now=AFTER_DUE)

    # The suspended ticket's clock is stopped and the cancelled one is finished: neither is open or overdue.
    assert (before.tickets_open, before.tickets_overdue) == (2, 0)
    assert (after.tickets_open, after.tickets_overdue) == (2, 2)


def test_calls_waiting_are_the_queued_and_ringing_ones_within_the_wallboard_horizon():
    now = local(2026, 11, 24, 10)
    queued_call("a", queued_at=now - datetime.timedelta(seconds=95))
    queued_call("b", queued_at=now - datetime.timedelta(seconds=20), state=CallState.RINGING)
    queued_call("talking", queued_at=now - datetime.timedelta(seconds=300), state=CallState.TALKING)
    # Still "queued" after 13 hours: its hang-up was lost, nobody is waiting.
    queued_call("lost", queued_at=now - datetime.timedelta(hours=13))

    figures = operational_figures(now=now)

    assert (figures.calls_waiting, figures.calls_waiting_oldest_seconds) == (2, 95)


def test_notifications_pending_by_where_they_stand():
    customer = CustomerFactory()
    message(customer, "q1", Message.State.PENDING, 0)
    message(customer, "q2", Message.State.PENDING, 0)
    message(customer, "r1", Message.State.PENDING, 2)
    message(customer, "h1", Message.State.HELD, 0)
    message(customer, "s1", Message.State.SENDING, 1)
    for done, state in enumerate((Message.State.SENT, Message.State.DELIVERED, Message.State.FAILED,
                                  Message.State.DEAD)):
        message(customer, f"done{done}", state, 1)

    figures = operational_figures(now=AFTER_DUE)

    assert figures.notifications_pending == NotificationsPending(queued=2, retrying=1, held=1, sending=1)


def test_payments_posted_today_is_the_beijing_day_and_the_totals_keep_reversed_ones():
    account = AccountFactory()
    now = local(2026, 11, 24, 10)
    # 23:59 yesterday and 00:00 today in Beijing (15:59 and 16:00 UTC): the day boundary is Beijing's.
    yesterday = payment_post(account=account, amount="50.00", channel="counter", idempotency_key="y1",
                             received_at=local(2026, 11, 23, 23, 59))
    payment_post(account=account, amount="120.50", channel="counter", idempotency_key="t1",
                 received_at=local(2026, 11, 24, 0, 0))
    payment_post(account=account, amount="0.01", channel="online", idempotency_key="t2",
                 received_at=local(2026, 11, 24, 9, 30))
    payment_reverse(payment=yesterday.payment, user=staff_user("counter_clerk"), reason="银行退票")
    assert Payment.objects.get(idempotency_key="y1").status == Payment.Status.REVERSED

    figures = operational_figures(now=now)

    assert (figures.payments_posted_today, figures.payments_posted_today_amount) == (2, Decimal("120.51"))
    assert (figures.payments_posted_total, figures.payments_posted_total_amount) == (3, Decimal("170.51"))
    assert isinstance(figures.payments_posted_total_amount, Decimal)


def test_a_busy_platform_still_costs_four_queries(memory_cache, django_assert_num_queries):
    branch = BranchFactory()
    sample_process()
    customer = CustomerFactory()
    account = AccountFactory(customer=customer)
    now = local(2026, 11, 24, 10)
    for n in range(5):
        ticket(branch, f"工单{n}")
        queued_call(f"c{n}", queued_at=now - datetime.timedelta(seconds=n + 1))
        message(customer, f"m{n}", Message.State.PENDING, n % 2)
        payment_post(account=account, amount="10.00", channel="counter", idempotency_key=f"p{n}",
                     received_at=now - datetime.timedelta(minutes=n))

    operational_figures(now=now)
    with django_assert_num_queries(4):
        figures = operational_figures(now=now)

    assert (figures.tickets_open, figures.calls_waiting, figures.payments_posted_today) == (5, 5, 5)
    assert figures.notifications_pending == NotificationsPending(queued=3, retrying=2, held=0, sending=0)


def test_the_totals_add_the_payments_after_the_hourly_checkpoint_to_it(memory_cache, django_assert_num_queries):
    from django.core.cache import cache

    from core.selectors.operational_metrics import PAYMENTS_CHECKPOINT_KEY

    account = AccountFactory()
    now = local(2026, 11, 24, 10)
    payment_post(account=account, amount="30.00", channel="counter", idempotency_key="old1",
                 received_at=local(2026, 10, 1, 9))
    payment_post(account=account, amount="12.34", channel="counter", idempotency_key="old2",
                 received_at=local(2026, 11, 24, 9))
    assert operational_figures(now=now).payments_posted_total == 2
    checkpoint = cache.get(PAYMENTS_CHECKPOINT_KEY)
    assert (checkpoint["count"], checkpoint["amount"]) == (2, "42.34")
    # After the checkpoint: a bank file's payment received last month and one of today.
    payment_post(account=account, amount="100.00", channel="bank_collection", idempotency_key="new1",
                 received_at=local(2026, 10, 31, 18))
    payment_post(account=account, amount="0.66", channel="online", idempotency_key="new2",
                 received_at=local(2026, 11, 24, 9, 59))

    with django_assert_num_queries(4):
        figures = operational_figures(now=now)

    assert (figures.payments_posted_total, figures.payments_posted_total_amount) == (4, Decimal("143.00"))
    assert (figures.payments_posted_today, figures.payments_posted_today_amount) == (2, Decimal("13.00"))
    assert cache.get(PAYMENTS_CHECKPOINT_KEY) == checkpoint
    # The next checkpoint (the hour over) takes them all in, with the same totals.
    cache.delete(PAYMENTS_CHECKPOINT_KEY)
    again = operational_figures(now=now)
    assert (again.payments_posted_total, again.payments_posted_total_amount) == (4, Decimal("143.00"))
    assert cache.get(PAYMENTS_CHECKPOINT_KEY)["count"] == 4
