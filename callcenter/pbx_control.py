"""Commands for the PBX from anywhere in the platform (the console's state buttons, click-to-call): they go over the
channel layer to the run_ami worker(s) listening on the group `callcenter.pbx`, which run the AMI action and answer
the agent with a `pbx_result` message. With no worker listening a command is simply not answered."""
from __future__ import annotations

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError

PBX_GROUP = "callcenter.pbx"
# The AMI actions the worker runs for the platform; anything else is refused here and again by the worker.
PBX_ACTIONS = frozenset({"QueueAdd", "QueueRemove", "QueuePause", "Originate", "Hangup"})


class PbxCommandInvalid(DomainError):
    """Not an action the platform may ask of the PBX, or fields that are not header-safe text."""

    code = "pbx_command_invalid"


def pbx_fields_check(*, action: str, fields: dict[str, str]) -> dict[str, str]:
    """The fields as AMI headers: plain text keys and values, no line breaks (a CR/LF would inject headers)."""
    if action not in PBX_ACTIONS:
        raise PbxCommandInvalid(_("不支持的话务系统指令：%(action)s") % {"action": action}, field="action")
    checked: dict[str, str] = {}
    for key, value in fields.items():
        key, value = str(key), str(value)
        if not key or not key.replace("-", "").isalnum() or "\r" in value or "\n" in value or key == "ActionID":
            raise PbxCommandInvalid(_("话务系统指令参数无效：%(key)s") % {"key": key}, field="fields")
        checked[key] = value
    return checked


def pbx_command_send(*, action: str, fields: dict[str, str], reply_to_agent_id: int | None = None) -> str:
    """Ask the PBX worker to run an AMI action; returns the request id its `pbx_result` answer will carry.
    Sent after the current transaction commits (at once outside one)."""
    checked = pbx_fields_check(action=action, fields=fields)
    request_id = uuid.uuid4().hex
    message = {"type": "pbx.command", "request_id": request_id, "action": action, "fields": checked,
               "reply_to_agent_id": reply_to_agent_id}
    transaction.on_commit(lambda: async_to_sync(get_channel_layer().group_send)(PBX_GROUP, message))
    return request_id
