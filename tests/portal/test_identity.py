"""Portal identity through real HTTP: SMS-code sign-up and sign-in (the code read from the texted Message), email and
password, password reset mail, the sessions list, staff TOTP on the login path, CSRF on the login form."""
import re
import time
from io import StringIO

import pytest
from allauth.account.internal.flows import code_verification
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from allauth.usersessions.models import UserSession
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from core.services.demo_logins import DEMO_TOTP_SECRET, demo_users_ensure
from notifications.models import Channel, Event, Message, Urgency
from portal.identity.phones import mobile_normalise
from portal.models import UserPhone

pytestmark = pytest.mark.django_db

PHONE = "13800138000"
PASSWORD = "Dianfei-2026!"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"


def texted_code(phone: str = PHONE) -> str:
    """The code in the newest login-code SMS to this phone (the console/fake SMS backend's record)."""
    message = Message.objects.filter(event=Event.LOGIN_CODE, channel=Channel.SMS, to=phone).latest("id")
    return re.search(r"验证码为(\d{6})", message.body).group(1)


def totp_now(secret: str = TOTP_SECRET) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def customer_with_phone(phone: str = PHONE, *, username: str = "zhangsan") -> User:
    user = User.objects.create_user(username=username)
    UserPhone.objects.create(user=user, phone=phone)
    return user


def staff_user(*, username: str = "clerk", with_totp: bool = False) -> User:
    user = User.objects.create_user(username=username, email=f"{username}@example.com", password=PASSWORD,
                                    is_staff=True)
    if with_totp:
        Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP,
                                     data={"secret": get_mfa_adapter().encrypt(TOTP_SECRET)})
    return user


def request_login_code(client: Client, phone: str = PHONE):
    return client.post(reverse("account_request_login_code"), {"phone": phone})


# --- mobile numbers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000",
                                   "8613800138000", "0086-13800138000"])
def test_mainland_mobile_numbers_are_normalised_to_eleven_digits(typed):
    assert mobile_normalise(typed) == "13800138000"


def test_a_number_that_is_not_a_mainland_mobile_is_refused_on_signup(client):
    for typed in ["12800138000", "1380013800", "23800138000", "+1 415 555 0100"]:
        response = client.post(reverse("account_signup"), {"phone": typed})
        assert response.status_code == 200
        assert response.context["form"].errors["phone"] == ["请输入正确的11位手机号码"]
    assert not User.objects.exists()
    assert not Message.objects.exists()


# --- sign-up and sign-in by SMS code --------------------------------------------------------------------------------


def test_sms_signup_texts_a_code_and_the_code_signs_the_new_customer_in(client):
    response = client.post(reverse("account_signup"), {"phone": "138 0013 8000"})
    assert (response.status_code, response["Location"]) == (302, reverse("account_verify_phone"))
    user = User.objects.get()
    assert (user.phone.phone, user.phone.verified_at, user.has_usable_password()) == (PHONE, None, False)
    sms = Message.objects.get(event=Event.LOGIN_CODE)
    assert (sms.channel, sms.to, sms.recipient_user, sms.recipient_customer, sms.urgency) == (
        Channel.SMS, PHONE, user, None, Urgency.URGENT)
    assert re.fullmatch(r"【国网95598】您的登录验证码为\d{6}，5分钟内有效，请勿告知他人。", sms.body)

    page = client.get(reverse("account_verify_phone"))
    assert "验证码已发送至 13800138000" in page.content.decode()
    response = client.post(reverse("account_verify_phone"), {"code": texted_code()})
    assert (response.status_code, response["Location"]) == (302, "/portal/")
    user.phone.refresh_from_db()
    assert user.phone.verified_at is not None
    assert client.get(reverse("usersessions_list")).status_code == 200


def test_sms_login_sends_a_fresh_code_and_signs_in_with_it(client):
    user = customer_with_phone()
    response = request_login_code(client, "+86 13800138000")
    assert (response.status_code, response["Location"]) == (302, reverse("account_confirm_login_code"))
    sms = Message.objects.get(event=Event.LOGIN_CODE)
    assert (sms.to, sms.recipient_user) == (PHONE, user)
    response = client.post(reverse("account_confirm_login_code"), {"code": texted_code()})
    assert (response.status_code, response["Location"]) == (302, "/portal/")
    assert int(client.session["_auth_user_id"]) == user.pk


def test_a_wrong_code_is_refused_and_three_wrong_codes_end_the_attempt(client):
    customer_with_phone()
    request_login_code(client)
    right = texted_code()
    wrong = "000000" if right != "000000" else "111111"
    for _attempt in range(2):
        response = client.post(reverse("account_confirm_login_code"), {"code": wrong})
        assert response.status_code == 200
        assert response.context["form"].errors["code"] == ["验证码不正确或已过期"]
    response = client.post(reverse("account_confirm_login_code"), {"code": wrong})
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    # The attempt is over: even the right code no longer signs in.
    response = client.post(reverse("account_confirm_login_code"), {"code": right})
    assert response.status_code == 302 and response["Location"] != "/portal/"
    assert "_auth_user_id" not in client.session


def test_an_expired_code_is_refused(client, monkeypatch):
    customer_with_phone()
    request_login_code(client)
    code = texted_code()

    class Later:
        @staticmethod
        def time():
            return time.time() + 5 * 60 + 1

    monkeypatch.setattr(code_verification, "time", Later)
    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert (response.status_code, response["Location"]) == (302, reverse("account_request_login_code"))
    assert "_auth_user_id" not in client.session


def test_an_unknown_number_gets_no_text_and_the_page_does_not_say_so(client):
    response = request_login_code(client, "13900000000")
    assert (response.status_code, response["Location"]) == (302, reverse("account_confirm_login_code"))
    assert not Message.objects.exists()


def test_login_codes_to_one_number_are_rate_limited(client):
    customer_with_phone()
    request_login_code(client)
    response = Client().post(reverse("account_request_login_code"), {"phone": PHONE})
    assert response.status_code == 200
    assert response.context["form"].errors["phone"] == ["尝试次数过多，请稍后再试"]
    assert Message.objects.filter(event=Event.LOGIN_CODE).count() == 1


def test_signing_up_with_a_taken_number_creates_nobody_and_texts_nothing(client):
    customer_with_phone()
    response = client.post(reverse("account_signup"), {"phone": PHONE})
    assert response.status_code == 302
    assert User.objects.count() == 1
    assert not Message.objects.exists()


# --- email and password ---------------------------------------------------------------------------------------------


def test_email_signup_then_password_login_lands_on_the_portal(client):
    response = client.post(reverse("account_signup"), {
        "email": "li.si@example.com", "password1": PASSWORD, "password2": PASSWORD,
    })
    assert (response.status_code, response["Location"]) == (302, "/portal/")
    user = User.objects.get(email="li.si@example.com")
    assert not UserPhone.objects.filter(user=user).exists()
    assert [m.to for m in mail.outbox] == [["li.si@example.com"]]  # the address confirmation

    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("account_login"), {"login": "li.si@example.com", "password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/portal/")
    assert int(client.session["_auth_user_id"]) == user.pk


def test_signup_needs_a_phone_or_an_email_with_a_password(client):
    response = client.post(reverse("account_signup"), {})
    assert response.context["form"].non_field_errors() == ["请填写手机号码，或填写电子邮箱并设置密码"]
    response = client.post(reverse("account_signup"), {"email": "wang@example.com"})
    assert response.context["form"].errors["password1"] == ["用电子邮箱注册需要设置密码"]
    assert not User.objects.exists()


def test_a_wrong_password_is_refused(client):
    User.objects.create_user(username="lisi", email="li.si@example.com", password=PASSWORD)
    response = client.post(reverse("account_login"), {"login": "li.si@example.com", "password": "wrong-one"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_password_reset_mails_a_link_that_sets_a_new_password(client):
    User.objects.create_user(username="lisi", email="li.si@example.com", password=PASSWORD)
    response = client.post(reverse("account_reset_password"), {"email": "li.si@example.com"})
    assert (response.status_code, response["Location"]) == (302, reverse("account_reset_password_done"))
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["li.si@example.com"]
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    response = client.post(action, {"password1": "Xin-mima-2026!", "password2": "Xin-mima-2026!"})
    assert (response.status_code, response["Location"]) == (302, reverse("account_reset_password_from_key_done"))
    assert User.objects.get(username="lisi").check_password("Xin-mima-2026!")


def test_csrf_is_enforced_on_the_login_form():
    User.objects.create_user(username="lisi", email="li.si@example.com", password=PASSWORD)
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(reverse("account_login"), {"login": "li.si@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in browser.session
    page = browser.get(reverse("account_login"))
    token = page.cookies["csrftoken"].value
    response = browser.post(reverse("account_login"), {
        "login": "li.si@example.com", "password": PASSWORD, "csrfmiddlewaretoken": token,
    })
    assert (response.status_code, response["Location"]) == (302, "/portal/")


def test_the_login_page_is_the_portal_frame_in_chinese(client):
    body = client.get(reverse("account_login")).content.decode()
    assert "portal/identity.css" in body
    assert "手机短信验证码登录" in body
    assert 'href="/accounts/login/code/"' in body


# --- sessions -------------------------------------------------------------------------------------------------------


def password_login(client: Client, login: str) -> None:
    response = client.post(reverse("account_login"), {"login": login, "password": PASSWORD},
                           HTTP_USER_AGENT=f"browser-of-{id(client)}")
    assert response.status_code == 302


def test_sessions_are_listed_and_another_one_can_be_signed_out():
    user = User.objects.create_user(username="lisi", email="li.si@example.com", password=PASSWORD)
    phone_browser, laptop = Client(), Client()
    password_login(phone_browser, "li.si@example.com")
    password_login(laptop, "li.si@example.com")
    page = phone_browser.get(reverse("usersessions_list"))
    assert page.context["session_count"] == 2
    assert page.content.decode().count("退出该设备") == 1
    other = UserSession.objects.get(user=user, session_key=laptop.session.session_key)

    response = phone_browser.post(reverse("identity_session_end", args=[other.pk]))
    assert (response.status_code, response["Location"]) == (302, reverse("usersessions_list"))
    assert UserSession.objects.filter(user=user).count() == 1
    assert laptop.get(reverse("usersessions_list"))["Location"].startswith("/accounts/login/")
    assert phone_browser.get(reverse("usersessions_list")).status_code == 200


def test_someone_elses_session_cannot_be_ended():
    User.objects.create_user(username="lisi", email="li.si@example.com", password=PASSWORD)
    User.objects.create_user(username="wangwu", email="wang.wu@example.com", password=PASSWORD)
    mine, theirs = Client(), Client()
    password_login(mine, "li.si@example.com")
    password_login(theirs, "wang.wu@example.com")
    their_session = UserSession.objects.get(user__username="wangwu")
    assert mine.post(reverse("identity_session_end", args=[their_session.pk])).status_code == 404
    assert mine.get(reverse("identity_session_end", args=[their_session.pk])).status_code == 405
    assert theirs.get(reverse("usersessions_list")).status_code == 200


def test_signing_out_all_other_sessions():
    User.objects.create_user(username="lisi", email="li.si@example.com", password=PASSWORD)
    browsers = [Client(), Client(), Client()]
    for browser in browsers:
        password_login(browser, "li.si@example.com")
    response = browsers[0].post(reverse("usersessions_list"))
    assert response.status_code == 302
    assert UserSession.objects.count() == 1
    assert [b.get(reverse("usersessions_list")).status_code for b in browsers] == [200, 302, 302]


# --- staff TOTP -----------------------------------------------------------------------------------------------------


def test_staff_without_an_authenticator_are_held_on_the_totp_setup_until_they_add_one(client):
    user = staff_user()
    response = client.post(reverse("account_login"), {"login": "clerk", "password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/staff/queue/")
    for path in ["/staff/queue/", "/portal/", "/django-admin/", reverse("usersessions_list")]:
        response = client.get(path)
        assert (response.status_code, response["Location"]) == (302, reverse("mfa_activate_totp")), path

    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = page.context["form"].secret
    assert secret in page.content.decode()
    response = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert response.status_code == 200
    assert not Authenticator.objects.filter(user=user).exists()
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_now(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert client.get(reverse("usersessions_list")).status_code == 200


def test_staff_with_an_authenticator_are_asked_for_a_code(client):
    staff_user(with_totp=True)
    response = client.post(reverse("account_login"), {"login": "clerk@example.com", "password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, reverse("mfa_authenticate"))
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": "123456" if totp_now() != "123456" else "654321"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": totp_now()})
    assert (response.status_code, response["Location"]) == (302, "/staff/queue/")
    assert client.get(reverse("usersessions_list")).status_code == 200


def test_force_login_staff_are_not_held_and_customers_never_are(client):
    client.force_login(staff_user())
    assert client.get(reverse("usersessions_list")).status_code == 200
    customer = Client()
    User.objects.create_user(username="lisi", email="li.si@example.com", password=PASSWORD)
    password_login(customer, "li.si@example.com")
    assert customer.get(reverse("usersessions_list")).status_code == 200


# --- demo staff TOTP ------------------------------------------------------------------------------------------------


def test_demo_staff_get_the_fixed_totp_secret_in_debug_and_the_command_prints_it(settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("demo_logins", stdout=out)
    assert out.getvalue().splitlines()[-1] == f"员工账号登录需两步验证，身份验证器密钥（TOTP）：{DEMO_TOTP_SECRET}"
    totp = Authenticator.objects.filter(type=Authenticator.Type.TOTP)
    holders = sorted(totp.values_list("user__username", flat=True))
    assert holders == [
        "demo-accountant", "demo-admin", "demo-agent", "demo-approver", "demo-cashier", "demo-clerk", "demo-editor",
        "demo-supervisor",
    ]
    demo_users_ensure()
    assert Authenticator.objects.count() == 8

    client = Client()
    response = client.post(reverse("account_login"), {"login": "demo-agent", "password": "demo95598"})
    assert response["Location"] == reverse("mfa_authenticate")
    response = client.post(reverse("mfa_authenticate"), {"code": totp_now(DEMO_TOTP_SECRET)})
    assert (response.status_code, response["Location"]) == (302, "/staff/queue/")


def test_no_demo_totp_without_debug(settings):
    settings.DEBUG = False
    demo_users_ensure(allow_fixed_passwords=True)
    assert not Authenticator.objects.exists()


def test_the_admins_password_forms_send_staff_to_the_allauth_login(client):
    response = client.get("/django-admin/login/?next=/django-admin/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/django-admin/")
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/?next=%2Fadmin%2F"
    staff_user()
    response = client.post("/django-admin/login/", {"username": "clerk", "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_the_other_allauth_pages_render_in_the_portal_frame(client):
    client.force_login(User.objects.create_user(username="lisi", email="li.si@example.com", password=PASSWORD))
    for name in ["account_email", "account_change_password", "mfa_index", "account_logout"]:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert "portal/identity.css" in response.content.decode(), name
