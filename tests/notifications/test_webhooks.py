"""Twilio webhooks through HTTP with real signatures: delivery receipts and STOP/START replies."""
import pytest
from twilio.request_validator import RequestValidator

from notifications.models import Message, SmsOptOut

from .conftest import local

pytestmark = pytest.mark.django_db

STATUS_URL = "/notifications/twilio/status/"
INBOUND_URL = "/notifications/twilio/inbound/"
TOKEN = "webhook-token"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


@pytest.fixture(autouse=True)
def _token(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.NOTIFICATIONS_PUBLIC_BASE_URL = "https://95598.example.cn"


def signed_post(client, path, params, *, url=None, token=TOKEN):
    signature = RequestValidator(token).compute_signature(url or f"http://testserver{path}", params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.fixture
def sent_sms(customer):
    return Message.objects.create(
        channel="sms", event="outage_restored", recipient_customer=customer, to="13800138000", language="zh-hans",
        body="x", idempotency_key="k", state="sent", attempts=1, provider="twilio", provider_sid="SM123",
    )


def test_delivered_receipt(client, sent_sms, frozen):
    response = signed_post(client, STATUS_URL, {"MessageSid": "SM123", "MessageStatus": "delivered"})

    sent_sms.refresh_from_db()
    assert response.status_code == 204
    assert (sent_sms.state, sent_sms.delivered_at) == ("delivered", local(2026, 11, 23, 10))


def test_undelivered_receipt_records_the_error_code(client, sent_sms, frozen):
    response = signed_post(
        client, STATUS_URL, {"MessageSid": "SM123", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )

    sent_sms.refresh_from_db()
    assert response.status_code == 204
    assert (sent_sms.state, sent_sms.last_error) == ("failed", "Twilio undelivered 30003")


def test_signature_over_the_public_url_is_accepted(client, sent_sms, frozen):
    params = {"MessageSid": "SM123", "MessageStatus": "delivered"}
    response = signed_post(client, STATUS_URL, params, url=f"https://95598.example.cn{STATUS_URL}")

    assert response.status_code == 204
    assert Message.objects.get().state == "delivered"


def test_late_sent_status_does_not_undo_delivery(client, sent_sms, frozen):
    signed_post(client, STATUS_URL, {"MessageSid": "SM123", "MessageStatus": "delivered"})
    signed_post(client, STATUS_URL, {"MessageSid": "SM123", "MessageStatus": "failed"})

    assert Message.objects.get().state == "delivered"


@pytest.mark.parametrize("path", [STATUS_URL, INBOUND_URL])
def test_unsigned_and_forged_requests_are_forbidden(client, sent_sms, path):
    params = {"MessageSid": "SM123", "MessageStatus": "delivered", "From": "+8613800138000", "Body": "TD"}

    unsigned = client.post(path, params)
    forged = signed_post(client, path, params, token="not-the-token")

    assert (unsigned.status_code, forged.status_code) == (403, 403)
    assert Message.objects.get().state == "sent"
    assert SmsOptOut.objects.count() == 0


@pytest.mark.parametrize("keyword", ["TD", "td", "STOP", "退订"])
def test_stop_keywords_opt_the_phone_out(client, keyword):
    response = signed_post(client, INBOUND_URL, {"From": "+8613800138000", "Body": f" {keyword} "})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert response.content.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
        "【国网95598】您已退订通知短信，验证码和停电通知仍会发送。回复START可恢复。</Message></Response>"
    )
    assert list(SmsOptOut.objects.values_list("phone", "keyword")) == [("13800138000", keyword.upper())]


def test_start_opts_back_in(client):
    SmsOptOut.objects.create(phone="13800138000", keyword="TD")

    response = signed_post(client, INBOUND_URL, {"From": "+8613800138000", "Body": "START"})

    assert "您已恢复接收通知短信" in response.content.decode()
    assert SmsOptOut.objects.count() == 0


def test_other_replies_get_an_empty_response(client):
    response = signed_post(client, INBOUND_URL, {"From": "+8613800138000", "Body": "你好"})

    assert response.content.decode() == EMPTY_TWIML
    assert SmsOptOut.objects.count() == 0


def test_webhooks_refuse_get(client):
    assert client.get(STATUS_URL).status_code == 405
