"""Two callers for the IVR tests, one per transport, driving the real entry points: signed Twilio webhooks through
the test client (TwiML parsed back), and the AsyncAGI functions the run_ami worker calls (each AGI command answered
as Asterisk answers it: STREAM FILE with result=0, GET DATA with the keys or a timeout). Both report what the caller
heard the same way, so one test runs every menu path on both transports."""
from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from twilio.request_validator import RequestValidator

from callcenter.adapters.ami import AsyncAgiEnd, AsyncAgiExec, AsyncAgiStart
from callcenter.ivr import agi
from callcenter.ivr.flow import PROMPTS
from callcenter.ivr.speech import EN, ZH, Piece

TWILIO_TOKEN = "ivr-test-auth-token"
_sids = itertools.count(1)
_linked = itertools.count(1)


@dataclass
class Heard:
    """What the caller heard in one turn and what the IVR does next."""

    transport: str
    texts: list[tuple[str, str]] = field(default_factory=list)  # Twilio: (text, <Say> language)
    files: list[tuple[str, str]] = field(default_factory=list)  # Asterisk: (language, prompt name)
    waiting: bool = False
    end: str | None = None  # "transfer" or "hangup"
    commands: list[str] = field(default_factory=list)
    twiml: str = ""

    def said(self, name: str, language: str = ZH) -> bool:
        """The prompt was played (Asterisk) or its text said (Twilio)."""
        if self.transport == "asterisk":
            return (language, name) in self.files
        text = PROMPTS[name][1 if language == EN else 0]
        return text in "".join(t for t, _lang in self.texts)

    def says(self, piece: Piece, language: str = ZH) -> bool:
        """A composed piece (an amount, digits, a date) was said: its text, or its files in a row."""
        if self.transport == "twilio":
            return piece.text in " ".join(t for t, _lang in self.texts)
        names = [name for lang, name in self.files if lang == language]
        width = len(piece.files)
        return any(tuple(names[i:i + width]) == piece.files for i in range(len(names) - width + 1))

    @property
    def prompts(self) -> list[str]:
        return [name for _lang, name in self.files]


class TwilioCaller:
    transport = "twilio"

    def __init__(self, client, *, caller: str = "+8613812345678"):
        self.client = client
        self.caller = caller
        self.call_sid = f"CA{next(_sids):032d}"
        self.call_key = f"twilio:{self.call_sid}"

    def post(self, name: str, **fields) -> object:
        data = {"CallSid": self.call_sid, "From": self.caller, "To": "+8695598", "AccountSid": "AC" + "0" * 32,
                **fields}
        url = "http://testserver" + reverse(name)
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, data)
        return self.client.post(reverse(name), data, HTTP_X_TWILIO_SIGNATURE=signature)

    def _heard(self, response) -> Heard:
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/xml"
        root = ET.fromstring(response.content)
        heard = Heard(transport="twilio", twiml=response.content.decode())
        for say in root.iter("Say"):
            heard.texts.append((say.text or "", say.get("language")))
        heard.waiting = root.find("Gather") is not None
        if root.find("Enqueue") is not None:
            heard.end = "transfer"
        elif root.find("Hangup") is not None:
            heard.end = "hangup"
        return heard

    def dial(self) -> Heard:
        return self._heard(self.post("callcenter:twilio_voice", CallStatus="ringing"))

    def press(self, keys: str) -> Heard:
        return self._heard(self.post("callcenter:twilio_gather", CallStatus="in-progress", Digits=keys))

    def silence(self) -> Heard:
        return self._heard(self.post("callcenter:twilio_gather", CallStatus="in-progress", Digits=""))


class AgiCaller:
    """A channel in AGI(agi:async), answered command by command like the worker does with a real Asterisk."""

    transport = "asterisk"

    def __init__(self, *, caller: str = "13812345678"):
        self.caller = caller
        self.call_key = f"1795418{next(_linked):03d}.0"
        self.channel = f"Local/95598@ivr-95598-{self.call_key};2"
        self.state: dict | None = None
        self._command_ids = itertools.count(1)

    def _exec(self, *, result: str, data: str = "", code: int = 200) -> AsyncAgiExec:
        return AsyncAgiExec(channel=self.channel, unique_id=self.call_key[:-1] + "1", linked_id=self.call_key,
                            command_id=f"ivr-{next(self._command_ids)}", code=code, result=result, data=data)

    def _file(self, command: str) -> tuple[str, str]:
        path = Path(command.split(" ")[2])
        assert str(path.parent.parent) == str(Path(settings.CALLCENTER_PROMPTS_DIR)), command
        return path.parent.name, path.name

    def _play(self, commands: list[str]) -> Heard:
        heard = Heard(transport="asterisk", commands=list(commands))
        for command in commands:
            if command.startswith("STREAM FILE "):
                heard.files.append(self._file(command))
                self.state, more = agi.agi_session_step(state=self.state, result=self._exec(result="0",
                                                                                           data="endpos=8000"))
                assert more == []
            elif command.startswith("GET DATA "):
                heard.files.append(self._file(command))
                heard.waiting = True
                assert command is commands[-1]
            elif command.startswith("SET VARIABLE IVR_NEXT "):
                heard.end = {"queue": "transfer", "hangup": "hangup"}[command.split(" ")[3]]
                self.state, more = agi.agi_session_step(state=self.state, result=self._exec(result="1"))
                assert more == []
            elif command.startswith("SET VARIABLE "):
                self.state, more = agi.agi_session_step(state=self.state, result=self._exec(result="1"))
                assert more == []
            else:
                # ASYNCAGI BREAK: Asterisk answers with AsyncAGIEnd, no AsyncAGIExec.
                assert command == "ASYNCAGI BREAK" and command is commands[-1]
                agi.agi_session_end(state=self.state, end=AsyncAgiEnd(
                    channel=self.channel, unique_id=self.call_key[:-1] + "1", linked_id=self.call_key))
        return heard

    def dial(self) -> Heard:
        start = AsyncAgiStart(channel=self.channel, unique_id=self.call_key[:-1] + "1", linked_id=self.call_key,
                              caller_number=self.caller, env={"agi_callerid": self.caller})
        self.state, commands = agi.agi_session_start(start=start)
        return self._play(commands)

    def press(self, keys: str) -> Heard:
        self.state, commands = agi.agi_session_step(state=self.state, result=self._exec(result=keys))
        return self._play(commands)

    def silence(self) -> Heard:
        self.state, commands = agi.agi_session_step(state=self.state, result=self._exec(result="",
                                                                                       data="(timeout)"))
        return self._play(commands)
