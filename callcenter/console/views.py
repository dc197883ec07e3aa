"""The agent console page and the JSON actions it posts about a call: thin — check the agent and the call,
parse, call one action, answer JSON. Refusals are 400 with the translated message; another agent's call is 404."""
from __future__ import annotations

import json
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from callcenter.console import actions
from callcenter.console.access import callcenter_access
from callcenter.console.agent_state import agent_presence_or_none, agent_state_payload
from callcenter.consumers import PBX_STATUS_CACHE_KEY
from callcenter.ivr.flow import NODE_LABELS
from core.errors import DomainError
from core.models import AgentState, Branch, BusinessType, ComplaintClass
from core.selectors.caller_profile import call_for_agent_or_none, caller_profile
from core.services.calls import WrapUpCode
from core.services.personal_data import REVEALABLE_FIELDS

NOT_READY_REASONS = (
    gettext_lazy("小休"),
    gettext_lazy("用餐"),
    gettext_lazy("培训"),
    gettext_lazy("会议"),
    gettext_lazy("后台处理"),
)
FIELD_LABELS = {
    "name": gettext_lazy("客户名称"),
    "phone": gettext_lazy("联系电话"),
    "email": gettext_lazy("电子邮箱"),
    "account_name": gettext_lazy("户名"),
    "address": gettext_lazy("用电地址"),
}

# What the console's script shows, translated here (the script holds no text of its own).
CONSOLE_TEXT = {
    "connected": gettext_lazy("已连接"),
    "reconnecting": gettext_lazy("连接中断，正在重连…"),
    "pbx_connected": gettext_lazy("交换机已连接"),
    "pbx_disconnected": gettext_lazy("交换机未连接"),
    "number": gettext_lazy("户号"),
    "status": gettext_lazy("状态"),
    "balance": gettext_lazy("账户余额"),
    "arrears": gettext_lazy("欠费"),
    "prepaid": gettext_lazy("预存"),
    "bills": gettext_lazy("近期账单"),
    "outages": gettext_lazy("停电信息"),
    "until": gettext_lazy("预计恢复"),
    "past_expected_end": gettext_lazy("已过预计恢复时间（{ends}），尚未恢复送电，抢修中"),
    "no_tickets": gettext_lazy("没有在途工单"),
    "no_hits": gettext_lazy("没有找到答复"),
    "ticket_opened": gettext_lazy("已新建工单"),
    "note_added": gettext_lazy("已补充到工单"),
    "sms_sent": gettext_lazy("短信已提交发送"),
    "wrapped_up": gettext_lazy("小结已保存"),
    "callback_sent": gettext_lazy("回呼请求已发送至交换机"),
    "pbx_failed": gettext_lazy("交换机执行失败："),
    "call_ended": gettext_lazy("通话已结束，请提交小结"),
    "storm": gettext_lazy("已向来电告知停电："),
    "use_account": gettext_lazy("是此客户"),
    "queue_state": gettext_lazy("排队 {waiting} 个 · 最长等待 {longest} 秒 · 就绪坐席 {ready} 人"),
    # An amount with its currency, in the page's language: "128.40元" / "CNY 128.40".
    "money": gettext_lazy("{amount}元"),
    "failed": gettext_lazy("操作失败，请重试"),
}


def _json(body: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def _refused(message: str, status: int, field: str | None = None) -> JsonResponse:
    return _json({"ok": False, "error": message, "field": field}, status=status)


def agent_required(view):
    """Signed-in staff in the agent role (or superusers); others get 403."""

    @wraps(view)
    def check(request, *args, **kwargs):
        if not callcenter_access(request.user).agent:
            if request.method == "POST":
                return _refused(_("只有95598坐席可以操作"), 403)
            raise PermissionDenied(_("只有95598坐席可以使用坐席工作台"))
        return view(request, *args, **kwargs)

    return login_required(check)


def call_action(view):
    """A POST about one of the agent's calls with a JSON object body: the call and the body are handed over,
    domain refusals become 400."""

    @require_POST
    @agent_required
    @wraps(view)
    def run(request, call_id: int):
        call = call_for_agent_or_none(call_id=call_id, agent=request.user)
        if call is None:
            return _refused(_("呼叫记录不存在"), 404)
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _refused(_("请求格式无效"), 400)
        try:
            return view(request, call, body)
        except DomainError as refused:
            return _refused(str(refused), 400, refused.field)

    return run


def _text(body: dict, name: str) -> str:
    value = body.get(name, "")
    return value if isinstance(value, str) else ""


@require_GET
@agent_required
def console_page(request: HttpRequest) -> HttpResponse:
    presence = agent_presence_or_none(agent=request.user)
    pbx_status = cache.get(PBX_STATUS_CACHE_KEY) or {}
    context = {
        "agent_state": agent_state_payload(presence=presence),
        "pbx_connected": bool(pbx_status.get("connected")) if isinstance(pbx_status, dict) else False,
        "states": [(state.value, state.label) for state in (AgentState.READY, AgentState.NOT_READY,
                                                            AgentState.AFTER_CALL_WORK, AgentState.LOGGED_OUT)],
        "not_ready_reasons": NOT_READY_REASONS,
        "wrap_up_codes": WrapUpCode.choices,
        "business_types": BusinessType.choices,
        "complaint_classes": ComplaintClass.choices,
        "branches": Branch.objects.order_by("code").values_list("pk", "name"),
        "field_labels": {name: str(FIELD_LABELS[name]) for name in REVEALABLE_FIELDS},
        "config": {
            "ws_path": "/ws/callcenter/",
            # "/callcenter/calls/": the script appends "<id>/" and the action's path.
            "calls_prefix": reverse("callcenter:call_profile", args=[0]).rsplit("0/", 1)[0],
            "knowledge_url": reverse("cms_staff:knowledge_search"),
            "heartbeat_seconds": 20,
            # The IVR nodes of the caller's path, in words.
            "ivr_labels": {node: str(label) for node, label in NODE_LABELS.items()},
        },
    }
    context["text"] = {key: str(value) for key, value in CONSOLE_TEXT.items()}
    return render(request, "callcenter/console.html", context)


@require_GET
@agent_required
def call_profile_view(request: HttpRequest, call_id: int) -> JsonResponse:
    """The pop again (after a reload of the page while a call is on)."""
    call = call_for_agent_or_none(call_id=call_id, agent=request.user)
    if call is None:
        return _refused(_("呼叫记录不存在"), 404)
    return _json({"ok": True, "call_id": call.pk, "call_key": call.call_key, "profile": caller_profile(call=call)})


@call_action
def reveal_view(request, call, body) -> JsonResponse:
    fields = body.get("fields")
    if not isinstance(fields, list) or not all(isinstance(name, str) for name in fields):
        return _refused(_("请选择要查看的信息"), 400, "fields")
    values = actions.call_personal_data_reveal(
        call=call, agent=request.user, fields=fields, account_id=body.get("account_id")
    )
    return _json({"ok": True, "values": values})


@call_action
def identify_view(request, call, body) -> JsonResponse:
    call = actions.call_identity_confirm(call=call, agent=request.user, account_number=_text(body, "account_number"))
    return _json({"ok": True, "profile": caller_profile(call=call)})


@call_action
def ticket_open_view(request, call, body) -> JsonResponse:
    sequence = body.get("sequence", 1)
    ticket = actions.call_ticket_open(
        call=call, agent=request.user, business_type=_text(body, "business_type"), summary=_text(body, "summary"),
        description=_text(body, "description"), account_id=body.get("account_id"),
        complaint_class=_text(body, "complaint_class"), branch_id=body.get("branch_id"),
        sequence=sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else 0,
    )
    return _json({"ok": True, "ticket": {"id": ticket.pk, "number": ticket.number,
                                         "business_type_label": str(ticket.get_business_type_display())}})


@call_action
def ticket_note_view(request, call, body) -> JsonResponse:
    ticket = actions.call_ticket_note_add(
        call=call, agent=request.user, ticket_number=_text(body, "ticket_number"), note=_text(body, "note")
    )
    return _json({"ok": True, "ticket": {"id": ticket.pk, "number": ticket.number}})


@call_action
def sms_view(request, call, body) -> JsonResponse:
    actions.call_sms_send(call=call, agent=request.user, text=_text(body, "text"),
                          request_key=_text(body, "request_key"))
    return _json({"ok": True})


@call_action
def wrap_up_view(request, call, body) -> JsonResponse:
    call = actions.call_wrap_up_record(call=call, agent=request.user, code=_text(body, "code"),
                                       note=_text(body, "note"))
    return _json({"ok": True, "wrap_up_code": call.wrap_up_code})


@call_action
def callback_view(request, call, body) -> JsonResponse:
    request_id = actions.call_callback(call=call, agent=request.user)
    return _json({"ok": True, "request_id": request_id})
