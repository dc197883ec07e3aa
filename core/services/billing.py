"""The billing engine (抄核收: calculate): one account's bill, the batch billing run, corrections,
overdue marking and write-offs. Bills are never edited after issue."""
from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from core.errors import BillingError, DomainError, PeriodOutOfOrder
from core.models import (
    Account,
    Bill,
    BillingRun,
    BillLine,
    Branch,
    CollectionPolicy,
    LateFee,
    LedgerEntry,
    MeterReading,
    Payment,
    PaymentAllocation,
    TariffVersion,
)
from core.money import ZERO, to_kwh, to_money
from core.selectors.billing import (
    billing_run_latest_finished,
    period_readings_by_account,
    regular_bill_periods_from,
    tier_year_kwh_before,
)
from core.selectors.tariffs import tariff_version_for
from core.services.bill_states import bill_state_derive
from core.services.ledger import account_lock, ledger_post
from core.services.tariffs import (
    ChargeLine,
    TariffPrices,
    Usage,
    charges_calculate,
    charges_total,
    tariff_prices_load,
    tariff_prices_load_many,
)

# Error text kept on a run: enough to find the held accounts, not a log.
RUN_ERROR_MAX_CHARS = 4000
# Distinct usages a run remembers the charges of (a few hundred bytes each) before starting afresh.
CHARGES_CACHE_MAX = 100_000


def _period_start(period: datetime.date) -> datetime.date:
    return period.replace(day=1)


def usage_from_readings(
    *, readings: list[dict], contracted_capacity_kva: Decimal, kwh_before_in_tier_year: Decimal = ZERO
) -> Usage:
    """One account's usage for a period from its readings (all meters): energy and registers summed,
    demand the maximum, power factor from the latest reading that has one."""

    if len(readings) == 1:
        # One meter read once, the usual case: the same values as the sums below, without them.
        row = readings[0]
        peak, flat, valley = row["consumption_peak"], row["consumption_flat"], row["consumption_valley"]
        return Usage(
            kwh=to_kwh(row["consumption"]),
            peak=None if peak is None else to_kwh(peak),
            flat=None if flat is None else to_kwh(flat),
            valley=None if valley is None else to_kwh(valley),
            max_demand_kw=row["max_demand_kw"],
            power_factor=row["power_factor"],
            contracted_capacity_kva=contracted_capacity_kva,
            kwh_before_in_tier_year=kwh_before_in_tier_year,
        )

    def register_sum(name: str, required: bool) -> Decimal | None:
        values = [row[name] for row in readings if row[name] is not None]
        if not values or (required and len(values) != len(readings)):
            return None
        return to_kwh(sum(values, ZERO))

    demands = [row["max_demand_kw"] for row in readings if row["max_demand_kw"] is not None]
    factors = [row["power_factor"] for row in readings if row["power_factor"] is not None]
    return Usage(
        kwh=to_kwh(sum((row["consumption"] for row in readings), ZERO)),
        peak=register_sum("consumption_peak", True),
        flat=register_sum("consumption_flat", False),
        valley=register_sum("consumption_valley", True),
        max_demand_kw=max(demands) if demands else None,
        power_factor=factors[-1] if factors else None,
        contracted_capacity_kva=contracted_capacity_kva,
        kwh_before_in_tier_year=kwh_before_in_tier_year,
    )


def _suspect_names(readings: list[dict]) -> str:
    return "、".join(
        f"{row['meter__asset_number']} {row['read_on']:%Y-%m-%d}"
        for row in readings
        if row["status"] == MeterReading.Status.SUSPECT
    )


def _bill_lines(bill: Bill, lines: list[ChargeLine]) -> list[BillLine]:
    return [
        BillLine(
            bill=bill,
            position=position,
            kind=line.kind,
            label=line.label[:60],
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
        )
        for position, line in enumerate(lines, start=1)
    ]


def _rows_insert(model, fields: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert many rows in one statement (COPY on PostgreSQL, executemany elsewhere). Used for the bills,
    lines and ledger entries of a billing-run batch, where the ORM's per-value preparation costs more than
    the database work; values are in database form (Decimal, date, str, ids) and every NOT NULL column
    without a database default is listed."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is one round trip; psycopg's executemany would still send one INSERT per row.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)


def _rows_update(model, fields: tuple[str, ...], rows: list[tuple]) -> None:
    """Set columns of many rows by primary key in one statement on PostgreSQL (executemany elsewhere);
    each row is (pk, *values in database form)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = quote(model._meta.pk.column)
    columns = [model._meta.get_field(name) for name in fields]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array parameter per column keeps the statement short, whatever the batch size.
            arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in (model._meta.pk, *columns))
            names = ", ".join(quote(field.column) for field in columns)
            sets = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in columns)
            cursor.execute(
                f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS v({pk}, {names}) WHERE {table}.{pk} = v.{pk}",
                [list(column) for column in zip(*rows)],
            )
        else:
            sets = ", ".join(f"{quote(field.column)} = %s" for field in columns)
            cursor.executemany(f"UPDATE {table} SET {sets} WHERE {pk} = %s", [(*row[1:], row[0]) for row in rows])


def _policy_for(category: str) -> CollectionPolicy:
    policy = CollectionPolicy.objects.filter(category=category).first()
    if policy is None:
        raise BillingError(_("用电类别“%(category)s”没有配置催收政策") % {"category": category})
    return policy


def _account_allocate(*, account: Account) -> None:
    # Imported at call time so the payments module is free to import billing without a cycle.
    from core.services.payments import account_allocate

    account_allocate(account=account)


def _bill_post(
    *,
    account: Account,
    period: datetime.date,
    kind: str,
    number: str,
    version_id: int,
    lines: list[ChargeLine],
    kwh: Decimal,
    issued_on: datetime.date,
    due_date: datetime.date,
    corrects: Bill | None = None,
    reason: str = "",
    user=None,
) -> Bill:
    """Create a charge bill with its lines and post it to the ledger; the caller holds the account lock."""
    bill = Bill(
        number=number,
        account=account,
        period=period,
        kind=kind,
        corrects=corrects,
        tariff_version_id=version_id,
        issued_on=issued_on,
        due_date=due_date,
        kwh=kwh,
        total=charges_total(lines),
        reason=reason[:200],
    )
    bill.state = bill_state_derive(bill=bill, today=issued_on)
    bill.save()
    BillLine.objects.bulk_create(_bill_lines(bill, lines))
    in_credit = account.balance < 0
    ledger_post(account=account, kind=LedgerEntry.Kind.BILL, amount=bill.total, bill=bill, user=user, memo=number)
    if in_credit:
        _account_allocate(account=account)
        bill.refresh_from_db()
    return bill


def bill_issue(*, account: Account, period: datetime.date, issued_on: datetime.date | None = None) -> Bill:
    """Issue one account's regular bill for a period from its valid readings.

    Locks the account row (account_lock) for the whole calculation, so a concurrent payment or run waits.
    """
    period = _period_start(period)
    issued_on = issued_on or timezone.localdate()
    with transaction.atomic():
        account = account_lock(account_id=account.pk)
        latest = regular_bill_periods_from(account_ids=[account.pk], period=period).get(account.pk)
        if latest is not None and latest > period:
            raise PeriodOutOfOrder(
                _("该户已发行%(latest)s的电费，不能再发行更早的%(period)s")
                % {"latest": f"{latest:%Y-%m}", "period": f"{period:%Y-%m}"}
            )
        if latest == period:
            raise BillingError(_("该户%(period)s的电费已发行") % {"period": f"{period:%Y-%m}"})
        readings = period_readings_by_account(account_ids=[account.pk], period=period).get(account.pk, [])
        if not readings:
            raise BillingError(_("该户%(period)s没有抄表示数") % {"period": f"{period:%Y-%m}"})
        suspect = _suspect_names(readings)
        if suspect:
            raise BillingError(_("示数待复核，暂不出账：%(readings)s") % {"readings": suspect})
        version = tariff_version_for(tariff=account.tariff, on_date=period)
        prices = tariff_prices_load(version=version)
        before = ZERO
        if prices.tier_basis == TariffVersion.TierBasis.ANNUAL:
            before = tier_year_kwh_before(account_ids=[account.pk], period=period).get(account.pk, ZERO)
        usage = usage_from_readings(
            readings=readings, contracted_capacity_kva=account.contracted_capacity_kva, kwh_before_in_tier_year=before
        )
        lines = charges_calculate(prices=prices, usage=usage)
        policy = _policy_for(account.category)
        return _bill_post(
            account=account,
            period=period,
            kind=Bill.Kind.REGULAR,
            number=f"{period:%Y%m}{account.number}",
            version_id=version.pk,
            lines=lines,
            kwh=usage.kwh,
            issued_on=issued_on,
            due_date=issued_on + datetime.timedelta(days=policy.payment_term_days),
        )


@dataclass
class _RunContext:
    """What a run reads once and reuses for every batch: prices per tariff and payment terms per category."""

    period: datetime.date
    issued_on: datetime.date
    versions: dict[int, tuple[int, TariffPrices]]
    terms: dict[str, int]
    # Lines and total per (version, usage): most accounts share a usage with another (whole kWh), and
    # charges_calculate is a pure function of the two.
    charges: dict[tuple, tuple[list[ChargeLine], Decimal]] = field(default_factory=dict)

    def charges_for(
        self, *, version_id: int, prices: TariffPrices, usage: Usage, language: str
    ) -> tuple[list[ChargeLine], Decimal]:
        # Every Decimal in the key comes from a fixed-scale column or to_kwh, so equal keys also print alike.
        key = (
            version_id, language, usage.kwh, usage.peak, usage.flat, usage.valley, usage.max_demand_kw,
            usage.power_factor, usage.contracted_capacity_kva, usage.kwh_before_in_tier_year,
        )
        found = self.charges.get(key)
        if found is None:
            if len(self.charges) >= CHARGES_CACHE_MAX:
                self.charges.clear()
            lines = charges_calculate(prices=prices, usage=usage, language=language)
            found = self.charges[key] = (lines, charges_total(lines))
        return found

    def prices_for(self, tariff_id: int) -> tuple[int, TariffPrices]:
        if tariff_id not in self.versions:
            from core.models import Tariff

            version = tariff_version_for(tariff=Tariff.objects.get(pk=tariff_id), on_date=self.period)
            self.versions[tariff_id] = (version.pk, tariff_prices_load(version=version))
        return self.versions[tariff_id]


def _run_context(*, branch: Branch, period: datetime.date) -> _RunContext:
    context = _RunContext(
        period=period,
        issued_on=timezone.localdate(),
        versions={},
        terms=dict(CollectionPolicy.objects.values_list("category", "payment_term_days")),
    )
    tariff_ids = Account.objects.filter(branch=branch).values("tariff_id")
    # The version in force per tariff as tariff_version_for picks it (latest start on or before the period;
    # starts are unique per tariff), all loaded at once. A tariff with none is left to prices_for, which
    # raises, so its accounts are held with the reason when their batch is reached.
    versions: dict[int, TariffVersion] = {}
    for version in TariffVersion.objects.filter(tariff_id__in=tariff_ids, effective_from__lte=period).order_by(
        "tariff_id", "-effective_from"
    ):
        versions.setdefault(version.tariff_id, version)
    prices = tariff_prices_load_many(versions=list(versions.values()))
    context.versions = {tariff_id: (version.pk, prices[version.pk]) for tariff_id, version in versions.items()}
    return context


def _run_error_append(run: BillingRun, messages: list[str]) -> None:
    if messages and len(run.error) < RUN_ERROR_MAX_CHARS:
        run.error = (run.error + "\n".join(messages) + "\n")[:RUN_ERROR_MAX_CHARS]


def _credit_apply(*, account_ids: list[int], today: datetime.date) -> None:
    """The batch form of payments.account_allocate for the accounts of a batch that were in credit: each
    posted payment's unallocated credit, oldest payment first, goes to open late fees then bills, oldest
    first. Same rows and amounts as one account_allocate per account, in a constant number of queries.

    Runs inside the batch's transaction, which holds these accounts' row locks.
    """
    payments: dict[int, list[list]] = defaultdict(list)
    for payment_id, account_id, unallocated in (
        Payment.objects.filter(account_id__in=account_ids, status=Payment.Status.POSTED, unallocated__gt=0)
        .order_by("account_id", "received_at", "id")
        .values_list("id", "account_id", "unallocated")
    ):
        payments[account_id].append([payment_id, unallocated])
    if not payments:
        return
    payers = sorted(payments)
    # Open items as [bill or None, late fee id or None, outstanding, amount_paid], late fees first.
    items: dict[int, list[list]] = defaultdict(list)
    for fee_id, account_id, amount, paid, waived in (
        LateFee.objects.filter(account_id__in=payers)
        .order_by("account_id", "bill__period", "accrued_from", "id")
        .values_list("id", "account_id", "amount", "amount_paid", "amount_waived")
    ):
        if amount - paid - waived > 0:
            items[account_id].append([None, fee_id, amount - paid - waived, paid])
    for bill_id, account_id, kind, state, total, paid, adjusted, due_date in (
        Bill.objects.filter(account_id__in=payers)
        .exclude(kind=Bill.Kind.CREDIT_NOTE)
        .exclude(state__in=[Bill.State.WRITTEN_OFF, Bill.State.CREDITED])
        .order_by("account_id", "period", "id")
        .values_list("id", "account_id", "kind", "state", "total", "amount_paid", "amount_adjusted", "due_date")
    ):
        if total - paid - adjusted > 0:
            bill = Bill(
                id=bill_id, kind=kind, state=state, total=total, amount_paid=paid, amount_adjusted=adjusted,
                due_date=due_date,
            )
            items[account_id].append([bill, None, bill.outstanding, paid])

    created_at = PaymentAllocation._meta.get_field("created_at").get_db_prep_save(timezone.now(), connection)
    allocations, payment_rows, bill_rows, fee_rows = [], [], [], []
    for account_id in payers:
        open_payments = payments[account_id]
        touched_payments: list[list] = []
        for item in items.get(account_id, []):
            bill, fee_id, outstanding = item[0], item[1], item[2]
            touched = False
            while outstanding > 0 and open_payments:
                payment = open_payments[0]
                applied = min(payment[1], outstanding)
                allocations.append((payment[0], bill.pk if bill else None, fee_id, applied, created_at))
                payment[1] -= applied
                outstanding -= applied
                item[3] += applied
                touched = True
                if not touched_payments or touched_payments[-1] is not payment:
                    touched_payments.append(payment)
                if payment[1] == 0:
                    open_payments.pop(0)
            if touched:
                if bill is None:
                    fee_rows.append((fee_id, item[3]))
                else:
                    bill.amount_paid = item[3]
                    bill_rows.append((bill.pk, bill.amount_paid, bill_state_derive(bill=bill, today=today)))
            if not open_payments:
                break
        payment_rows.extend((payment_id, unallocated) for payment_id, unallocated in touched_payments)
    _rows_insert(PaymentAllocation, ("payment", "bill", "late_fee", "amount", "created_at"), allocations)
    _rows_update(Payment, ("unallocated",), payment_rows)
    _rows_update(Bill, ("amount_paid", "state"), bill_rows)
    _rows_update(LateFee, ("amount_paid",), fee_rows)


def _run_batch(*, run: BillingRun, context: _RunContext, batch_size: int) -> bool:
    """Bill one batch of accounts after the run's cursor; False when none are left.

    Locks the run row (the caller) and the batch's account rows. A constant number of queries per batch.
    """
    accounts = list(
        Account.objects.select_for_update()
        .filter(branch_id=run.branch_id, id__gt=run.cursor_account_id)
        .order_by("id")
        .values_list("id", "number", "category", "tariff_id", "contracted_capacity_kva", "balance")[:batch_size]
    )
    if not accounts:
        return False
    ids = [account[0] for account in accounts]
    period = run.period
    # The batch's accounts as a subquery over the locked id range where that plans as well as the id list.
    batch = Account.objects.filter(branch_id=run.branch_id, id__gt=run.cursor_account_id, id__lte=ids[-1]).values("id")
    readings = period_readings_by_account(account_ids=ids, period=period)
    billed = regular_bill_periods_from(account_ids=batch, period=period)
    for tariff_id in {account[3] for account in accounts} - context.versions.keys():
        try:
            context.prices_for(tariff_id)
        except DomainError:
            continue
    annual_ids = [
        account[0]
        for account in accounts
        if account[3] in context.versions
        and context.versions[account[3]][1].tier_basis == TariffVersion.TierBasis.ANNUAL
    ]
    before = tier_year_kwh_before(account_ids=annual_ids, period=period) if annual_ids else {}

    held, messages = 0, []
    # A fresh bill's state depends only on whether it charges anything (and its due date, which is
    # never before the issue day), so it is derived once per kind of bill instead of once per account.
    states: dict[tuple[bool, datetime.date], str] = {}
    due_dates = {category: context.issued_on + datetime.timedelta(days=days) for category, days in context.terms.items()}
    prefix = f"{period:%Y%m}"
    language = get_language()
    bills, lines_by_account, billed_accounts = [], [], []
    for account_id, number, category, tariff_id, capacity, balance in accounts:
        account_readings = readings.get(account_id)
        if not account_readings or billed.get(account_id) == period:
            continue
        try:
            if account_id in billed:
                raise PeriodOutOfOrder(_("已发行%(latest)s的电费") % {"latest": f"{billed[account_id]:%Y-%m}"})
            suspect = _suspect_names(account_readings)
            if suspect:
                raise BillingError(_("示数待复核：%(readings)s") % {"readings": suspect})
            version_id, prices = context.prices_for(tariff_id)
            usage = usage_from_readings(
                readings=account_readings,
                contracted_capacity_kva=capacity,
                kwh_before_in_tier_year=before.get(account_id, ZERO),
            )
            lines, total = context.charges_for(version_id=version_id, prices=prices, usage=usage, language=language)
            if category not in due_dates:
                raise BillingError(_("用电类别“%(category)s”没有配置催收政策") % {"category": category})
        except DomainError as error:
            held += 1
            messages.append(f"{number}: {error}")
            continue
        due_date = due_dates[category]
        key = (total > 0, due_date)
        if key not in states:
            sample = Bill(kind=Bill.Kind.REGULAR, total=Decimal(key[0]), due_date=due_date)
            states[key] = bill_state_derive(bill=sample, today=context.issued_on)
        bills.append((
            prefix + number, account_id, period, Bill.Kind.REGULAR, version_id, context.issued_on, due_date,
            usage.kwh, total, ZERO, ZERO, states[key], "", run.pk,
        ))
        lines_by_account.append(lines)
        billed_accounts.append((account_id, balance))

    if bills:
        _rows_insert(
            Bill,
            (
                "number", "account", "period", "kind", "tariff_version", "issued_on", "due_date",
                "kwh", "total", "amount_paid", "amount_adjusted", "state", "reason", "run",
            ),
            bills,
        )
        bill_ids = dict(
            Bill.objects.filter(account_id__in=batch, kind=Bill.Kind.REGULAR, period=period).values_list("account_id", "id")
        )
        _rows_insert(
            BillLine,
            ("bill", "position", "kind", "label", "quantity", "unit_price", "amount"),
            [
                (bill_ids[account_id], position, line.kind, line.label[:60], line.quantity, line.unit_price, line.amount)
                for (account_id, _balance), lines in zip(billed_accounts, lines_by_account)
                for position, line in enumerate(lines, start=1)
            ],
        )
        # Bulk equivalent of ledger_post for the whole batch: the rows are locked above, so each
        # balance_after is the running balance exactly as ledger_post would have written it.
        created_at = LedgerEntry._meta.get_field("created_at").get_db_prep_save(timezone.now(), connection)
        entries, balances, in_credit = [], [], []
        for (account_id, balance), values in zip(billed_accounts, bills):
            if balance < 0:
                in_credit.append(account_id)
            number, total = values[0], values[8]
            balance = to_money(balance + total)
            balances.append((account_id, balance))
            entries.append((account_id, LedgerEntry.Kind.BILL, total, balance, bill_ids[account_id], number, created_at))
        _rows_insert(
            LedgerEntry, ("account", "kind", "amount", "balance_after", "bill", "memo", "created_at"), entries
        )
        _rows_update(Account, ("balance",), balances)
        if in_credit:
            _credit_apply(account_ids=in_credit, today=timezone.localdate())

    run.cursor_account_id = ids[-1]
    run.accounts_done += len(accounts)
    run.bills_issued += len(bills)
    run.accounts_held += held
    _run_error_append(run, messages)
    run.save(
        update_fields=["cursor_account_id", "accounts_done", "bills_issued", "accounts_held", "error", "status"]
    )
    return True


def billing_run_execute(
    *,
    branch: Branch,
    period: datetime.date,
    batch_size: int | None = None,
    progress: Callable[[BillingRun], None] | None = None,
    stop_after_batches: int | None = None,
) -> BillingRun:
    """Bill every account of a branch for a period, batch by batch; resumable and never bills twice.

    Each batch is one transaction that locks the run row and the batch's accounts and moves the run's
    cursor with the bills, so a crash resumes after the last committed batch.
    """
    period = _period_start(period)
    batch_size = batch_size or settings.BILLING_RUN_BATCH_SIZE
    if batch_size < 1:
        raise BillingError(_("批次大小必须大于0"))
    latest = billing_run_latest_finished(branch=branch)
    if latest is not None and latest.period > period:
        raise PeriodOutOfOrder(
            _("%(branch)s已完成%(latest)s的抄核收，不能再执行更早的%(period)s")
            % {"branch": branch.name, "latest": f"{latest.period:%Y-%m}", "period": f"{period:%Y-%m}"}
        )
    with transaction.atomic():
        run, _created = BillingRun.objects.select_for_update().get_or_create(branch=branch, period=period)
        if run.status == BillingRun.Status.FINISHED:
            return run
        if run.status == BillingRun.Status.PENDING:
            run.accounts_total = Account.objects.filter(branch=branch).count()
            run.started_at = timezone.now()
        run.status = BillingRun.Status.RUNNING
        run.save(update_fields=["accounts_total", "started_at", "status"])

    context = _run_context(branch=branch, period=period)
    batches = 0
    try:
        while True:
            with transaction.atomic():
                run = BillingRun.objects.select_for_update().get(pk=run.pk)
                more = _run_batch(run=run, context=context, batch_size=batch_size)
                if not more:
                    run.status = BillingRun.Status.FINISHED
                    run.finished_at = timezone.now()
                    # Accounts opened during the run are billed too; the total follows what was done.
                    run.accounts_total = max(run.accounts_total, run.accounts_done)
                    run.save(update_fields=["status", "finished_at", "accounts_total"])
            if progress is not None:
                progress(run)
            if not more:
                return run
            batches += 1
            if stop_after_batches is not None and batches >= stop_after_batches:
                return run
    except Exception as error:
        BillingRun.objects.filter(pk=run.pk).update(status=BillingRun.Status.FAILED, error=str(error)[:RUN_ERROR_MAX_CHARS])
        raise


def bill_correct(*, bill: Bill, reason: str, user, corrected_usage: Usage) -> tuple[Bill, Bill]:
    """Correct an issued bill by a credit note (冲红) and a re-bill (重开); the original is never edited
    beyond its state and adjusted amount. Locks the account row, then the bill row."""
    reason = (reason or "").strip()
    if not reason:
        raise BillingError(_("更正原因不能为空"))
    today = timezone.localdate()
    with transaction.atomic():
        account = account_lock(account_id=bill.account_id)
        original = Bill.objects.select_for_update().get(pk=bill.pk)
        if original.kind == Bill.Kind.CREDIT_NOTE or original.state in (Bill.State.CREDITED, Bill.State.WRITTEN_OFF):
            raise BillingError(_("账单%(number)s不能更正") % {"number": original.number})
        version = TariffVersion.objects.get(pk=original.tariff_version_id)
        lines = charges_calculate(prices=tariff_prices_load(version=version), usage=corrected_usage)
        policy = _policy_for(account.category)

        from core.services.payments import bill_allocations_release

        bill_allocations_release(bill=original)
        original_lines = list(original.lines.order_by("position"))
        credit = Bill.objects.create(
            number=f"{original.number}C",
            account=account,
            period=original.period,
            kind=Bill.Kind.CREDIT_NOTE,
            corrects=original,
            tariff_version_id=original.tariff_version_id,
            issued_on=today,
            due_date=today,
            kwh=-original.kwh,
            total=-original.total,
            state=Bill.State.PAID,
            reason=reason[:200],
        )
        BillLine.objects.bulk_create(
            BillLine(
                bill=credit,
                position=line.position,
                kind=line.kind,
                label=line.label,
                quantity=-line.quantity,
                unit_price=line.unit_price,
                amount=-line.amount,
            )
            for line in original_lines
        )
        ledger_post(
            account=account, kind=LedgerEntry.Kind.CREDIT_NOTE, amount=credit.total, bill=credit, user=user, memo=reason
        )
        original.amount_adjusted += original.outstanding
        original.state = Bill.State.CREDITED
        original.reason = reason[:200]
        original.save(update_fields=["amount_adjusted", "state", "reason"])
        rebill = _bill_post(
            account=account,
            period=original.period,
            kind=Bill.Kind.REBILL,
            number=f"{original.number}R",
            version_id=version.pk,
            lines=lines,
            kwh=to_kwh(corrected_usage.kwh),
            issued_on=today,
            due_date=today + datetime.timedelta(days=policy.payment_term_days),
            corrects=original,
            reason=reason,
            user=user,
        )
        # The credit note may leave credit even when the account owed before it: apply it to the re-bill.
        _account_allocate(account=account)
        rebill.refresh_from_db()
    bill.refresh_from_db()
    return credit, rebill


OVERDUE_CHUNK = 2000


def bills_mark_overdue(*, as_of: datetime.date) -> int:
    """Move unpaid bills past their due date to OVERDUE; returns how many changed.

    Takes no account locks: it only changes state, never amounts, and the update re-checks the state it read.
    """
    candidates = (
        Bill.objects.filter(state__in=[Bill.State.ISSUED, Bill.State.PARTLY_PAID], due_date__lt=as_of)
        .exclude(kind=Bill.Kind.CREDIT_NOTE)
        .only("id", "kind", "state", "total", "amount_paid", "amount_adjusted", "due_date")
        .order_by("id")
    )
    changed = 0
    chunk: list[tuple[int, str]] = []

    def flush() -> int:
        count = 0
        for state in {state for _, state in chunk}:
            ids = [pk for pk, old in chunk if old == state]
            count += Bill.objects.filter(pk__in=ids, state=state).update(state=Bill.State.OVERDUE)
        chunk.clear()
        return count

    for bill in candidates.iterator(chunk_size=OVERDUE_CHUNK):
        if bill_state_derive(bill=bill, today=as_of) == Bill.State.OVERDUE:
            chunk.append((bill.pk, bill.state))
        if len(chunk) >= OVERDUE_CHUNK:
            changed += flush()
    changed += flush()
    return changed


def bill_write_off(*, bill: Bill, user, reason: str) -> LedgerEntry:
    """Write off what is still owed on a bill (核销). Locks the account row, then the bill row."""
    reason = (reason or "").strip()
    if not reason:
        raise BillingError(_("核销原因不能为空"))
    with transaction.atomic():
        account = account_lock(account_id=bill.account_id)
        locked = Bill.objects.select_for_update().get(pk=bill.pk)
        outstanding = locked.outstanding
        if locked.kind == Bill.Kind.CREDIT_NOTE or locked.state in (Bill.State.CREDITED, Bill.State.WRITTEN_OFF):
            raise BillingError(_("账单%(number)s不能核销") % {"number": locked.number})
        if outstanding <= 0:
            raise BillingError(_("账单%(number)s没有欠费，无需核销") % {"number": locked.number})
        entry = ledger_post(
            account=account,
            kind=LedgerEntry.Kind.WRITE_OFF,
            amount=-outstanding,
            bill=locked,
            user=user,
            memo=gettext("核销：%(reason)s") % {"reason": reason},
        )
        locked.amount_adjusted += outstanding
        locked.state = Bill.State.WRITTEN_OFF
        locked.reason = reason[:200]
        locked.save(update_fields=["amount_adjusted", "state", "reason"])
    bill.refresh_from_db()
    return entry
