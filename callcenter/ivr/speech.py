"""What the IVR says, in a form both transports can play: a list of Pieces, each with the text Twilio's <Say>
reads and the prompt files Asterisk streams for it.

Asterisk cannot speak text at run time, so everything it plays is a file built in advance
(scripts/build_prompts.py): the flow's sentences, and the words numbers, amounts, dates and times are made of,
composed here (Mandarin: 一百二十八元四角; English: one hundred twenty eight point four zero yuan). Free text that no
file can hold (an outage's reason as typed by staff) is said on Twilio only and left out on Asterisk, where the
kind of outage is said instead.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

ZH = "zh-hans"
EN = "en"
LANGUAGES = (ZH, EN)


@dataclass(frozen=True)
class Piece:
    """One part of an utterance: `text` for Twilio, `files` (prompt names, in order) for Asterisk; `language`
    when this part is said in another language than the call's (the language menu's English half)."""

    text: str
    files: tuple[str, ...] = ()
    language: str = ""


# Number words, per language: prompt name -> text. Built into files like the flow's own prompts.
_ZH_DIGITS = "零一二三四五六七八九"
NUMBER_WORDS: dict[str, dict[str, str]] = {
    ZH: {
        **{f"num-{digit}": _ZH_DIGITS[digit] for digit in range(10)},
        "num-liang": "两", "num-10": "十", "num-100": "百", "num-1000": "千", "num-10000": "万",
        "word-point": "点", "word-yuan": "元", "word-jiao": "角", "word-fen": "分", "word-kwh": "度",
        "word-year": "年", "word-month": "月", "word-day": "日", "word-hour": "点", "word-minute": "分",
    },
    EN: {
        **{f"num-{n}": word for n, word in enumerate((
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
            "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
        ))},
        **{f"num-{tens * 10}": word for tens, word in zip(range(2, 10), (
            "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
        ))},
        "num-100": "hundred", "num-1000": "thousand", "num-1000000": "million",
        "word-point": "point", "word-yuan": "yuan", "word-kwh": "kilowatt hours", "word-oclock": "o'clock",
        "word-oh": "oh", "word-at": "at",
        **{f"month-{m}": datetime.date(2000, m, 1).strftime("%B") for m in range(1, 13)},
    },
}


# --- Mandarin ----------------------------------------------------------------------------------------------------


def _zh_below_10000(n: int, *, leading: bool) -> list[str]:
    """Files for 0 < n < 10000; `leading` when nothing precedes it (十二, not 一十二)."""
    files: list[str] = []
    places = ((1000, "num-1000"), (100, "num-100"), (10, "num-10"), (1, ""))
    zero_pending = False
    started = False
    for value, unit in places:
        digit = (n // value) % 10
        if digit == 0:
            if started:
                zero_pending = True
            continue
        if zero_pending:
            files.append("num-0")
            zero_pending = False
        if value == 10 and digit == 1 and leading and not started:
            files.append("num-10")
        elif digit == 2 and value >= 100:
            files += ["num-liang", unit]
        else:
            files.append(f"num-{digit}")
            if unit:
                files.append(unit)
        started = True
    return files


def zh_number_files(n: int) -> list[str]:
    """Files reading a whole number under 100 million in Mandarin."""
    if n == 0:
        return ["num-0"]
    wan, rest = divmod(n, 10000)
    files: list[str] = []
    if wan:
        files += _zh_below_10000(wan, leading=True) + ["num-10000"]
    if rest:
        if wan and rest < 1000:
            files.append("num-0")
        files += _zh_below_10000(rest, leading=not wan)
    return files


# --- English -----------------------------------------------------------------------------------------------------


def _en_below_1000(n: int) -> list[str]:
    files: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        files += [f"num-{hundreds}", "num-100"]
    if rest >= 20:
        files.append(f"num-{rest // 10 * 10}")
        if rest % 10:
            files.append(f"num-{rest % 10}")
    elif rest or not files:
        files.append(f"num-{rest}")
    return files


def en_number_files(n: int) -> list[str]:
    """Files reading a whole number under a thousand million in English."""
    if n == 0:
        return ["num-0"]
    files: list[str] = []
    for value, unit in ((1_000_000, "num-1000000"), (1000, "num-1000")):
        if n >= value:
            files += _en_below_1000(n // value) + [unit]
            n %= value
    if n:
        files += _en_below_1000(n)
    return files


# --- pieces ------------------------------------------------------------------------------------------------------


def number_files(n: int, language: str) -> list[str]:
    return zh_number_files(n) if language == ZH else en_number_files(n)


def digits_piece(digits: str, language: str) -> Piece:
    """A string of digits read one by one (an account tail, a ticket number)."""
    return Piece(text=" ".join(digits), files=tuple(f"num-{d}" for d in digits if d.isdigit()))


def _decimal_files(value: Decimal, language: str) -> list[str]:
    """A non-negative quantity with two places: 123.45 -> 一百二十三点四五 / one hundred twenty three point four five."""
    whole, fraction = f"{value:.2f}".split(".")
    files = number_files(int(whole), language)
    fraction = fraction.rstrip("0")
    if fraction:
        files += ["word-point"] + [f"num-{digit}" for digit in fraction]
    return files


def money_piece(amount: Decimal, language: str) -> Piece:
    """An amount in yuan: 128.40 -> 一百二十八元四角 / one hundred twenty eight point four yuan."""
    amount = abs(amount).quantize(Decimal("0.01"))
    if language == EN:
        return Piece(text=f"{amount:.2f} yuan", files=tuple(_decimal_files(amount, EN) + ["word-yuan"]))
    whole, fraction = f"{amount:.2f}".split(".")
    files = zh_number_files(int(whole)) + ["word-yuan"] if int(whole) or fraction == "00" else []
    jiao, fen = int(fraction[0]), int(fraction[1])
    if jiao:
        files += [f"num-{jiao}", "word-jiao"]
    elif fen and int(whole):
        files.append("num-0")
    if fen:
        files += [f"num-{fen}", "word-fen"]
    return Piece(text=f"{amount:.2f}元", files=tuple(files))


def kwh_piece(kwh: Decimal, language: str) -> Piece:
    kwh = abs(kwh).quantize(Decimal("0.01"))
    unit = "度" if language == ZH else " kilowatt hours"
    return Piece(text=f"{kwh.normalize():f}{unit}", files=tuple(_decimal_files(kwh, language) + ["word-kwh"]))


def month_piece(day: datetime.date, language: str) -> Piece:
    """A billing month: 2026年10月 / October 2026."""
    if language == ZH:
        files = [f"num-{d}" for d in str(day.year)] + ["word-year"] + zh_number_files(day.month) + ["word-month"]
        return Piece(text=f"{day.year}年{day.month}月", files=tuple(files))
    return Piece(text=day.strftime("%B %Y"), files=(f"month-{day.month}", *en_number_files(day.year)))


def date_piece(day: datetime.date, language: str) -> Piece:
    """A day: 11月23日 / November 23."""
    if language == ZH:
        files = zh_number_files(day.month) + ["word-month"] + zh_number_files(day.day) + ["word-day"]
        return Piece(text=f"{day.month}月{day.day}日", files=tuple(files))
    return Piece(text=f"{day:%B} {day.day}", files=(f"month-{day.month}", *en_number_files(day.day)))


def datetime_piece(moment: datetime.datetime, language: str) -> Piece:
    """A local day and time: 11月23日18点30分 / November 23 at 18 30."""
    local = timezone.localtime(moment)
    day = date_piece(local.date(), language)
    if language == ZH:
        files = zh_number_files(local.hour) + ["word-hour"]
        text = f"{local.hour}点"
        if local.minute:
            files += zh_number_files(local.minute) + ["word-minute"]
            text += f"{local.minute}分"
        return Piece(text=day.text + text, files=day.files + tuple(files))
    files = ["word-at"] + en_number_files(local.hour)
    if local.minute == 0:
        files.append("word-oclock")
    elif local.minute < 10:
        files += ["word-oh", f"num-{local.minute}"]
    else:
        files += en_number_files(local.minute)
    return Piece(text=f"{day.text} at {local:%H:%M}", files=day.files + tuple(files))
