"""What the agent does from a screen-pop, each one call of core (or of the PBX) in one transaction: open a ticket
prefilled from the call, add a note to an existing ticket, confirm who is calling, open masked personal data,
send the caller an SMS, wrap up, and call the caller back through the PBX.

The call has already been checked to be the agent's (core.selectors.caller_profile.call_for_agent_or_none)."""
from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from callcenter.pbx_control import pbx_command_send
from core.errors import DomainError
from core.models import Account, AgentPresence, Branch, Call, CallTicketRelation, Channel, Ticket, TicketEvent
from core.services.caller_requests import agent_message_send
from core.services.calls import call_identify, call_ticket_link, call_wrap_up
from core.services.personal_data import personal_data_reveal
from core.services.tickets import ticket_event_record, ticket_open

TWILIO_INTERFACE_PREFIX = "twilio:"
NOTE_LIMIT = 1000
REQUEST_KEY_LIMIT = 40


class ConsoleActionRefused(DomainError):
    code = "console_action_refused"


def _account_of_call(*, call: Call, account_id) -> Account | None:
    """An account the call may act on: the call's customer's, or one the calling number matches while nobody is
    identified yet. None when none was asked for; refused when it is someone else's."""
    if account_id in (None, ""):
        return call.account
    account = Account.objects.select_related("customer").filter(pk=account_id).first() if str(account_id).isdigit() \
        else None
    if account is None:
        raise ConsoleActionRefused(_("户号不存在"), field="account_id")
    customer_id = call.customer_id or (call.account.customer_id if call.account_id else None)
    if customer_id is not None:
        allowed = account.customer_id == customer_id
    else:
        allowed = bool(call.caller_number) and account.customer.phone == call.caller_number
    if not allowed:
        raise ConsoleActionRefused(_("该户号与来电客户不符"), field="account_id")
    return account


def call_personal_data_reveal(*, call: Call, agent, fields: list[str], account_id=None) -> dict:
    """Open the caller's personal data from the pop; logged against the call ("call:<id>")."""
    account = _account_of_call(call=call, account_id=account_id)
    customer = account.customer if account is not None else call.customer
    if customer is None:
        raise ConsoleActionRefused(_("尚未识别来电客户"), field="account_id")
    return personal_data_reveal(
        staff=agent, customer=customer, account=account, fields=fields, context=f"call:{call.pk}"
    )


def call_identity_confirm(*, call: Call, agent, account_number: str) -> Call:
    """The agent confirms the caller holds this account (asked on the phone)."""
    account = Account.objects.filter(number=(account_number or "").strip()).first()
    if account is None:
        raise ConsoleActionRefused(_("户号不存在"), field="account_number")
    return call_identify(call_id=call.pk, account=account, agent=agent)


def call_ticket_open(
    *, call: Call, agent, business_type: str, summary: str, description: str = "", account_id=None,
    complaint_class: str = "", branch_id=None, sequence: int = 1,
) -> Ticket:
    """A ticket of any business type accepted by the agent from the call, prefilled with the caller's account,
    contact and what the IVR learned, and linked to the call. The same call, type and sequence give the same
    ticket (a double click opens one)."""
    if not isinstance(sequence, int) or sequence < 1 or sequence > 99:
        raise ConsoleActionRefused(_("序号无效"), field="sequence")
    account = _account_of_call(call=call, account_id=account_id)
    customer = account.customer if account is not None else call.customer
    branch = account.branch if account is not None else None
    if branch is None and branch_id not in (None, ""):
        branch = Branch.objects.filter(pk=branch_id).first() if str(branch_id).isdigit() else None
        if branch is None:
            raise ConsoleActionRefused(_("县公司不存在"), field="branch_id")
    with transaction.atomic():
        ticket = ticket_open(
            business_type=business_type, channel=Channel.AGENT, summary=summary, description=description,
            customer=customer, account=account, branch=branch,
            contact_name=customer.name if customer is not None else "",
            contact_phone=call.caller_number, address=account.address if account is not None else "",
            complaint_class=complaint_class,
            data={"call_key": call.call_key, "ivr": call.ivr_data if isinstance(call.ivr_data, dict) else {}},
            opened_by=agent, idempotency_key=f"call:{call.call_key}:{business_type}:{sequence}",
        )
        call_ticket_link(call_id=call.pk, ticket=ticket, relation=CallTicketRelation.OPENED, by=agent)
    return ticket


def call_ticket_note_add(*, call: Call, agent, ticket_number: str, note: str) -> Ticket:
    """What the caller added to a ticket already open, as a staff note on it, and the call linked to it."""
    note = (note or "").strip()
    if not note:
        raise ConsoleActionRefused(_("请填写补充内容"), field="note")
    if len(note) > NOTE_LIMIT:
        raise ConsoleActionRefused(_("补充内容不能超过1000个字"), field="note")
    ticket = Ticket.objects.filter(number=(ticket_number or "").strip()).first()
    if ticket is None:
        raise ConsoleActionRefused(_("工单不存在"), field="ticket_number")
    if ticket.state not in (Ticket.State.OPEN, Ticket.State.SUSPENDED):
        raise ConsoleActionRefused(_("工单已办结或已撤销，请新建工单"), field="ticket_number")
    with transaction.atomic():
        ticket_event_record(
            ticket=ticket, kind=TicketEvent.Kind.NOTE, at=timezone.now(),
            user=agent, note=note, after={"call_key": call.call_key},
        )
        call_ticket_link(call_id=call.pk, ticket=ticket, relation=CallTicketRelation.ADDED, by=agent)
    return ticket


def call_sms_send(*, call: Call, agent, text: str, request_key: str = "") -> None:
    """A text message from the agent to the caller (sent after commit by notifications); the same form key
    sends once."""
    if len(request_key) > REQUEST_KEY_LIMIT or not all(ch.isalnum() or ch == "-" for ch in request_key):
        raise ConsoleActionRefused(_("请求标识无效"), field="request_key")
    agent_message_send(call_id=call.pk, agent=agent, text=text, request_key=request_key)


def call_wrap_up_record(*, call: Call, agent, code: str, note: str = "") -> Call:
    return call_wrap_up(call_id=call.pk, agent=agent, code=code, note=note)


def call_callback(*, call: Call, agent) -> str:
    """Ring the agent's own phone and, once answered, dial the caller back (AMI Originate); returns the PBX
    request id, answered on the agent's socket as a pbx_result."""
    if not call.caller_number or not call.caller_number.isdigit():
        raise ConsoleActionRefused(_("来电号码无效，无法回呼"))
    interface = AgentPresence.objects.filter(agent=agent).values_list("interface", flat=True).first()
    if not interface:
        raise ConsoleActionRefused(_("尚未配置坐席分机，请联系班长"))
    if interface.startswith(TWILIO_INTERFACE_PREFIX):
        raise ConsoleActionRefused(_("网络坐席不能通过交换机回呼"))
    fields = {
        "Channel": interface,
        "Context": getattr(settings, "CALLCENTER_CALLBACK_CONTEXT", "callback-out"),
        "Exten": call.caller_number,
        "Priority": "1",
        "CallerID": f"95598 <{call.dialled_number or '95598'}>",
        "Async": "true",
        "Variable": f"CALLBACK_CALL_KEY={call.call_key}",
    }
    return pbx_command_send(action="Originate", fields=fields, reply_to_agent_id=agent.pk)
