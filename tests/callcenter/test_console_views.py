"""The agent console page and its JSON actions through the test client: only the agent's own call, every refusal
a clear 400 that changes nothing, personal data opened only on request and logged."""
import json
import re

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.models import (
    AgentState,
    Call,
    CallState,
    CallTicket,
    CallTransport,
    IdentifiedBy,
    PersonalDataAccess,
    Ticket,
    TicketEvent,
)
from core.services.tickets import ticket_open
from core.signals import caller_sms_requested
from tests.callcenter.factories import agent_presence, call_agent_user
from tests.factories import AccountFactory, CustomerFactory
from tests.ticket_factories import TEST_BUSINESS_TYPE, sample_process

pytestmark = pytest.mark.django_db
INTERFACE = "Local/1001@agents/n"


@pytest.fixture
def agent():
    user = call_agent_user(username="agent-qian")
    agent_presence(user, interface=INTERFACE, state=AgentState.ON_CALL)
    return user


@pytest.fixture
def account():
    customer = CustomerFactory(name="王五", phone="13712345678", email="wang@example.com")
    return AccountFactory(customer=customer, address="湖北省恩施市舞阳坝街道施州大道12号")


@pytest.fixture
def call(agent, account):
    now = timezone.now()
    return Call.objects.create(
        transport=CallTransport.ASTERISK, call_key="1763860000.7", caller_number="13712345678",
        dialled_number="95598", state=CallState.TALKING, customer=account.customer, account=account,
        identified_by=IdentifiedBy.CALLER_ID, started_at=now, queued_at=now, answered_at=now, agent=agent,
        agent_interface=INTERFACE, queue="hotline", ivr_data={"intent": "agent"},
    )


def _post(client, call_id: int, action: str, body) -> tuple[int, dict]:
    response = client.post(f"/callcenter/calls/{call_id}/{action}", data=json.dumps(body),
                           content_type="application/json")
    return response.status_code, response.json()


def test_the_console_page_is_for_agents_only(client, agent):
    assert client.get("/callcenter/console/")["Location"] == "/accounts/login/?next=/callcenter/console/"
    client.force_login(get_user_model().objects.create_user("customer"))
    assert client.get("/callcenter/console/").status_code == 403
    client.force_login(call_agent_user(supervisor=True))
    assert client.get("/callcenter/console/").status_code == 403

    client.force_login(agent)
    response = client.get("/callcenter/console/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "95598坐席工作台" in page and "通话中" in page and "交换机未连接" in page
    assert '"calls_prefix": "/callcenter/calls/"' in page and '"knowledge_url": "/staff/knowledge/"' in page
    # The pop says an outage past its expected end as such, never as an expected restoration.
    text = json.loads(re.search(r'<script id="console-text" type="application/json">(.*?)</script>', page).group(1))
    assert (text["until"], text["past_expected_end"]) == ("预计恢复", "已过预计恢复时间（{ends}），尚未恢复送电，抢修中")


def test_the_pop_can_be_read_again_by_its_agent_only(client, agent, call):
    client.force_login(agent)
    answer = client.get(f"/callcenter/calls/{call.pk}/").json()
    assert (answer["call_key"], answer["profile"]["customer"]["name_masked"]) == ("1763860000.7", "王*")
    client.force_login(call_agent_user())
    assert client.get(f"/callcenter/calls/{call.pk}/").status_code == 404


def test_another_agents_call_is_404_for_every_action_and_nothing_changes(client, call):
    client.force_login(call_agent_user())
    for action, body in [
        ("reveal/", {"fields": ["phone"]}), ("identify/", {"account_number": call.account.number}),
        ("tickets/", {"business_type": TEST_BUSINESS_TYPE, "summary": "x"}),
        ("tickets/note/", {"ticket_number": "x", "note": "x"}), ("sms/", {"text": "x"}),
        ("wrap-up/", {"code": "resolved"}), ("callback/", {}),
    ]:
        assert _post(client, call.pk, action, body) == (404, {"ok": False, "error": "呼叫记录不存在", "field": None})
    assert not PersonalDataAccess.objects.exists() and not Ticket.objects.exists()
    call.refresh_from_db()
    assert call.wrap_up_code == ""


def test_a_supervisor_and_a_customer_cannot_post_actions(client, call):
    for user in (call_agent_user(supervisor=True), get_user_model().objects.create_user("customer")):
        client.force_login(user)
        status, answer = _post(client, call.pk, "wrap-up/", {"code": "resolved"})
        assert (status, answer["error"]) == (403, "只有95598坐席可以操作")


def test_revealing_the_phone_and_address_returns_them_and_logs_the_opening(client, agent, call, account):
    client.force_login(agent)
    status, answer = _post(client, call.pk, "reveal/", {"fields": ["phone", "address"], "account_id": account.pk})
    assert (status, answer) == (200, {"ok": True, "values": {
        "phone": "13712345678", "address": "湖北省恩施市舞阳坝街道施州大道12号"}})
    access = PersonalDataAccess.objects.get()
    assert (access.staff, access.customer, access.account, access.fields, access.context) == (
        agent, account.customer, account, ["phone", "address"], f"call:{call.pk}"
    )


def test_revealing_someone_elses_account_or_bad_fields_is_refused_and_not_logged(client, agent, call):
    client.force_login(agent)
    stranger = AccountFactory()
    assert _post(client, call.pk, "reveal/", {"fields": ["address"], "account_id": stranger.pk}) == (
        400, {"ok": False, "error": "该户号与来电客户不符", "field": "account_id"})
    assert _post(client, call.pk, "reveal/", {"fields": "phone"}) == (
        400, {"ok": False, "error": "请选择要查看的信息", "field": "fields"})
    assert _post(client, call.pk, "reveal/", {"fields": ["id_number"]})[1]["error"] == "不能查看的信息：id_number"
    assert _post(client, call.pk, "reveal/", ["phone"]) == (400, {"ok": False, "error": "请求格式无效", "field": None})
    assert not PersonalDataAccess.objects.exists()


def test_an_unidentified_caller_can_be_revealed_only_through_an_account_of_the_calling_number(client, agent, call,
                                                                                              account):
    Call.objects.filter(pk=call.pk).update(customer=None, account=None, identified_by="")
    client.force_login(agent)
    assert _post(client, call.pk, "reveal/", {"fields": ["name"]})[1]["error"] == "尚未识别来电客户"
    status, answer = _post(client, call.pk, "reveal/", {"fields": ["name"], "account_id": account.pk})
    assert (status, answer["values"]) == (200, {"name": "王五"})


def test_confirming_the_callers_account(client, agent, call):
    other = AccountFactory(customer=CustomerFactory(name="赵六"))
    client.force_login(agent)
    status, answer = _post(client, call.pk, "identify/", {"account_number": other.number})
    assert status == 200
    assert answer["profile"]["customer"]["name_masked"] == "赵*"
    assert answer["profile"]["call"]["identified_by"] == "agent"
    call.refresh_from_db()
    assert (call.account, call.customer, call.identified_by) == (other, other.customer, IdentifiedBy.AGENT)
    assert _post(client, call.pk, "identify/", {"account_number": "0000000000"}) == (
        400, {"ok": False, "error": "户号不存在", "field": "account_number"})


def test_opening_a_ticket_from_the_call_prefills_it_links_it_and_a_double_click_opens_one(client, agent, call,
                                                                                          account):
    sample_process()
    client.force_login(agent)
    body = {"business_type": TEST_BUSINESS_TYPE, "summary": "电表走快", "description": "客户来电反映",
            "account_id": account.pk, "sequence": 1}
    status, answer = _post(client, call.pk, "tickets/", body)
    assert status == 200
    ticket = Ticket.objects.get()
    assert answer == {"ok": True, "ticket": {"id": ticket.pk, "number": ticket.number,
                                             "business_type_label": "计量异常"}}
    assert (ticket.channel, ticket.account, ticket.customer, ticket.contact_phone, ticket.contact_name,
            ticket.address, ticket.opened_by, ticket.idempotency_key) == (
        "agent", account, account.customer, "13712345678", "王五", account.address, agent,
        f"call:1763860000.7:{TEST_BUSINESS_TYPE}:1",
    )
    assert ticket.data == {"call_key": "1763860000.7", "ivr": {"intent": "agent"}}
    assert list(CallTicket.objects.values_list("call_id", "ticket_id", "relation")) == [(call.pk, ticket.pk, "opened")]

    assert _post(client, call.pk, "tickets/", body)[1]["ticket"]["number"] == ticket.number
    assert Ticket.objects.count() == 1
    _post(client, call.pk, "tickets/", {**body, "sequence": 2})
    assert Ticket.objects.count() == 2


def test_bad_ticket_requests_are_refused_and_open_nothing(client, agent, call):
    sample_process()
    client.force_login(agent)
    assert _post(client, call.pk, "tickets/", {"business_type": "nonsense", "summary": "x"}) == (
        400, {"ok": False, "error": "业务类型无效", "field": "business_type"})
    assert _post(client, call.pk, "tickets/", {"business_type": TEST_BUSINESS_TYPE, "summary": "x",
                                                "sequence": "1"})[1]["error"] == "序号无效"
    assert _post(client, call.pk, "tickets/", {"business_type": TEST_BUSINESS_TYPE, "summary": "x",
                                                "account_id": AccountFactory().pk})[1]["error"] == "该户号与来电客户不符"
    assert not Ticket.objects.exists() and not CallTicket.objects.exists()


def test_adding_to_an_existing_ticket_notes_it_and_links_the_call(client, agent, call, account):
    sample_process()
    ticket = ticket_open(business_type=TEST_BUSINESS_TYPE, channel="portal", summary="电表走快", account=account)
    client.force_login(agent)
    status, answer = _post(client, call.pk, "tickets/note/", {"ticket_number": ticket.number, "note": "客户催办"})
    assert (status, answer) == (200, {"ok": True, "ticket": {"id": ticket.pk, "number": ticket.number}})
    note = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.NOTE)
    assert (note.note, note.actor, note.public, note.after) == ("客户催办", agent, False, {"call_key": "1763860000.7"})
    assert list(CallTicket.objects.values_list("relation", flat=True)) == ["added"]

    Ticket.objects.filter(pk=ticket.pk).update(state=Ticket.State.CLOSED)
    assert _post(client, call.pk, "tickets/note/", {"ticket_number": ticket.number, "note": "再次"})[1]["error"] == (
        "工单已办结或已撤销，请新建工单")
    assert _post(client, call.pk, "tickets/note/", {"ticket_number": "NOPE", "note": "x"})[1]["error"] == "工单不存在"
    assert _post(client, call.pk, "tickets/note/", {"ticket_number": ticket.number, "note": " "})[1]["error"] == (
        "请填写补充内容")
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.NOTE).count() == 1


def test_an_sms_to_the_caller_is_requested_after_commit_once_per_form(client, agent, call,
                                                                     django_capture_on_commit_callbacks):
    sent = []

    def record(sender, **kwargs):
        sent.append((kwargs["kind"], kwargs["phone"], kwargs["data"]["text"], kwargs["idempotency_key"]))

    caller_sms_requested.connect(record)
    try:
        client.force_login(agent)
        with django_capture_on_commit_callbacks(execute=True):
            status, answer = _post(client, call.pk, "sms/", {"text": "您的工单已受理", "request_key": "k1-abc"})
        assert (status, answer) == (200, {"ok": True})
        assert _post(client, call.pk, "sms/", {"text": " "})[1]["error"] == "短信内容不能为空"
        assert _post(client, call.pk, "sms/", {"text": "x", "request_key": "bad key!"})[1]["error"] == "请求标识无效"
    finally:
        caller_sms_requested.disconnect(record)
    assert sent == [("agent_message", "13712345678", "您的工单已受理", f"agent-msg:{call.pk}:k1-abc")]


def test_wrap_up_records_the_code(client, agent, call):
    client.force_login(agent)
    assert _post(client, call.pk, "wrap-up/", {"code": "resolved", "note": "已解释电价"}) == (
        200, {"ok": True, "wrap_up_code": "resolved"})
    call.refresh_from_db()
    assert (call.wrap_up_code, call.wrap_up_note) == ("resolved", "已解释电价")
    assert _post(client, call.pk, "wrap-up/", {"code": "bogus"}) == (
        400, {"ok": False, "error": "请选择小结代码", "field": "code"})


def test_callback_asks_the_pbx_to_ring_the_agent_then_the_caller(client, agent, call,
                                                                 django_capture_on_commit_callbacks):
    layer = get_channel_layer()
    pbx = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("callcenter.pbx", pbx)
    client.force_login(agent)
    with django_capture_on_commit_callbacks(execute=True):
        status, answer = _post(client, call.pk, "callback/", {})
    assert status == 200
    command = async_to_sync(layer.receive)(pbx)
    async_to_sync(layer.group_discard)("callcenter.pbx", pbx)
    assert command == {
        "type": "pbx.command", "request_id": answer["request_id"], "action": "Originate", "reply_to_agent_id": agent.pk,
        "fields": {"Channel": INTERFACE, "Context": "callback-out", "Exten": "13712345678", "Priority": "1",
                   "CallerID": "95598 <95598>", "Async": "true", "Variable": "CALLBACK_CALL_KEY=1763860000.7"},
    }


def test_callback_needs_a_dialable_number_and_a_pbx_extension(client, agent, call):
    client.force_login(agent)
    Call.objects.filter(pk=call.pk).update(caller_number="anonymous")
    assert _post(client, call.pk, "callback/", {})[1]["error"] == "来电号码无效，无法回呼"
    Call.objects.filter(pk=call.pk).update(caller_number="13712345678")
    agent.agent_presence.interface = "twilio:agent-qian"
    agent.agent_presence.save()
    assert _post(client, call.pk, "callback/", {})[1]["error"] == "网络坐席不能通过交换机回呼"
