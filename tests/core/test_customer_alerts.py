"""The daily customer-alert scan: a tier crossing near (once per binding, tier period and tier about to be entered,
only if asked for) and a smart-prepaid balance under the binding's threshold (once until topped up above it), texted
to the binding's portal user (the portal inbox when that user has no verified mobile)."""
from __future__ import annotations

import datetime
from decimal import Decimal as D

import pytest
from django.utils import timezone

from core.models import Account, AccountBinding, MeterReading, Payment
from core.services.customer_alerts import customer_alerts_scan
from core.signals import customer_alerts_raised
from core.services.payments import payment_post
from core.services.readings import reading_record
from core.tasks import customer_alerts_scan as customer_alerts_scan_task
from notifications.customer_alerts import customer_alerts_notify
from notifications.models import Channel, InboxMessage, Message, SmsOptOut
from portal.models import UserPhone
from tests.factories import AccountFactory, MeterFactory
from tests.portal.factories import AccountBindingFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 3, 20)
FIRST_READ = datetime.date(2026, 2, 19)  # 30 daily readings up to AS_OF (February 2026 has 28 days)


def daily_readings(account: Account, kwh_per_day: int, days: int = 30, meter=None):
    """Readings from FIRST_READ for `days` days (30: up to AS_OF); pass the meter back to read on from there."""
    meter = meter or MeterFactory(service_point__account=account)
    already = MeterReading.objects.filter(meter=meter).count()
    for offset in range(already, already + days):
        reading_record(meter=meter, read_on=FIRST_READ + datetime.timedelta(days=offset),
                       total=D(kwh_per_day * (offset + 1)), source=MeterReading.Source.AMI)
    return meter


def mobile(binding: AccountBinding, phone: str, *, verified: bool = True) -> str:
    """Give the binding's portal user a sign-in mobile, the way allauth's adapter stores it."""
    UserPhone.objects.create(user=binding.user, phone=phone, verified_at=timezone.now() if verified else None)
    return phone


def sms_to() -> list[str]:
    return list(Message.objects.filter(channel=Channel.SMS).order_by("pk").values_list("to", flat=True))


@pytest.fixture
def raised():
    """The alerts the scan raises (after commit), in the order raised (each signal carries a chunk's)."""
    seen: list[dict] = []

    def receiver(sender, alerts, **kwargs):
        seen.extend(alerts)

    customer_alerts_raised.connect(receiver, dispatch_uid="test-customer-alerts")
    yield seen
    customer_alerts_raised.disconnect(dispatch_uid="test-customer-alerts")


def of_bindings(raised: list[dict]) -> list[dict]:
    """The alerts raised for bindings (the holder's own 智能交费 alert left out)."""
    return [alert for alert in raised if alert["binding_id"] is not None]


def scan(capture, as_of=AS_OF):
    with capture(execute=True):
        return customer_alerts_scan(as_of=as_of)


@pytest.fixture
def near_tier_two():
    """8 kWh a day: 160 kWh of March read by the 20th, 20 kWh short of tier 2, which starts on the 23rd."""
    binding = AccountBindingFactory()
    daily_readings(binding.account, 8)
    return binding


def test_a_tier_crossing_within_a_week_is_told_once(near_tier_two, raised,
                                                               django_capture_on_commit_callbacks):
    result = scan(django_capture_on_commit_callbacks)
    assert (result.bindings_checked, result.tier_alerts, result.low_balance_alerts) == (1, 1, 0)
    assert raised == [{
        "binding_id": near_tier_two.pk,
        "account_id": None,
        "kind": "tier_threshold_near",
        "data": {"account_number": near_tier_two.account.number, "used_kwh": "160", "crossing_date": "3月23日",
                 "next_tier": 2, "tier_limit_kwh": "180", "next_price": "0.608"},
        "idempotency_key": f"tier-near:{near_tier_two.pk}:20260301:2",
    }]
    near_tier_two.refresh_from_db()
    assert (near_tier_two.tier_alerted_period, near_tier_two.tier_alerted_tier) == (datetime.date(2026, 3, 1), 2)
    again = scan(django_capture_on_commit_callbacks, as_of=AS_OF + datetime.timedelta(days=1))
    assert again.tier_alerts == 0
    assert len(raised) == 1


def test_a_binding_told_in_an_earlier_period_is_told_again(near_tier_two, raised, django_capture_on_commit_callbacks):
    AccountBinding.objects.filter(pk=near_tier_two.pk).update(
        tier_alerted_period=datetime.date(2026, 2, 1), tier_alerted_tier=3
    )
    assert scan(django_capture_on_commit_callbacks).tier_alerts == 1
    assert raised[0]["idempotency_key"] == f"tier-near:{near_tier_two.pk}:20260301:2"


def test_near_tier_two_then_near_tier_three_is_told_once_each(raised, django_capture_on_commit_callbacks):
    """19 kWh a day: by 8 March 152 kWh (tier 2 on the 11th at the month's pace so far); by the 20th 380 kWh
    (tier 3 at 400 on the 22nd)."""
    binding = AccountBindingFactory()
    phone = mobile(binding, "13900000001")
    meter = daily_readings(binding.account, 19, days=18)
    first = scan(django_capture_on_commit_callbacks, as_of=datetime.date(2026, 3, 8))
    daily_readings(binding.account, 19, days=4, meter=meter)
    # On the 12th, 228 kWh: the crossing into tier 3 is 13 days off at the month's pace, nothing yet.
    between = scan(django_capture_on_commit_callbacks, as_of=datetime.date(2026, 3, 12))
    daily_readings(binding.account, 19, days=8, meter=meter)
    second = scan(django_capture_on_commit_callbacks, as_of=AS_OF)
    after = scan(django_capture_on_commit_callbacks, as_of=AS_OF + datetime.timedelta(days=1))
    assert [r.tier_alerts for r in (first, between, second, after)] == [1, 0, 1, 0]
    assert [(alert["data"]["next_tier"], alert["data"]["tier_limit_kwh"], alert["data"]["crossing_date"])
            for alert in raised] == [(2, "180", "3月11日"), (3, "400", "3月22日")]
    assert [alert["idempotency_key"] for alert in raised] == [
        f"tier-near:{binding.pk}:20260301:2", f"tier-near:{binding.pk}:20260301:3"
    ]
    sms = Message.objects.filter(channel=Channel.SMS).order_by("pk")
    assert [(message.to, "进入第2档" in message.body, "进入第3档" in message.body) for message in sms] == [
        (phone, True, False), (phone, False, True)
    ]


def test_a_binding_warned_of_a_higher_tier_is_not_warned_of_a_lower_one(near_tier_two, raised,
                                                                        django_capture_on_commit_callbacks):
    AccountBinding.objects.filter(pk=near_tier_two.pk).update(
        tier_alerted_period=datetime.date(2026, 3, 1), tier_alerted_tier=3
    )
    assert scan(django_capture_on_commit_callbacks).tier_alerts == 0
    assert raised == []


def test_a_warning_recorded_before_tiers_were_counts_for_the_crossing_now_near(near_tier_two, raised,
                                                                               django_capture_on_commit_callbacks):
    """A binding warned this period before the tier was recorded is not warned again of the same crossing; the
    tier is recorded, so the next crossing would still be told."""
    AccountBinding.objects.filter(pk=near_tier_two.pk).update(tier_alerted_period=datetime.date(2026, 3, 1))
    assert scan(django_capture_on_commit_callbacks).tier_alerts == 0
    assert raised == []
    near_tier_two.refresh_from_db()
    assert near_tier_two.tier_alerted_tier == 2


def test_no_tier_alert_when_not_asked_for_unbound_or_far_off(raised, django_capture_on_commit_callbacks):
    declined = AccountBindingFactory(tier_alerts=False)
    daily_readings(declined.account, 8)
    unbound = AccountBindingFactory(unbound_at=timezone.now())
    daily_readings(unbound.account, 8)
    # 6 kWh a day: 120 kWh by the 20th, tier 2 on the 31st, 11 days away.
    far = AccountBindingFactory()
    daily_readings(far.account, 6)
    result = scan(django_capture_on_commit_callbacks)
    assert (result.bindings_checked, result.tier_alerts) == (1, 0)
    assert raised == []


def test_two_bindings_of_one_account_are_each_told_on_their_own_phone(raised, django_capture_on_commit_callbacks):
    first = AccountBindingFactory()
    daily_readings(first.account, 8)
    second = AccountBindingFactory(account=first.account)
    phones = [mobile(first, "13900000001"), mobile(second, "13900000002")]
    assert scan(django_capture_on_commit_callbacks).tier_alerts == 2
    assert [alert["binding_id"] for alert in raised] == [first.pk, second.pk]
    assert sms_to() == phones
    assert not Message.objects.filter(to=first.account.customer.phone).exists()
    assert not InboxMessage.objects.exists()


@pytest.fixture
def prepaid_low():
    """Prepaid, 40.00 paid in, 60 kWh read and not yet billed (33.48 at 0.558): 6.52 left, under the 10.00 default."""
    account = AccountFactory(billing_mode=Account.BillingMode.PREPAID)
    binding = AccountBindingFactory(account=account, tier_alerts=False)
    payment_post(account=account, amount=D("40.00"), channel=Payment.Channel.ONLINE, idempotency_key="pp-1",
                 received_at=timezone.now())
    daily_readings(account, 2)
    return binding


def test_a_low_prepaid_balance_is_told_once_per_dip(prepaid_low, raised, django_capture_on_commit_callbacks):
    result = scan(django_capture_on_commit_callbacks)
    assert (result.low_balance_alerts, result.tier_alerts) == (1, 0)
    prepaid_low.refresh_from_db()
    alerted_at = prepaid_low.low_balance_alerted_at
    assert alerted_at is not None
    assert of_bindings(raised) == [{
        "binding_id": prepaid_low.pk,
        "account_id": None,
        "kind": "prepaid_balance_low",
        "data": {"account_number": prepaid_low.account.number, "balance": "6.52", "threshold": "10.00",
                 "days_left": 5},
        "idempotency_key": f"prepaid-low:{prepaid_low.pk}:{alerted_at:%Y%m%d%H%M%S%f}",
    }]
    assert scan(django_capture_on_commit_callbacks).low_balance_alerts == 0
    assert len(of_bindings(raised)) == 1

    payment_post(account=prepaid_low.account, amount=D("50.00"), channel=Payment.Channel.ONLINE,
                 idempotency_key="pp-2", received_at=timezone.now())
    topped = scan(django_capture_on_commit_callbacks)
    assert (topped.low_balance_alerts, topped.low_balance_cleared) == (0, 1)
    prepaid_low.refresh_from_db()
    assert prepaid_low.low_balance_alerted_at is None

    # 56.52 left: under a threshold raised to 60.00, a new dip, told once more.
    AccountBinding.objects.filter(pk=prepaid_low.pk).update(low_balance_threshold=D("60.00"))
    assert scan(django_capture_on_commit_callbacks).low_balance_alerts == 1
    assert scan(django_capture_on_commit_callbacks).low_balance_alerts == 0
    binding_alerts = of_bindings(raised)
    assert [(alert["data"]["balance"], alert["data"]["threshold"]) for alert in binding_alerts] == [
        ("6.52", "10.00"), ("56.52", "60.00")
    ]
    assert binding_alerts[0]["idempotency_key"] != binding_alerts[1]["idempotency_key"]


def test_the_threshold_is_the_bindings_own(prepaid_low, raised, django_capture_on_commit_callbacks):
    AccountBinding.objects.filter(pk=prepaid_low.pk).update(low_balance_threshold=D("5.00"))
    assert scan(django_capture_on_commit_callbacks).low_balance_alerts == 0
    assert of_bindings(raised) == []


def test_the_son_who_set_the_threshold_is_texted_himself(prepaid_low, django_capture_on_commit_callbacks):
    """End to end through the receiver notifications connects when the app is ready: the son bound his parents'
    account and set its threshold, so that SMS goes to his verified mobile (his parents get the utility's own, below)."""
    son = mobile(prepaid_low, "13900000001")
    scan(django_capture_on_commit_callbacks)
    customer = prepaid_low.account.customer
    sms = Message.objects.get(to=son)
    assert (sms.channel, sms.to, sms.recipient_customer) == (Channel.SMS, son, customer)
    assert sms.body == (
        f"【国网95598】户号{prepaid_low.account.number}预付费余额6.52元，低于提醒金额10.00元，预计还可用5天，"
        "请及时充值以免停电。"
    )
    assert customer.phone != son


def test_two_binders_of_a_prepaid_account_are_texted_once_each_at_their_thresholds(
    prepaid_low, django_capture_on_commit_callbacks
):
    first = mobile(prepaid_low, "13900000001")
    second_binding = AccountBindingFactory(account=prepaid_low.account, tier_alerts=False,
                                           low_balance_threshold=D("20.00"))
    second = mobile(second_binding, "13900000002")
    # Below 10.00 neither, then below both; the holder, who bound nothing, gets nothing.
    assert scan(django_capture_on_commit_callbacks).low_balance_alerts == 2
    assert scan(django_capture_on_commit_callbacks).low_balance_alerts == 0
    texts = Message.objects.filter(channel=Channel.SMS, to__in=[first, second]).order_by("pk")
    assert [(m.to, "低于提醒金额10.00元" in m.body, "低于提醒金额20.00元" in m.body) for m in texts] == [
        (first, True, False), (second, False, True)
    ]
    # The holder, who bound nothing, gets the utility's own notice once, at the phone on file.
    assert Message.objects.filter(channel=Channel.SMS, to=prepaid_low.account.customer.phone).count() == 1


def test_a_binder_without_a_verified_mobile_finds_it_in_the_inbox(prepaid_low, django_capture_on_commit_callbacks):
    mobile(prepaid_low, "13900000001", verified=False)
    scan(django_capture_on_commit_callbacks)
    assert sms_to() == [prepaid_low.account.customer.phone]  # the holder's own notice only
    inbox = InboxMessage.objects.get(message__idempotency_key__startswith=f"prepaid-low:{prepaid_low.pk}:")
    assert (inbox.customer, inbox.body) == (
        prepaid_low.account.customer, f"户号{prepaid_low.account.number}预付费余额6.52元，低于10.00元，请及时充值。"
    )


def test_a_binder_whose_phone_replied_stop_is_not_texted(prepaid_low, django_capture_on_commit_callbacks):
    SmsOptOut.objects.create(phone=mobile(prepaid_low, "13900000001"), keyword="TD")
    assert scan(django_capture_on_commit_callbacks).low_balance_alerts == 1
    assert not Message.objects.filter(to="13900000001").exists()


def test_an_alert_raised_for_a_binding_since_unbound_is_not_sent(prepaid_low):
    mobile(prepaid_low, "13900000001")
    AccountBinding.objects.filter(pk=prepaid_low.pk).update(unbound_at=timezone.now())
    customer_alerts_notify(alerts=[{
        "binding_id": prepaid_low.pk, "account_id": None, "kind": "prepaid_balance_low",
        "idempotency_key": "prepaid-low:x:1",
        "data": {"account_number": prepaid_low.account.number, "balance": "6.52", "threshold": "10.00", "days_left": 5},
    }])
    assert not Message.objects.exists()


def test_the_receiver_sends_nothing_twice_for_one_key(near_tier_two):
    phone = mobile(near_tier_two, "13900000001")
    data = {"account_number": near_tier_two.account.number, "used_kwh": "160", "crossing_date": "3月23日",
            "next_tier": 2, "tier_limit_kwh": "180", "next_price": "0.608"}
    for _ in range(2):
        customer_alerts_notify(alerts=[{"binding_id": near_tier_two.pk, "account_id": None,
                                        "kind": "tier_threshold_near", "data": data,
                                        "idempotency_key": "tier-near:x:20260301:2"}])
    sms = Message.objects.get()
    assert (sms.channel, sms.to) == (Channel.SMS, phone)
    assert sms.body == (
        f"【国网95598】户号{near_tier_two.account.number}本期已用电160千瓦时，按当前用量预计3月23日进入第2档"
        "（180千瓦时以上电价0.608元）。"
    )


def test_the_daily_task_runs_the_scan():
    assert customer_alerts_scan_task() == {"bindings": 0, "tier": 0, "low_balance": 0, "rearmed": 0,
                                           "prepaid_holders": 0, "holder_low_balance": 0}


# --- the holder's own 智能交费 notice -------------------------------------------------------------------------------


@pytest.fixture
def prepaid_low_unbound():
    """The prepaid_low account with nobody bound to it: 6.52 left."""
    account = AccountFactory(billing_mode=Account.BillingMode.PREPAID)
    payment_post(account=account, amount=D("40.00"), channel=Payment.Channel.ONLINE, idempotency_key="pu-1",
                 received_at=timezone.now())
    daily_readings(account, 2)
    return account


def test_every_prepaid_holder_is_told_under_ten_yuan_once_per_dip_portal_or_not(
    prepaid_low_unbound, raised, django_capture_on_commit_callbacks
):
    account = prepaid_low_unbound
    closed = AccountFactory(billing_mode=Account.BillingMode.PREPAID, status=Account.Status.CLOSED)
    AccountFactory()  # postpaid: not scanned
    result = scan(django_capture_on_commit_callbacks)
    assert (result.holders_checked, result.holder_low_balance_alerts, result.bindings_checked) == (1, 1, 0)
    account.refresh_from_db()
    assert raised == [{
        "binding_id": None, "account_id": account.pk, "kind": "prepaid_balance_low",
        "data": {"account_number": account.number, "balance": "6.52", "threshold": "10.00", "days_left": 5},
        "idempotency_key": f"prepaid-low:account:{account.pk}:{account.low_balance_alerted_at:%Y%m%d%H%M%S%f}",
    }]
    sms = Message.objects.get(channel=Channel.SMS)
    assert (sms.to, sms.recipient_customer, sms.account) == (account.customer.phone, account.customer, account)
    assert "预付费余额6.52元" in sms.body
    assert not Message.objects.filter(recipient_customer=closed.customer).exists()

    assert scan(django_capture_on_commit_callbacks).holder_low_balance_alerts == 0  # told once per dip
    payment_post(account=account, amount=D("50.00"), channel=Payment.Channel.ONLINE, idempotency_key="pu-2",
                 received_at=timezone.now())
    assert scan(django_capture_on_commit_callbacks).holder_low_balance_alerts == 0
    account.refresh_from_db()
    assert account.low_balance_alerted_at is None  # re-armed above 10 yuan


def test_a_holder_who_bound_the_account_with_the_phone_on_file_gets_only_their_bindings_alert(
    prepaid_low, django_capture_on_commit_callbacks
):
    holder_phone = prepaid_low.account.customer.phone
    mobile(prepaid_low, holder_phone)
    AccountBinding.objects.filter(pk=prepaid_low.pk).update(low_balance_threshold=D("8.00"))
    scan(django_capture_on_commit_callbacks)
    texts = list(Message.objects.filter(channel=Channel.SMS))
    assert [(m.to, "低于提醒金额8.00元" in m.body) for m in texts] == [(holder_phone, True)]
