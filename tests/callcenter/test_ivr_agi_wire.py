"""The IVR on the Asterisk transport over the wire: the fake AMI server (real framing) starts an AsyncAGI channel,
the run_ami worker hands it to callcenter.ivr.agi through its IvrAgiHandler, and the AGI actions come back one at a
time with their CommandIDs while the caller's keys arrive as GET DATA results; the call's record shows the path."""
from __future__ import annotations

import asyncio
import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from callcenter.worker import AmiWorker
from core.models import Call, IdentifiedBy
from tests.callcenter.fake_ami import FakeAmiServer, message_encode
from tests.callcenter.test_worker import ami_settings, until
from tests.factories import AccountFactory, CustomerFactory
from tests.portal.factories import billed_months, residential_policy

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CHANNEL = "Local/95598@ivr-95598-00000021;2"
FIELDS = {"Channel": CHANNEL, "CallerIDNum": "13812345678", "Exten": "95598", "Uniqueid": "1900000200.2",
          "Linkedid": "1900000200.1", "Context": "ivr-95598"}
ENV = "agi_request%3A%20async%0Aagi_callerid%3A%2013812345678%0Aagi_extension%3A%2095598%0A%0A"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CALLCENTER_PROMPTS_DIR = "/var/lib/asterisk/sounds/95598"


def test_a_caller_walks_the_menus_over_async_agi_and_reaches_the_queue():
    residential_policy()
    account = AccountFactory(customer=CustomerFactory(phone="13812345678"))
    billed_months(account, [Decimal("100")], last_period=datetime.date(2026, 10, 1), issued_on=timezone.localdate())
    keys = iter(["1", "1", "0"])  # Mandarin, balance, agent

    def answer(channel: str, command: str) -> str:
        if command.startswith("GET DATA"):
            return f"200 result={next(keys)}"
        if command.startswith("STREAM FILE"):
            return "200 result=0 endpos=8000"
        return "200 result=1" if command.startswith("SET VARIABLE") else "200 result=0"

    with FakeAmiServer(agi_responder=answer) as server:
        async def main():
            worker = AmiWorker(ami=ami_settings(server.port), listen_for_commands=False)
            task = asyncio.create_task(worker.run())

            async def connected():
                return worker.session.connected

            async def broke_out():
                return any(action.get("Command") == "ASYNCAGI BREAK" for action in server.actions)

            await until(connected, what="login")
            await asyncio.get_running_loop().run_in_executor(None, server.emit, [
                message_encode(("Event", "Newchannel"), FIELDS),
                message_encode(("Event", "AsyncAGIStart"), {**FIELDS, "Env": ENV})])
            await until(broke_out, timeout=15, what="the IVR to break out of AsyncAGI")
            worker.stop()
            await asyncio.wait_for(task, 10)

        asyncio.run(asyncio.wait_for(main(), 40))
        agi = [action for action in server.actions if action["Action"] == "AGI"]

    assert {action["Channel"] for action in agi} == {CHANNEL}
    assert len({action["CommandID"] for action in agi}) == len(agi)
    commands = [action["Command"] for action in agi]
    prompts = "/var/lib/asterisk/sounds/95598/zh-hans/"
    assert commands[0] == f'STREAM FILE {prompts}welcome ""'
    assert commands[1] == f'STREAM FILE {prompts}language-menu ""'
    assert commands[2] == "GET DATA /var/lib/asterisk/sounds/95598/en/language-menu 6000 1"
    assert commands[3] == f"GET DATA {prompts}main-menu 6000 1"
    assert f'STREAM FILE {prompts}arrears-amount ""' in commands
    assert commands[-5:] == [f"GET DATA {prompts}after-menu 6000 1", f'STREAM FILE {prompts}transfer ""',
                             "SET VARIABLE IVR_NEXT queue", 'SET VARIABLE IVR_MENU "balance"', "ASYNCAGI BREAK"]
    call = Call.objects.get(call_key="1900000200.1")
    assert (call.account, call.identified_by) == (account, IdentifiedBy.CALLER_ID)
    assert [(step["node"], step["input"]) for step in call.ivr_path] == [
        ("start", ""), ("language", "1"), ("main_menu", "1"), ("need_account", ""), ("intent", ""),
        ("balance", ""), ("after_service", "0"), ("agent", "")]
    assert call.ivr_data["self_served"] is True and call.ivr_data["transfer_reason"] == "caller_asked"
