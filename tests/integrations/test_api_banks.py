"""/api/v1/banks/<code>/: withholding batch download, results / collection / statement upload, reconciliation —
keys, scopes, a bank's key seeing only its own bank, refused files, duplicates, and the exact figures."""
import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.models import Payment
from core.models.banks import Bank, BankBatch
from core.services.bank_exchange import withholding_agreement_sign, withholding_batch_create
from integrations.clients import api_client_create
from tests.core.test_bank_exchange import csv_file
from tests.core.test_late_fees import bill_charge, policies_set
from tests.factories import AccountFactory

D = Decimal
DAY = datetime.date(2026, 1, 10)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _policies():
    policies_set()


def headers(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def world():
    bank = Bank.objects.create(code="TBK", name="测试银行", file_style="fixed", file_encoding="gbk", api_client_name="测试银行前置机")
    other = Bank.objects.create(code="OTH", name="另一银行", file_style="csv", file_encoding="utf-8")
    account = AccountFactory(name="张三")
    bill_charge(account=account, period=datetime.date(2025, 12, 1), total="100.00", due_date=datetime.date(2026, 1, 31))
    withholding_agreement_sign(
        account=account, bank=bank, bank_account_number="6222020200001234567", bank_account_name="张三",
        signed_on=datetime.date(2025, 1, 1),
    )
    batch = withholding_batch_create(bank=bank, business_date=DAY)
    bank_key = api_client_create(name="测试银行前置机", system="bank", scopes=["bank:read", "bank:write"]).key
    other_bank_key = api_client_create(name="另一银行前置机", system="bank", scopes=["bank:read", "bank:write"]).key
    read_only = api_client_create(name="营销稽查", system="other", scopes=["bank:read"]).key
    return {"bank": bank, "other": other, "account": account, "batch": batch, "key": bank_key,
            "other_key": other_bank_key, "read_only": read_only}


def upload(path: str, key: str, content: bytes, name="file.txt"):
    return Client().post(path, {"file": SimpleUploadedFile(name, content)}, **headers(key))


def collection_fixed(account_number: str, *, number="CL1", amount_fen="000000000010000", total="000000000000010000"):
    detail = (b"D" + b"C0001".ljust(20) + account_number.encode() + "张三".encode("gbk").ljust(40) + b" " * 32
              + amount_fen.encode() + b"20260110090000" + b"0000" + b" " * 40)
    header = b"H" + b"TBK   " + b"CL" + number.encode().ljust(20) + b"20260110"
    return header + b"\r\n" + detail + b"\r\n" + b"T" + b"0000000001" + total.encode() + b"\r\n"


# --- download ----------------------------------------------------------------------------------------------


def test_a_bank_downloads_its_withholding_batch_as_gbk_fixed_width(world):
    account = world["account"]
    listing = Client().get("/api/v1/banks/TBK/withholding-batches/?date=2026-01-10", **headers(world["key"]))
    assert listing.status_code == 200
    assert listing.json() == {"bank": "TBK", "batches": [{
        "batch_number": "WH2026011001", "kind": "withholding_request", "business_date": "2026-01-10", "status": "sent",
        "record_count": 1, "total_amount": "100.00", "file_name": "TBK_WH2026011001.txt",
    }]}
    assert Client().get("/api/v1/banks/TBK/withholding-batches/?date=2026-01-11", **headers(world["key"])).json()[
        "batches"] == []

    response = Client().get("/api/v1/banks/TBK/withholding-batches/WH2026011001/file", **headers(world["key"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=gbk"
    assert response["Content-Disposition"] == 'attachment; filename="TBK_WH2026011001.txt"'
    assert response.content == (
        b"HTBK   WQWH2026011001        20260110\r\n"
        + b"D" + b"WH2026011001000001  " + account.number.encode() + "张三".encode("gbk") + b" " * 36
        + b"6222020200001234567" + b" " * 13 + b"000000000010000" + b" " * 14 + b" " * 4 + b" " * 40 + b"\r\n"
        + b"T0000000001000000000000010000\r\n"
    )


def test_download_needs_a_key_the_read_scope_and_the_bank_of_the_key(world):
    path = "/api/v1/banks/TBK/withholding-batches/WH2026011001/file"
    assert Client().get(path).status_code == 401
    write_only = api_client_create(name="只写", system="other", scopes=["bank:write"]).key
    refused = Client().get(path, **headers(write_only))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "scope_missing"
    # Another bank's key finds nothing of this bank, not even that it exists.
    hidden = Client().get(path, **headers(world["other_key"]))
    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "not_found")
    assert Client().get("/api/v1/banks/TBK/withholding-batches/", **headers(world["other_key"])).status_code == 404
    # The utility's own systems with the scope see every bank.
    assert Client().get(path, **headers(world["read_only"])).status_code == 200
    assert Client().get("/api/v1/banks/TBK/withholding-batches/NOPE/file", **headers(world["key"])).status_code == 404
    assert Client().get("/api/v1/banks/XX/withholding-batches/", **headers(world["read_only"])).status_code == 404


def test_a_bad_listing_date_names_the_field(world):
    response = Client().get("/api/v1/banks/TBK/withholding-batches/?date=2026-13-01", **headers(world["key"]))
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"date": ["日期格式应为YYYY-MM-DD"]}


# --- uploads -----------------------------------------------------------------------------------------------


def test_results_upload_posts_the_debit_once_and_a_repeat_is_replayed(world):
    line = world["batch"].lines.get()
    detail = (b"D" + line.serial.encode().ljust(20) + line.account_number.encode() + b" " * 40 + b" " * 32
              + b"000000000010000" + b"20260110103000" + b"0000" + "扣款成功".encode("gbk").ljust(40))
    content = (b"HTBK   WRWR2026011001        20260110\r\n" + detail + b"\r\n"
               + b"T0000000001000000000000010000\r\n")
    response = upload("/api/v1/banks/TBK/withholding-results/", world["key"], content)
    assert response.status_code == 201
    assert response.json() == {
        "bank": "TBK", "batch_number": "WR2026011001", "kind": "withholding_result", "business_date": "2026-01-10",
        "replayed": False, "lines": 1, "posted": 1, "posted_amount": "100.00", "duplicates": 0, "failed": 0,
        "failed_amount": "0.00",
    }
    payment = Payment.objects.get()
    assert (payment.idempotency_key, payment.channel, payment.amount) == (
        f"bank:TBK:{line.serial}", "bank_withholding", D("100.00")
    )
    world["account"].refresh_from_db()
    assert world["account"].balance == D("0.00")
    again = upload("/api/v1/banks/TBK/withholding-results/", world["key"], content)
    assert again.status_code == 200
    assert (again.json()["replayed"], again.json()["posted"]) == (True, 1)
    assert Payment.objects.count() == 1
    assert BankBatch.objects.get(batch_number="WH2026011001").status == "settled"


def test_collection_upload_posts_and_a_bad_total_is_refused_whole_with_its_line(world):
    number = world["account"].number
    bad = collection_fixed(number, total="000000000000010001")
    refused = upload("/api/v1/banks/TBK/collections/", world["key"], bad)
    assert refused.status_code == 422
    assert refused.json() == {"error": {
        "code": "bank_file_rejected",
        "message": "银行文件第3行有误，整个文件未处理：尾记录总金额为100.01，明细合计100.00",
        "fields": {"file": ["银行文件第3行有误，整个文件未处理：尾记录总金额为100.01，明细合计100.00"]},
    }}
    assert (Payment.objects.count(), BankBatch.objects.filter(kind="collection").count()) == (0, 0)

    good = upload("/api/v1/banks/TBK/collections/", world["key"], collection_fixed(number))
    assert good.status_code == 201
    assert (good.json()["posted"], good.json()["posted_amount"]) == (1, "100.00")
    # The same serial in a new batch is a duplicate, not a second payment.
    resent = upload("/api/v1/banks/TBK/collections/", world["key"], collection_fixed(number, number="CL2"))
    assert (resent.status_code, resent.json()["posted"], resent.json()["duplicates"]) == (201, 0, 1)
    assert Payment.objects.count() == 1
    conflict = upload("/api/v1/banks/TBK/collections/", world["key"],
                      collection_fixed(number, amount_fen="000000000020000", total="000000000000020000"))
    assert (conflict.status_code, conflict.json()["error"]["code"]) == (422, "bank_batch_conflict")


def test_uploads_need_the_write_scope_a_file_and_the_bank_of_the_key(world):
    content = collection_fixed(world["account"].number)
    assert Client().post("/api/v1/banks/TBK/collections/", {"file": SimpleUploadedFile("f", content)}).status_code == 401
    refused = upload("/api/v1/banks/TBK/collections/", world["read_only"], content)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "scope_missing")
    assert upload("/api/v1/banks/TBK/collections/", world["other_key"], content).status_code == 404
    missing = Client().post("/api/v1/banks/TBK/withholding-results/", {}, **headers(world["key"]))
    assert missing.status_code == 422
    fields = missing.json()["error"]["fields"]
    # The multipart part is named "file" (Ninja's location for it is file.file).
    assert [(name.split(".")[-1], messages) for name, messages in fields.items()] == [("file", ["必填"])]
    assert Payment.objects.count() == 0


# --- reconciliation ----------------------------------------------------------------------------------------


def test_statement_upload_answers_with_the_reconciliation_and_it_can_be_read_again(world):
    number = world["account"].number
    upload("/api/v1/banks/TBK/collections/", world["key"], collection_fixed(number))
    statement = (b"HTBK   STST20260110          20260110\r\n"
                 + collection_fixed(number).split(b"\r\n")[1] + b"\r\n"
                 + b"D" + b"C0002".ljust(20) + number.encode() + b" " * 72 + b"000000000000500" + b"20260110200000"
                 + b"0000" + b" " * 40 + b"\r\n"
                 + b"T0000000002000000000000010500\r\n")
    response = upload("/api/v1/banks/TBK/statements/", world["key"], statement)
    assert response.status_code == 201
    expected = {
        "bank": "TBK", "business_date": "2026-01-10", "statement_batch": "ST20260110", "balanced": False,
        "matched": {"count": 1, "bank_amount": "100.00", "ledger_amount": "100.00", "items": [
            {"serial": "C0001", "account_number": number, "bank_amount": "100.00", "ledger_amount": "100.00"}]},
        "missing_at_bank": {"count": 0, "bank_amount": "0.00", "ledger_amount": "0.00", "items": []},
        "missing_in_ledger": {"count": 1, "bank_amount": "5.00", "ledger_amount": "0.00", "items": [
            {"serial": "C0002", "account_number": number, "bank_amount": "5.00", "ledger_amount": None}]},
        "amount_differs": {"count": 0, "bank_amount": "0.00", "ledger_amount": "0.00", "items": []},
    }
    assert response.json() == expected
    read = Client().get("/api/v1/banks/TBK/reconciliation/?date=2026-01-10", **headers(world["read_only"]))
    assert (read.status_code, read.json()) == (200, expected)


def test_reconciliation_without_a_statement_or_a_date_is_a_clear_422(world):
    none = Client().get("/api/v1/banks/TBK/reconciliation/?date=2026-01-09", **headers(world["key"]))
    assert none.status_code == 422
    assert none.json()["error"] == {"code": "bank_statement_missing", "message": "测试银行 2026-01-09没有对账文件",
                                    "fields": {"date": ["测试银行 2026-01-09没有对账文件"]}}
    no_date = Client().get("/api/v1/banks/TBK/reconciliation/", **headers(world["key"]))
    assert (no_date.status_code, no_date.json()["error"]["fields"]) == (422, {"date": ["必填"]})
    assert Client().get("/api/v1/banks/TBK/reconciliation/?date=2026-01-09").status_code == 401
    write_only = api_client_create(name="只写", system="other", scopes=["bank:write"]).key
    assert Client().get("/api/v1/banks/TBK/reconciliation/?date=2026-01-09", **headers(write_only)).status_code == 403


def test_every_bank_endpoint_is_in_the_schema(world):
    paths = Client().get("/api/schema/").json()["paths"]
    assert {path for path in paths if path.startswith("/api/v1/banks/")} == {
        "/api/v1/banks/{code}/withholding-batches/",
        "/api/v1/banks/{code}/withholding-batches/{batch_number}/file",
        "/api/v1/banks/{code}/withholding-results/",
        "/api/v1/banks/{code}/collections/",
        "/api/v1/banks/{code}/statements/",
        "/api/v1/banks/{code}/reconciliation/",
    }
    download = paths["/api/v1/banks/{code}/withholding-batches/{batch_number}/file"]["get"]["responses"]
    assert set(download) == {"200", "401", "403", "404", "422", "429"}
    assert set(download["200"]["content"]) == {"text/plain", "text/csv"}
