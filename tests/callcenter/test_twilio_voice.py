"""The Twilio voice webhooks: every request's signature checked (unsigned, forged, signed for another URL or with
other fields: 403 and nothing recorded), the public URL behind a proxy, the TwiML shape, the call's start, queue
outcome and end as call facts, and a gather for a call whose IVR state is gone."""
from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse
from twilio.request_validator import RequestValidator

from core.models import AgentState, Call, CallOutcome, CallState, CallTransport
from tests.callcenter.factories import agent_presence, call_agent_user
from tests.callcenter.ivr_support import TWILIO_TOKEN, TwilioCaller

pytestmark = pytest.mark.django_db

SID = "CA" + "a1" * 16


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.CALLCENTER_TWILIO_PUBLIC_BASE_URL = ""


def _fields(**extra):
    return {"CallSid": SID, "From": "+8613900000000", "To": "+8695598", "CallStatus": "ringing", **extra}


def _signed_post(client, name, data, *, url=None, token=TWILIO_TOKEN, **headers):
    signature = RequestValidator(token).compute_signature(url or "http://testserver" + reverse(name), data)
    return client.post(reverse(name), data, HTTP_X_TWILIO_SIGNATURE=signature, **headers)


@pytest.mark.parametrize("name", ["callcenter:twilio_voice", "callcenter:twilio_gather", "callcenter:twilio_queue",
                                  "callcenter:twilio_status"])
def test_unsigned_forged_or_misdirected_requests_are_refused(client, name):
    data = _fields(Digits="1", QueueResult="bridged")
    assert client.post(reverse(name), data).status_code == 403
    assert client.post(reverse(name), data, HTTP_X_TWILIO_SIGNATURE="bm90IGEgc2lnbmF0dXJl").status_code == 403
    assert _signed_post(client, name, data, token="another-token").status_code == 403
    assert _signed_post(client, name, data, url="http://testserver/elsewhere/").status_code == 403
    signature = RequestValidator(TWILIO_TOKEN).compute_signature("http://testserver" + reverse(name), data)
    tampered = {**data, "From": "+8613800000001"}
    assert client.post(reverse(name), tampered, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403
    assert Call.objects.count() == 0


def test_nothing_is_accepted_without_an_auth_token(client, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    response = _signed_post(client, "callcenter:twilio_voice", _fields(), token="")
    assert response.status_code == 403 and Call.objects.count() == 0


def test_get_is_not_allowed_and_a_malformed_call_sid_is_a_clear_400(client):
    assert client.get(reverse("callcenter:twilio_voice")).status_code == 405
    response = _signed_post(client, "callcenter:twilio_voice", _fields(CallSid="not-a-sid"))
    assert (response.status_code, response.content) == (400, b"CallSid missing or malformed")
    assert Call.objects.count() == 0


def test_behind_a_proxy_the_public_url_is_the_one_signed(client, settings):
    settings.CALLCENTER_TWILIO_PUBLIC_BASE_URL = "https://95598.example.cn/"
    public = "https://95598.example.cn" + reverse("callcenter:twilio_voice")
    assert _signed_post(client, "callcenter:twilio_voice", _fields()).status_code == 403
    response = _signed_post(client, "callcenter:twilio_voice", _fields(), url=public)
    assert response.status_code == 200


def test_an_incoming_call_is_recorded_and_answered_with_a_gather_in_mandarin(client):
    response = _signed_post(client, "callcenter:twilio_voice", _fields())
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    root = ET.fromstring(response.content)
    gather = root.find("Gather")
    assert gather.attrib == {
        "action": "/callcenter/twilio/gather/", "actionOnEmptyResult": "true", "input": "dtmf", "method": "POST",
        "numDigits": "1", "timeout": "6",
    }
    says = [(say.get("language"), say.text) for say in gather.findall("Say")]
    assert says == [
        ("zh-CN", "您好，欢迎致电国网九五五九八供电服务热线。普通话请按1。"), ("en-US", "For English, press 2."),
    ]
    call = Call.objects.get()
    assert (call.call_key, call.transport, call.caller_number, call.dialled_number, call.state) == (
        f"twilio:{SID}", CallTransport.TWILIO, "13900000000", "+8695598", CallState.IVR)


def test_a_gather_for_a_call_whose_state_is_gone_says_goodbye(client):
    response = _signed_post(client, "callcenter:twilio_gather", _fields(Digits="1"))
    assert response.status_code == 200
    assert response.content.decode().endswith(
        '<Response><Say language="zh-CN">感谢您的来电，再见。</Say><Hangup /></Response>')
    assert Call.objects.count() == 0


def test_the_key_for_an_account_number_is_collected_up_to_hash(client):
    caller = TwilioCaller(client, caller="+8613900000000")
    caller.dial()
    caller.press("1")
    heard = caller.press("1")
    gather = ET.fromstring(heard.twiml).find("Gather")
    assert (gather.get("numDigits"), gather.get("finishOnKey"), gather.get("timeout")) == ("10", "#", "10")


def test_transfer_offers_the_longest_idle_ready_agent_then_the_queue_outcome_and_the_end(client):
    now = datetime.datetime.now(datetime.UTC)
    earlier = agent_presence(call_agent_user(), interface="twilio:wang", since=now - datetime.timedelta(minutes=9))
    agent_presence(call_agent_user(), interface="twilio:li", since=now - datetime.timedelta(minutes=2))
    caller = TwilioCaller(client, caller="+8613900000000")
    caller.dial()
    caller.press("1")
    heard = caller.press("0")
    assert heard.end == "transfer"
    call = Call.objects.get()
    assert (call.state, call.queue, call.agent_interface) == (CallState.RINGING, "hotline", "twilio:wang")

    response = caller.post("callcenter:twilio_queue", QueueResult="bridged", QueueTime="12", CallStatus="in-progress")
    assert response.status_code == 200 and b"<Hangup />" in response.content
    call.refresh_from_db()
    assert (call.state, call.agent, call.queue_wait_seconds) == (CallState.TALKING, earlier.agent, 12)
    earlier.refresh_from_db()
    assert earlier.state == AgentState.ON_CALL

    response = caller.post("callcenter:twilio_status", CallStatus="completed", CallDuration="95")
    assert response.status_code == 204
    call.refresh_from_db()
    assert (call.state, call.outcome, call.hangup_cause, call.hangup_cause_text) == (
        CallState.ENDED, CallOutcome.ANSWERED, 16, "Normal Clearing")
    # The IVR state is gone with the call: a late gather only says goodbye.
    assert b"<Hangup />" in caller.post("callcenter:twilio_gather", Digits="1").content


def test_a_caller_who_hangs_up_in_the_queue_abandoned_it(client):
    caller = TwilioCaller(client, caller="+8613900000000")
    caller.dial()
    caller.press("1")
    caller.press("0")
    assert caller.post("callcenter:twilio_queue", QueueResult="hangup", QueueTime="40").status_code == 200
    assert caller.post("callcenter:twilio_status", CallStatus="completed").status_code == 204
    call = Call.objects.get()
    assert (call.state, call.outcome, call.agent) == (CallState.ENDED, CallOutcome.ABANDONED, None)


def test_an_intermediate_status_changes_nothing_and_a_self_served_call_ends_resolved(client):
    caller = TwilioCaller(client, caller="+8613900000000")
    caller.dial()
    assert caller.post("callcenter:twilio_status", CallStatus="in-progress").status_code == 204
    assert Call.objects.get().state == CallState.IVR
    caller.press("1")
    caller.press("4")
    caller.press("99999999999")
    caller.press("99999999999")
    assert caller.post("callcenter:twilio_status", CallStatus="completed").status_code == 204
    call = Call.objects.get()
    # Transferred after two unknown ticket numbers, hung up before the queue answered the redirect.
    assert (call.outcome, call.ivr_data["transfer_reason"]) == (CallOutcome.ABANDONED, "invalid_input")
