"""Guest bill lookup at /bill/lookup/: account number + holder name, amounts and latest bills shown with the name
and address masked (never the phone or ID), one generic refusal, rate-limited per address. No login."""
import datetime
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.account_numbers import account_number_from_body
from core.models import BindingAttempt, CollectionPolicy, MeterReading, Payment
from core.models.customers import CustomerCategory
from core.selectors.binding import address_mask, name_mask
from core.services.billing import bill_issue
from core.services.payments import payment_post
from core.services.readings import reading_record
from tests.factories import AccountFactory, CustomerFactory, MeterFactory
from tests.portal.factories import PortalUserFactory, id_number_fields

pytestmark = pytest.mark.django_db

URL = reverse("portal:bill_lookup")
REFUSAL = "户号或户主姓名不正确，请核对后重试"
UNKNOWN_NUMBER = account_number_from_body("999999999")
IP = "203.0.113.20"


@pytest.fixture
def account():
    CollectionPolicy.objects.update_or_create(
        category=CustomerCategory.RESIDENTIAL,
        defaults={"payment_term_days": 30, "daily_rate_current_year": D("0.0010"), "daily_rate_prior_years": D("0.0010")},
    )
    customer = CustomerFactory(name="张三", phone="13912345678", email="zs@example.cn",
                               **id_number_fields("42280119800101123X"))
    account = AccountFactory(customer=customer, name="张三", address="恩施州恩施市舞阳坝街道施州大道12号")
    meter = MeterFactory(service_point__account=account)
    period = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    month_end = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    reading_record(meter=meter, read_on=month_end, total="200", source=MeterReading.Source.MANUAL)
    # Issued today: due in 30 days, so no late fee is accruing whatever day the test runs.
    bill_issue(account=account, period=period, issued_on=timezone.localdate())
    return account


def look_up(client, number, name="张三", ip=IP):
    return client.post(URL, {"account_number": number, "holder_name": name}, REMOTE_ADDR=ip)


def form_errors(response) -> list[str]:
    return [str(e) for errors in response.context["form"].errors.values() for e in errors]


def test_the_form_needs_no_login_and_is_not_cached(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert 'name="account_number"' in response.content.decode()
    # A guest is told where to find what is asked for.
    assert "10位数字，见电费账单或缴费凭证" in response.content.decode()
    assert "与电费账单上的户名一致" in response.content.decode()


def test_right_details_show_amount_due_and_bills_masked(client, account):
    response = look_up(client, account.number)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    summary = response.context["summary"]
    bill = account.bills.get()
    # 180 x 0.558 + 20 x 0.608 = 112.60
    assert (summary.account_number, summary.name_masked, summary.address_masked) == (
        account.number, "张*", "恩施市舞阳坝街道***"
    )
    assert (summary.total_due, summary.total_due_display, summary.owes, summary.earliest_due_date) == (
        D("112.60"), "¥112.60", True, bill.due_date
    )
    assert [(line.period_display, line.kwh, line.total_display, line.outstanding_display, line.state_display)
            for line in summary.bills] == [(f"{bill.period:%Y-%m}", D("200.00"), "¥112.60", "¥112.60", "已发行")]
    body = response.content.decode()
    assert "¥112.60" in body and "张*" in body and "恩施市舞阳坝街道***" in body
    for secret in ("张三", "施州大道", "13912345678", "zs@example.cn", "4228", "123X"):
        assert secret not in body
    assert list(BindingAttempt.objects.values_list("user", "ip_address", "account_number", "succeeded")) == [
        (None, IP, account.number, True)
    ]


def test_an_account_in_credit_shows_no_arrears_and_its_credit(client, account):
    payment_post(account=account, amount=D("132.60"), channel=Payment.Channel.COUNTER, idempotency_key="t-1",
                 received_at=timezone.now())
    summary = look_up(client, account.number).context["summary"]
    assert (summary.owes, summary.total_due, summary.prepaid_credit_display, summary.earliest_due_date) == (
        False, D("0.00"), "¥20.00", None
    )
    assert summary.bills[0].state_display == "已结清"
    assert "当前无欠费" in look_up(client, account.number).content.decode()


@pytest.mark.parametrize("number, name", [("account", "李四"), (UNKNOWN_NUMBER, "张三"), ("account", "")])
def test_wrong_details_get_one_refusal(client, account, number, name):
    number = account.number if number == "account" else number
    response = look_up(client, number, name)
    assert response.context["summary"] is None
    if name:
        assert form_errors(response) == [REFUSAL]
        assert list(BindingAttempt.objects.values_list("user", "account_number", "succeeded")) == [
            (None, number, False)
        ]
    else:
        assert form_errors(response) == ["必需字段"]
        assert not BindingAttempt.objects.exists()
    assert "¥112.60" not in response.content.decode()


def test_a_mistyped_number_is_told_beside_the_field_and_not_counted(client, account):
    response = look_up(client, account.number[:-1] + str((int(account.number[-1]) + 1) % 10))
    assert response.context["form"].errors == {"account_number": ["户号校验位不正确，请核对后重新输入"]}
    assert not BindingAttempt.objects.exists()


def test_five_failures_lock_the_address_for_15_minutes_even_for_right_details(client, account):
    for _ in range(5):
        assert form_errors(look_up(client, account.number, "李四")) == [REFUSAL]
    locked = look_up(client, account.number)
    assert form_errors(locked) == ["尝试次数过多，已暂时锁定，请15分钟后再试。如需帮助请拨打95598。"]
    assert locked.context["summary"] is None
    assert BindingAttempt.objects.count() == 5
    # Another address is not locked; the lock ends 15 minutes after the last failure.
    assert look_up(client, account.number, ip="203.0.113.21").context["summary"] is not None
    BindingAttempt.objects.filter(ip_address=IP).update(attempted_at=timezone.now() - datetime.timedelta(minutes=16))
    assert look_up(client, account.number).context["summary"] is not None


def test_ten_failures_in_a_day_lock_the_address_for_24_hours(client, account):
    now = timezone.now()
    BindingAttempt.objects.bulk_create(
        BindingAttempt(ip_address=IP, account_number=UNKNOWN_NUMBER, succeeded=False,
                       attempted_at=now - datetime.timedelta(hours=1 + i))
        for i in range(10)
    )
    assert form_errors(look_up(client, account.number)) == ["尝试次数过多，已暂时锁定，请23小时后再试。如需帮助请拨打95598。"]


def test_thirty_lookups_an_hour_from_one_address_even_right_ones(client, account):
    now = timezone.now()
    BindingAttempt.objects.bulk_create(
        BindingAttempt(ip_address=IP, account_number=account.number, succeeded=True,
                       attempted_at=now - datetime.timedelta(minutes=50 - i))
        for i in range(30)
    )
    # Free again an hour after the oldest of the 30 (50 minutes ago): in 10 minutes.
    assert form_errors(look_up(client, account.number)) == ["尝试次数过多，已暂时锁定，请10分钟后再试。如需帮助请拨打95598。"]
    BindingAttempt.objects.filter(attempted_at__lt=now - datetime.timedelta(minutes=49, seconds=30)).delete()
    assert look_up(client, account.number).context["summary"] is not None


def test_binding_failures_of_a_logged_in_user_do_not_lock_the_guest_page(client, account):
    binder = PortalUserFactory()
    BindingAttempt.objects.bulk_create(
        BindingAttempt(user=binder, ip_address=IP, account_number=UNKNOWN_NUMBER, succeeded=False,
                       attempted_at=timezone.now())
        for _ in range(6)
    )
    assert look_up(client, account.number).context["summary"] is not None


def test_csrf_is_enforced_on_the_lookup(account):
    csrf_client = Client(enforce_csrf_checks=True)
    assert look_up(csrf_client, account.number).status_code == 403
    assert not BindingAttempt.objects.exists()
    page = csrf_client.get(URL)
    token = page.cookies["csrftoken"].value
    response = csrf_client.post(
        URL, {"account_number": account.number, "holder_name": "张三", "csrfmiddlewaretoken": token}, REMOTE_ADDR=IP
    )
    assert response.status_code == 200 and response.context["summary"] is not None


def test_lookup_queries_are_bounded(client, account, django_assert_max_num_queries):
    # The first lookup builds the summary and keeps it (the database cache's writes count here).
    with django_assert_max_num_queries(24):
        response = look_up(client, account.number)
    assert response.context["summary"] is not None
    # A repeat: the address's limits, the account with its data version, the attempt recorded; then the cache.
    with CaptureQueriesContext(connection) as queries:
        response = look_up(client, account.number, ip="203.0.113.21")
    assert response.context["summary"] is not None
    database = [query["sql"] for query in queries.captured_queries if "django_cache" not in query["sql"]]
    assert len(database) == 3
    assert "core_bindingattempt" in database[0] and "core_ledgerentry" in database[1]
    assert database[2].startswith("INSERT INTO") and "core_bindingattempt" in database[2]
    assert len(queries) - len(database) <= 1  # the database cache's one read (none with Redis)


def test_a_payment_shows_at_once_in_the_kept_summary(client, account):
    assert "¥112.60" in look_up(client, account.number).content.decode()
    assert look_up(client, account.number).context["summary"].total_due == D("112.60")
    account.refresh_from_db()
    payment_post(account=account, amount=D("12.60"), channel=Payment.Channel.COUNTER, idempotency_key="guest-cache",
                 received_at=timezone.now())
    assert look_up(client, account.number).context["summary"].total_due == D("100.00")


@pytest.mark.parametrize(
    "raw, masked",
    [
        ("张三", "张*"), ("欧阳娜娜", "欧***"), ("王", "*"), ("", ""),
        ("恩施州利川市汪营镇汪营村3组", "利川市汪营镇***"),
        ("湖北省恩施市舞阳坝街道测试路1号", "恩施市舞阳坝街道***"),
        ("某地某路1号", "某地***"),
    ],
)
def test_masks(raw, masked):
    assert (name_mask(raw) if len(raw) <= 4 else address_mask(raw)) == masked


def test_the_blank_form_is_kept_per_language_and_a_refused_one_shows_what_was_typed(client, account):
    english = Client()
    english.cookies["django_language"] = "en"
    for _ in range(2):
        assert '<label for="id_account_number">户号</label>' in client.get(URL).content.decode()
        assert '<label for="id_account_number">account number</label>' in english.get(URL).content.decode()
    html = look_up(client, account.number, name="李四").content.decode()
    assert REFUSAL in html
    assert f'value="{account.number}"' in html and 'value="李四"' in html
    # Answered: the blank form again, asking for another account.
    html = look_up(client, account.number, ip="203.0.113.22").content.decode()
    assert "¥112.60" in html and "查询其他户号" in html
    assert f'value="{account.number}"' not in html and 'name="holder_name"' in html
