"""Withholding export, results and collection imports (each payment posted exactly once, keyed by bank and
serial), refusal of a bad file with nothing changed, reconciliation against the ledger, and the commands."""
import datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from core.models import Account, LedgerEntry, Payment
from core.models.banks import Bank, BankBatch, BankBatchLine, WithholdingAgreement
from core.services.bank_exchange import (
    BankBatchConflict,
    BankStatementMissing,
    WithholdingAgreementInvalid,
    bank_batch_render,
    bank_collection_import,
    bank_reconciliation_build,
    bank_statement_import,
    withholding_agreement_cancel,
    withholding_agreement_sign,
    withholding_batch_create,
    withholding_results_import,
)
from core.services.bank_files import BankFileRejected
from core.services.payments import payment_post, payment_reverse
from tests.core.test_late_fees import bill_charge, policies_set
from tests.factories import AccountFactory

D = Decimal
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = datetime.date(2026, 1, 10)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _policies():
    policies_set()


def bank_make(code="TBK", style="csv", encoding="gbk") -> Bank:
    return Bank.objects.create(code=code, name=f"测试银行{code}", file_style=style, file_encoding=encoding)


def agreement(account, bank, number="6222020200001234567", name=None):
    return withholding_agreement_sign(
        account=account, bank=bank, bank_account_number=number, bank_account_name=name or account.name,
        signed_on=datetime.date(2025, 1, 1),
    )


def owes(account, total, due=datetime.date(2026, 1, 31), period=datetime.date(2025, 12, 1)):
    return bill_charge(account=account, period=period, total=total, due_date=due)


def counts():
    return (Payment.objects.count(), LedgerEntry.objects.count(), BankBatch.objects.count(), BankBatchLine.objects.count())


def csv_file(kind: str, number: str, day: str, details: list[str], *, bank="TBK", count=None, total=None) -> bytes:
    amounts = [D(detail.split(",")[5]) for detail in details]
    stated_total = total if total is not None else f"{sum(amounts, D('0.00')):.2f}"
    stated_count = count if count is not None else len(details)
    lines = [f"H,{bank},{kind},{number},{day}", *details, f"T,{stated_count},{stated_total}"]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


@pytest.fixture
def world():
    """ICBC-like test bank with four agreements: two owe (one with 10 days of late fees), one owes nothing, one
    agreement cancelled; a fifth account owes but signed with another bank."""
    bank = bank_make()
    other = bank_make("OTH")
    owing = AccountFactory(name="张三")
    owes(owing, "100.00")
    late = AccountFactory(name="李四")
    owes(late, "200.00", due=datetime.date(2025, 12, 31), period=datetime.date(2025, 11, 1))
    settled = AccountFactory(name="王五")
    cancelled = AccountFactory(name="赵六")
    owes(cancelled, "50.00")
    elsewhere = AccountFactory(name="钱七")
    owes(elsewhere, "70.00")
    agreement(owing, bank)
    agreement(late, bank, number="6222020200007654321")
    agreement(settled, bank)
    withholding_agreement_cancel(agreement=agreement(cancelled, bank), cancelled_on=datetime.date(2025, 6, 1))
    agreement(elsewhere, other)
    return {"bank": bank, "owing": owing, "late": late, "settled": settled, "cancelled": cancelled, "elsewhere": elsewhere}


# --- agreements and export -----------------------------------------------------------------------------------


def test_one_active_agreement_per_account_and_its_number_checked(world):
    with pytest.raises(WithholdingAgreementInvalid) as caught:
        agreement(world["owing"], world["bank"])
    assert (caught.value.field, str(caught.value)) == ("account", "该用电户已有有效的代扣协议，请先解约")
    with pytest.raises(WithholdingAgreementInvalid) as caught:
        agreement(AccountFactory(), world["bank"], number="62-22")
    assert caught.value.field == "bank_account_number"
    assert WithholdingAgreement.objects.get(account=world["owing"]).bank_account_masked == "***************4567"


def test_export_requests_each_owing_agreement_of_the_bank_with_late_fees_to_the_day(world):
    batch = withholding_batch_create(bank=world["bank"], business_date=DAY)
    assert (batch.batch_number, batch.status, batch.record_count, batch.total_amount) == (
        "WH2026011001", BankBatch.Status.SENT, 2, D("302.00")
    )
    owing, late = world["owing"], world["late"]
    lines = sorted([owing.number, late.number])
    expected = {owing.number: D("100.00"), late.number: D("202.00")}  # 200.00 x 1‰ x 10 days = 2.00
    assert [
        (l.line_number, l.serial, l.account_number, l.amount, l.outcome)
        for l in batch.lines.order_by("line_number")
    ] == [
        (2, "WH2026011001000001", lines[0], expected[lines[0]], "requested"),
        (3, "WH2026011001000002", lines[1], expected[lines[1]], "requested"),
    ]
    by_number = {owing.number: ("张三", "6222020200001234567"), late.number: ("李四", "6222020200007654321")}
    assert bank_batch_render(batch=batch).decode("gbk").split("\r\n") == [
        "H,TBK,WQ,WH2026011001,20260110",
        f"D,WH2026011001000001,{lines[0]},{by_number[lines[0]][0]},{by_number[lines[0]][1]},{expected[lines[0]]},,,",
        f"D,WH2026011001000002,{lines[1]},{by_number[lines[1]][0]},{by_number[lines[1]][1]},{expected[lines[1]]},,,",
        "T,2,302.00",
        "",
    ]


def test_an_account_waiting_in_an_unanswered_request_is_not_asked_for_again(world):
    withholding_batch_create(bank=world["bank"], business_date=DAY)
    again = withholding_batch_create(bank=world["bank"], business_date=DAY)
    assert (again.batch_number, again.record_count, again.total_amount) == ("WH2026011002", 0, D("0.00"))
    assert bank_batch_render(batch=again) == b"H,TBK,WQ,WH2026011002,20260110\r\nT,0,0.00\r\n"


# --- results -----------------------------------------------------------------------------------------------


def results_for(batch, *, fail_serial_suffix="000002", number="WR2026011001", when="20260110103000"):
    details = []
    for line in batch.lines.order_by("line_number"):
        if line.serial.endswith(fail_serial_suffix):
            details.append(f"D,{line.serial},{line.account_number},,,{line.amount},,3001,余额不足")
        else:
            details.append(f"D,{line.serial},{line.account_number},,,{line.amount},{when},0000,扣款成功")
    return csv_file("WR", number, "20260110", details)


def test_results_post_each_debit_once_record_failures_and_settle_the_request(world):
    batch = withholding_batch_create(bank=world["bank"], business_date=DAY)
    first, second = batch.lines.order_by("line_number")
    report = withholding_results_import(bank=world["bank"], content=results_for(batch))
    assert (report.replayed, report.lines, report.posted, report.posted_amount, report.duplicates, report.failed,
            report.failed_amount) == (False, 2, 1, first.amount, 0, 1, second.amount)
    payment = Payment.objects.get()
    assert (payment.account_id, payment.amount, payment.channel, payment.idempotency_key, payment.external_reference,
            payment.received_at) == (
        first.account_id, first.amount, Payment.Channel.BANK_WITHHOLDING, f"bank:TBK:{first.serial}", first.serial,
        datetime.datetime(2026, 1, 10, 10, 30, tzinfo=SHANGHAI),
    )
    assert Account.objects.get(pk=first.account_id).balance == D("0.00")
    first.refresh_from_db()
    second.refresh_from_db()
    batch.refresh_from_db()
    assert (first.outcome, first.payment_id, second.outcome, second.result_message, batch.status) == (
        "debited", payment.pk, "failed", "余额不足", BankBatch.Status.SETTLED
    )
    # The failed account may be asked for again; the debited one owes nothing now.
    retry = withholding_batch_create(bank=world["bank"], business_date=DAY)
    assert [(l.account_id, l.amount) for l in retry.lines.all()] == [(second.account_id, second.amount)]


def test_the_same_results_file_twice_is_answered_from_the_first_import(world):
    batch = withholding_batch_create(bank=world["bank"], business_date=DAY)
    content = results_for(batch)
    withholding_results_import(bank=world["bank"], content=content)
    before = counts()
    again = withholding_results_import(bank=world["bank"], content=content)
    assert (again.replayed, again.posted, again.failed) == (True, 1, 1)
    assert counts() == before


def test_a_resent_debit_in_a_new_results_batch_is_a_duplicate_not_a_second_payment(world):
    batch = withholding_batch_create(bank=world["bank"], business_date=DAY)
    withholding_results_import(bank=world["bank"], content=results_for(batch))
    report = withholding_results_import(bank=world["bank"], content=results_for(batch, number="WR2026011002"))
    assert (report.replayed, report.posted, report.duplicates, report.failed) == (False, 0, 1, 1)
    assert Payment.objects.count() == 1


def test_other_content_under_an_imported_batch_number_is_refused(world):
    batch = withholding_batch_create(bank=world["bank"], business_date=DAY)
    withholding_results_import(bank=world["bank"], content=results_for(batch))
    before = counts()
    with pytest.raises(BankBatchConflict) as caught:
        withholding_results_import(bank=world["bank"], content=results_for(batch, when="20260110110000"))
    assert str(caught.value) == "批次号WR2026011001已导入过，内容不同；请使用新的批次号"
    assert counts() == before


def test_a_results_line_not_answering_a_request_refuses_the_file_with_nothing_posted(world):
    batch = withholding_batch_create(bank=world["bank"], business_date=DAY)
    good, failed = results_for(batch).decode("gbk").split("\r\n")[1:3]
    unknown = "D,WH2026011001000099" + failed[len("D,WH2026011001000002"):]
    before = counts()
    with pytest.raises(BankFileRejected) as caught:
        withholding_results_import(bank=world["bank"], content=csv_file("WR", "WR2026011001", "20260110", [good, unknown]))
    assert (caught.value.line_number, caught.value.reason) == (3, "流水号WH2026011001000099不是本行的代扣请求")
    assert counts() == before


def test_a_results_amount_or_account_other_than_requested_is_refused(world):
    batch = withholding_batch_create(bank=world["bank"], business_date=DAY)
    first = batch.lines.order_by("line_number").first()
    more = csv_file("WR", "WR1", "20260110", [f"D,{first.serial},{first.account_number},,,999.00,20260110103000,0000,"])
    with pytest.raises(BankFileRejected) as caught:
        withholding_results_import(bank=world["bank"], content=more)
    assert (caught.value.line_number, caught.value.reason) == (2, f"金额与代扣请求不符（请求为{first.amount:.2f}）")
    stranger = AccountFactory()
    wrong = csv_file("WR", "WR1", "20260110", [f"D,{first.serial},{stranger.number},,,{first.amount},20260110103000,0000,"])
    with pytest.raises(BankFileRejected) as caught:
        withholding_results_import(bank=world["bank"], content=wrong)
    assert (caught.value.line_number, caught.value.reason) == (2, f"户号与代扣请求不符（请求为{first.account_number}）")
    assert Payment.objects.count() == 0


def test_results_contradicting_an_earlier_answer_are_refused(world):
    batch = withholding_batch_create(bank=world["bank"], business_date=DAY)
    withholding_results_import(bank=world["bank"], content=results_for(batch))
    flipped = results_for(batch, fail_serial_suffix="000001", number="WR2026011002")
    with pytest.raises(BankFileRejected) as caught:
        withholding_results_import(bank=world["bank"], content=flipped)
    assert (caught.value.line_number, caught.value.reason) == (2, "与此前回盘的扣款结果不一致")


# --- collections -------------------------------------------------------------------------------------------


def test_collection_posts_each_line_once_and_a_resent_serial_is_a_duplicate(world):
    bank, owing, late = world["bank"], world["owing"], world["late"]
    content = csv_file("CL", "CL1", "20260110", [
        f"D,C0001,{owing.number},张三,,100.00,20260110090000,0000,",
        f"D,C0002,{late.number},李四,,50.00,20260110093000,0000,",
    ])
    report = bank_collection_import(bank=bank, content=content)
    assert (report.lines, report.posted, report.posted_amount, report.duplicates) == (2, 2, D("150.00"), 0)
    assert sorted(Payment.objects.values_list("idempotency_key", "channel", "amount")) == [
        ("bank:TBK:C0001", "bank_collection", D("100.00")),
        ("bank:TBK:C0002", "bank_collection", D("50.00")),
    ]
    owing.refresh_from_db()
    late.refresh_from_db()
    assert (owing.balance, late.balance) == (D("0.00"), D("152.00"))  # 200 + 2.00 late fee - 50
    resent = csv_file("CL", "CL2", "20260110", [
        f"D,C0002,{late.number},李四,,50.00,20260110093000,0000,",
        f"D,C0003,{late.number},李四,,152.00,20260110150000,0000,",
    ])
    report = bank_collection_import(bank=bank, content=resent)
    assert (report.posted, report.posted_amount, report.duplicates) == (1, D("152.00"), 1)
    late.refresh_from_db()
    assert (Payment.objects.count(), late.balance) == (3, D("0.00"))


def test_a_collection_line_that_cannot_post_refuses_the_whole_file_with_nothing_posted(world):
    bank, owing = world["bank"], world["owing"]
    bank_collection_import(bank=bank, content=csv_file("CL", "CL1", "20260110", [
        f"D,C0001,{owing.number},,,10.00,20260110090000,0000,",
    ]))
    before = counts()
    # Line 2 would post; line 3 reuses serial C0001 for another amount: the whole file is refused, line 2 included.
    content = csv_file("CL", "CL2", "20260110", [
        f"D,C0002,{owing.number},,,20.00,20260110090000,0000,",
        f"D,C0001,{owing.number},,,30.00,20260110090000,0000,",
    ])
    with pytest.raises(BankFileRejected) as caught:
        bank_collection_import(bank=bank, content=content)
    assert (caught.value.line_number, caught.value.reason) == (3, "该幂等键已用于另一笔缴费")
    assert counts() == before
    unknown = csv_file("CL", "CL3", "20260110", [f"D,C0009,1000000008,,,5.00,20260110090000,0000,"])
    with pytest.raises(BankFileRejected) as caught:
        bank_collection_import(bank=bank, content=unknown)
    assert (caught.value.line_number, caught.value.reason) == (2, "户号1000000008不存在")
    assert counts() == before


# --- reconciliation ----------------------------------------------------------------------------------------


def test_reconciliation_sorts_every_transaction_of_the_day(world):
    bank, owing, late, settled = world["bank"], world["owing"], world["late"], world["settled"]
    bank_collection_import(bank=bank, content=csv_file("CL", "CL1", "20260110", [
        f"D,C0001,{owing.number},,,100.00,20260110090000,0000,",
        f"D,C0002,{late.number},,,50.00,20260110093000,0000,",
        f"D,C0003,{settled.number},,,30.00,20260110100000,0000,",
        f"D,C0004,{settled.number},,,8.00,20260110110000,0000,",
    ]))
    # C0003 reversed in the ledger; C0005 posted by us with the bank's key but never in the bank's statement.
    payment_reverse(payment=Payment.objects.get(idempotency_key="bank:TBK:C0003"), user=None, reason="银行退回")
    payment_post(account=settled, amount="12.00", channel=Payment.Channel.BANK_COLLECTION,
                 idempotency_key="bank:TBK:C0005", received_at=datetime.datetime(2026, 1, 10, 16, 0, tzinfo=SHANGHAI))
    # Another day and another bank stay out.
    payment_post(account=settled, amount="9.00", channel=Payment.Channel.BANK_COLLECTION,
                 idempotency_key="bank:TBK:C0100", received_at=datetime.datetime(2026, 1, 11, 0, 0, tzinfo=SHANGHAI))
    payment_post(account=settled, amount="9.00", channel=Payment.Channel.BANK_COLLECTION,
                 idempotency_key="bank:OTH:C0001", received_at=datetime.datetime(2026, 1, 10, 12, 0, tzinfo=SHANGHAI))
    statement = bank_statement_import(bank=bank, content=csv_file("ST", "ST20260110", "20260110", [
        f"D,C0001,{owing.number},,,100.00,20260110090000,0000,",
        f"D,C0002,{late.number},,,55.00,20260110093000,0000,",
        f"D,C0003,{settled.number},,,30.00,20260110100000,0000,",
        f"D,C0004,{settled.number},,,8.00,20260110110000,0000,",
    ]))
    report = bank_reconciliation_build(bank=bank, business_date=DAY)
    assert report.statement == statement
    summary = {
        name: [(i.serial, i.bank_amount, i.ledger_amount) for i in group.items]
        for name, group in (("matched", report.matched), ("missing_at_bank", report.missing_at_bank),
                            ("missing_in_ledger", report.missing_in_ledger), ("amount_differs", report.amount_differs))
    }
    assert summary == {
        "matched": [("C0001", D("100.00"), D("100.00")), ("C0004", D("8.00"), D("8.00"))],
        "missing_at_bank": [("C0005", None, D("12.00"))],
        "missing_in_ledger": [("C0003", D("30.00"), None)],
        "amount_differs": [("C0002", D("55.00"), D("50.00"))],
    }
    assert (report.matched.bank_amount, report.amount_differs.ledger_amount, report.balanced) == (D("108.00"), D("50.00"), False)


def test_reconciliation_without_a_statement_says_so():
    with pytest.raises(BankStatementMissing) as caught:
        bank_reconciliation_build(bank=bank_make(), business_date=DAY)
    assert str(caught.value) == "测试银行TBK 2026-01-10没有对账文件"


# --- commands ----------------------------------------------------------------------------------------------


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_commands_export_import_and_reconcile_with_progress(world, tmp_path):
    output = run("bank_withholding_export", "--bank", "TBK", "--date", "2026-01-10", "--out", str(tmp_path))
    path = tmp_path / "TBK_WH2026011001.csv"
    assert path.read_bytes().startswith(b"H,TBK,WQ,WH2026011001,20260110\r\n")
    assert "[##############################] 100% 2/2" in output
    assert output.strip().endswith(f"测试银行TBK 代扣请求批次WH2026011001：2笔，总金额302.00元，已写入{path}")

    batch = BankBatch.objects.get(batch_number="WH2026011001")
    results = tmp_path / "results.csv"
    results.write_bytes(results_for(batch))
    output = run("bank_results_import", "--bank", "TBK", str(results))
    first, second = batch.lines.order_by("line_number")
    assert "100% 2/2" in output
    assert (f"测试银行TBK 批次WR2026011001（2026-01-10）：2笔，入账1笔 {first.amount:.2f}元，重复0笔，"
            f"扣款失败1笔 {second.amount:.2f}元") in output
    output = run("bank_results_import", "--bank", "TBK", str(results))
    assert "批次WR2026011001已导入过，以下为首次导入的结果" in output

    collection = tmp_path / "collection.csv"
    collection.write_bytes(csv_file("CL", "CL1", "20260110", [f"D,C0001,{world['settled'].number},,,5.00,20260110120000,0000,"]))
    output = run("bank_collection_import", "--bank", "TBK", str(collection))
    assert "入账1笔 5.00元" in output

    statement = tmp_path / "statement.csv"
    statement.write_bytes(csv_file("ST", "ST1", "20260110", [
        f"D,{first.serial},{first.account_number},,,{first.amount},20260110103000,0000,",
        f"D,C0001,{world['settled'].number},,,5.00,20260110120000,0000,",
    ]))
    output = run("bank_reconcile", "--bank", "TBK", str(statement))
    assert "100% 2/2" in output
    assert f"相符：2笔，银行{first.amount + 5:.2f}元，账务{first.amount + 5:.2f}元" in output
    assert "对账平衡" in output
    assert "对账平衡" in run("bank_reconcile", "--bank", "TBK", "--date", "2026-01-10")


def test_commands_refuse_a_bad_file_or_bank_clearly(world, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_file("CL", "CL1", "20260110", [f"D,C0001,{world['owing'].number},,,5.00,20260110120000,0000,"], total="6.00"))
    with pytest.raises(CommandError) as caught:
        run("bank_collection_import", "--bank", "TBK", str(bad))
    assert str(caught.value) == "银行文件第3行有误，整个文件未处理：尾记录总金额为6.00，明细合计5.00"
    with pytest.raises(CommandError) as caught:
        run("bank_collection_import", "--bank", "NOPE", str(bad))
    assert str(caught.value) == "银行编码NOPE不存在或已停用"
    with pytest.raises(CommandError) as caught:
        run("bank_results_import", "--bank", "TBK", str(tmp_path / "missing.csv"))
    assert "无法读取文件" in str(caught.value)
    assert Payment.objects.count() == 0
