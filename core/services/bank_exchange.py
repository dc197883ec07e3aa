"""Bank collection (代收) and withholding (代扣) exchanges: the withholding requests we send, the results and
collection files banks send back (each successful line posted as a payment exactly once, keyed by bank and serial),
and the daily reconciliation of a bank's statement against the ledger.

Every received file is checked whole before anything is written; a line that cannot be posted refuses the whole
file (one transaction), naming the line. The same file sent again is answered from the batch already imported.
"""
from __future__ import annotations

import datetime
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.models import Account, Payment
from core.models.banks import Bank, BankBatch, BankBatchLine, WithholdingAgreement
from core.money import ZERO
from core.selectors.accounts import account_amount_due
from core.services.bank_files import (
    BankFile,
    BankFileHeader,
    BankFileLine,
    BankFileRejected,
    bank_file_parse,
    bank_file_render,
)
from core.services.payments_batch import PaymentLine, PaymentLineRefused, payments_post_batch

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
PROGRESS_EVERY = 500
Progress = Callable[[int, int], None]


class BankExchangeError(DomainError):
    code = "bank_exchange_error"


class BankNotFound(BankExchangeError):
    code = "bank_not_found"


class BankBatchConflict(BankExchangeError):
    """A batch number already imported with other content: the bank must send a new batch number."""

    code = "bank_batch_conflict"


class BankStatementMissing(BankExchangeError):
    code = "bank_statement_missing"


class WithholdingAgreementInvalid(BankExchangeError):
    code = "withholding_agreement_invalid"


def payment_key(*, bank: Bank, serial: str) -> str:
    """The payment idempotency key of a bank transaction: the bank and its serial."""
    return f"bank:{bank.code}:{serial}"


def bank_get(*, code: str) -> Bank:
    bank = Bank.objects.filter(code=(code or "").strip().upper(), active=True).first()
    if bank is None:
        raise BankNotFound(_("银行编码%(code)s不存在或已停用") % {"code": code}, field="bank")
    return bank


# --- agreements -------------------------------------------------------------------------------------------------


def withholding_agreement_sign(
    *, account: Account, bank: Bank, bank_account_number: str, bank_account_name: str, signed_on: datetime.date
) -> WithholdingAgreement:
    """Record a signed withholding agreement; an account holds at most one active agreement."""
    number = (bank_account_number or "").replace(" ", "")
    if not number.isdigit() or not 8 <= len(number) <= 32:
        raise WithholdingAgreementInvalid(_("扣款账号应为8至32位数字"), field="bank_account_number")
    name = (bank_account_name or "").strip()
    if not name or len(name) > 50:
        raise WithholdingAgreementInvalid(_("请填写扣款户名（不超过50个字）"), field="bank_account_name")
    try:
        with transaction.atomic():
            return WithholdingAgreement.objects.create(
                account=account, bank=bank, bank_account_number=number, bank_account_name=name, signed_on=signed_on
            )
    except IntegrityError:
        raise WithholdingAgreementInvalid(_("该用电户已有有效的代扣协议，请先解约"), field="account") from None


def withholding_agreement_cancel(*, agreement: WithholdingAgreement, cancelled_on: datetime.date) -> None:
    updated = WithholdingAgreement.objects.filter(pk=agreement.pk, status=WithholdingAgreement.Status.ACTIVE).update(
        status=WithholdingAgreement.Status.CANCELLED, cancelled_on=cancelled_on
    )
    if not updated:
        raise WithholdingAgreementInvalid(_("该代扣协议已解约"))
    agreement.refresh_from_db()


# --- withholding requests ------------------------------------------------------------------------------------


def withholding_batch_create(
    *, bank: Bank, business_date: datetime.date, user=None, progress: Progress | None = None
) -> BankBatch:
    """A withholding request batch for every active agreement of the bank whose account owes money on the day
    (bills, posted and accruing late fees, less credit). An account already waiting in an unanswered request is
    left out, so it is never asked for twice.

    Locks the bank row, so two exports of one bank number their batches one after the other.
    """
    with transaction.atomic():
        Bank.objects.select_for_update().filter(pk=bank.pk).first()
        waiting = BankBatchLine.objects.filter(
            batch__kind=BankBatch.Kind.WITHHOLDING_REQUEST, outcome=BankBatchLine.Outcome.REQUESTED
        ).values("account_id")
        agreements = list(
            WithholdingAgreement.objects.filter(
                bank=bank, status=WithholdingAgreement.Status.ACTIVE, account__balance__gt=0
            )
            .exclude(account__status=Account.Status.CLOSED)
            .exclude(account_id__in=waiting)
            .select_related("account")
            .order_by("account__number")
        )
        sequence = (
            BankBatch.objects.filter(
                bank=bank, kind=BankBatch.Kind.WITHHOLDING_REQUEST, business_date=business_date
            ).count()
            + 1
        )
        batch_number = f"WH{business_date:%Y%m%d}{sequence:02d}"
        batch = BankBatch.objects.create(
            bank=bank,
            kind=BankBatch.Kind.WITHHOLDING_REQUEST,
            batch_number=batch_number,
            business_date=business_date,
            status=BankBatch.Status.SENT,
            created_by=user,
        )
        lines: list[BankBatchLine] = []
        total = ZERO
        for index, agreement in enumerate(agreements, start=1):
            due = account_amount_due(account=agreement.account, as_of=business_date).total_due
            if due > 0:
                lines.append(
                    BankBatchLine(
                        batch=batch,
                        line_number=len(lines) + 2,  # line 1 of the file is the header
                        serial=f"{batch_number}{len(lines) + 1:06d}",
                        account=agreement.account,
                        account_number=agreement.account.number,
                        account_name=agreement.bank_account_name,
                        bank_account_number=agreement.bank_account_number,
                        amount=due,
                        outcome=BankBatchLine.Outcome.REQUESTED,
                    )
                )
                total += due
            if progress and (index % PROGRESS_EVERY == 0 or index == len(agreements)):
                progress(index, len(agreements))
        BankBatchLine.objects.bulk_create(lines, batch_size=1000)
        batch.record_count = len(lines)
        batch.total_amount = total
        batch.save(update_fields=["record_count", "total_amount"])
    return batch


def bank_batch_file(*, batch: BankBatch) -> BankFile:
    """A stored batch as a bank file (header, its lines, trailer)."""
    header = BankFileHeader(
        bank_code=batch.bank.code, kind=batch.kind, batch_number=batch.batch_number, business_date=batch.business_date
    )
    lines = [
        BankFileLine(
            line_number=line.line_number,
            serial=line.serial,
            account_number=line.account_number,
            amount=line.amount,
            account_name=line.account_name,
            bank_account_number=line.bank_account_number,
            transacted_at=line.transacted_at,
            result_code=line.result_code,
            result_message=line.result_message,
        )
        for line in batch.lines.order_by("line_number")
    ]
    return BankFile(header=header, lines=lines)


def bank_batch_render(*, batch: BankBatch) -> bytes:
    """The batch's file bytes in its bank's style and encoding."""
    bank = batch.bank
    return bank_file_render(bank_file=bank_batch_file(batch=batch), style=bank.file_style, encoding=bank.file_encoding)


def bank_batch_file_name(*, batch: BankBatch) -> str:
    extension = "csv" if batch.bank.file_style == "csv" else "txt"
    return f"{batch.bank.code}_{batch.batch_number}.{extension}"


# --- received files ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankImportReport:
    batch: BankBatch
    replayed: bool
    lines: int
    posted: int
    posted_amount: Decimal
    duplicates: int
    failed: int
    failed_amount: Decimal


def _import_report(*, batch: BankBatch, replayed: bool) -> BankImportReport:
    # Summed in Python: SQLite sums decimals as floats.
    rows = list(batch.lines.values_list("outcome", "amount"))
    counts = Counter(outcome for outcome, _amount in rows)
    return BankImportReport(
        batch=batch,
        replayed=replayed,
        lines=len(rows),
        posted=counts[BankBatchLine.Outcome.POSTED],
        posted_amount=sum((a for o, a in rows if o == BankBatchLine.Outcome.POSTED), ZERO),
        duplicates=counts[BankBatchLine.Outcome.DUPLICATE],
        failed=counts[BankBatchLine.Outcome.FAILED],
        failed_amount=sum((a for o, a in rows if o == BankBatchLine.Outcome.FAILED), ZERO),
    )


def _received(*, bank: Bank, content: bytes, kind: str) -> tuple[BankFile, str, BankBatch | None]:
    """Parse a received file; return it, its digest and the batch already imported under its number, if any."""
    bank_file = bank_file_parse(
        content=content, style=bank.file_style, encoding=bank.file_encoding, bank_code=bank.code, kind=kind
    )
    digest = hashlib.sha256(content).hexdigest()
    existing = BankBatch.objects.filter(bank=bank, kind=kind, batch_number=bank_file.header.batch_number).first()
    if existing is not None and existing.content_sha256 != digest:
        raise BankBatchConflict(
            _("批次号%(number)s已导入过，内容不同；请使用新的批次号") % {"number": existing.batch_number}, field="file"
        )
    return bank_file, digest, existing


def _batch_start(*, bank: Bank, bank_file: BankFile, kind: str, digest: str, user) -> BankBatch:
    return BankBatch.objects.create(
        bank=bank,
        kind=kind,
        batch_number=bank_file.header.batch_number,
        business_date=bank_file.header.business_date,
        status=BankBatch.Status.IMPORTED,
        record_count=bank_file.count,
        total_amount=bank_file.total,
        content_sha256=digest,
        created_by=user,
    )


def _line_record(*, batch: BankBatch, line: BankFileLine, account: Account | None, outcome: str, payment=None):
    return BankBatchLine(
        batch=batch,
        line_number=line.line_number,
        serial=line.serial,
        account=account,
        account_number=line.account_number,
        account_name=line.account_name[:50],
        bank_account_number=line.bank_account_number,
        amount=line.amount,
        transacted_at=line.transacted_at,
        result_code=line.result_code,
        result_message=line.result_message[:50],
        outcome=outcome,
        payment=payment,
    )


def _post(
    *, bank: Bank, lines: list[tuple[BankFileLine, Account]], channel: str, user, progress: Progress | None, count: int,
) -> list[tuple[Payment, bool]]:
    """Post the lines' payments set-wise (payments_post_batch: once per bank+serial, as payment_post would, each in
    file order); a line that cannot be posted refuses the file, naming it. Progress is told in the file's lines."""
    positions = [line.line_number for line, _account in lines]
    first = min(positions, default=0)

    def told(done: int, total: int) -> None:
        if progress:
            progress(count if done == total else positions[done - 1] - first + 1, count)

    try:
        results = payments_post_batch(
            lines=[
                PaymentLine(account_id=account.pk, amount=line.amount,
                            idempotency_key=payment_key(bank=bank, serial=line.serial),
                            received_at=line.transacted_at, external_reference=line.serial)
                for line, account in lines
            ],
            channel=channel, user=user, progress=told,
        )
    except PaymentLineRefused as error:
        raise BankFileRejected(error.message, line_number=lines[error.index][0].line_number) from None
    if progress and not lines:
        progress(count, count)
    return [(result.payment, result.created) for result in results]


def _accounts_by_number(*, bank_file: BankFile) -> dict[str, Account]:
    numbers = {line.account_number for line in bank_file.lines}
    return {account.number: account for account in Account.objects.filter(number__in=numbers)}


def _replay_or_none(existing: BankBatch | None) -> BankImportReport | None:
    return _import_report(batch=existing, replayed=True) if existing is not None else None


def withholding_results_import(
    *, bank: Bank, content: bytes, user=None, progress: Progress | None = None
) -> BankImportReport:
    """Import a bank's withholding results: each successful debit posted once (key bank+serial), each failure
    recorded on its request. Every line must answer one of this bank's requests with its account and amount."""
    kind = BankBatch.Kind.WITHHOLDING_RESULT
    bank_file, digest, existing = _received(bank=bank, content=content, kind=kind)
    if (replay := _replay_or_none(existing)) is not None:
        return replay
    requests = {
        request.serial: request
        for request in BankBatchLine.objects.filter(
            batch__bank=bank,
            batch__kind=BankBatch.Kind.WITHHOLDING_REQUEST,
            serial__in=[line.serial for line in bank_file.lines],
        ).select_related("account")
    }
    for line in bank_file.lines:
        request = requests.get(line.serial)
        if request is None:
            raise BankFileRejected(
                _("流水号%(serial)s不是本行的代扣请求") % {"serial": line.serial}, line_number=line.line_number
            )
        if request.account_number != line.account_number:
            raise BankFileRejected(
                _("户号与代扣请求不符（请求为%(number)s）") % {"number": request.account_number},
                line_number=line.line_number,
            )
        if request.amount != line.amount:
            raise BankFileRejected(
                _("金额与代扣请求不符（请求为%(amount)s）") % {"amount": f"{request.amount:.2f}"},
                line_number=line.line_number,
            )
        answered = {BankBatchLine.Outcome.DEBITED: True, BankBatchLine.Outcome.FAILED: False}.get(request.outcome)
        if answered is not None and answered != line.succeeded:
            raise BankFileRejected(_("与此前回盘的扣款结果不一致"), line_number=line.line_number)
    try:
        with transaction.atomic():
            batch = _batch_start(bank=bank, bank_file=bank_file, kind=kind, digest=digest, user=user)
            debits = [(line, requests[line.serial].account) for line in bank_file.lines if line.succeeded]
            posted = iter(_post(bank=bank, lines=debits, channel=Payment.Channel.BANK_WITHHOLDING, user=user,
                                progress=progress, count=bank_file.count))
            records: list[BankBatchLine] = []
            for line in bank_file.lines:
                request = requests[line.serial]
                if line.succeeded:
                    payment, created = next(posted)
                    outcome = BankBatchLine.Outcome.POSTED if created else BankBatchLine.Outcome.DUPLICATE
                    request.outcome = BankBatchLine.Outcome.DEBITED
                else:
                    payment, outcome = None, BankBatchLine.Outcome.FAILED
                    request.outcome = BankBatchLine.Outcome.FAILED
                request.payment = payment
                request.result_code, request.result_message = line.result_code, line.result_message[:50]
                request.transacted_at = line.transacted_at
                records.append(_line_record(batch=batch, line=line, account=request.account, outcome=outcome, payment=payment))
            BankBatchLine.objects.bulk_create(records, batch_size=1000)
            BankBatchLine.objects.bulk_update(
                list(requests.values()),
                ["outcome", "payment", "result_code", "result_message", "transacted_at"],
                batch_size=1000,
            )
            answered_batches = {request.batch_id for request in requests.values()}
            still_waiting = BankBatchLine.objects.filter(
                batch_id__in=answered_batches, outcome=BankBatchLine.Outcome.REQUESTED
            ).values("batch_id")
            BankBatch.objects.filter(pk__in=answered_batches).exclude(pk__in=still_waiting).update(
                status=BankBatch.Status.SETTLED
            )
    except IntegrityError:
        # The same batch imported at the same moment by another request: answer from it.
        existing = BankBatch.objects.filter(bank=bank, kind=kind, batch_number=bank_file.header.batch_number).first()
        if existing is None or existing.content_sha256 != digest:
            raise
        return _import_report(batch=existing, replayed=True)
    return _import_report(batch=batch, replayed=False)


def bank_collection_import(
    *, bank: Bank, content: bytes, user=None, progress: Progress | None = None
) -> BankImportReport:
    """Import a bank's collection (代收) file: each line posted once (key bank+serial) to its account."""
    kind = BankBatch.Kind.COLLECTION
    bank_file, digest, existing = _received(bank=bank, content=content, kind=kind)
    if (replay := _replay_or_none(existing)) is not None:
        return replay
    accounts = _accounts_by_number(bank_file=bank_file)
    for line in bank_file.lines:
        if line.account_number not in accounts:
            raise BankFileRejected(
                _("户号%(number)s不存在") % {"number": line.account_number}, line_number=line.line_number
            )
    try:
        with transaction.atomic():
            batch = _batch_start(bank=bank, bank_file=bank_file, kind=kind, digest=digest, user=user)
            lines = [(line, accounts[line.account_number]) for line in bank_file.lines]
            posted = _post(bank=bank, lines=lines, channel=Payment.Channel.BANK_COLLECTION, user=user,
                           progress=progress, count=bank_file.count)
            records: list[BankBatchLine] = []
            for (line, account), (payment, created) in zip(lines, posted):
                outcome = BankBatchLine.Outcome.POSTED if created else BankBatchLine.Outcome.DUPLICATE
                records.append(_line_record(batch=batch, line=line, account=account, outcome=outcome, payment=payment))
            BankBatchLine.objects.bulk_create(records, batch_size=1000)
    except IntegrityError:
        existing = BankBatch.objects.filter(bank=bank, kind=kind, batch_number=bank_file.header.batch_number).first()
        if existing is None or existing.content_sha256 != digest:
            raise
        return _import_report(batch=existing, replayed=True)
    return _import_report(batch=batch, replayed=False)


def bank_statement_import(*, bank: Bank, content: bytes, user=None, progress: Progress | None = None) -> BankBatch:
    """Keep a bank's daily statement (对账文件): every transaction the bank says it made for us that day."""
    kind = BankBatch.Kind.STATEMENT
    bank_file, digest, existing = _received(bank=bank, content=content, kind=kind)
    if existing is not None:
        return existing
    accounts = _accounts_by_number(bank_file=bank_file)
    try:
        with transaction.atomic():
            batch = _batch_start(bank=bank, bank_file=bank_file, kind=kind, digest=digest, user=user)
            for start in range(0, bank_file.count, PROGRESS_EVERY):
                chunk = bank_file.lines[start:start + PROGRESS_EVERY]
                BankBatchLine.objects.bulk_create(
                    [
                        _line_record(
                            batch=batch,
                            line=line,
                            account=accounts.get(line.account_number),
                            outcome=BankBatchLine.Outcome.RECORDED,
                        )
                        for line in chunk
                    ]
                )
                if progress:
                    progress(start + len(chunk), bank_file.count)
    except IntegrityError:
        existing = BankBatch.objects.filter(bank=bank, kind=kind, batch_number=bank_file.header.batch_number).first()
        if existing is None or existing.content_sha256 != digest:
            raise
        return existing
    return batch


# --- reconciliation ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconciliationItem:
    serial: str
    account_number: str
    bank_amount: Decimal | None
    ledger_amount: Decimal | None


@dataclass
class ReconciliationGroup:
    items: list[ReconciliationItem] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def bank_amount(self) -> Decimal:
        return sum((item.bank_amount or ZERO for item in self.items), ZERO)

    @property
    def ledger_amount(self) -> Decimal:
        return sum((item.ledger_amount or ZERO for item in self.items), ZERO)


@dataclass(frozen=True)
class ReconciliationReport:
    bank: Bank
    business_date: datetime.date
    statement: BankBatch
    matched: ReconciliationGroup
    missing_at_bank: ReconciliationGroup
    missing_in_ledger: ReconciliationGroup
    amount_differs: ReconciliationGroup

    @property
    def balanced(self) -> bool:
        return not (self.missing_at_bank.count or self.missing_in_ledger.count or self.amount_differs.count)


def _day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=LOCAL_TZ)
    return start, start + datetime.timedelta(days=1)


def bank_reconciliation_build(*, bank: Bank, business_date: datetime.date) -> ReconciliationReport:
    """The bank's latest statement for the day against the ledger's posted payments from that bank: matched,
    in the ledger but not at the bank, at the bank but not in the ledger (or reversed), and amounts that differ.

    A ledger payment belongs to the day when it was received that (Beijing) day or the statement lists its serial.
    """
    statement = (
        BankBatch.objects.filter(bank=bank, kind=BankBatch.Kind.STATEMENT, business_date=business_date)
        .order_by("-id")
        .first()
    )
    if statement is None:
        raise BankStatementMissing(
            _("%(bank)s %(day)s没有对账文件") % {"bank": bank.name, "day": business_date.isoformat()}, field="date"
        )
    bank_lines = {
        serial: (number, amount)
        for serial, number, amount in statement.lines.values_list("serial", "account_number", "amount")
    }
    prefix = payment_key(bank=bank, serial="")
    start, end = _day_bounds(business_date)
    ledger = {
        key[len(prefix):]: (number, amount)
        for key, number, amount in Payment.objects.filter(
            Q(idempotency_key__startswith=prefix, received_at__gte=start, received_at__lt=end)
            | Q(idempotency_key__in=[payment_key(bank=bank, serial=serial) for serial in bank_lines]),
            status=Payment.Status.POSTED,
        ).values_list("idempotency_key", "account__number", "amount")
    }
    matched, missing_at_bank, missing_in_ledger, differs = (ReconciliationGroup() for _group in range(4))
    for serial in sorted(bank_lines.keys() | ledger.keys()):
        at_bank, in_ledger = bank_lines.get(serial), ledger.get(serial)
        item = ReconciliationItem(
            serial=serial,
            account_number=(at_bank or in_ledger)[0],
            bank_amount=at_bank[1] if at_bank else None,
            ledger_amount=in_ledger[1] if in_ledger else None,
        )
        if at_bank is None:
            missing_at_bank.items.append(item)
        elif in_ledger is None:
            missing_in_ledger.items.append(item)
        elif at_bank != in_ledger:
            differs.items.append(item)
        else:
            matched.items.append(item)
    return ReconciliationReport(
        bank=bank,
        business_date=business_date,
        statement=statement,
        matched=matched,
        missing_at_bank=missing_at_bank,
        missing_in_ledger=missing_in_ledger,
        amount_differs=differs,
    )
