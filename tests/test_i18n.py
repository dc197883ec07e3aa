"""The English catalogue: complete, free of fuzzy entries, in step with the code, and really used at runtime."""
import ast
import contextlib
import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import translation

from cms.services import cms_site_ensure
from core.account_numbers import account_number_validate
from core.errors import InvalidAccountNumber, InvalidReading, MeterNotActive, ReadingBelowPrevious
from core.models import Account, Bill, MeterReading
from core.services.readings import reading_record
from tests.factories import MeterFactory

CATALOGUE = settings.BASE_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po"
# The same folders the Makefile's `messages` target leaves out.
IGNORE = [".venv", "var", "node_modules", "bench-results"]


def po_entries(path: Path) -> list[dict]:
    """Live entries of a .po file as {"msgid": str, "msgstrs": [str], "flags": set}; header and obsolete ones skipped.

    A small reader so the test needs no extra package: entries are blank-line separated blocks whose strings
    are C-quoted, which literal_eval reads.
    """
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        flags, fields, current = set(), {}, None
        for line in block.splitlines():
            if line.startswith("#,"):
                flags.update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith('"'):
                fields[current] += ast.literal_eval(line)
            elif line and not line.startswith("#"):
                current, quoted = line.split(" ", 1)
                fields[current] = ast.literal_eval(quoted)
        if fields.get("msgid"):
            msgstrs = [text for name, text in fields.items() if name.startswith("msgstr")]
            entries.append({"msgid": fields["msgid"], "msgstrs": msgstrs, "flags": flags})
    return entries


class _KeyRecorder(dict):
    """Formats any %(name)… placeholder as 0 and remembers its name."""

    def __init__(self):
        super().__init__()
        self.seen: set[str] = set()

    def __missing__(self, key):
        self.seen.add(key)
        return 0


def named_placeholders(text: str) -> set[str]:
    recorder = _KeyRecorder()
    text % recorder
    return recorder.seen


@pytest.fixture(scope="module", autouse=True)
def english_catalogue_compiled():
    """A fresh clone has no .mo until `make install`; compiling here lets the suite stand alone."""
    with contextlib.chdir(settings.BASE_DIR):
        call_command("compilemessages", locale=["en"], ignore_patterns=IGNORE, verbosity=0)
    # Re-entering LOCALE_PATHS makes Django drop translations it may have cached before the .mo existed.
    with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):
        pass


def test_every_entry_of_the_english_catalogue_is_translated_and_not_fuzzy():
    entries = po_entries(CATALOGUE)
    assert len(entries) > 400
    untranslated = [e["msgid"] for e in entries if not all(e["msgstrs"])]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []


def test_every_placeholder_is_kept_in_the_translation():
    formatted = [e for e in po_entries(CATALOGUE) if "python-format" in e["flags"]]
    assert len(formatted) > 40
    changed = [
        e["msgid"]
        for e in formatted
        if any(named_placeholders(text) != named_placeholders(e["msgid"]) for text in e["msgstrs"])
    ]
    assert changed == []
    by_msgid = {e["msgid"]: e["msgstrs"] for e in po_entries(CATALOGUE)}
    assert by_msgid["Django 模板语法，例如 {{ account_number }}"] == ["Django template syntax, e.g. {{ account_number }}"]


def test_the_catalogue_covers_every_string_in_the_code(tmp_path):
    """Extract afresh: a string added to the code without an English translation fails here.

    makemessages writes beside the nearest locale/ folder, so it runs over a mirror of symlinks without one;
    the committed catalogue is never touched.
    """
    mirror, scratch = tmp_path / "src", tmp_path / "locale"
    mirror.mkdir()
    for item in Path(settings.BASE_DIR).iterdir():
        if item.name not in {*IGNORE, "locale", ".git"}:
            (mirror / item.name).symlink_to(item)
    with contextlib.chdir(mirror), override_settings(LOCALE_PATHS=[str(scratch)]):
        call_command("makemessages", locale=["en"], ignore_patterns=IGNORE, symlinks=True, verbosity=0)
    extracted = {e["msgid"] for e in po_entries(scratch / "en" / "LC_MESSAGES" / "django.po")}
    translated = {e["msgid"] for e in po_entries(CATALOGUE) if all(e["msgstrs"]) and "fuzzy" not in e["flags"]}
    assert {"本次示数小于上次示数", "户号", "员工登录（内容管理）"} <= extracted
    assert sorted(extracted - translated) == []


@pytest.mark.parametrize(
    ("typed", "english"),
    [
        ("12", "The account number must be 10 digits"),
        ("12345abcde", "The account number may contain digits only"),
        ("1234567890", "The account number check digit is wrong; please check the number and enter it again"),
    ],
)
def test_account_number_errors_speak_english(typed, english):
    with translation.override("en"):
        with pytest.raises(InvalidAccountNumber) as caught:
            account_number_validate(typed)
        # The message is lazy: it takes the language active when shown, as a view rendering it would.
        assert str(caught.value) == english


def test_account_number_errors_stay_chinese_by_default():
    with pytest.raises(InvalidAccountNumber) as caught:
        account_number_validate("12")
    assert str(caught.value) == "户号应为10位数字"


@pytest.mark.django_db
def test_reading_errors_speak_english_with_their_placeholders_filled():
    meter = MeterFactory(
        asset_number="M0000000042", installed_on=datetime.date(2026, 1, 1), initial_reading=Decimal("100")
    )
    with translation.override("en"):
        with pytest.raises(InvalidReading) as not_a_number:
            reading_record(meter=meter, read_on=datetime.date(2026, 2, 1), total="abc", source="manual")
        with pytest.raises(MeterNotActive) as too_early:
            reading_record(meter=meter, read_on=datetime.date(2025, 12, 31), total="120", source="manual")
        with pytest.raises(ReadingBelowPrevious) as below:
            reading_record(meter=meter, read_on=datetime.date(2026, 2, 1), total="99.50", source="manual")
        assert str(not_a_number.value) == "The total reading must be a number"
        assert str(too_early.value) == "Meter M0000000042 was not in service on 2025-12-31"
        assert str(below.value) == "The new reading is lower than the previous reading"
    assert MeterReading.objects.count() == 0


def test_model_names_and_choices_speak_english():
    with translation.override("en"):
        assert str(Account._meta.verbose_name) == "electricity account"
        assert str(Account._meta.get_field("number").verbose_name) == "account number"
        assert str(Account._meta.get_field("station").verbose_name) == "service station"
        assert str(Bill._meta.verbose_name) == "electricity bill"
        assert str(Account.Status.DISCONNECTED.label) == "Disconnected for arrears"
        assert str(MeterReading.Source.AMI.label) == "Automatic meter data collection"


@pytest.mark.django_db
def test_the_english_home_page_lives_at_en(client):
    from wagtail.models import Locale

    home = cms_site_ensure()
    home.copy_for_translation(Locale.objects.get(language_code="en")).save_revision().publish()
    # The site is Chinese at / whatever the browser asks; English pages live under /en/.
    assert '<html lang="zh-hans">' in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    response = client.get("/en/")
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="en">' in body
    assert '<a href="/en/" hreflang="en" lang="en" aria-current="true">English</a>' in body
    assert '<a href="/" hreflang="zh-hans" lang="zh-hans">简体中文</a>' in body
    assert '<a class="skip-link" href="#main">Skip to main content</a>' in body
    assert '<span class="hero__label">Power supply service hotline</span>' in body
    assert "Fault repair, bill enquiries, service applications, complaints and suggestions, 24/7" in body
    assert '<a href="/accounts/login/">Customer login</a>' in body
    assert '<a href="/admin/">Staff login (content management)</a>' in body
    assert "call the National Energy Administration's 12398 energy regulation hotline." in body
    assert '<p>Power supply service hotline <a href="tel:95598">95598</a> · Service 24/7</p>' in body
    # Only the editors' own page content (title, intro) stays as they wrote it.
    assert body.count("供电服务热线") == 1


@pytest.mark.django_db
def test_the_portal_follows_the_visitors_language_choice_and_the_public_site_its_path(client):
    cms_site_ensure()
    client.cookies["django_language"] = "en"
    assert '<html lang="zh-hans">' in client.get("/").content.decode()
    assert "/accounts/login/" in client.get("/portal/")["Location"]
    login = client.get("/accounts/login/")
    assert login.status_code == 200
    assert '<html lang="en">' in login.content.decode()
    tracking = client.get("/track/").content.decode()
    assert '<html lang="en">' in tracking
    del client.cookies["django_language"]
    assert '<html lang="zh-hans">' in client.get("/track/").content.decode()
    assert '<html lang="en">' in client.get("/track/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
