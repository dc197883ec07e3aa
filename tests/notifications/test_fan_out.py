"""Bulk outage fan-out: customers queued in batches after commit, each batch its own task, idempotent."""
import pytest

from core.models import Customer
from notifications import services
from notifications.errors import NotificationError
from notifications.models import InboxMessage, Message, SmsOptOut
from notifications.services import fan_out_batches, outage_notice_fan_out
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

OUTAGE = {"area": "舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00", "reason": "线路检修"}


def test_fan_out_batches_split_in_order():
    assert fan_out_batches(customer_ids=[1, 2, 3, 4, 5], size=2) == [[1, 2], [3, 4], [5]]


def test_three_hundred_customers_in_batches(frozen, monkeypatch, django_capture_on_commit_callbacks):
    Customer.objects.bulk_create(
        Customer(name=f"客户{n}", phone=f"139{n:08d}", email=f"c{n}@example.cn" if n % 3 == 0 else "")
        for n in range(300)
    )
    ids = list(Customer.objects.values_list("id", flat=True))
    SmsOptOut.objects.create(phone="13900000001", keyword="TD")
    monkeypatch.setattr(services, "FAN_OUT_BATCH_SIZE", 120)
    batches = []
    original = services.fan_out_batch_create
    monkeypatch.setattr(
        "notifications.tasks.fan_out_batch_create",
        lambda **kwargs: batches.append(len(kwargs["customer_ids"])) or original(**kwargs),
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert outage_notice_fan_out(customer_ids=ids, data=OUTAGE, idempotency_prefix="outage:42") == 300
    assert Message.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        callbacks[0]()

    assert batches == [120, 120, 60]
    counts = {
        (channel, state): Message.objects.filter(channel=channel, state=state).count()
        for channel, state in Message.objects.values_list("channel", "state").distinct()
    }
    # Outage notices are essential: the phone that replied TD still gets one; 100 customers have e-mail.
    assert counts == {("sms", "delivered"): 300, ("inbox", "delivered"): 300, ("email", "sent"): 100}
    assert InboxMessage.objects.count() == 300
    assert Message.objects.get(channel="sms", to="13900000007").body == (
        "【国网95598】因线路检修，舞阳坝街道将于11月28日 08:00至11月28日 18:00停电，请提前做好准备。"
    )

    with django_capture_on_commit_callbacks(execute=True):
        outage_notice_fan_out(customer_ids=ids, data=OUTAGE, idempotency_prefix="outage:42")
    assert Message.objects.count() == 700


def test_fan_out_over_accounts_notifies_each_customer_once(frozen, django_capture_on_commit_callbacks):
    first = AccountFactory()
    AccountFactory(customer=first.customer)
    AccountFactory()

    with django_capture_on_commit_callbacks(execute=True):
        count = outage_notice_fan_out(
            accounts=first.__class__.objects.all(), event="outage_restored", data=OUTAGE, idempotency_prefix="rs:1"
        )

    assert count == 2
    assert Message.objects.filter(channel="sms").count() == 2


def test_fan_out_needs_exactly_one_audience():
    with pytest.raises(NotificationError) as caught:
        outage_notice_fan_out(data=OUTAGE, idempotency_prefix="x")

    assert str(caught.value) == "必须且只能指定客户编号或用电户之一"
