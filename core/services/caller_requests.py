"""What a caller asks the hotline to send them: a payment link by SMS, a message from the agent, an SMS when power
is back after an outage the IVR told them about; and a fault report filed from the IVR.

Each request is checked here and leaves after commit as core.signals.caller_sms_requested (notifications sends
it). Who receives what is decided here, once: a payment link goes only to the phone on file for the account's
customer (the link and the amount are the account holder's, whoever keyed the number); an agent's message goes to
the calling number when it is a mobile, else to the identified customer's phone; a restoration SMS goes to the
number that asked.
"""
from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from functools import partial
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.models import Account, Call, Outage, OutageState, RestorationCallback
from core.models import Channel as TicketChannel
from core.selectors.accounts import account_amount_due
from core.selectors.callers import caller_number_is_mobile, caller_number_normalise
from core.services.portal_requests import FaultReportOutcome, fault_report_file
from core.signals import caller_sms_requested

AGENT_MESSAGE_MAX_LENGTH = 300

KIND_PAYMENT_LINK = "payment_link"
KIND_AGENT_MESSAGE = "agent_message"
KIND_RESTORATION_REGISTERED = "restoration_callback_registered"


class CallerRequestError(DomainError):
    code = "caller_request_error"


class CallerPhoneMissing(CallerRequestError):
    code = "caller_phone_missing"


class NothingDue(CallerRequestError):
    code = "nothing_due"


class AgentMessageInvalid(CallerRequestError):
    code = "agent_message_invalid"


class RestorationCallbackInvalid(CallerRequestError):
    code = "restoration_callback_invalid"


def _now(at: datetime.datetime | None) -> datetime.datetime:
    return at or timezone.now()


def _sms_on_commit(*, kind: str, phone: str, data: dict, idempotency_key: str, customer_id: int | None) -> None:
    transaction.on_commit(
        partial(
            caller_sms_requested.send_robust, sender=Call, kind=kind, phone=phone, data=data,
            idempotency_key=idempotency_key, customer_id=customer_id,
        ),
        robust=True,
    )


@dataclass(frozen=True)
class PaymentLinkSent:
    account_number: str
    amount_due: Decimal
    phone_last_digits: str  # what the IVR reads back: "sent to the phone on file ending in ..."


def payment_link_request(
    *, account: Account, call_key: str = "", at: datetime.datetime | None = None
) -> PaymentLinkSent:
    """Ask for the account's payment link to be texted to the customer's phone on file (once per call and
    account: asking twice in one call sends one SMS). A postpaid account that owes nothing has nothing to pay; a
    prepaid account may always top up. Locks nothing."""
    at = _now(at)
    phone = caller_number_normalise(account.customer.phone)
    if not caller_number_is_mobile(phone):
        raise CallerPhoneMissing(_("该户号未登记手机号码，无法发送缴费链接"))
    due = account_amount_due(account=account, as_of=timezone.localdate(at))
    if due.total_due <= 0 and account.billing_mode != Account.BillingMode.PREPAID:
        raise NothingDue(_("该户号当前没有应缴电费"))
    key = (
        f"paylink:{call_key}:{account.number}" if call_key
        else f"paylink:{account.number}:{at:%Y%m%d%H%M%S%f}"
    )
    _sms_on_commit(
        kind=KIND_PAYMENT_LINK, phone=phone, idempotency_key=key[:100], customer_id=account.customer_id,
        data={
            "account_number": account.number, "amount_due": f"{due.total_due:.2f}",
            "hours": settings.CALLCENTER_PAYMENT_LINK_HOURS,
        },
    )
    return PaymentLinkSent(account_number=account.number, amount_due=due.total_due, phone_last_digits=phone[-4:])


@dataclass(frozen=True)
class AgentMessageSent:
    phone: str
    idempotency_key: str


def agent_message_send(
    *, call_id: int, agent, text: str, request_key: str = "", at: datetime.datetime | None = None
) -> AgentMessageSent:
    """An agent texts the caller of a call: to the calling number when it is a mobile, else to the identified
    customer's phone on file. `request_key` (the console's form key) makes a resubmitted form send once."""
    text = (text or "").strip()
    if not text:
        raise AgentMessageInvalid(_("短信内容不能为空"), field="text")
    if len(text) > AGENT_MESSAGE_MAX_LENGTH:
        raise AgentMessageInvalid(
            _("短信内容不能超过%(limit)s个字") % {"limit": AGENT_MESSAGE_MAX_LENGTH}, field="text"
        )
    call = Call.objects.select_related("customer").filter(pk=call_id).first()
    if call is None:
        raise AgentMessageInvalid(_("呼叫记录不存在"), field="call")
    phone = caller_number_normalise(call.caller_number)
    if not caller_number_is_mobile(phone):
        phone = caller_number_normalise(call.customer.phone) if call.customer is not None else ""
    if not caller_number_is_mobile(phone):
        raise CallerPhoneMissing(_("来电号码不是手机号码，且客户未登记手机号码，无法发送短信"))
    presence = getattr(agent, "agent_presence", None)
    agent_number = _agent_number(presence.interface if presence is not None else "") or agent.get_username()
    key = f"agent-msg:{call.pk}:{request_key or uuid.uuid4().hex}"[:100]
    _sms_on_commit(
        kind=KIND_AGENT_MESSAGE, phone=phone, idempotency_key=key, customer_id=call.customer_id,
        data={"text": text, "agent_number": agent_number},
    )
    return AgentMessageSent(phone=phone, idempotency_key=key)


def _agent_number(interface: str) -> str:
    """The extension in "Local/1001@agents/n" or "PJSIP/1001"; "" for a Twilio client."""
    if interface.startswith("twilio:"):
        return ""
    name = interface.split("/", 1)[-1]
    return name.split("@", 1)[0].split("-", 1)[0]


def restoration_callback_register(
    *, outage: Outage, phone: str, account: Account | None = None, call_id: int | None = None,
    at: datetime.datetime | None = None,
) -> RestorationCallback:
    """Record that this number wants an SMS when the outage's power is back; asking again for the same outage is
    the one request. Only an outage that is still on can be followed."""
    at = _now(at)
    phone = caller_number_normalise(phone)
    if not caller_number_is_mobile(phone):
        raise RestorationCallbackInvalid(_("来电号码不是手机号码，无法发送恢复送电短信"), field="phone")
    if outage.state != OutageState.ANNOUNCED:
        raise RestorationCallbackInvalid(_("该停电已结束，无需登记"), field="outage")
    try:
        with transaction.atomic():
            callback, created = RestorationCallback.objects.get_or_create(
                outage=outage, phone=phone,
                defaults={"account": account, "call_id": call_id, "requested_at": at},
            )
    except IntegrityError:
        # A concurrent twin registered the same number first.
        callback, created = RestorationCallback.objects.get(outage=outage, phone=phone), False
    if created:
        _sms_on_commit(
            kind=KIND_RESTORATION_REGISTERED, phone=phone, idempotency_key=f"restoration:{callback.pk}",
            customer_id=account.customer_id if account is not None else None,
            data={"restoration_callback_id": callback.pk, "outage_id": outage.pk},
        )
    return callback


def ivr_fault_report(
    *, account: Account, phone: str, call_key: str, at: datetime.datetime | None = None
) -> FaultReportOutcome:
    """A fault report keyed on the IVR: on the known outage's ticket, the area's open repair ticket, or a new
    repair ticket (core.services.portal_requests.fault_report_file decides); one report per call and account."""
    phone = caller_number_normalise(phone)
    if not phone:
        phone = caller_number_normalise(account.customer.phone)
    return fault_report_file(
        user=None, phone=phone, description=str(_("客户通过95598语音自助报修：家中停电")), account=account,
        idempotency_key=f"ivr-fault:{call_key}:{account.number}"[:100], at=at, channel=TicketChannel.IVR,
    )
