"""The IVR over Asterisk AsyncAGI: the run_ami worker hands each AsyncAGIStart/Exec/End of a channel in
`AGI(agi:async)` to these functions and sends the AGI command strings they return, one at a time, each with its
own CommandID (callcenter.worker.IvrAgiHandler keeps the state per channel in memory).

A turn of the engine becomes: STREAM FILE for every prompt file but the last, then GET DATA on the last file when
the flow waits for keys (its result is the keys, or "(timeout)"), or, when the IVR is over, SET VARIABLE IVR_NEXT
(queue or hangup), IVR_MENU (what the caller came for) and ASYNCAGI BREAK, after which the dialplan
(callcenter/asterisk/extensions.conf) queues the call or hangs up. Every file played is a prompt built by
scripts/build_prompts.py under settings.CALLCENTER_PROMPTS_DIR: a missing file would end the AGI session.

The worker calls agi_session_step for every result of a command it sent; the state remembers what each command
was, so only the GET DATA result moves the flow on. A result of -1 means the channel hung up or the command
failed: nothing more is sent (AsyncAGIEnd follows).
"""
from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from core.models import CallTransport

from .engine import END_TRANSFER, IvrEngine, Turn

logger = logging.getLogger(__name__)

_STREAM = "stream"
_GET_DATA = "get_data"
_SET = "set"
_BREAK = "break"


def prompt_path(name: str, language: str) -> str:
    """The file Asterisk plays for a prompt: its path without the extension (Asterisk picks the .wav)."""
    return str(Path(settings.CALLCENTER_PROMPTS_DIR) / language / name)


def _quoted(value: str) -> str:
    return f'"{value}"' if " " in value else value


def _commands_for(turn: Turn, state: dict) -> list[str]:
    """The AGI commands of one turn; records their kinds in the state, in the order they will be answered."""
    files = [(file, piece.language or turn.language) for piece in turn.pieces for file in piece.files]
    commands: list[tuple[str, str]] = []
    if turn.gather is not None and files:
        *before, last = files
    else:
        before, last = files, None
    for name, language in before:
        commands.append((_STREAM, f'STREAM FILE {_quoted(prompt_path(name, language))} ""'))
    if turn.gather is not None:
        # A question with nothing to play still needs a file for GET DATA: the no-input prompt is short.
        name, language = last or ("no-input", turn.language)
        timeout_ms = turn.gather.timeout_seconds * 1000
        commands.append(
            (_GET_DATA, f"GET DATA {_quoted(prompt_path(name, language))} {timeout_ms} {turn.gather.max_digits}")
        )
    else:
        intent = state["data"].get("intent", "")
        commands.append((_SET, f"SET VARIABLE IVR_NEXT {'queue' if turn.end == END_TRANSFER else 'hangup'}"))
        commands.append((_SET, f'SET VARIABLE IVR_MENU "{intent}"'))
        commands.append((_BREAK, "ASYNCAGI BREAK"))
    state["agi_awaiting"] = [kind for kind, _command in commands if kind != _BREAK]
    return [command for _kind, command in commands]


def agi_session_start(*, start, engine: IvrEngine | None = None) -> tuple[dict, list[str]]:
    """A channel entered AsyncAGI (callcenter.adapters.ami.AsyncAgiStart): start the IVR for its call (the
    Linkedid names the call) and return the first commands."""
    engine = engine or IvrEngine()
    state, turn = engine.start(
        call_key=start.linked_id or start.unique_id, transport=CallTransport.ASTERISK,
        caller_number=start.caller_number if start.caller_number != "unknown" else "",
    )
    state["agi_channel"] = start.channel
    return state, _commands_for(turn, state)


def agi_session_step(*, state: dict, result, engine: IvrEngine | None = None) -> tuple[dict, list[str]]:
    """The result of one command we sent (callcenter.adapters.ami.AsyncAgiExec): the next commands, if any."""
    awaiting = state.get("agi_awaiting") or []
    if not awaiting:
        return state, []
    kind = awaiting.pop(0)
    if not result.ok or result.result == "-1":
        # Hung up, or the command failed (a missing file ends AsyncAGI): AsyncAGIEnd follows; send nothing more.
        logger.info("AGI %s on %s ended the IVR (%s %s)", kind, result.channel, result.code, result.data)
        state["agi_awaiting"] = []
        return state, []
    if kind != _GET_DATA:
        return state, []
    # GET DATA answers "200 result= (timeout)" when nothing was keyed, and "200 result=12 (timeout)" when the
    # caller keyed 12 without # and waited: the keys are the result either way.
    keys = result.result.strip()
    state, turn = (engine or IvrEngine()).resume(state, keys=keys)
    return state, _commands_for(turn, state)


def agi_session_end(*, state: dict, end) -> None:
    """The channel left AsyncAGI (callcenter.adapters.ami.AsyncAgiEnd): after our BREAK, or a hang-up mid-IVR,
    which the AMI tracker reports as the call's end. Nothing is kept."""
    logger.debug("AsyncAGI ended on %s at node %s", end.channel, state.get("node"))
