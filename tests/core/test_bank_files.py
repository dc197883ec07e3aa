"""Bank batch files: fixed-width (bytes of GBK) and CSV, rendered byte for byte as the golden files, read back
exactly, and refused whole with the first bad line's number."""
import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.models.banks import BankBatch
from core.services.bank_files import (
    BankFile,
    BankFileHeader,
    BankFileLine,
    BankFileRejected,
    bank_file_parse,
    bank_file_render,
)

D = Decimal
GOLDEN = Path(__file__).resolve().parent.parent / "integrations" / "golden"
SHANGHAI = ZoneInfo("Asia/Shanghai")
REQUEST = BankBatch.Kind.WITHHOLDING_REQUEST
RESULT = BankBatch.Kind.WITHHOLDING_RESULT
COLLECTION = BankBatch.Kind.COLLECTION
# Valid account numbers (9 digits and a Luhn check digit).
ACCOUNT_A, ACCOUNT_B, ACCOUNT_C = "1000000008", "1000000016", "1000000024"


def request_file() -> BankFile:
    """Two withholding requests; the second name is exactly 20 Chinese characters, 40 GBK bytes: the full field."""
    return BankFile(
        header=BankFileHeader(
            bank_code="ICBC", kind=REQUEST, batch_number="WH2026012401", business_date=datetime.date(2026, 1, 24)
        ),
        lines=[
            BankFileLine(
                line_number=2, serial="WH2026012401000001", account_number=ACCOUNT_A, amount=D("123.45"),
                account_name="张三", bank_account_number="6222020200001234567",
            ),
            BankFileLine(
                line_number=3, serial="WH2026012401000002", account_number=ACCOUNT_B, amount=D("0.50"),
                account_name="恩施市舞阳坝街道某某某某某某有限责任公司", bank_account_number="6222020200007654321",
            ),
        ],
    )


def parse(content: bytes, *, style="fixed", encoding="gbk", kind=COLLECTION, bank_code="ICBC") -> BankFile:
    return bank_file_parse(content=content, style=style, encoding=encoding, bank_code=bank_code, kind=kind)


def rejected_at(content: bytes, **options) -> tuple[int, str]:
    with pytest.raises(BankFileRejected) as caught:
        parse(content, **options)
    return caught.value.line_number, caught.value.reason


def golden(name: str) -> bytes:
    return (GOLDEN / name).read_bytes()


# --- writing ---------------------------------------------------------------------------------------------------


def test_fixed_width_gbk_request_matches_the_golden_file_byte_for_byte():
    content = bank_file_render(bank_file=request_file(), style="fixed", encoding="gbk")
    assert content == golden("withholding_request_fixed_gbk.txt")
    lines = content.split(b"\r\n")
    # Header 37, details 176, trailer 29 bytes; a final CRLF. Chinese names take two bytes a character.
    assert [len(line) for line in lines] == [37, 176, 176, 29, 0]
    assert lines[1][31:71] == "张三".encode("gbk") + b" " * 36
    assert lines[1][103:118] == b"000000000012345"
    assert lines[3] == b"T" + b"0000000002" + b"000000000000012395"


def test_csv_request_matches_the_golden_file():
    content = bank_file_render(bank_file=request_file(), style="csv", encoding="utf-8")
    assert content == golden("withholding_request.csv")
    assert content.decode("utf-8").splitlines() == [
        "H,ICBC,WQ,WH2026012401,20260124",
        f"D,WH2026012401000001,{ACCOUNT_A},张三,6222020200001234567,123.45,,,",
        f"D,WH2026012401000002,{ACCOUNT_B},恩施市舞阳坝街道某某某某某某有限责任公司,6222020200007654321,0.50,,,",
        "T,2,123.95",
    ]


def test_a_long_name_is_cut_on_a_character_boundary_never_half_a_gbk_character():
    long_name = "湖北省恩施土家族苗族自治州某某电器制造有限公司"  # 23 characters, 46 bytes
    original = request_file()
    bank_file = BankFile(
        header=original.header,
        lines=[BankFileLine(line_number=2, serial="S1", account_number=ACCOUNT_A, amount=D("1.00"),
                            account_name=long_name, bank_account_number="62220202000012")],
    )
    content = bank_file_render(bank_file=bank_file, style="fixed", encoding="gbk")
    detail = content.split(b"\r\n")[1]
    assert len(detail) == 176
    assert detail[31:71].decode("gbk") == long_name[:20]
    assert parse(content, kind=REQUEST).lines[0].account_name == long_name[:20]


def test_render_then_parse_gives_back_the_same_file_in_every_style_and_encoding():
    for style, encoding in (("fixed", "gbk"), ("csv", "gbk"), ("csv", "utf-8")):
        content = bank_file_render(bank_file=request_file(), style=style, encoding=encoding)
        assert parse(content, style=style, encoding=encoding, kind=REQUEST) == request_file()
    # Fixed-width UTF-8 counts three bytes a Chinese character: the 40-byte name field holds 13 of them.
    content = bank_file_render(bank_file=request_file(), style="fixed", encoding="utf-8")
    names = [line.account_name for line in parse(content, encoding="utf-8", kind=REQUEST).lines]
    assert names == ["张三", "恩施市舞阳坝街道某某某某某"]


# --- reading ---------------------------------------------------------------------------------------------------


def test_golden_gbk_collection_file_is_read_exactly():
    bank_file = parse(golden("collection_fixed_gbk.txt"))
    assert bank_file.header == BankFileHeader(
        bank_code="ICBC", kind=COLLECTION, batch_number="CL2026012401", business_date=datetime.date(2026, 1, 24)
    )
    assert [(l.line_number, l.serial, l.account_number, l.account_name, l.amount, l.transacted_at, l.result_code)
            for l in bank_file.lines] == [
        (2, "ICBC0001", ACCOUNT_A, "张三", D("100.00"), datetime.datetime(2026, 1, 24, 9, 30, 5, tzinfo=SHANGHAI), "0000"),
        (3, "ICBC0002", ACCOUNT_B, "李四", D("56.78"), datetime.datetime(2026, 1, 24, 14, 2, 0, tzinfo=SHANGHAI), "0000"),
        (4, "ICBC0003", ACCOUNT_C, "王五", D("0.01"), datetime.datetime(2026, 1, 24, 23, 59, 59, tzinfo=SHANGHAI), "0000"),
    ]
    assert (bank_file.count, bank_file.total) == (3, D("156.79"))


def test_golden_csv_results_file_is_read_exactly():
    bank_file = parse(golden("withholding_results.csv"), style="csv", encoding="gbk", kind=RESULT)
    assert [(l.serial, l.amount, l.result_code, l.result_message, l.succeeded) for l in bank_file.lines] == [
        ("WH2026012401000001", D("123.45"), "0000", "扣款成功", True),
        ("WH2026012401000002", D("0.50"), "3001", "余额不足", False),
    ]


def test_crlf_lf_and_a_utf8_bom_are_all_read():
    content = bank_file_render(bank_file=request_file(), style="csv", encoding="utf-8")
    assert parse(content.replace(b"\r\n", b"\n"), style="csv", encoding="utf-8", kind=REQUEST) == request_file()
    assert parse(b"\xef\xbb\xbf" + content, style="csv", encoding="utf-8", kind=REQUEST) == request_file()


# --- refusals, each naming the line ---------------------------------------------------------------------------


def collection_lines() -> list[bytes]:
    return golden("collection_fixed_gbk.txt").split(b"\r\n")[:-1]


def joined(lines: list[bytes]) -> bytes:
    return b"\r\n".join(lines) + b"\r\n"


def test_a_bad_trailer_total_refuses_the_file_naming_the_trailer_line():
    lines = collection_lines()
    lines[4] = b"T" + b"0000000003" + b"000000000000015680"
    assert rejected_at(joined(lines)) == (5, "尾记录总金额为156.80，明细合计156.79")


def test_a_bad_trailer_count_refuses_the_file():
    lines = collection_lines()
    lines[4] = b"T" + b"0000000004" + b"000000000000015679"
    assert rejected_at(joined(lines)) == (5, "尾记录笔数为4，明细实有3笔")


def test_a_bad_amount_on_line_three_refuses_the_file_naming_line_three():
    lines = collection_lines()
    lines[2] = lines[2][:103] + b"0000000000056.7" + lines[2][118:]
    line, reason = rejected_at(joined(lines))
    assert (line, reason) == (3, "金额应为以分为单位的数字")
    with pytest.raises(BankFileRejected) as caught:
        parse(joined(lines))
    assert str(caught.value) == "银行文件第3行有误，整个文件未处理：金额应为以分为单位的数字"
    assert caught.value.field == "file"


def test_a_line_counted_in_characters_instead_of_gbk_bytes_is_refused():
    # The same file written in UTF-8: each Chinese character takes three bytes, so the detail is too long.
    text = golden("collection_fixed_gbk.txt").decode("gbk").encode("utf-8")
    assert rejected_at(text) == (2, "长度应为176字节，实为180字节")


def test_a_field_boundary_inside_a_gbk_character_is_refused():
    lines = collection_lines()
    name = "张三".encode("gbk")
    # The name placed one byte too far right: its first character straddles the end of the 40-byte name field.
    lines[1] = lines[1][:31] + b" " * 39 + name + b" " * 29 + lines[1][103:]
    line, reason = rejected_at(joined(lines))
    assert line == 2 and reason == "字段account_name不是有效的GBK文本"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda ls: ls[1:], (1, "首行应为首记录（H）")),
        (lambda ls: ls[:4], (5, "文件缺少尾记录（T）")),
        (lambda ls: ls + [b"D"], (6, "尾记录之后不应再有内容")),
        (lambda ls: ls[:2] + [b"X" + ls[2][1:]] + ls[3:], (3, "应为明细记录（D）或尾记录（T）")),
        (lambda ls: ls[:2] + [ls[2][:21] + b"1000000017" + ls[2][31:]] + ls[3:], (3, "户号校验位不正确，请核对后重新输入")),
        (lambda ls: ls[:3] + [ls[3][:1] + b"ICBC0002".ljust(20) + ls[3][21:]] + ls[4:], (4, "流水号ICBC0002与第3行重复")),
        (lambda ls: [ls[0][:1] + b"CCB   " + ls[0][7:]] + ls[1:], (1, "银行编码应为ICBC，文件中为CCB")),
        (lambda ls: [ls[0][:7] + b"WR" + ls[0][9:]] + ls[1:], (1, "文件类型应为CL，文件中为WR")),
        (lambda ls: [ls[0][:29] + b"20260231"] + ls[1:], (1, "日期应为YYYYMMDD")),
        (lambda ls: ls[:2] + [ls[2][:118] + b"20260124250000" + ls[2][132:]] + ls[3:], (3, "交易时间应为YYYYMMDDHHMMSS")),
        (lambda ls: ls[:2] + [ls[2][:118] + b" " * 14 + ls[2][132:]] + ls[3:], (3, "成功的交易必须有交易时间")),
        (lambda ls: ls[:2] + [ls[2][:132] + b"3001" + ls[2][136:]] + ls[3:], (3, "代收和对账明细只列成功的交易（返回码0000）")),
    ],
    ids=["no-header", "no-trailer", "after-trailer", "unknown-record", "check-digit", "duplicate-serial",
         "other-bank", "other-kind", "bad-date", "bad-time", "no-time", "failed-collection"],
)
def test_each_bad_line_refuses_the_whole_file_naming_its_number(edit, expected):
    assert rejected_at(joined(edit(collection_lines()))) == expected


def test_a_zero_amount_is_refused():
    lines = collection_lines()
    lines[3] = lines[3][:103] + b"0" * 15 + lines[3][118:]
    lines[4] = b"T" + b"0000000003" + b"000000000000015678"
    assert rejected_at(joined(lines)) == (4, "金额必须大于0")


def test_an_empty_file_is_refused_at_line_one():
    assert rejected_at(b"") == (1, "文件为空，缺少首记录")
    assert rejected_at(b"\r\n\r\n") == (1, "文件为空，缺少首记录")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"D,S1,{ACCOUNT_A},张三,,12.3,20260124093005,0000,", "金额应为两位小数的元，例如123.45"),
        (f"D,S1,{ACCOUNT_A},张三,,12.30,20260124093005,0000", "应有9列，实为8列"),
        (f'D,S1,{ACCOUNT_A},"张三,,12.30,20260124093005,0000,', "逗号分隔格式有误"),
        (f"D,S-1,{ACCOUNT_A},张三,,12.30,20260124093005,0000,", "流水号应为1至20位字母或数字"),
    ],
    ids=["amount", "columns", "quote", "serial"],
)
def test_csv_bad_lines_are_refused_with_their_number(line, expected):
    content = f"H,ICBC,CL,CL1,20260124\r\n{line}\r\nT,1,12.30\r\n".encode("gbk")
    assert rejected_at(content, style="csv") == (2, expected)


def test_csv_bad_total_is_refused_naming_the_trailer():
    content = f"H,ICBC,CL,CL1,20260124\r\nD,S1,{ACCOUNT_A},张三,,12.30,20260124093005,0000,\r\nT,1,12.31\r\n"
    assert rejected_at(content.encode("gbk"), style="csv") == (3, "尾记录总金额为12.31，明细合计12.30")


def test_bytes_that_are_not_gbk_are_refused_with_their_line():
    content = f"H,ICBC,CL,CL1,20260124\r\nD,S1,{ACCOUNT_A},".encode("gbk") + b"\xff\xff" + (
        ",,12.30,20260124093005,0000,\r\nT,1,12.30\r\n".encode("gbk")
    )
    assert rejected_at(content, style="csv") == (2, "不是有效的GBK文本")


def test_a_withholding_result_needs_a_return_code_and_a_request_no_return_code():
    result = f"H,ICBC,WR,R1,20260124\r\nD,S1,{ACCOUNT_A},,,12.30,,,\r\nT,1,12.30\r\n".encode("gbk")
    assert rejected_at(result, style="csv", kind=RESULT) == (2, "返回码应为4位字母或数字")
    request = f"H,ICBC,WQ,R1,20260124\r\nD,S1,{ACCOUNT_A},,6222020200001234,12.30,,0000,\r\nT,1,12.30\r\n"
    assert rejected_at(request.encode("gbk"), style="csv", kind=REQUEST) == (2, "代扣请求不应有返回码")
    no_account = f"H,ICBC,WQ,R1,20260124\r\nD,S1,{ACCOUNT_A},,,12.30,,,\r\nT,1,12.30\r\n"
    assert rejected_at(no_account.encode("gbk"), style="csv", kind=REQUEST) == (2, "代扣请求必须有银行账号")
