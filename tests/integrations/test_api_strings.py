"""Every operation's summary and description in the /api/v1/ routers is marked for translation (str(_("…"))), so the
i18n pass puts them in the catalogue like the rest of the API's text; and the bank operations keep their text."""
import ast
from pathlib import Path

from django.conf import settings
from django.test import Client

API_DIR = Path(settings.BASE_DIR) / "integrations" / "api"
ROUTE_METHODS = {"get", "post", "put", "patch", "delete", "api_operation"}


def _is_translated(node: ast.expr) -> bool:
    """str(_("…")) or _("…") with a literal (adjacent literals are one literal to the parser)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str" and node.args:
        node = node.args[0]
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"
        and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
    )


def _operation_texts(path: Path):
    """(line, keyword, node) of each summary= and description= in a @router.<method>(…) decorator."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for decorator in node.decorator_list:
            if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr in ROUTE_METHODS):
                for keyword in decorator.keywords:
                    if keyword.arg in ("summary", "description"):
                        yield keyword.value.lineno, keyword.arg, keyword.value


def test_every_operation_summary_and_description_is_marked_for_translation():
    plain = [
        f"{path.name}:{line} {name}"
        for path in sorted(API_DIR.glob("*.py"))
        for line, name, value in _operation_texts(path)
        if not _is_translated(value)
    ]
    assert plain == []
    banks = list(_operation_texts(API_DIR / "banks.py"))
    assert len(banks) == 12  # six operations, each with a summary and a description


def test_the_bank_operations_keep_their_text_in_the_schema(db):
    schema = Client().get("/api/schema/").json()
    operations = schema["paths"]["/api/v1/banks/{code}/reconciliation/"]["get"]
    assert operations["summary"] == "对账报告"
    assert operations["description"] == "某日本行最新对账文件与账务记录的比对：相符、银行无记录、账务无记录、金额不符。权限：bank:read。"
    upload = schema["paths"]["/api/v1/banks/{code}/withholding-results/"]["post"]
    assert upload["description"] == (
        "每笔扣款成功的明细入账一次（银行+流水号）；失败的记入对应请求。有误的行或尾记录使整个文件退回并指明行号。"
        "同一文件重复上传返回首次结果（200）。权限：bank:write。"
    )
