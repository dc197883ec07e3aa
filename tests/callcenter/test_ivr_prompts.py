"""The IVR's prompts: the flow is sound, everything the engine and the number composer can play is in the prompt
catalogue, scripts/build_prompts.py builds every catalogue entry as an 8 kHz mono 16-bit WAV (and rebuilds only what
changed), and an AsyncAGI call walking the menus plays only files that were built (a missing file would end the
AsyncAGI session on a real Asterisk)."""
from __future__ import annotations

import datetime
import re
import wave
from decimal import Decimal
from pathlib import Path

import pytest

from callcenter.ivr import engine
from callcenter.ivr.flow import NODE_LABELS, NODES, PROMPTS, flow_check
from callcenter.ivr.prompts import prompt_catalogue
from callcenter.ivr.speech import (
    LANGUAGES,
    date_piece,
    datetime_piece,
    digits_piece,
    kwh_piece,
    money_piece,
    month_piece,
)
from scripts.build_prompts import main as build_prompts_main
from tests.callcenter.ivr_support import AgiCaller
from tests.factories import AccountFactory, CustomerFactory, ServicePointFactory


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prompts")
    assert build_prompts_main(["--out", str(out), "--jobs", "2"]) == 0
    return out


def test_the_flow_is_sound():
    assert flow_check() == []
    assert {node.prompt for node in NODES.values() if node.prompt} <= set(PROMPTS)


def test_every_prompt_the_engine_names_is_in_the_flow():
    source = Path(engine.__file__).read_text(encoding="utf-8")
    named = set(re.findall(r'run\.say\("([a-z0-9-]+)"\)', source))
    named |= set(re.findall(r'"((?:outage-kind|ticket-state)-[a-z]+)"', source))
    assert named and named <= set(PROMPTS), named - set(PROMPTS)


def test_every_number_word_composed_is_in_the_catalogue():
    catalogue = prompt_catalogue()
    amounts = [Decimal(f"{whole}.{cents:02d}") for whole in (0, 1, 2, 10, 12, 20, 102, 1200, 20008, 99999999)
               for cents in (0, 5, 40, 99)]
    moments = [datetime.datetime(2026, month, day, hour, minute, tzinfo=datetime.UTC)
               for month, day, hour, minute in ((1, 1, 0, 0), (11, 23, 9, 5), (12, 31, 23, 59), (2, 10, 12, 30))]
    for language in LANGUAGES:
        pieces = [money_piece(amount, language) for amount in amounts]
        pieces += [kwh_piece(amount, language) for amount in amounts]
        pieces += [datetime_piece(moment, language) for moment in moments]
        pieces += [date_piece(moment.date(), language) for moment in moments]
        pieces += [month_piece(moment.date(), language) for moment in moments]
        pieces.append(digits_piece("0123456789", language))
        missing = {name for piece in pieces for name in piece.files if (language, name) not in catalogue}
        assert missing == set(), (language, missing)


def test_every_catalogue_prompt_is_built_as_telephone_wav(built):
    catalogue = prompt_catalogue()
    assert len(catalogue) == len(PROMPTS) * 2 + 74
    for (language, name), text in catalogue.items():
        path = built / language / f"{name}.wav"
        with wave.open(str(path)) as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2), path
            assert audio.getnframes() > 800, path  # at least 0.1 s of speech
        assert (built / language / f"{name}.txt").read_text(encoding="utf-8") == text


def test_a_rebuild_only_speaks_what_changed(built, capsys):
    (built / "zh-hans" / "goodbye.txt").write_text("旧的文字", encoding="utf-8")
    assert build_prompts_main(["--out", str(built), "--jobs", "2"]) == 0
    assert f"build_prompts: 1 built, {len(prompt_catalogue()) - 1} up to date in {built}" in capsys.readouterr().out


@pytest.mark.django_db
def test_an_asterisk_call_through_the_menus_plays_only_built_files(built, settings):
    settings.CALLCENTER_PROMPTS_DIR = str(built)
    customer = CustomerFactory(phone="13812345678")
    account = AccountFactory(customer=customer)
    ServicePointFactory(account=account)
    english = AgiCaller(caller="13900000000")
    turns = [english.dial(), english.press("2"), english.press("9"), english.press("1"),
             english.press(account.number), english.press("1"), english.press("4"), english.press("12345678901"),
             english.silence()]
    assert turns[-1].end == "transfer"
    mandarin = AgiCaller(caller="13812345678")
    turns += [mandarin.dial(), mandarin.press("1"), mandarin.press("3"), mandarin.press("1"), mandarin.press("0")]
    assert turns[-1].end == "transfer"
    played = [command for heard in turns for command in heard.commands if command.startswith(("STREAM", "GET DATA"))]
    assert {"/en/arrears-none", "/en/latest-bill-none", "/zh-hans/fault-filed", "/zh-hans/fault-crew"} <= {
        command.split(" ")[2][len(str(built)):] for command in played}
    for command in played:
        path = Path(command.split(" ")[2] + ".wav")
        assert path.is_file(), command


def test_every_node_has_words_for_the_agents_screen_pop():
    assert set(NODE_LABELS) == set(NODES)
    assert str(NODE_LABELS["main_menu"]) == "主菜单"
