"""Test data for the quality-management tests (audit rules, quality reports and pages): monthly readings with
chosen consumption, auditors, and tickets, bills and payments written directly with the figures that matter."""
from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from django.contrib.auth import get_user_model

from core.models import Bill, Meter, MeterReading, Payment
from core.services.roles import ROLE_AUDITOR, ROLE_SUPERVISOR, role_group, roles_sync
from tests.factories import MeterFactory, residential_tiered_tariff

D = Decimal
_usernames = itertools.count(1)
_bill_numbers = itertools.count(1)
_payment_keys = itertools.count(1)


def monthly_readings(account, consumption_by_period: dict[datetime.date, str], *, meter: Meter | None = None) -> Meter:
    """One reading per month on the 25th, with the given consumption and a running total to match."""
    meter = meter or MeterFactory(service_point__account=account)
    total = D("1000.00")
    for period in sorted(consumption_by_period):
        consumption = D(consumption_by_period[period])
        total += consumption
        MeterReading.objects.create(
            meter=meter, account=account, read_on=period.replace(day=25), period=period, total=total,
            consumption=consumption,
        )
    return meter


def quality_user(role: str = ROLE_AUDITOR, *, username: str | None = None):
    """A staff user in the auditor's (稽查员) or supervisor's (班长) group."""
    roles_sync()
    user = get_user_model().objects.create_user(
        username=username or f"quality{next(_usernames)}", password="x", is_staff=True,
        last_name="李", first_name="稽查",
    )
    user.groups.add(role_group(code=role))
    return user


def supervisor(username: str | None = None):
    return quality_user(ROLE_SUPERVISOR, username=username)


def bill_record(*, account, period: datetime.date, total: str, paid: str = "0.00", due_date: datetime.date,
                kind: str = Bill.Kind.REGULAR, state: str | None = None, adjusted: str = "0.00") -> Bill:
    """A bill written directly with the amounts a collection report reads (no ledger: reports read bills)."""
    tariff = residential_tiered_tariff()
    total, paid = D(total), D(paid)
    if state is None:
        state = Bill.State.PAID if paid >= total else (Bill.State.PARTLY_PAID if paid else Bill.State.ISSUED)
    return Bill.objects.create(
        number=f"Q{next(_bill_numbers):08d}", account=account, period=period, kind=kind,
        tariff_version=tariff.versions.order_by("effective_from").first(), issued_on=period, due_date=due_date,
        kwh=D("100.00"), total=total, amount_paid=paid, amount_adjusted=D(adjusted), state=state,
    )


def payment_record(*, account, amount: str, channel: str, received_at: datetime.datetime,
                   status: str = Payment.Status.POSTED) -> Payment:
    return Payment.objects.create(
        account=account, amount=D(amount), channel=channel, idempotency_key=f"q-{next(_payment_keys)}",
        received_at=received_at, status=status,
    )
