"""Texting a binding code: core issues it, this entry-point helper hands it to notifications (core imports no
notifications). The message is queued after the request's transaction commits."""
from __future__ import annotations

from core.services.account_binding import binding_code_issue
from notifications.models import Channel, Event
from notifications.services import notification_request


def binding_code_request(*, user, account_number: str, holder_name: str, ip_address: str | None) -> None:
    """Issue a code and text it to the account's phone on file when the details match; silent otherwise."""
    issued = binding_code_issue(
        user=user, account_number=account_number, holder_name=holder_name, ip_address=ip_address
    )
    if issued is None:
        return
    notification_request(
        recipient_customer=issued.account.customer,
        event=Event.BINDING_CODE,
        data={"account_number": issued.account.number, "code": issued.code, "minutes": issued.minutes},
        idempotency_key=f"binding-code:{issued.code_id}",
        channels=[Channel.SMS],
    )
