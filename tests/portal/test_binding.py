"""Binding an account on the portal (绑定户号): ID digits or an SMS code, one generic refusal, progressive lockouts
per user and per address, several accounts with labels, alert settings, unbinding. Through the test client."""
import datetime
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from core.account_numbers import account_number_from_body
from core.models import AccountBinding, BindingAttempt, BindingCode, BindingMethod
from notifications.models import Event, Message
from tests.factories import AccountFactory, CustomerFactory
from tests.portal.factories import AccountBindingFactory, PortalUserFactory, id_number_fields

pytestmark = pytest.mark.django_db

ADD = reverse("portal:binding_add")
LIST = reverse("portal:binding_list")
REFUSAL = "户号、户主姓名或验证信息不匹配，请核对后重试"
CODE_SENT = "如户号与户主姓名相符，验证码已发送到该户号预留的手机，10分钟内有效。未收到可改用证件号后四位验证，或拨打95598。"
# A number with a right check digit that no account has (the factories count up from 100000000).
UNKNOWN_NUMBER = account_number_from_body("999999999")


@pytest.fixture
def account():
    customer = CustomerFactory(name="张三", phone="13912345678", **id_number_fields("42280119800101123X"))
    return AccountFactory(customer=customer, name="张三", address="恩施州恩施市舞阳坝街道施州大道12号")


@pytest.fixture
def user():
    return PortalUserFactory()


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def bind(client, number, *, name="张三", method=BindingMethod.ID_DIGITS, id_last4="123X", sms_code="", label="",
         action="bind", ip="203.0.113.7"):
    return client.post(
        ADD,
        {"account_number": number, "holder_name": name, "method": method, "id_last4": id_last4,
         "sms_code": sms_code, "label": label, "action": action},
        REMOTE_ADDR=ip,
    )


def page_errors(response) -> list[str]:
    form = response.context["form"]
    return [str(e) for errors in form.errors.values() for e in errors]


def fail_times(user, ip, times):
    """Failed attempts recorded at the given moments (the lockout reads these rows)."""
    BindingAttempt.objects.bulk_create(
        BindingAttempt(user=user, ip_address=ip, account_number=UNKNOWN_NUMBER, succeeded=False, attempted_at=at)
        for at in times
    )


# --- binding by ID digits ------------------------------------------------------------------------------------


def test_bind_with_holder_name_and_id_last4_then_listed(client_in, user, account):
    response = bind(client_in, account.number, label="家里", id_last4="123x")
    assert response.status_code == 302 and response["Location"] == LIST
    binding = AccountBinding.objects.get(user=user)
    assert (binding.account, binding.label, binding.method, binding.unbound_at) == (
        account, "家里", BindingMethod.ID_DIGITS, None
    )
    assert list(BindingAttempt.objects.values_list("user", "ip_address", "account_number", "succeeded")) == [
        (user.pk, "203.0.113.7", account.number, True)
    ]
    page = client_in.get(LIST)
    body = page.content.decode()
    assert f"家里 · {account.number}" in body
    assert f"户号{account.number}绑定成功" in body
    assert "13912345678" not in body and "42280119800101123X" not in body


def test_names_are_compared_as_typed_with_spaces_and_full_width_ignored(client_in, user, account):
    assert bind(client_in, f" {account.number[:5]} {account.number[5:]} ", name=" 张 三 ").status_code == 302
    assert AccountBinding.objects.filter(user=user, account=account).count() == 1


@pytest.mark.parametrize(
    "number, name, last4",
    [
        ("account", "李四", "123X"),  # wrong name
        ("account", "张三", "1234"),  # wrong ID digits
        (UNKNOWN_NUMBER, "张三", "123X"),  # no such account
    ],
)
def test_every_wrong_detail_gets_the_same_refusal_and_a_failed_try(client_in, user, account, number, name, last4):
    number = account.number if number == "account" else number
    response = bind(client_in, number, name=name, id_last4=last4)
    assert response.status_code == 200
    assert page_errors(response) == [REFUSAL]
    assert not AccountBinding.objects.exists()
    assert list(BindingAttempt.objects.values_list("account_number", "succeeded")) == [(number, False)]


def test_a_customer_without_an_id_on_file_cannot_be_bound_by_id_digits(client_in, account):
    account.customer.id_number_masked = ""
    account.customer.save()
    assert page_errors(bind(client_in, account.number, id_last4="0000")) == [REFUSAL]


@pytest.mark.parametrize(
    "number, last4, field, message",
    [
        ("1000000011", "123X", "account_number", "户号校验位不正确，请核对后重新输入"),
        ("12345", "123X", "account_number", "户号应为10位数字"),
        ("account", "12", "id_last4", "请输入证件号码的后四位（数字或X）"),
        ("account", "12a4", "id_last4", "请输入证件号码的后四位（数字或X）"),
    ],
)
def test_malformed_input_is_shown_beside_its_field_and_is_not_a_try(client_in, account, number, last4, field, message):
    number = account.number if number == "account" else number
    response = bind(client_in, number, id_last4=last4)
    assert response.context["form"].errors == {field: [message]}
    assert not BindingAttempt.objects.exists()
    assert not AccountBinding.objects.exists()


def test_binding_an_account_twice_says_so(client_in, user, account):
    bind(client_in, account.number)
    response = bind(client_in, account.number)
    assert page_errors(response) == ["您已绑定该户号"]
    assert AccountBinding.objects.filter(user=user).count() == 1


def test_several_accounts_with_labels_and_another_user_may_bind_the_same_account(client, client_in, user, account):
    parents = AccountFactory(
        customer=CustomerFactory(name="王五", **id_number_fields("422801195001015678")), name="王五"
    )
    bind(client_in, account.number, label="家里")
    bind(client_in, parents.number, name="王五", id_last4="5678", label="父母家")
    assert list(
        AccountBinding.objects.filter(user=user).order_by("bound_at", "pk").values_list("account__number", "label")
    ) == [(account.number, "家里"), (parents.number, "父母家")]
    spouse = PortalUserFactory()
    client.force_login(spouse)
    assert bind(client, account.number).status_code == 302
    assert AccountBinding.objects.filter(account=account, unbound_at__isnull=True).count() == 2


def test_binding_pages_need_a_login(client, account):
    for url in (LIST, ADD, reverse("portal:binding_settings", args=[account.number])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.post(ADD, {"account_number": account.number}).status_code == 302
    assert not BindingAttempt.objects.exists()


def test_binding_list_queries_do_not_grow_with_bindings(client_in, user, django_assert_max_num_queries):
    for _ in range(6):
        AccountBindingFactory(user=user)
    with django_assert_max_num_queries(8):
        response = client_in.get(LIST)
    assert response.content.decode().count("提醒设置") == 6


# --- lockouts ------------------------------------------------------------------------------------------------


def test_five_failures_in_15_minutes_lock_the_user_for_15_minutes_even_with_right_details(client_in, user, account):
    for _ in range(5):
        assert page_errors(bind(client_in, account.number, id_last4="0000")) == [REFUSAL]
    response = bind(client_in, account.number)
    assert page_errors(response) == ["尝试次数过多，已暂时锁定，请15分钟后再试。如需帮助请拨打95598。"]
    assert not AccountBinding.objects.exists()
    # Nothing is checked or counted while locked.
    assert BindingAttempt.objects.count() == 5


def test_the_15_minute_lock_ends_and_says_the_time_left(client_in, user, account):
    now = timezone.now()
    fail_times(user, "198.51.100.1", [now - datetime.timedelta(minutes=m) for m in (14, 13, 12, 11, 10)])
    # Locked until 10 minutes ago + 15 = 5 minutes from now.
    assert page_errors(bind(client_in, account.number)) == ["尝试次数过多，已暂时锁定，请5分钟后再试。如需帮助请拨打95598。"]
    BindingAttempt.objects.update(attempted_at=now - datetime.timedelta(minutes=16))
    assert bind(client_in, account.number).status_code == 302


def test_ten_failures_in_a_day_lock_the_user_for_24_hours(client_in, user, account):
    now = timezone.now()
    # Two an hour: never 5 within 15 minutes, but 10 within the day; the last one 30 minutes ago.
    times = [now - datetime.timedelta(minutes=30 + 40 * i) for i in range(10)]
    fail_times(user, "198.51.100.1", times)
    assert page_errors(bind(client_in, account.number)) == [
        "尝试次数过多，已暂时锁定，请23小时30分钟后再试。如需帮助请拨打95598。"
    ]
    BindingAttempt.objects.filter(attempted_at=max(times)).delete()
    # Nine left: still within the day but under 10, and no 5 within 15 minutes.
    assert bind(client_in, account.number).status_code == 302


def test_an_address_with_many_failures_is_locked_for_every_user_on_it(client, account):
    now = timezone.now()
    guessers = [PortalUserFactory() for _ in range(4)]
    for guesser in guessers:
        fail_times(guesser, "203.0.113.50", [now - datetime.timedelta(minutes=1)] * 5)
    newcomer = PortalUserFactory()
    client.force_login(newcomer)
    assert page_errors(bind(client, account.number, ip="203.0.113.50")) == [
        "尝试次数过多，已暂时锁定，请14分钟后再试。如需帮助请拨打95598。"
    ]
    assert bind(client, account.number, ip="203.0.113.51").status_code == 302


def test_a_locked_user_is_locked_from_every_address(client_in, user, account):
    fail_times(user, "198.51.100.1", [timezone.now()] * 5)
    assert page_errors(bind(client_in, account.number, ip="192.0.2.99"))[0].startswith("尝试次数过多")


# --- binding by SMS code -------------------------------------------------------------------------------------


def sms_codes(account):
    return list(
        Message.objects.filter(event=Event.BINDING_CODE, to=account.customer.phone).order_by("id")
        .values_list("body", flat=True)
    )


def code_from(body: str) -> str:
    return body.split("验证码")[1][:6]


def test_sms_code_sent_to_the_phone_on_file_then_binds_once(client_in, user, account):
    response = bind(client_in, account.number, method=BindingMethod.SMS_CODE, action="send_code")
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [CODE_SENT]
    [body] = sms_codes(account)
    code = code_from(body)
    assert body == f"【国网95598】您正在绑定户号{account.number}，验证码{code}，10分钟内有效。如非本人操作请忽略。"
    stored = BindingCode.objects.get()
    assert code not in stored.code_hash and len(stored.code_hash) == 64
    assert stored.expires_at - stored.sent_at == datetime.timedelta(minutes=10)

    response = bind(client_in, account.number, method=BindingMethod.SMS_CODE, sms_code=code, label="家里")
    assert response.status_code == 302
    binding = AccountBinding.objects.get(user=user)
    assert (binding.account, binding.method) == (account, BindingMethod.SMS_CODE)
    stored.refresh_from_db()
    assert stored.used_at is not None and stored.attempts == 1
    # A used code binds nothing again (after unbinding, the same code is refused).
    AccountBinding.objects.update(unbound_at=timezone.now())
    assert page_errors(bind(client_in, account.number, method=BindingMethod.SMS_CODE, sms_code=code)) == [REFUSAL]


def test_code_request_answers_the_same_whatever_the_details_and_sends_only_when_they_match(client_in, account):
    replies = []
    for number, name in ((UNKNOWN_NUMBER, "张三"), (account.number, "李四"), (account.number, "张三")):
        response = bind(client_in, number, name=name, method=BindingMethod.SMS_CODE, action="send_code")
        replies.append(([str(m) for m in response.context["messages"]], page_errors(response)))
    assert replies == [([CODE_SENT], [])] * 3
    assert len(sms_codes(account)) == 1
    assert Message.objects.filter(event=Event.BINDING_CODE).count() == 1
    # The two mismatches counted as failed tries.
    assert list(BindingAttempt.objects.order_by("id").values_list("account_number", "succeeded")) == [
        (UNKNOWN_NUMBER, False), (account.number, False)
    ]


def test_no_second_code_within_a_minute_and_at_most_five_a_day_per_account(client_in, account):
    def send():
        bind(client_in, account.number, method=BindingMethod.SMS_CODE, action="send_code")

    send()
    send()
    assert len(sms_codes(account)) == 1
    for _ in range(6):
        BindingCode.objects.update(sent_at=timezone.now() - datetime.timedelta(minutes=2))
        send()
    assert len(sms_codes(account)) == 5


def test_a_code_allows_five_tries_then_even_the_right_one_is_refused(client_in, user, account):
    bind(client_in, account.number, method=BindingMethod.SMS_CODE, action="send_code")
    code = code_from(sms_codes(account)[0])
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        assert page_errors(bind(client_in, account.number, method=BindingMethod.SMS_CODE, sms_code=wrong)) == [REFUSAL]
    # Clear the user's failures so the lockout does not answer first: the code's own limit is what is tested.
    BindingAttempt.objects.all().delete()
    assert page_errors(bind(client_in, account.number, method=BindingMethod.SMS_CODE, sms_code=wrong)) == [REFUSAL]
    BindingAttempt.objects.all().delete()
    assert BindingCode.objects.get().attempts == 5
    assert page_errors(bind(client_in, account.number, method=BindingMethod.SMS_CODE, sms_code=code)) == [REFUSAL]
    assert not AccountBinding.objects.exists()


def test_an_expired_code_is_refused(client_in, account):
    bind(client_in, account.number, method=BindingMethod.SMS_CODE, action="send_code")
    code = code_from(sms_codes(account)[0])
    BindingCode.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert page_errors(bind(client_in, account.number, method=BindingMethod.SMS_CODE, sms_code=code)) == [REFUSAL]


def test_another_users_code_does_not_bind(client, client_in, account):
    bind(client_in, account.number, method=BindingMethod.SMS_CODE, action="send_code")
    code = code_from(sms_codes(account)[0])
    client.force_login(PortalUserFactory())
    assert page_errors(bind(client, account.number, method=BindingMethod.SMS_CODE, sms_code=code)) == [REFUSAL]


def test_sms_method_needs_a_code(client_in, account):
    response = bind(client_in, account.number, method=BindingMethod.SMS_CODE, sms_code=" ")
    assert response.context["form"].errors == {"sms_code": ["请输入短信验证码"]}


# --- settings and unbinding ----------------------------------------------------------------------------------


def test_alert_settings_saved(client_in, user, account):
    binding = AccountBindingFactory(user=user, account=account)
    url = reverse("portal:binding_settings", args=[account.number])
    page = client_in.get(url)
    assert page.context["form"].initial == {"label": "", "low_balance_threshold": D("10.00"), "tier_alerts": True}
    response = client_in.post(url, {"label": "父母家", "low_balance_threshold": "25.5"})
    assert response.status_code == 302 and response["Location"] == LIST
    binding.refresh_from_db()
    assert (binding.label, binding.low_balance_threshold, binding.tier_alerts) == ("父母家", D("25.50"), False)


@pytest.mark.parametrize(
    "value, message",
    [
        ("abc", "请输入有效的金额"),
        ("NaN", "请输入有效的金额"),
        ("Infinity", "请输入有效的金额"),
        ("0.50", "余额提醒阈值应在1.00元到5000.00元之间"),
        ("5000.01", "余额提醒阈值应在1.00元到5000.00元之间"),
        ("1e30", "余额提醒阈值应在1.00元到5000.00元之间"),
        ("10.001", "金额最多保留两位小数"),
    ],
)
def test_bad_thresholds_are_refused_and_nothing_changes(client_in, user, account, value, message):
    binding = AccountBindingFactory(user=user, account=account, label="家里")
    response = client_in.post(
        reverse("portal:binding_settings", args=[account.number]),
        {"label": "新名字", "low_balance_threshold": value, "tier_alerts": "on"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"low_balance_threshold": [message]}
    binding.refresh_from_db()
    assert (binding.label, binding.low_balance_threshold, binding.tier_alerts) == ("家里", D("10.00"), True)


def test_unbind_after_confirming_and_the_account_is_gone_from_the_portal(client_in, user, account):
    binding = AccountBindingFactory(user=user, account=account)
    url = reverse("portal:binding_unbind", args=[account.number])
    confirm = client_in.get(url)
    assert confirm.status_code == 200
    AccountBinding.objects.filter(pk=binding.pk, unbound_at__isnull=True).get()
    response = client_in.post(url)
    assert response.status_code == 302 and response["Location"] == LIST
    binding.refresh_from_db()
    assert binding.unbound_at is not None
    assert client_in.get(reverse("portal:binding_settings", args=[account.number])).status_code == 404
    assert client_in.post(url).status_code == 404
    # Bind again later: a new row, the old one kept.
    assert bind(client_in, account.number).status_code == 302
    assert AccountBinding.objects.filter(user=user, account=account).count() == 2
