"""The staff failures page /staff/notifications/ and its resend button, through HTTP."""
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from notifications.errors import MessageNotResendable
from notifications.models import Message
from notifications.services import message_resend

pytestmark = pytest.mark.django_db

URL = "/staff/notifications/"


def staff(username="supervisor", *, is_staff=True, can_resend=True):
    user = get_user_model().objects.create_user(username, password="pw", is_staff=is_staff)
    if can_resend:
        user.user_permissions.add(Permission.objects.get(codename="resend_message"))
    return user


def message(customer, key, state, error=""):
    return Message.objects.create(
        channel="sms", event="payment_received", recipient_customer=customer, to=customer.phone,
        language="zh-hans", body="【国网95598】缴费到账", idempotency_key=key, state=state,
        attempts=6 if state == "dead" else 1,
        last_error=error,
    )


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(URL)

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/staff/notifications/")


@pytest.mark.parametrize(("is_staff", "can_resend"), [(True, False), (False, True)])
def test_staff_flag_and_permission_are_both_required(client, is_staff, can_resend):
    client.force_login(staff(is_staff=is_staff, can_resend=can_resend))

    assert client.get(URL).status_code == 403


def test_lists_failed_and_dead_messages_with_their_errors(client, customer, django_assert_num_queries):
    message(customer, "a", "failed", "Twilio 400 21211 Unable to create record: Invalid 'To' Phone Number")
    message(customer, "b", "dead", "Twilio 500 20500 Unable to create record: Internal Server Error")
    message(customer, "c", "delivered")
    client.force_login(staff())

    # The sixth query records the customers' phone numbers shown (the personal-data access log).
    with django_assert_num_queries(6):
        response = client.get(URL)

    page = response.content.decode()
    assert response.status_code == 200
    assert "发送失败的消息" in page
    assert "Invalid &#x27;To&#x27; Phone Number" in page
    assert "Internal Server Error" in page
    assert page.count("重发</button>") == 2
    assert [m.idempotency_key for m in response.context["failures"]] == ["b", "a"]


def test_resend_button_queues_the_message_again(customer, frozen, django_capture_on_commit_callbacks):
    failed = message(customer, "a", "dead", "Twilio 500")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff())
    page = client.get(URL)
    token = page.cookies["csrftoken"].value

    forbidden = client.post(f"{URL}{failed.pk}/resend/")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}{failed.pk}/resend/", {"csrfmiddlewaretoken": token}, follow=True)

    failed.refresh_from_db()
    assert forbidden.status_code == 403
    assert response.redirect_chain == [(URL, 302)]
    assert "已重新排队发送" in response.content.decode()
    # Twilio is not configured here: the database backend records it as delivered.
    assert (failed.state, failed.attempts, failed.last_error, failed.provider) == ("delivered", 1, "", "database")


def test_resending_a_delivered_message_is_refused(client, customer):
    delivered = message(customer, "a", "delivered")
    client.force_login(staff())

    response = client.post(f"{URL}{delivered.pk}/resend/", follow=True)

    assert "只有发送失败的消息可以重发" in response.content.decode()
    assert Message.objects.get().state == "delivered"
    with pytest.raises(MessageNotResendable):
        message_resend(message_id=delivered.pk)
