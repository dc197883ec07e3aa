"""The account dashboard through HTTP: balance or arrears, the latest bill in words, the 24-month chart,
year-on-year, bill history and detail, payments, tier forecast, smart prepaid; someone else's ids give 404."""
from __future__ import annotations

import datetime
import re
import socket
from decimal import Decimal as D

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from core.models import Account, Bill, LateFee, MeterReading, Payment, TariffTier
from core.selectors.portal_bills import month_add
from core.services.account_binding import binding_settings_update
from core.services.billing import bill_correct, bills_mark_overdue
from core.services.late_fees import late_fees_assess
from core.services.payments import payment_post, payment_reverse
from core.services.readings import reading_record
from core.services.tariffs import Usage
from portal.dashboard.cache import dashboard_panel
from tests.factories import AccountFactory, MeterFactory
from tests.portal.factories import AccountBindingFactory, PortalUserFactory, billed_months, residential_policy

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def policy():
    residential_policy()


def today() -> datetime.date:
    return timezone.localdate()


def last_month() -> datetime.date:
    return month_add(today().replace(day=1), -1)


def text_of(response) -> str:
    """The page's visible text with tags dropped and whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def history():
    """An account bound to a user with 24 billed months: 200 kWh a month the first year, 320 the second."""
    binding = AccountBindingFactory()
    billed_months(binding.account, [D(200)] * 12 + [D(320)] * 12, last_period=last_month(), issued_on=today())
    return binding


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_user_without_bindings_is_asked_to_bind(client):
    client.force_login(PortalUserFactory())
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 200
    assert "您还没有绑定户号。绑定后可以查看余额、账单、用电量和缴费记录。" in text_of(response)
    try:
        bind_url = reverse("portal:binding_add")
    except NoReverseMatch:
        bind_url = None
    if bind_url is not None:
        assert f'href="{bind_url}"' in response.content.decode()


def test_the_dashboard_explains_the_latest_bill_and_what_is_owed(client, history):
    client.force_login(history.user)
    response = client.get("/portal/")
    assert response.status_code == 200
    text = text_of(response)
    period = last_month()
    # 24 bills: 12 x 200 kWh (180 x 0.558 + 20 x 0.608 = 112.60) and 12 x 320 kWh (185.56).
    assert "应缴金额 ¥3,577.92" in text
    assert f"缴费截止日：{today() + datetime.timedelta(days=30):%Y-%m-%d}" in text
    assert (
        f"{period.year}年{period.month}月用电320千瓦时，其中第1档电量180千瓦时×0.558元=100.44元，"
        "第2档电量140千瓦时×0.608元=85.12元，合计185.56元。"
    ) in text
    assert f"{period:%Y-%m} 320.00 千瓦时，同比增加60.0%（去年同月 200.00）" in text
    assert "近12个月 3840.00 千瓦时，同比增加60.0%（此前12个月 2400.00）" in text
    assert "供电状态：正常用电 — 供电正常" in text


def test_the_usage_chart_has_24_bars_drawn_on_the_server(client, history):
    client.force_login(history.user)
    html = client.get("/portal/").content.decode()
    svg = re.search(r"<svg.*?</svg>", html, flags=re.S).group(0)
    assert len(re.findall(r"<rect ", svg)) == 24
    first = month_add(last_month(), -23)
    assert f"近24个月用电量（{first:%Y-%m}至{last_month():%Y-%m}）" in svg
    assert "<script" not in html


def test_bill_history_links_each_bill_and_its_pdf(client, history):
    client.force_login(history.user)
    number = history.account.number
    html = client.get(reverse("portal:bill_list", args=[number])).content.decode()
    bill_numbers = [f"{month_add(last_month(), -i):%Y%m}{number}" for i in range(24)]
    for bill_number in bill_numbers:
        assert f'href="{reverse("portal:bill_detail", args=[number, bill_number])}"' in html
        assert f'href="{reverse("portal:bill_pdf", args=[number, bill_number])}"' in html


def test_the_dashboard_lists_the_last_six_bills_and_links_to_all(client, history):
    client.force_login(history.user)
    number = history.account.number
    html = client.get("/portal/").content.decode()
    detail = reverse("portal:bill_detail", args=[number, "0"]).removesuffix("0/")
    # The latest bill is linked from its own card too.
    listed = list(dict.fromkeys(re.findall(rf'href="{detail}(\d+)/"', html)))
    assert listed == [f"{month_add(last_month(), -i):%Y%m}{number}" for i in range(6)]
    assert f'href="{reverse("portal:bill_list", args=[number])}"' in html
    assert f'href="{reverse("portal:payment_list", args=[number])}"' in html


def test_bill_detail_lists_the_lines(client, history):
    client.force_login(history.user)
    number = history.account.number
    bill_number = f"{last_month():%Y%m}{number}"
    response = client.get(reverse("portal:bill_detail", args=[number, bill_number]))
    assert response.status_code == 200
    text = text_of(response)
    assert "第1档电量 180.00 0.558 ¥100.44" in text
    assert "第2档电量 140.00 0.608 ¥85.12" in text
    assert "应收金额 ¥185.56" in text


def test_payments_are_listed_with_their_receipts(client, history):
    paid_at = timezone.now() - datetime.timedelta(hours=1)
    result = payment_post(
        account=history.account, amount=D("500.00"), channel=Payment.Channel.COUNTER, idempotency_key="dash-1",
        received_at=paid_at,
    )
    client.force_login(history.user)
    number = history.account.number
    response = client.get("/portal/")
    text = text_of(response)
    assert "应缴金额 ¥3,077.92" in text
    assert f"{timezone.localtime(paid_at):%Y-%m-%d %H:%M} ¥500.00 营业厅 已入账 凭证" in text
    receipt = reverse("portal:payment_receipt", args=[number, result.payment.pk])
    assert f'href="{receipt}"' in response.content.decode()
    listing = client.get(reverse("portal:payment_list", args=[number]))
    assert f'href="{receipt}"' in listing.content.decode()


def test_a_user_with_two_accounts_chooses_between_them(client, history):
    second = AccountBindingFactory(user=history.user, label="父母家")
    billed_months(second.account, [D(90)], last_period=last_month(), issued_on=today())
    client.force_login(history.user)
    html = client.get("/portal/").content.decode()
    assert f'href="/portal/{second.account.number}/">父母家 {second.account.number}</a>' in html
    text = text_of(client.get(reverse("portal:account_dashboard", args=[second.account.number])))
    assert f"户号 {second.account.number}" in text
    assert "用电90千瓦时，其中第1档电量90千瓦时×0.558元=50.22元，合计50.22元。" in text


def test_someone_elses_account_bill_and_payment_are_404(client, history):
    other = AccountBindingFactory()
    billed_months(other.account, [D(150)], last_period=last_month(), issued_on=today())
    other_payment = payment_post(
        account=other.account, amount=D("10.00"), channel=Payment.Channel.COUNTER, idempotency_key="other-1",
        received_at=timezone.now(),
    ).payment
    mine, theirs = history.account.number, other.account.number
    their_bill = f"{last_month():%Y%m}{theirs}"
    client.force_login(history.user)
    for url in (
        reverse("portal:account_dashboard", args=[theirs]),
        reverse("portal:bill_list", args=[theirs]),
        reverse("portal:payment_list", args=[theirs]),
        reverse("portal:bill_detail", args=[theirs, their_bill]),
        reverse("portal:bill_pdf", args=[theirs, their_bill]),
        reverse("portal:payment_receipt", args=[theirs, other_payment.pk]),
        # Their ids under my own account number.
        reverse("portal:bill_detail", args=[mine, their_bill]),
        reverse("portal:bill_pdf", args=[mine, their_bill]),
        reverse("portal:payment_receipt", args=[mine, other_payment.pk]),
        # An account that does not exist answers the same.
        reverse("portal:account_dashboard", args=["9999999999"]),
    ):
        assert client.get(url).status_code == 404, url


def test_an_unbound_account_is_404_again(client, history):
    history.unbound_at = timezone.now()
    history.save(update_fields=["unbound_at"])
    client.force_login(history.user)
    assert client.get(reverse("portal:account_dashboard", args=[history.account.number])).status_code == 404
    assert "您还没有绑定户号" in text_of(client.get("/portal/"))


def _dashboard_queries(client, number: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("portal:account_dashboard", args=[number])).status_code == 200
    return len(queries)


def test_the_dashboard_query_count_does_not_grow_with_history(client, django_assert_max_num_queries):
    user = PortalUserFactory()
    short = AccountBindingFactory(user=user)
    long = AccountBindingFactory(user=user)
    billed_months(short.account, [D(100)] * 2, last_period=last_month(), issued_on=today())
    billed_months(long.account, [D(100)] * 24, last_period=last_month(), issued_on=today())
    for index in range(5):
        payment_post(
            account=long.account, amount=D("20.00"), channel=Payment.Channel.COUNTER, idempotency_key=f"q-{index}",
            received_at=timezone.now(),
        )
    client.force_login(user)
    for binding in (short, long):
        client.get(reverse("portal:account_dashboard", args=[binding.account.number]))
        binding.account.refresh_from_db()
        payment_post(account=binding.account, amount=D("1.00"), channel=Payment.Channel.COUNTER,
                     idempotency_key=f"stale-{binding.pk}", received_at=timezone.now())
    # The views after a change render the panel again: the same queries whatever the history.
    assert _dashboard_queries(client, short.account.number) == _dashboard_queries(client, long.account.number)
    long.account.refresh_from_db()
    payment_post(account=long.account, amount=D("20.00"), channel=Payment.Channel.COUNTER, idempotency_key="q-last",
                 received_at=timezone.now())
    with django_assert_max_num_queries(25):
        client.get(reverse("portal:account_dashboard", args=[long.account.number]))


def test_a_repeat_view_is_the_guard_with_the_version_and_one_cache_read(client, history):
    """Session (none with Redis: it is read from the cache), user, the user's bindings (the guard) with each
    account's data version; then the cache."""
    client.force_login(history.user)
    client.get("/portal/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("portal:account_dashboard", args=[history.account.number])).status_code == 200
    database = [query["sql"] for query in queries.captured_queries if "django_cache" not in query["sql"]]
    session_rows = [sql for sql in database if "django_session" in sql]
    assert len(session_rows) == (0 if django_settings.SESSION_ENGINE == "config.sessions" else 1)
    assert len(database) == len(session_rows) + 2
    assert "core_accountbinding" in database[-1] and "core_ledgerentry" in database[-1]
    assert len(queries) - len(database) <= 1  # the database cache's one read (none with Redis)


def test_the_tier_forecast_says_when_the_next_tier_starts(client):
    """Daily AMI readings of 10 kWh this month: where the customer stands in the monthly tiers and when tier 2
    starts at that pace."""
    binding = AccountBindingFactory()
    meter = MeterFactory(service_point__account=binding.account)
    start = today() - datetime.timedelta(days=29)
    for offset in range(30):
        day = start + datetime.timedelta(days=offset)
        reading_record(meter=meter, read_on=day, total=D(10 * (offset + 1)), source=MeterReading.Source.AMI,
                       period=today().replace(day=1))
    client.force_login(binding.user)
    text = text_of(client.get("/portal/"))
    # All 30 readings are billed in this month's period: 300 kWh, tier 2 (180-400), 100 kWh to tier 3 at 10 a day.
    crossing = today() + datetime.timedelta(days=11)
    month_end = month_add(today().replace(day=1), 1) - datetime.timedelta(days=1)
    words = f"自{today().replace(day=1):%Y-%m-%d}起本阶梯周期已用电300千瓦时，处于第2档。"
    if crossing <= month_end:
        words += f"再用100千瓦时进入第3档（电价0.858元），按目前每天约10千瓦时，预计{crossing:%Y-%m-%d}进入。"
    else:
        words += "按目前用电速度，本周期内不会进入第3档。"
    assert words in text
    assert "第2档 (当前) 180.00–400.00 0.608 120.00" in text


def test_a_prepaid_account_shows_its_daily_charge_days_left_and_supply_state(client):
    account = AccountFactory(billing_mode=Account.BillingMode.PREPAID, status=Account.Status.DISCONNECTED)
    binding = AccountBindingFactory(account=account)
    payment_post(account=account, amount=D("100.00"), channel=Payment.Channel.ONLINE, idempotency_key="topup-1",
                 received_at=timezone.now())
    meter = MeterFactory(service_point__account=account)
    first = today() - datetime.timedelta(days=29)
    for offset in range(30):
        reading_record(meter=meter, read_on=first + datetime.timedelta(days=offset), total=D(5 * (offset + 1)),
                       source=MeterReading.Source.AMI)
    client.force_login(binding.user)
    text = text_of(client.get("/portal/"))
    # 150 kWh unbilled in tier 1 (0.558): 83.70 used of 100.00 credit; 5 kWh a day = 2.79 a day -> 5 days.
    assert "预计可用余额 ¥16.30" in text
    assert "日均电费(估算) ¥2.79（每天约5.00千瓦时 × 0.558元）" in text
    assert "预计可用天数 5天" in text
    assert "供电状态：欠费停电 — 因余额不足已停电：充值到账后将在24小时内远程恢复送电" in text


# --- the cached account panel: every change that matters shows at once --------------------------------------------


def _view(client, number: str) -> str:
    response = client.get(reverse("portal:account_dashboard", args=[number]))
    assert response.status_code == 200
    return text_of(response)


def test_a_payment_shows_at_once(client, history):
    client.force_login(history.user)
    number = history.account.number
    assert "应缴金额 ¥3,577.92" in _view(client, number)
    assert "应缴金额 ¥3,577.92" in _view(client, number)  # now from the cache
    payment_post(account=history.account, amount=D("77.92"), channel=Payment.Channel.COUNTER,
                 idempotency_key="cache-pay", received_at=timezone.now())
    text = _view(client, number)
    assert "应缴金额 ¥3,500.00" in text
    assert "¥77.92 营业厅 已入账" in text


def test_a_reversed_payment_shows_at_once(client, history):
    paid = payment_post(account=history.account, amount=D("77.92"), channel=Payment.Channel.COUNTER,
                        idempotency_key="cache-rev", received_at=timezone.now()).payment
    client.force_login(history.user)
    number = history.account.number
    assert "应缴金额 ¥3,500.00" in _view(client, number)
    payment_reverse(payment=paid, user=None, reason="银行退票")
    text = _view(client, number)
    assert "应缴金额 ¥3,577.92" in text
    assert "¥77.92 营业厅 已冲正" in text


def test_a_top_up_of_a_prepaid_account_shows_at_once(client):
    account = AccountFactory(billing_mode=Account.BillingMode.PREPAID)
    binding = AccountBindingFactory(account=account)
    payment_post(account=account, amount=D("50.00"), channel=Payment.Channel.ONLINE, idempotency_key="top-1",
                 received_at=timezone.now())
    client.force_login(binding.user)
    assert "预计可用余额 ¥50.00" in _view(client, account.number)
    payment_post(account=account, amount=D("30.00"), channel=Payment.Channel.ONLINE, idempotency_key="top-2",
                 received_at=timezone.now())
    assert "预计可用余额 ¥80.00" in _view(client, account.number)


def test_a_new_bill_and_a_correction_show_at_once(client):
    binding = AccountBindingFactory()
    account = binding.account
    meter = billed_months(account, [D(100)] * 2, last_period=month_add(last_month(), -1), issued_on=today())
    client.force_login(binding.user)
    assert "用电100千瓦时" in _view(client, account.number)
    billed_months(account, [D(150)], last_period=last_month(), issued_on=today(), meter=meter)
    text = _view(client, account.number)
    month = last_month()
    assert f"{month.year}年{month.month}月用电150千瓦时，其中第1档电量150千瓦时×0.558元=83.70元，合计83.70元。" in text
    latest = Bill.objects.get(account=account, period=last_month())
    bill_correct(bill=latest, reason="抄表错误", user=None, corrected_usage=Usage(kwh=D(120)))
    text = _view(client, account.number)
    assert "用电120千瓦时，其中第1档电量120千瓦时×0.558元=66.96元，合计66.96元。" in text
    assert "已冲红" in text


def test_a_bill_marked_overdue_and_its_late_fee_show_at_once(client):
    binding = AccountBindingFactory()
    account = binding.account
    billed_months(account, [D(100)], last_period=last_month(), issued_on=today() - datetime.timedelta(days=40))
    client.force_login(binding.user)
    assert "已逾期" not in _view(client, account.number)
    bills_mark_overdue(as_of=today())
    assert "已逾期" in _view(client, account.number)
    late_fees_assess(account=account, through=today() - datetime.timedelta(days=1))
    assert LateFee.objects.filter(account=account).exists()
    assert "其中违约金" in _view(client, account.number)


def test_a_new_reading_shows_at_once_in_the_tier_forecast(client):
    binding = AccountBindingFactory()
    meter = MeterFactory(service_point__account=binding.account)
    period = today().replace(day=1)
    reading_record(meter=meter, read_on=today() - datetime.timedelta(days=2), total=D(50),
                   source=MeterReading.Source.AMI, period=period)
    client.force_login(binding.user)
    assert "本阶梯周期已用电50千瓦时" in _view(client, binding.account.number)
    reading_record(meter=meter, read_on=today() - datetime.timedelta(days=1), total=D(80),
                   source=MeterReading.Source.AMI, period=period)
    assert "本阶梯周期已用电80千瓦时" in _view(client, binding.account.number)


def test_a_supply_state_change_shows_at_once(client, history):
    client.force_login(history.user)
    assert "供电状态：正常用电" in _view(client, history.account.number)
    Account.objects.filter(pk=history.account.pk).update(status=Account.Status.SUSPENDED)
    assert "已办理暂停用电" in _view(client, history.account.number)


def test_a_new_label_shows_at_once(client, history):
    second = AccountBindingFactory(user=history.user, label="父母家")
    client.force_login(history.user)
    assert f"父母家 {second.account.number}" in _view(client, history.account.number)
    binding_settings_update(binding=second, label="老房子", low_balance_threshold="10.00", tier_alerts=True)
    text = _view(client, history.account.number)
    assert f"老房子 {second.account.number}" in text
    assert "父母家" not in text


def test_each_language_has_its_own_panel(history):
    account = Account.objects.get(pk=history.account.pk)
    with translation.override("zh-hans"):
        assert "户号 " + account.number in dashboard_panel(account_id=account.pk, as_of=today())
    with translation.override("en"):
        english = dashboard_panel(account_id=account.pk, as_of=today())
    assert "户号 " + account.number not in english
    assert "account number " + account.number in english.lower()
    with translation.override("zh-hans"):
        assert "户号 " + account.number in dashboard_panel(account_id=account.pk, as_of=today())


def test_a_tariff_price_change_shows_at_once(client, history):
    client.force_login(history.user)
    assert "第2档 180.00–400.00 0.608" in _view(client, history.account.number)
    tier = TariffTier.objects.get(version__tariff=history.account.tariff, number=2)
    tier.price = D("0.6180")
    tier.save()
    assert "第2档 180.00–400.00 0.618" in _view(client, history.account.number)


def test_the_panel_is_drawn_for_the_day(history):
    """Late fees accrue daily: the same data on another day is another panel."""
    account = Account.objects.get(pk=history.account.pk)
    due = Bill.objects.filter(account=account).order_by("due_date").first().due_date
    on_due = dashboard_panel(account_id=account.pk, as_of=due)
    later = dashboard_panel(account_id=account.pk, as_of=due + datetime.timedelta(days=20))
    assert "其中违约金" not in on_due
    assert "其中违约金" in later


def test_a_cache_outage_only_makes_it_slower(client, history, settings):
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {"default": {"BACKEND": "config.cache.FailSoftRedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{port}/0",
                                   "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}
    client.force_login(history.user)
    number = history.account.number
    assert "应缴金额 ¥3,577.92" in _view(client, number)
    payment_post(account=history.account, amount=D("77.92"), channel=Payment.Channel.COUNTER,
                 idempotency_key="outage-pay", received_at=timezone.now())
    assert "应缴金额 ¥3,500.00" in _view(client, number)
