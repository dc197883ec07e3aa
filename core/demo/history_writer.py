"""Writes demo customers and their migrated history (readings, bills, payments, late fees, ledger) in bulk.

Like a legacy import at go-live, history rows are not replayed through the services one by one: that would
take hours for a million customers. The money is still the production arithmetic (charges_calculate,
late_fee_calculate, the collection policy rows, the late-fees-then-oldest-bill allocation order), applied
in memory per account, and the rows are streamed per chunk of customers: COPY on PostgreSQL, executemany
on SQLite. Ids are assigned here so that one round trip per table and chunk links everything."""
from __future__ import annotations

import datetime
import functools
import queue
import threading
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max, Model

from core.models import (
    Account,
    Bill,
    BillLine,
    CollectionPolicy,
    Customer,
    LateFee,
    LedgerEntry,
    Meter,
    MeterReading,
    Payment,
    PaymentAllocation,
    ServicePoint,
    Tariff,
    TariffVersion,
)
from core.money import ZERO, to_money
from core.selectors.tariffs import tariff_version_for
from core.services.bill_states import bill_state_derive
from core.services.late_fees import late_fee_calculate
from core.services.tariffs import TariffPrices, Usage, charges_calculate, charges_total, tariff_prices_load

from .generator import CustomerPlan, meter_asset_number, month_end, service_point_code

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
BILL_ISSUE_DAY = 3
CHANNELS = [c.value for c in Payment.Channel]
ONE_DAY = datetime.timedelta(days=1)
# Plain strings of the choices used per row: enum attribute lookups cost more than the rows themselves.
KIND_BILL, KIND_LATE_FEE, KIND_PAYMENT = (str(LedgerEntry.Kind.BILL), str(LedgerEntry.Kind.LATE_FEE),
                                          str(LedgerEntry.Kind.PAYMENT))
REGULAR, ISSUED, POSTED = str(Bill.Kind.REGULAR), str(Bill.State.ISSUED), str(Payment.Status.POSTED)
VALID = str(MeterReading.Status.VALID)

# Every table this writer fills, in foreign-key order, with the fields written (all but the automatic ones).
TABLES: dict[type[Model], tuple[str, ...]] = {
    Customer: ("id", "kind", "name", "phone", "email", "id_number_hash", "id_number_masked", "created_at"),
    Account: ("id", "number", "customer_id", "branch_id", "station_id", "name", "address", "category", "tariff_id",
              "billing_mode", "status", "contracted_capacity_kva", "opened_on", "balance"),
    ServicePoint: ("id", "account_id", "transformer_area_id", "code", "voltage"),
    Meter: ("id", "service_point_id", "asset_number", "multiplier", "tou_capable", "installed_on", "initial_reading",
            "removed_on"),
    MeterReading: ("id", "meter_id", "account_id", "read_on", "period", "total", "peak", "flat", "valley",
                   "consumption", "consumption_peak", "consumption_flat", "consumption_valley", "max_demand_kw",
                   "power_factor", "source", "status", "status_reason", "recorded_at"),
    Bill: ("id", "number", "account_id", "period", "kind", "corrects_id", "tariff_version_id", "issued_on",
           "due_date", "kwh", "total", "amount_paid", "amount_adjusted", "state", "reason", "run_id"),
    BillLine: ("id", "bill_id", "position", "kind", "label", "quantity", "unit_price", "amount"),
    LateFee: ("id", "account_id", "bill_id", "accrued_from", "accrued_to", "days", "base_amount", "amount",
              "amount_paid", "amount_waived", "waived_by_id", "waive_reason", "assessed_at"),
    Payment: ("id", "account_id", "amount", "channel", "idempotency_key", "external_reference", "received_at",
              "status", "unallocated", "reversal_reason", "created_by_id"),
    PaymentAllocation: ("id", "payment_id", "bill_id", "late_fee_id", "amount", "created_at"),
    LedgerEntry: ("id", "account_id", "kind", "amount", "balance_after", "bill_id", "payment_id", "late_fee_id",
                  "memo", "created_at", "created_by_id"),
}


@functools.lru_cache(maxsize=65536)
def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _escaped(row: tuple, text_columns: list[int]) -> list:
    """COPY text format: backslash, tab and line breaks in text columns escaped. Every other value is
    written as str(): dates, aware datetimes, Decimals and booleans ("True") read back as they were."""
    row = list(row)
    for i in text_columns:
        if row[i] is not None:
            row[i] = row[i].translate(_COPY_ESCAPES)
    return row


@functools.lru_cache(maxsize=65536)
def _sqlite_datetime(value: datetime.datetime) -> str:
    return connection.ops.adapt_datetimefield_value(value)


class RowSink:
    """Writes the rows of each chunk of customers in one transaction: executemany on SQLite; COPY on
    PostgreSQL from a writer thread with its own connection, so the server ingests one chunk while
    Python builds the next (the GIL is released while psycopg waits on the socket)."""

    def __init__(self) -> None:
        self.vendor = connection.vendor
        self.rows_written = 0
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        # Inside a caller's transaction (tests) the writer thread could not see the caller's uncommitted
        # organisation rows, so it writes on the caller's connection instead.
        if self.vendor == "postgresql" and not connection.in_atomic_block:
            self._queue = queue.Queue(maxsize=2)
            self._thread = threading.Thread(target=self._copy_worker, name="seed-demo-copy", daemon=True)
            self._thread.start()

    def chunk_write(self, rows: ChunkRows) -> None:
        if self._queue is None:
            with transaction.atomic():
                for model in TABLES:
                    if not rows.rows[model]:
                        continue
                    if self.vendor == "postgresql":
                        statement, data = self._copy_payload(model, rows.rows[model])
                        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
                            copy.write(data)
                    else:
                        self._insert(model, rows.rows[model])
                self._sequences_reset()
        else:
            self._raise_worker_error()
            payloads = [self._copy_payload(model, rows.rows[model]) for model in TABLES if rows.rows[model]]
            self._queue.put(payloads)
        self.rows_written += rows.count()

    def close(self) -> None:
        """Wait for the writer thread to commit everything queued; re-raise what it failed with."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise_worker_error()

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _copy_worker(self) -> None:
        raw = connection.get_new_connection(connection.get_connection_params())
        reset = connection.ops.sequence_reset_sql(no_style(), list(TABLES))
        try:
            while True:
                payloads = self._queue.get()
                if payloads is None:
                    return
                if self._error is not None:
                    continue
                try:
                    with raw.cursor() as cursor:
                        for statement, data in payloads:
                            with cursor.copy(statement) as copy:
                                copy.write(data)
                        for statement in reset:
                            cursor.execute(statement)
                    raw.commit()
                except BaseException as error:  # handed to the main thread, which raises it
                    raw.rollback()
                    self._error = error
        finally:
            raw.close()

    @staticmethod
    def _copy_payload(model: type[Model], rows: Sequence[tuple]) -> tuple[str, bytes]:
        """COPY's text format built here: psycopg's per-value adaptation in write_row costs more than
        generating the rows."""
        meta = model._meta
        names = TABLES[model]
        quoted = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in names)
        text_columns = [
            i for i, name in enumerate(names) if meta.get_field(name).get_internal_type() in ("CharField", "TextField")
        ]
        if text_columns:
            rows = [_escaped(row, text_columns) for row in rows]
        text = "".join(["\t".join(["\\N" if v is None else str(v) for v in row]) + "\n" for row in rows])
        return f"COPY {connection.ops.quote_name(meta.db_table)} ({quoted}) FROM STDIN", text.encode()

    @staticmethod
    def _sequences_reset() -> None:
        statements = connection.ops.sequence_reset_sql(no_style(), list(TABLES))
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    @staticmethod
    def _insert(model: type[Model], rows: Sequence[tuple]) -> None:
        meta = model._meta
        columns = [connection.ops.quote_name(meta.get_field(name).column) for name in TABLES[model]]
        placeholders = ", ".join(["%s"] * len(columns))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({', '.join(columns)}) VALUES ({placeholders})",
                [tuple(_sqlite_datetime(v) if isinstance(v, datetime.datetime) else v for v in row) for row in rows],
            )


class IdBlock:
    """Hands out ids above each table's maximum at the start; seed_demo is the only writer while it runs."""

    def __init__(self) -> None:
        self.next = {
            model: (model.objects.aggregate(top=Max("id"))["top"] or 0) + 1 for model in TABLES
        }

    def take(self, model: type[Model]) -> int:
        value = self.next[model]
        self.next[model] = value + 1
        return value


@dataclass
class HistoryContext:
    """Lookups shared by every chunk: ids of the organisation and topology, prices, collection policies."""

    today: datetime.date
    months: list[datetime.date]
    branch_ids: dict[str, int]
    station_ids: dict[str, int]
    area_ids: dict[str, int]
    tariffs: dict[str, Tariff]
    policies: dict[str, CollectionPolicy]
    _versions: dict[tuple[str, datetime.date], tuple[TariffVersion, TariffPrices]] = field(default_factory=dict)
    issued_on: list[datetime.date] = field(default_factory=list)
    read_on: list[datetime.date] = field(default_factory=list)
    channel_labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.read_on = [month_end(period) for period in self.months]
        self.issued_on = [day + datetime.timedelta(days=BILL_ISSUE_DAY) for day in self.read_on]
        self.channel_labels = {c.value: str(c.label) for c in Payment.Channel}
    _charges: dict[tuple, tuple[list, Decimal]] = field(default_factory=dict)

    def prices_for(self, tariff_code: str, period: datetime.date) -> tuple[TariffVersion, TariffPrices]:
        """The version in force in a period (as tariff_version_for picks it) and its price snapshot, cached."""
        key = (tariff_code, period)
        hit = self._versions.get(key)
        if hit is None:
            version = tariff_version_for(tariff=self.tariffs[tariff_code], on_date=period)
            cached = next((v for v in self._versions.values() if v[0].pk == version.pk), None)
            hit = self._versions[key] = cached or (version, tariff_prices_load(version=version))
        return hit

    def prices_preload(self) -> None:
        """Resolve every (tariff, month) once, before the first chunk: a handful of queries, not one per bill."""
        for code in self.tariffs:
            for period in self.months:
                self.prices_for(code, period)

    def charges(self, prices: TariffPrices, usage: Usage) -> tuple[list, Decimal]:
        """charges_calculate, memoised: most households' months repeat the same whole-kWh usages."""
        key = (prices.version_id, usage.kwh, usage.peak, usage.flat, usage.valley, usage.max_demand_kw,
               usage.power_factor, usage.contracted_capacity_kva, usage.kwh_before_in_tier_year)
        hit = self._charges.get(key)
        if hit is None:
            if len(self._charges) > 200_000:
                self._charges.clear()
            lines = charges_calculate(prices=prices, usage=usage)
            hit = self._charges[key] = (lines, charges_total(lines))
        return hit


@dataclass(slots=True)
class _OpenBill:
    id: int
    number: str
    period: datetime.date
    due_date: datetime.date
    total: Decimal
    paid: Decimal = ZERO
    last_accrued: datetime.date | None = None


@dataclass(slots=True)
class _OpenFee:
    id: int
    bill: _OpenBill
    amount: Decimal
    paid: Decimal = ZERO


@dataclass(slots=True)
class _Credit:
    payment_row: list
    left: Decimal


@dataclass(slots=True)
class _BillView:
    """What bill_state_derive reads, without building a model instance per bill."""

    kind: str
    state: str
    total: Decimal
    amount_paid: Decimal
    amount_adjusted: Decimal
    due_date: datetime.date


class ChunkRows:
    """The rows of one chunk of customers, table by table."""

    def __init__(self) -> None:
        self.rows: dict[type[Model], list] = {model: [] for model in TABLES}

    def count(self) -> int:
        return sum(len(r) for r in self.rows.values())


class AccountHistory:
    """Replays one account's 23 billed months in memory: bills, payments, late fees, allocations, ledger."""

    def __init__(self, *, plan: CustomerPlan, account_id: int, ctx: HistoryContext, ids: IdBlock, out: ChunkRows):
        self.plan = plan
        self.account_id = account_id
        self.ctx = ctx
        self.ids = ids
        self.out = out
        self.balance = ZERO
        self.bills: list[_OpenBill] = []
        self.bill_rows: dict[int, list] = {}
        self.fees: list[_OpenFee] = []
        self.fee_rows: dict[int, list] = {}
        self.credits: list[_Credit] = []
        self.payments = 0
        self.bill_cursor = 0
        self.fee_cursor = 0
        self.policy = ctx.policies[plan.category]
        self.term = datetime.timedelta(days=self.policy.payment_term_days)

    def _ledger(self, kind: str, amount: Decimal, when: datetime.datetime, *, bill=None, payment=None, fee=None,
                memo: str = "") -> None:
        self.balance = to_money(self.balance + amount)
        self.out.rows[LedgerEntry].append(
            (self.ids.take(LedgerEntry), self.account_id, kind, amount, self.balance, bill, payment, fee, memo[:200],
             when, None)
        )

    def _allocate(self, *, payment_id: int, amount: Decimal, when: datetime.datetime) -> Decimal:
        """Late fees first, then the oldest bill, then newer ones; returns what is left unallocated.

        Settled items always form a prefix (oldest first), so the scan starts at the first open one."""
        rows = self.out.rows[PaymentAllocation]
        fees, bills = self.fees, self.bills
        while self.fee_cursor < len(fees) and amount > 0:
            fee = fees[self.fee_cursor]
            part = min(fee.amount - fee.paid, amount)
            if part > 0:
                fee.paid += part
                amount -= part
                rows.append((self.ids.take(PaymentAllocation), payment_id, None, fee.id, part, when))
            if fee.paid >= fee.amount:
                self.fee_cursor += 1
        while self.bill_cursor < len(bills) and amount > 0:
            bill = bills[self.bill_cursor]
            part = min(bill.total - bill.paid, amount)
            if part > 0:
                bill.paid += part
                amount -= part
                rows.append((self.ids.take(PaymentAllocation), payment_id, bill.id, None, part, when))
            if bill.paid >= bill.total:
                self.bill_cursor += 1
        return amount

    def _assess(self, through: datetime.date, when: datetime.datetime) -> None:
        """Late fees accrued through a date on every overdue bill, with the policy's minimum per assessment."""
        pending = []
        for bill in self.bills[self.bill_cursor:]:
            owed = bill.total - bill.paid
            if owed <= 0 or bill.due_date >= through:
                continue
            quote = late_fee_calculate(
                base_amount=owed,
                due_date=bill.due_date,
                through=through,
                rate_current_year=self.policy.daily_rate_current_year,
                rate_prior_years=self.policy.daily_rate_prior_years,
                accrue_from=bill.last_accrued + datetime.timedelta(days=1) if bill.last_accrued else None,
            )
            if quote.days:
                pending.append([bill, quote, quote.amount_before_minimum, owed])
        if not pending:
            return
        total = sum((p[2] for p in pending), ZERO)
        if total < self.policy.minimum_late_fee:
            pending[0][2] += self.policy.minimum_late_fee - total
        for bill, quote, amount, owed in pending:
            fee_id = self.ids.take(LateFee)
            fee = _OpenFee(fee_id, bill, amount)
            bill.last_accrued = quote.accrued_to
            self.fees.append(fee)
            row = [fee_id, self.account_id, bill.id, quote.accrued_from, quote.accrued_to, quote.days, owed, amount,
                   ZERO, ZERO, None, "", when]
            self.fee_rows[fee_id] = row
            if amount:
                self._ledger(KIND_LATE_FEE, amount, when, bill=bill.id, fee=fee_id,
                             memo=f"{bill.number} {quote.accrued_from:%Y-%m-%d}~{quote.accrued_to:%Y-%m-%d}")

    def _pay(self, *, day: datetime.date, amount: Decimal, rng_pick: int) -> None:
        self.payments += 1
        when = _at(day, 8 + rng_pick % 13, rng_pick % 60)
        payment_id = self.ids.take(Payment)
        weights = self.plan.channel_weights
        slot = rng_pick % sum(weights)
        for channel, weight in zip(CHANNELS, weights):
            if slot < weight:
                break
            slot -= weight
        key = f"demo-{self.plan.account_number}-{self.payments:03d}"
        row = [payment_id, self.account_id, amount, channel, key, f"ES{day:%Y%m%d}{self.account_id:09d}", when,
               POSTED, ZERO, "", None]
        self.out.rows[Payment].append(row)
        self._ledger(KIND_PAYMENT, -amount, when, payment=payment_id, memo=self.ctx.channel_labels[channel])
        left = self._allocate(payment_id=payment_id, amount=amount, when=when)
        if left > 0:
            row[8] = left
            self.credits.append(_Credit(row, left))

    def _issue(self, month: int) -> _OpenBill:
        plan, ctx = self.plan, self.ctx
        period = ctx.months[month]
        version, prices = ctx.prices_for(plan.tariff_code, period)
        u = plan.usage[month]
        before = ZERO
        if prices.tier_basis == TariffVersion.TierBasis.ANNUAL:
            before = sum((plan.usage[m].kwh for m in range(month) if ctx.months[m].year == period.year), ZERO)
        lines, total = ctx.charges(prices, Usage(
            kwh=u.kwh, peak=u.peak, flat=u.flat, valley=u.valley, max_demand_kw=u.max_demand_kw,
            power_factor=u.power_factor, contracted_capacity_kva=plan.contracted_capacity_kva,
            kwh_before_in_tier_year=before,
        ))
        issued = ctx.issued_on[month]
        due = issued + self.term
        bill_id = self.ids.take(Bill)
        number = f"{period:%Y%m}{plan.account_number}"
        bill = _OpenBill(bill_id, number, period, due, total)
        row = [bill_id, number, self.account_id, period, REGULAR, None, version.pk, issued, due, u.kwh,
               total, ZERO, ZERO, ISSUED, "", None]
        self.bill_rows[bill_id] = row
        self.out.rows[Bill].append(row)
        line_rows = self.out.rows[BillLine]
        for position, line in enumerate(lines, start=1):
            line_rows.append((self.ids.take(BillLine), bill_id, position, line.kind, line.label[:60], line.quantity,
                              line.unit_price, line.amount))
        when = _at(issued, 6)
        self._ledger(KIND_BILL, total, when, bill=bill_id, memo=number)
        self.bills.append(bill)
        # Prepaid money waiting on the account settles the new bill at once, oldest payment first.
        for credit in self.credits:
            owed = bill.total - bill.paid
            if owed <= 0:
                break
            if credit.left > 0:
                part = min(owed, credit.left)
                credit.left -= part
                credit.payment_row[8] = credit.left
                bill.paid += part
                self.out.rows[PaymentAllocation].append(
                    (self.ids.take(PaymentAllocation), credit.payment_row[0], bill_id, None, part, when)
                )
        self.credits = [c for c in self.credits if c.left > 0]
        return bill

    def replay(self) -> None:
        plan = self.plan
        billed = len(self.ctx.months) - 1
        events: list[tuple[datetime.date, int, int, int]] = []  # (day, order, kind 0=bill 1=pay 2=top-up, month)
        term_days = self.policy.payment_term_days
        for month in range(billed):
            issued = self.ctx.issued_on[month]
            events.append((issued, 0, 0, month))
            if plan.prepaid:
                continue
            behaviour, offset = plan.behaviour[month]
            if behaviour == "on_time":
                events.append((issued + datetime.timedelta(days=min(offset, term_days)), 1, 1, month))
            elif behaviour == "late":
                events.append((issued + datetime.timedelta(days=term_days + offset), 1, 1, month))
        if plan.prepaid:
            events.append((self.ctx.months[0] + datetime.timedelta(days=9), 1, 2, -1))
            for month in range(billed):
                issued = self.ctx.issued_on[month]
                events.append((issued + datetime.timedelta(days=1 + plan.behaviour[month][1] % 5), 1, 2, month))
        events.sort()
        for day, _order, kind, month in events:
            if day > self.ctx.today:
                continue
            pick = plan.rng_state + month * 7_907 + kind
            if kind == 0:
                self._issue(month)
            elif kind == 1:
                self._assess(day, _at(day, 7))
                # The customer pays the notice of this month: every fee and every bill up to and including it.
                owed = sum((f.amount - f.paid for f in self.fees[self.fee_cursor:]), ZERO)
                owed += sum((b.total - b.paid for b in self.bills[self.bill_cursor: month + 1]), ZERO)
                if owed > 0:
                    self._pay(day=day, amount=to_money(owed), rng_pick=pick)
            else:
                last_total = self.bills[-1].total if self.bills else Decimal("60")
                # Top up in whole hundreds to keep about two months' worth of credit (预存).
                want = self.balance + last_total * 2 + Decimal("50")
                if want > 0:
                    amount = Decimal((int(want) // 100 + 1) * 100)
                    self._pay(day=day, amount=to_money(amount), rng_pick=pick)
        for bill in self.bills:
            row = self.bill_rows[bill.id]
            row[11] = bill.paid
            row[13] = bill_state_derive(
                bill=_BillView(REGULAR, ISSUED, bill.total, bill.paid, ZERO, bill.due_date),
                today=self.ctx.today,
            )
        for fee in self.fees:
            self.fee_rows[fee.id][8] = fee.paid
        self.out.rows[LateFee].extend(tuple(self.fee_rows[f.id]) for f in self.fees)


def chunk_rows_build(*, plans: Iterable[CustomerPlan], ctx: HistoryContext, ids: IdBlock) -> ChunkRows:
    """All rows for a chunk of customers: master data, 24 readings each, 23 months of billed history."""
    out = ChunkRows()
    for plan in plans:
        customer_id = ids.take(Customer)
        account_id = ids.take(Account)
        sp_id = ids.take(ServicePoint)
        meter_id = ids.take(Meter)
        created = _at(plan.opened_on, 9)
        out.rows[Customer].append(
            (customer_id, plan.kind, plan.name, plan.phone, "", plan.id_number_hash, plan.id_number_masked, created)
        )
        installed = ctx.months[0] - datetime.timedelta(days=1)
        out.rows[ServicePoint].append(
            (sp_id, account_id, ctx.area_ids[plan.area_code], service_point_code(plan.index),
             "10kV" if plan.contracted_capacity_kva else "0.4kV")
        )
        out.rows[Meter].append(
            (meter_id, sp_id, meter_asset_number(plan.index), plan.multiplier, plan.tou, installed,
             plan.initial_reading, None)
        )
        history = AccountHistory(plan=plan, account_id=account_id, ctx=ctx, ids=ids, out=out)
        history.replay()
        out.rows[Account].append(
            (account_id, plan.account_number, customer_id, ctx.branch_ids[plan.branch.code],
             ctx.station_ids[plan.station_code], plan.name, plan.address, plan.category,
             ctx.tariffs[plan.tariff_code].pk,
             Account.BillingMode.PREPAID if plan.prepaid else Account.BillingMode.POSTPAID,
             Account.Status.ACTIVE, plan.contracted_capacity_kva, plan.opened_on, history.balance)
        )
        _readings(plan=plan, meter_id=meter_id, account_id=account_id, ctx=ctx, ids=ids, out=out)
    return out


def _readings(*, plan: CustomerPlan, meter_id: int, account_id: int, ctx: HistoryContext, ids: IdBlock,
              out: ChunkRows) -> None:
    rows = out.rows[MeterReading]
    total = plan.initial_reading
    # Time-of-use registers start from the migrated total, split the way the meter was used.
    peak = flat = valley = None
    if plan.tou:
        peak = (total * Decimal("0.6")).quantize(Decimal("0.01"))
        valley = total - peak
        if plan.usage[0].register_flat is not None:
            flat = ZERO
    source = MeterReading.Source.MANUAL if plan.station_area_kind == "remote" else MeterReading.Source.AMI
    for period, read_on, u in zip(ctx.months, ctx.read_on, plan.usage):
        total += u.register_total
        if plan.tou:
            peak += u.register_peak
            if flat is not None:
                flat += u.register_flat
            valley += u.register_valley
        rows.append(
            (ids.take(MeterReading), meter_id, account_id, read_on, period, total, peak, flat, valley, u.kwh,
             u.peak, u.flat, u.valley, u.max_demand_kw, u.power_factor, source, VALID, "", _at(read_on + ONE_DAY, 2))
        )
