"""Cleaning a step's submitted data against its field spec (StepDefinition.fields).

Each spec is {"name", "label", "label_en", "type", "required", "choices", "min", "max", "max_length"}; type is one
of text, textarea, integer, decimal, date, datetime, choice, boolean, phone. Cleaned values are JSON-safe:
decimals as strings, dates as ISO dates, datetimes as ISO strings with their offset (naive input is local
Asia/Shanghai time, as an HTML datetime-local input sends it).
"""
from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
FIELD_TYPES = ("text", "textarea", "integer", "decimal", "date", "datetime", "choice", "boolean", "phone")
TEXT_MAX_LENGTH = 200
TEXTAREA_MAX_LENGTH = 4000
# Mainland mobile numbers, or a landline with its area code (0xx-xxxxxxx, the dash optional).
PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
_TRUE = frozenset({"true", "1", "on", "yes", "是"})
_FALSE = frozenset({"false", "0", "off", "no", "否", ""})


class _Invalid(Exception):
    def __init__(self, message: str):
        self.message = message


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], {})


def _bound_check(value, spec: dict) -> None:
    low, high = spec.get("min"), spec.get("max")
    if low is not None and value < Decimal(str(low)):
        raise _Invalid(_("不能小于%(min)s") % {"min": low})
    if high is not None and value > Decimal(str(high)):
        raise _Invalid(_("不能大于%(max)s") % {"max": high})


def _text(value, spec: dict, default_max: int) -> str:
    if not isinstance(value, str | int | Decimal) or isinstance(value, bool):
        raise _Invalid(_("请输入文字"))
    text = str(value).strip()
    limit = spec.get("max_length") or default_max
    if len(text) > limit:
        raise _Invalid(_("不能超过%(max)s个字符") % {"max": limit})
    return text


def _integer(value, spec: dict) -> int:
    if isinstance(value, bool):
        raise _Invalid(_("请输入整数"))
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise _Invalid(_("请输入整数"))
        number = int(text)
    _bound_check(Decimal(number), spec)
    return number


def _decimal(value, spec: dict) -> str:
    if isinstance(value, bool | float):
        # Floats carry binary rounding; quantities arrive as text or Decimal.
        raise _Invalid(_("请输入数字"))
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _Invalid(_("请输入数字")) from None
    if not number.is_finite():
        raise _Invalid(_("请输入数字"))
    _bound_check(number, spec)
    return str(number)


def _date(value) -> str:
    if isinstance(value, datetime.datetime):
        raise _Invalid(_("请输入有效的日期（年-月-日）"))
    if isinstance(value, datetime.date):
        return value.isoformat()
    try:
        return datetime.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise _Invalid(_("请输入有效的日期（年-月-日）")) from None


def _datetime(value) -> str:
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        try:
            moment = datetime.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise _Invalid(_("请输入有效的日期时间")) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.isoformat()


def _choice(value, spec: dict) -> str:
    allowed = [str(option[0]) for option in spec.get("choices") or []]
    text = str(value).strip()
    if text not in allowed:
        raise _Invalid(_("请选择有效的选项"))
    return text


def _boolean(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Invalid(_("请选择是或否"))


def _phone(value) -> str:
    text = re.sub(r"[\s]", "", str(value))
    if text.startswith("+86"):
        text = text[3:]
    if not PHONE_RE.match(text):
        raise _Invalid(_("请输入有效的电话号码"))
    return text


def _clean_one(value, spec: dict):
    kind = spec.get("type", "text")
    if kind == "text":
        return _text(value, spec, TEXT_MAX_LENGTH)
    if kind == "textarea":
        return _text(value, spec, TEXTAREA_MAX_LENGTH)
    if kind == "integer":
        return _integer(value, spec)
    if kind == "decimal":
        return _decimal(value, spec)
    if kind == "date":
        return _date(value)
    if kind == "datetime":
        return _datetime(value)
    if kind == "choice":
        return _choice(value, spec)
    if kind == "boolean":
        return _boolean(value)
    if kind == "phone":
        return _phone(value)
    raise ValueError(f"unknown field type {kind!r}")


def step_data_clean(*, fields: list[dict], raw: dict) -> tuple[dict, dict[str, list[str]]]:
    """The submitted values of the declared fields, cleaned, and the errors per field name.

    Undeclared keys are dropped. A blank optional field is left out; a required boolean must be ticked
    (a confirmation), as with Django's required BooleanField.
    """
    raw = raw or {}
    cleaned: dict = {}
    errors: dict[str, list[str]] = {}
    for spec in fields:
        name = spec["name"]
        value = raw.get(name)
        required = bool(spec.get("required"))
        if spec.get("type") == "boolean":
            try:
                flag = False if _is_blank(value) else _boolean(value)
            except _Invalid as invalid:
                errors[name] = [invalid.message]
                continue
            if required and not flag:
                errors[name] = [_("请确认此项")]
                continue
            if not _is_blank(value) or required:
                cleaned[name] = flag
            continue
        if _is_blank(value):
            if required:
                errors[name] = [_("此项为必填项")]
            continue
        try:
            cleaned[name] = _clean_one(value, spec)
        except _Invalid as invalid:
            errors[name] = [invalid.message]
    return cleaned, errors
