"""Arrears reminders (催费) at the configured days before and after the due date, once per bill and offset."""
import datetime
from decimal import Decimal as D

import pytest

from core.models import Bill
from notifications.models import Message
from notifications.reminders import arrears_reminder_plan
from notifications.tasks import arrears_reminders_task
from tests.factories import AccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 11, 23)


def bill(due_date, *, total="123.45", paid="0.00", state=Bill.State.ISSUED, kind=Bill.Kind.REGULAR, phone=None):
    account = AccountFactory(customer=CustomerFactory(**({"phone": phone} if phone else {})))
    return Bill.objects.create(
        number=f"B{Bill.objects.count():06d}", account=account, period=datetime.date(2026, 10, 1), kind=kind,
        tariff_version=account.tariff.versions.first(), issued_on=datetime.date(2026, 11, 1), due_date=due_date,
        kwh=D("200.00"), total=D(total), amount_paid=D(paid), state=state,
    )


def test_plan_picks_unpaid_bills_three_days_before_and_one_and_seven_after(settings):
    settings.NOTIFICATIONS_ARREARS_REMINDER_DAYS_BEFORE = [3]
    settings.NOTIFICATIONS_ARREARS_REMINDER_DAYS_AFTER = [1, 7]
    before = bill(datetime.date(2026, 11, 26))
    bill(datetime.date(2026, 11, 26), state=Bill.State.PAID, paid="123.45")
    bill(datetime.date(2026, 11, 25))
    after_one = bill(datetime.date(2026, 11, 22), state=Bill.State.OVERDUE)
    after_seven = bill(datetime.date(2026, 11, 16), state=Bill.State.PARTLY_PAID, paid="23.45")
    bill(datetime.date(2026, 11, 16), kind=Bill.Kind.CREDIT_NOTE)

    assert arrears_reminder_plan(on=TODAY) == [(before.pk, -3), (after_one.pk, 1), (after_seven.pk, 7)]


def test_daily_task_sends_each_reminder_once(frozen, django_capture_on_commit_callbacks):
    before = bill(datetime.date(2026, 11, 26), phone="13800000001")
    after = bill(datetime.date(2026, 11, 16), state=Bill.State.PARTLY_PAID, paid="23.45", phone="13800000002")

    for _run in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert arrears_reminders_task(on="2026-11-23") == 2

    sms = {m.to: m for m in Message.objects.filter(channel="sms")}
    assert Message.objects.count() == 4
    assert sms["13800000001"].idempotency_key == f"arrears:{before.pk}:-3"
    assert sms["13800000001"].body == (
        f"【国网95598】户号{before.account.number}电费123.45元将于2026-11-26到期，请及时缴纳。"
    )
    assert sms["13800000002"].idempotency_key == f"arrears:{after.pk}:+7"
    assert sms["13800000002"].body == (
        f"【国网95598】户号{after.account.number}已欠费100.00元（到期日2026-11-16），逾期将产生违约金，请尽快缴纳。"
    )
    assert {m.state for m in sms.values()} == {"delivered"}
    # Each reminder is about its bill's account (the portal inbox shows it to those who bound that account).
    assert {m.to: m.account_id for m in Message.objects.all() if m.channel == "sms"} == {
        "13800000001": before.account_id, "13800000002": after.account_id,
    }
    assert {m.account_id for m in Message.objects.filter(channel="inbox")} == {before.account_id, after.account_id}
