"""Bank batch files in the two common styles: fixed-width (widths counted in bytes of the file's encoding, GBK as
Chinese banks send it) and CSV. Every file is a header, detail lines and a trailer with the count and the total.

A file is accepted whole or refused whole: the first bad line (or a trailer whose count or total does not match the
details) refuses it, naming the line number. Fixed-width amounts are in fen, zero-padded; CSV amounts in yuan with
two decimals.
"""
from __future__ import annotations

import csv
import datetime
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from core.account_numbers import account_number_validate
from core.errors import DomainError, InvalidAccountNumber
from core.models.banks import BankBatch, BankFileEncoding, BankFileStyle
from core.money import CENT, ZERO

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
NEWLINE = b"\r\n"
SUCCESS_CODE = "0000"
# The largest amount a detail may carry (fits the 15-digit fen field and the model's 14 digits).
MAX_AMOUNT = Decimal("999999999999.99")

KIND_CODES = {
    BankBatch.Kind.WITHHOLDING_REQUEST: "WQ",
    BankBatch.Kind.WITHHOLDING_RESULT: "WR",
    BankBatch.Kind.COLLECTION: "CL",
    BankBatch.Kind.STATEMENT: "ST",
}
KINDS_BY_CODE = {code: kind for kind, code in KIND_CODES.items()}

# Fixed-width layouts: (field, width in bytes). Text is left-aligned and space-padded; numbers right-aligned and
# zero-padded. The first byte is the record type.
HEADER_LAYOUT = (("record", 1), ("bank_code", 6), ("kind", 2), ("batch_number", 20), ("business_date", 8))
DETAIL_LAYOUT = (
    ("record", 1),
    ("serial", 20),
    ("account_number", 10),
    ("account_name", 40),
    ("bank_account_number", 32),
    ("amount", 15),
    ("transacted_at", 14),
    ("result_code", 4),
    ("result_message", 40),
)
TRAILER_LAYOUT = (("record", 1), ("count", 10), ("total", 18))
NUMERIC_FIELDS = {"amount", "count", "total"}
CSV_COLUMNS = {
    "H": [name for name, _width in HEADER_LAYOUT],
    "D": [name for name, _width in DETAIL_LAYOUT],
    "T": [name for name, _width in TRAILER_LAYOUT],
}

_SERIAL = re.compile(r"^[A-Za-z0-9]{1,20}$")
_BATCH_NUMBER = re.compile(r"^[A-Za-z0-9]{1,20}$")
_BANK_ACCOUNT = re.compile(r"^[0-9]{8,32}$")
_CSV_AMOUNT = re.compile(r"^[0-9]{1,12}\.[0-9]{2}$")
_CSV_TOTAL = re.compile(r"^[0-9]{1,16}\.[0-9]{2}$")
_DIGITS = re.compile(r"^[0-9]+$")
_RESULT_CODE = re.compile(r"^[A-Za-z0-9]{4}$")


class BankFileRejected(DomainError):
    """A bank file refused whole; `line_number` is the first bad line (1-based)."""

    code = "bank_file_rejected"

    def __init__(self, reason, *, line_number: int):
        super().__init__(
            _("银行文件第%(line)d行有误，整个文件未处理：%(reason)s") % {"line": line_number, "reason": reason},
            field="file",
        )
        self.line_number = line_number
        self.reason = str(reason)


@dataclass(frozen=True)
class BankFileHeader:
    bank_code: str
    kind: str
    batch_number: str
    business_date: datetime.date


@dataclass(frozen=True)
class BankFileLine:
    line_number: int
    serial: str
    account_number: str
    amount: Decimal
    account_name: str = ""
    bank_account_number: str = ""
    transacted_at: datetime.datetime | None = None
    result_code: str = ""
    result_message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.result_code == SUCCESS_CODE


@dataclass(frozen=True)
class BankFile:
    header: BankFileHeader
    lines: list[BankFileLine] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.lines)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


# --- writing --------------------------------------------------------------------------------------------------


def _fit(text: str, *, width: int, encoding: str) -> bytes:
    """Encode text and cut it to at most `width` bytes on a character boundary (never half a GBK character)."""
    encoded = text.encode(encoding, errors="replace")
    if len(encoded) <= width:
        return encoded
    cut = text
    while len(cut.encode(encoding, errors="replace")) > width:
        cut = cut[:-1]
    return cut.encode(encoding, errors="replace")


def _fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _record_values(kind: str, record: BankFileHeader | BankFileLine | BankFile) -> dict[str, str]:
    if kind == "H":
        return {
            "record": "H",
            "bank_code": record.bank_code,
            "kind": KIND_CODES[record.kind],
            "batch_number": record.batch_number,
            "business_date": f"{record.business_date:%Y%m%d}",
        }
    if kind == "D":
        when = record.transacted_at.astimezone(LOCAL_TZ).strftime("%Y%m%d%H%M%S") if record.transacted_at else ""
        return {
            "record": "D",
            "serial": record.serial,
            "account_number": record.account_number,
            "account_name": record.account_name,
            "bank_account_number": record.bank_account_number,
            "amount": record.amount,
            "transacted_at": when,
            "result_code": record.result_code,
            "result_message": record.result_message,
        }
    return {"record": "T", "count": record.count, "total": record.total}


def _fixed_record(kind: str, values: dict, *, encoding: str) -> bytes:
    layout = {"H": HEADER_LAYOUT, "D": DETAIL_LAYOUT, "T": TRAILER_LAYOUT}[kind]
    out = b""
    for name, width in layout:
        value = values[name]
        if name in NUMERIC_FIELDS:
            number = _fen(value) if isinstance(value, Decimal) else int(value)
            text = f"{number:0{width}d}"
            if len(text) > width:
                raise ValueError(f"{name} {value} does not fit {width} digits")
            out += text.encode("ascii")
        else:
            out += _fit(str(value), width=width, encoding=encoding).ljust(width, b" ")
    return out


def _csv_record(kind: str, values: dict, *, encoding: str) -> bytes:
    row = []
    for name in CSV_COLUMNS[kind]:
        value = values[name]
        row.append(f"{value:.2f}" if isinstance(value, Decimal) else str(value))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    return buffer.getvalue().encode(encoding, errors="replace")


def bank_file_render(*, bank_file: BankFile, style: str, encoding: str) -> bytes:
    """The file's bytes in the bank's style and encoding, CRLF line ends, a final line end after the trailer."""
    write = _fixed_record if style == BankFileStyle.FIXED_WIDTH else _csv_record
    records = [write("H", _record_values("H", bank_file.header), encoding=encoding)]
    records += [write("D", _record_values("D", line), encoding=encoding) for line in bank_file.lines]
    records.append(write("T", _record_values("T", bank_file), encoding=encoding))
    return NEWLINE.join(records) + NEWLINE


# --- reading --------------------------------------------------------------------------------------------------


def _fixed_fields(raw: bytes, layout, *, encoding: str, line_number: int) -> dict[str, str]:
    expected = sum(width for _name, width in layout)
    if len(raw) != expected:
        raise BankFileRejected(
            _("长度应为%(expected)d字节，实为%(actual)d字节") % {"expected": expected, "actual": len(raw)},
            line_number=line_number,
        )
    values: dict[str, str] = {}
    offset = 0
    for name, width in layout:
        chunk = raw[offset:offset + width]
        offset += width
        try:
            values[name] = chunk.decode(encoding).strip()
        except UnicodeDecodeError:
            raise BankFileRejected(
                _("字段%(field)s不是有效的%(encoding)s文本") % {"field": name, "encoding": encoding.upper()},
                line_number=line_number,
            ) from None
    return values


def _csv_fields(raw: bytes, kind: str, *, encoding: str, line_number: int) -> dict[str, str]:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        raise BankFileRejected(
            _("不是有效的%(encoding)s文本") % {"encoding": encoding.upper()}, line_number=line_number
        ) from None
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error:
        raise BankFileRejected(_("逗号分隔格式有误"), line_number=line_number) from None
    cells = rows[0] if rows else []
    columns = CSV_COLUMNS[kind]
    if len(cells) != len(columns):
        raise BankFileRejected(
            _("应有%(expected)d列，实为%(actual)d列") % {"expected": len(columns), "actual": len(cells)},
            line_number=line_number,
        )
    return {name: cell.strip() for name, cell in zip(columns, cells, strict=True)}


def _amount_parse(text: str, *, style: str, line_number: int, total: bool = False) -> Decimal:
    if style == BankFileStyle.FIXED_WIDTH:
        if not _DIGITS.match(text):
            raise BankFileRejected(_("金额应为以分为单位的数字"), line_number=line_number)
        return (Decimal(int(text)) / 100).quantize(CENT)
    if not (_CSV_TOTAL if total else _CSV_AMOUNT).match(text):
        raise BankFileRejected(_("金额应为两位小数的元，例如123.45"), line_number=line_number)
    return Decimal(text)


def _date_parse(text: str, *, line_number: int) -> datetime.date:
    try:
        return datetime.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise BankFileRejected(_("日期应为YYYYMMDD"), line_number=line_number) from None


def _time_parse(text: str, *, line_number: int) -> datetime.datetime | None:
    if not text:
        return None
    try:
        naive = datetime.datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        raise BankFileRejected(_("交易时间应为YYYYMMDDHHMMSS"), line_number=line_number) from None
    return naive.replace(tzinfo=LOCAL_TZ)


def _header_parse(values: dict, *, bank_code: str, kind: str, line_number: int) -> BankFileHeader:
    if values["bank_code"] != bank_code:
        raise BankFileRejected(
            _("银行编码应为%(expected)s，文件中为%(actual)s") % {"expected": bank_code, "actual": values["bank_code"]},
            line_number=line_number,
        )
    if KINDS_BY_CODE.get(values["kind"]) != kind:
        raise BankFileRejected(
            _("文件类型应为%(expected)s，文件中为%(actual)s") % {"expected": KIND_CODES[kind], "actual": values["kind"]},
            line_number=line_number,
        )
    if not _BATCH_NUMBER.match(values["batch_number"]):
        raise BankFileRejected(_("批次号应为1至20位字母或数字"), line_number=line_number)
    return BankFileHeader(
        bank_code=bank_code,
        kind=kind,
        batch_number=values["batch_number"],
        business_date=_date_parse(values["business_date"], line_number=line_number),
    )


def _detail_parse(values: dict, *, kind: str, style: str, line_number: int) -> BankFileLine:
    if not _SERIAL.match(values["serial"]):
        raise BankFileRejected(_("流水号应为1至20位字母或数字"), line_number=line_number)
    try:
        account_number = account_number_validate(values["account_number"])
    except InvalidAccountNumber as error:
        raise BankFileRejected(error.message, line_number=line_number) from None
    amount = _amount_parse(values["amount"], style=style, line_number=line_number)
    if amount <= 0 or amount > MAX_AMOUNT:
        raise BankFileRejected(_("金额必须大于0"), line_number=line_number)
    bank_account = values["bank_account_number"]
    if bank_account and not _BANK_ACCOUNT.match(bank_account):
        raise BankFileRejected(_("银行账号应为8至32位数字"), line_number=line_number)
    if kind == BankBatch.Kind.WITHHOLDING_REQUEST and not bank_account:
        raise BankFileRejected(_("代扣请求必须有银行账号"), line_number=line_number)
    transacted_at = _time_parse(values["transacted_at"], line_number=line_number)
    result_code = values["result_code"]
    if kind == BankBatch.Kind.WITHHOLDING_REQUEST:
        if result_code:
            raise BankFileRejected(_("代扣请求不应有返回码"), line_number=line_number)
    elif kind == BankBatch.Kind.WITHHOLDING_RESULT:
        if not _RESULT_CODE.match(result_code):
            raise BankFileRejected(_("返回码应为4位字母或数字"), line_number=line_number)
    elif result_code not in ("", SUCCESS_CODE):
        raise BankFileRejected(_("代收和对账明细只列成功的交易（返回码0000）"), line_number=line_number)
    needs_time = kind in (BankBatch.Kind.COLLECTION, BankBatch.Kind.STATEMENT) or (
        kind == BankBatch.Kind.WITHHOLDING_RESULT and result_code == SUCCESS_CODE
    )
    if needs_time and transacted_at is None:
        raise BankFileRejected(_("成功的交易必须有交易时间"), line_number=line_number)
    return BankFileLine(
        line_number=line_number,
        serial=values["serial"],
        account_number=account_number,
        amount=amount,
        account_name=values["account_name"],
        bank_account_number=bank_account,
        transacted_at=transacted_at,
        result_code=SUCCESS_CODE if kind in (BankBatch.Kind.COLLECTION, BankBatch.Kind.STATEMENT) else result_code,
        result_message=values["result_message"],
    )


def _lines_split(content: bytes, *, encoding: str) -> list[bytes]:
    """Raw lines without their line ends; trailing empty lines dropped. Splitting bytes on LF is safe for GBK
    (its second bytes are never 0x0A)."""
    if encoding == BankFileEncoding.UTF8 and content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    lines = [line[:-1] if line.endswith(b"\r") else line for line in content.split(b"\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def bank_file_parse(*, content: bytes, style: str, encoding: str, bank_code: str, kind: str) -> BankFile:
    """Read a whole bank file of the expected bank and kind, or refuse it whole with the first bad line's number."""
    if style not in BankFileStyle.values or encoding not in BankFileEncoding.values:
        raise ValueError(f"unknown bank file style {style!r} or encoding {encoding!r}")
    raw_lines = _lines_split(content, encoding=encoding)
    if not raw_lines:
        raise BankFileRejected(_("文件为空，缺少首记录"), line_number=1)

    def fields(raw: bytes, record: str, line_number: int) -> dict[str, str]:
        if style == BankFileStyle.FIXED_WIDTH:
            layout = {"H": HEADER_LAYOUT, "D": DETAIL_LAYOUT, "T": TRAILER_LAYOUT}[record]
            return _fixed_fields(raw, layout, encoding=encoding, line_number=line_number)
        return _csv_fields(raw, record, encoding=encoding, line_number=line_number)

    def record_type(raw: bytes) -> str:
        return raw[:1].decode("ascii", errors="replace")

    if record_type(raw_lines[0]) != "H":
        raise BankFileRejected(_("首行应为首记录（H）"), line_number=1)
    header = _header_parse(fields(raw_lines[0], "H", 1), bank_code=bank_code, kind=kind, line_number=1)
    details: list[BankFileLine] = []
    serials: dict[str, int] = {}
    trailer_at = None
    for index, raw in enumerate(raw_lines[1:], start=2):
        record = record_type(raw)
        if record == "T":
            trailer_at = index
            break
        if record != "D":
            raise BankFileRejected(_("应为明细记录（D）或尾记录（T）"), line_number=index)
        line = _detail_parse(fields(raw, "D", index), kind=kind, style=style, line_number=index)
        if line.serial in serials:
            raise BankFileRejected(
                _("流水号%(serial)s与第%(other)d行重复") % {"serial": line.serial, "other": serials[line.serial]},
                line_number=index,
            )
        serials[line.serial] = index
        details.append(line)
    if trailer_at is None:
        raise BankFileRejected(_("文件缺少尾记录（T）"), line_number=len(raw_lines) + 1)
    if trailer_at != len(raw_lines):
        raise BankFileRejected(_("尾记录之后不应再有内容"), line_number=trailer_at + 1)
    trailer = fields(raw_lines[trailer_at - 1], "T", trailer_at)
    if not _DIGITS.match(trailer["count"]):
        raise BankFileRejected(_("尾记录笔数应为数字"), line_number=trailer_at)
    bank_file = BankFile(header=header, lines=details)
    if int(trailer["count"]) != bank_file.count:
        raise BankFileRejected(
            _("尾记录笔数为%(stated)s，明细实有%(actual)d笔") % {"stated": int(trailer["count"]), "actual": bank_file.count},
            line_number=trailer_at,
        )
    total = _amount_parse(trailer["total"], style=style, line_number=trailer_at, total=True)
    if total != bank_file.total:
        raise BankFileRejected(
            _("尾记录总金额为%(stated)s，明细合计%(actual)s") % {"stated": f"{total:.2f}", "actual": f"{bank_file.total:.2f}"},
            line_number=trailer_at,
        )
    return bank_file
