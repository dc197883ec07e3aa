"""/api/v1/banks/<code>/: the bank file exchange — download withholding (代扣) request batches, upload withholding
results and collection (代收) files (each successful line posted once, by bank and serial), upload the daily
statement and read the reconciliation report. A bank's own key sees only its own bank."""
from __future__ import annotations

import datetime

from django.http import Http404, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import File, Query, Router, Schema, Status, UploadedFile

from core.models.banks import Bank, BankBatch, BankFileStyle
from core.services.bank_exchange import (
    BankImportReport,
    BankNotFound,
    ReconciliationGroup,
    ReconciliationReport,
    bank_batch_file_name,
    bank_batch_render,
    bank_collection_import,
    bank_get,
    bank_reconciliation_build,
    bank_statement_import,
    withholding_results_import,
)
from integrations import scopes
from integrations.api.auth import scope_require
from integrations.api.errors import ErrorOut
from integrations.models import ApiClient

router = Router(tags=["banks"])

BANK_CODE_PATTERN = r"^[A-Za-z0-9]{1,6}$"
BATCH_NUMBER_PATTERN = r"^[A-Za-z0-9]{1,20}$"
BATCH_LIST_LIMIT = 100


# --- schemas --------------------------------------------------------------------------------------------------


ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}


class BankBatchOut(Schema):
    batch_number: str
    kind: str
    business_date: datetime.date
    status: str
    record_count: int
    total_amount: str
    file_name: str


class BankBatchList(Schema):
    bank: str
    batches: list[BankBatchOut]


class BankImportOut(Schema):
    bank: str
    batch_number: str
    kind: str
    business_date: datetime.date
    replayed: bool
    lines: int
    posted: int
    posted_amount: str
    duplicates: int
    failed: int
    failed_amount: str


class BankReconciliationItemOut(Schema):
    serial: str
    account_number: str
    bank_amount: str | None
    ledger_amount: str | None


class BankReconciliationGroupOut(Schema):
    count: int
    bank_amount: str
    ledger_amount: str
    items: list[BankReconciliationItemOut]


class BankReconciliationOut(Schema):
    bank: str
    business_date: datetime.date
    statement_batch: str
    balanced: bool
    matched: BankReconciliationGroupOut
    missing_at_bank: BankReconciliationGroupOut
    missing_in_ledger: BankReconciliationGroupOut
    amount_differs: BankReconciliationGroupOut


class BankBatchFilter(Schema):
    date: datetime.date | None = None


class BankReconciliationQuery(Schema):
    date: datetime.date


# --- helpers ------------------------------------------------------------------------------------------------


def _bank(request, code: str) -> Bank:
    """The bank named in the path; a bank system's key reaches only the bank it belongs to (404 otherwise)."""
    try:
        bank = bank_get(code=code)
    except BankNotFound:
        raise Http404 from None
    client: ApiClient = request.auth
    if client.system == ApiClient.System.BANK and bank.api_client_name != client.name:
        raise Http404
    return bank


def _money(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def _batch_out(batch: BankBatch) -> dict:
    return {
        "batch_number": batch.batch_number,
        "kind": batch.kind,
        "business_date": batch.business_date,
        "status": batch.status,
        "record_count": batch.record_count,
        "total_amount": _money(batch.total_amount),
        "file_name": bank_batch_file_name(batch=batch),
    }


def _import_out(report: BankImportReport) -> Status:
    """201 for a batch imported now, 200 for the same file sent again (the first import's figures)."""
    batch = report.batch
    return Status(200 if report.replayed else 201, {
        "bank": batch.bank.code,
        "batch_number": batch.batch_number,
        "kind": batch.kind,
        "business_date": batch.business_date,
        "replayed": report.replayed,
        "lines": report.lines,
        "posted": report.posted,
        "posted_amount": _money(report.posted_amount),
        "duplicates": report.duplicates,
        "failed": report.failed,
        "failed_amount": _money(report.failed_amount),
    })


def _group_out(group: ReconciliationGroup) -> dict:
    return {
        "count": group.count,
        "bank_amount": _money(group.bank_amount),
        "ledger_amount": _money(group.ledger_amount),
        "items": [
            {
                "serial": item.serial,
                "account_number": item.account_number,
                "bank_amount": _money(item.bank_amount),
                "ledger_amount": _money(item.ledger_amount),
            }
            for item in group.items
        ],
    }


def _reconciliation_out(report: ReconciliationReport) -> dict:
    return {
        "bank": report.bank.code,
        "business_date": report.business_date,
        "statement_batch": report.statement.batch_number,
        "balanced": report.balanced,
        "matched": _group_out(report.matched),
        "missing_at_bank": _group_out(report.missing_at_bank),
        "missing_in_ledger": _group_out(report.missing_in_ledger),
        "amount_differs": _group_out(report.amount_differs),
    }


def _content(file: UploadedFile) -> bytes:
    return b"".join(file.chunks())


# --- endpoints ----------------------------------------------------------------------------------------------


@router.get(
    "/banks/{code}/withholding-batches/",
    response={200: BankBatchList, **ERRORS},
    summary=str(_("代扣请求批次列表")),
    description=str(_("本行的代扣请求批次（最新在前，最多100个），可按业务日期筛选。权限：bank:read。")),
)
def withholding_batches(request, code: str, filters: Query[BankBatchFilter]):
    scope_require(request, scopes.BANK_READ)
    bank = _bank(request, code)
    batches = BankBatch.objects.filter(bank=bank, kind=BankBatch.Kind.WITHHOLDING_REQUEST).select_related("bank")
    if filters.date is not None:
        batches = batches.filter(business_date=filters.date)
    return {"bank": bank.code, "batches": [_batch_out(batch) for batch in batches[:BATCH_LIST_LIMIT]]}


@router.get(
    "/banks/{code}/withholding-batches/{batch_number}/file",
    response=ERRORS,
    summary=str(_("下载代扣请求文件")),
    description=str(_(
        "代扣请求批次的文件：首记录、明细、尾记录（笔数、总金额），按本行的定长（字节宽度）或逗号分隔格式与编码。"
        "权限：bank:read。"
    )),
    openapi_extra={
        "responses": {
            200: {
                "description": str(_("代扣请求文件")),
                "content": {
                    "text/plain": {"schema": {"type": "string", "format": "binary"}},
                    "text/csv": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    },
)
def withholding_batch_file(request, code: str, batch_number: str):
    scope_require(request, scopes.BANK_READ)
    bank = _bank(request, code)
    batch = (
        BankBatch.objects.filter(bank=bank, kind=BankBatch.Kind.WITHHOLDING_REQUEST, batch_number=batch_number)
        .select_related("bank")
        .first()
    )
    if batch is None:
        raise Http404
    media = "text/csv" if bank.file_style == BankFileStyle.CSV else "text/plain"
    response = HttpResponse(bank_batch_render(batch=batch), content_type=f"{media}; charset={bank.file_encoding}")
    response["Content-Disposition"] = f'attachment; filename="{bank_batch_file_name(batch=batch)}"'
    return response


@router.post(
    "/banks/{code}/withholding-results/",
    response={200: BankImportOut, 201: BankImportOut, **ERRORS},
    summary=str(_("上传代扣回盘文件")),
    description=str(_(
        "每笔扣款成功的明细入账一次（银行+流水号）；失败的记入对应请求。有误的行或尾记录使整个文件退回并指明行号。"
        "同一文件重复上传返回首次结果（200）。权限：bank:write。"
    )),
)
def withholding_results_upload(request, code: str, file: File[UploadedFile]):
    scope_require(request, scopes.BANK_WRITE)
    bank = _bank(request, code)
    return _import_out(withholding_results_import(bank=bank, content=_content(file)))


@router.post(
    "/banks/{code}/collections/",
    response={200: BankImportOut, 201: BankImportOut, **ERRORS},
    summary=str(_("上传代收明细文件")),
    description=str(_(
        "每笔代收入账一次（银行+流水号）。有误的行或尾记录使整个文件退回并指明行号。同一文件重复上传返回首次结果（200）。"
        "权限：bank:write。"
    )),
)
def collections_upload(request, code: str, file: File[UploadedFile]):
    scope_require(request, scopes.BANK_WRITE)
    bank = _bank(request, code)
    return _import_out(bank_collection_import(bank=bank, content=_content(file)))


@router.post(
    "/banks/{code}/statements/",
    response={201: BankReconciliationOut, **ERRORS},
    summary=str(_("上传对账文件并对账")),
    description=str(_("银行当日全部成功交易的对账文件；返回与账务记录的对账结果。权限：bank:write。")),
)
def statement_upload(request, code: str, file: File[UploadedFile]):
    scope_require(request, scopes.BANK_WRITE)
    bank = _bank(request, code)
    statement = bank_statement_import(bank=bank, content=_content(file))
    report = bank_reconciliation_build(bank=bank, business_date=statement.business_date)
    return Status(201, _reconciliation_out(report))


@router.get(
    "/banks/{code}/reconciliation/",
    response={200: BankReconciliationOut, **ERRORS},
    summary=str(_("对账报告")),
    description=str(_("某日本行最新对账文件与账务记录的比对：相符、银行无记录、账务无记录、金额不符。权限：bank:read。")),
)
def reconciliation(request, code: str, query: Query[BankReconciliationQuery]):
    scope_require(request, scopes.BANK_READ)
    bank = _bank(request, code)
    return _reconciliation_out(bank_reconciliation_build(bank=bank, business_date=query.date))
