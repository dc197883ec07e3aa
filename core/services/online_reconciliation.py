"""The daily reconciliation run (the task core.stripe_reconcile and the command stripe_reconcile): compare a day at
the provider with our online payments and the ledger (core.services.online_payments.online_payments_reconcile),
keep the result as JSON under VAR_DIR/reconciliation/ as before, and store it in the database for the staff pages,
a re-run of the day replacing what that day had.

Each difference is stored with both sides' reference and amount, taken from the charges the provider showed the
comparison (the gateway is wrapped to remember them) and from our records, not parsed from its text, which is
kept as the note.
"""
from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from core.models import OnlinePayment, OnlineReconciliation, OnlineReconciliationDifference
from core.models.online_reconciliation import OnlineReconciliationDifferenceKind as Kind
from core.selectors.payments import payments_reversed
from core.services.online_payments import (
    PROVIDER,
    Charge,
    Difference,
    Intent,
    PaymentGateway,
    Reconciliation,
    minor_to_money,
    online_payments_reconcile,
    online_payments_reconciliation_save,
)

_NOTE_LENGTH = OnlineReconciliationDifference._meta.get_field("note").max_length
_REFERENCE_LENGTH = OnlineReconciliationDifference._meta.get_field("provider_reference").max_length


class _ChargesSeen:
    """The gateway handed to the comparison, remembering every charge it was shown (read-only calls pass through)."""

    def __init__(self, gateway: PaymentGateway):
        self._gateway = gateway
        self.charges: dict[str, Charge] = {}

    def charges_created_between(self, *, start: int, end: int) -> list[Charge]:
        charges = self._gateway.charges_created_between(start=start, end=end)
        self.charges.update((charge.id, charge) for charge in charges)
        return charges

    def charge_get(self, *, charge_id: str) -> Charge:
        charge = self._gateway.charge_get(charge_id=charge_id)
        self.charges[charge.id] = charge
        return charge

    def refunds_created_between(self, *, start: int, end: int):
        return self._gateway.refunds_created_between(start=start, end=end)

    def intent_get(self, *, intent_id: str) -> Intent:
        return self._gateway.intent_get(intent_id=intent_id)


@dataclass(frozen=True)
class ReconciliationRun:
    result: Reconciliation
    stored: OnlineReconciliation
    path: Path


def online_reconciliation_run(
    *, day: datetime.date, gateway: PaymentGateway, directory: Path, progress: Callable[[int, int], None] | None = None
) -> ReconciliationRun:
    """Reconcile one local day, keep it as directory/stripe-<day>.json and store it (replacing the day's earlier run)."""
    seen = _ChargesSeen(gateway)
    result = online_payments_reconcile(day=day, gateway=seen, progress=progress)
    stored = online_reconciliation_store(reconciliation=result, charges=seen.charges.values())
    path = online_payments_reconciliation_save(reconciliation=result, directory=directory)
    return ReconciliationRun(result=result, stored=stored, path=path)


def online_reconciliation_store(
    *, reconciliation: Reconciliation, charges: Iterable[Charge] = (), ran_at: datetime.datetime | None = None
) -> OnlineReconciliation:
    """Store a day's result and its differences, replacing those of an earlier run of that day.

    `charges` are the provider's charges the comparison looked at (for the provider's reference and amount of each
    difference). Locks the day's row (update_or_create) so two runs of one day replace rather than mix.
    """
    charges = list(charges)
    by_id = {charge.id: charge for charge in charges}
    succeeded_by_intent = {
        charge.payment_intent: charge for charge in charges if charge.status == "succeeded" and charge.payment_intent
    }
    ours = {
        payment.provider_reference: payment
        for payment in OnlinePayment.objects.filter(
            provider=PROVIDER, provider_reference__in=[d.reference for d in reconciliation.differences]
        )
    }
    reversed_by_payment = payments_reversed(payment_ids=[p.payment_id for p in ours.values() if p.payment_id])
    with transaction.atomic():
        stored, _created = OnlineReconciliation.objects.update_or_create(
            provider=PROVIDER,
            day=reconciliation.day,
            defaults={
                "ran_at": ran_at or timezone.now(),
                "charges": reconciliation.charges,
                "payments": reconciliation.payments,
                "refunds": reconciliation.refunds,
            },
        )
        stored.differences.all().delete()
        OnlineReconciliationDifference.objects.bulk_create(
            _difference_row(
                stored, difference, by_id=by_id, succeeded_by_intent=succeeded_by_intent, ours=ours,
                reversed_by_payment=reversed_by_payment,
            )
            for difference in reconciliation.differences
        )
    return stored


def _difference_row(
    stored: OnlineReconciliation,
    difference: Difference,
    *,
    by_id: dict[str, Charge],
    succeeded_by_intent: dict[str, Charge],
    ours: dict[str, OnlinePayment],
    reversed_by_payment: dict[int, Decimal],
) -> OnlineReconciliationDifference:
    """Both sides of one difference: the provider's charge (its id, and its amount or amount refunded) and our
    online payment (its reference, and its amount or what the ledger reversed of it)."""
    row = OnlineReconciliationDifference(
        reconciliation=stored, kind=difference.kind, note=difference.detail[:_NOTE_LENGTH]
    )
    if difference.kind == Kind.UNKNOWN_CHARGE:
        # The reference is the provider's charge: we have nothing for it.
        charge = by_id.get(difference.reference)
        row.provider_reference = difference.reference[:_REFERENCE_LENGTH]
        row.provider_amount = minor_to_money(charge.amount) if charge else None
        return row
    payment = ours.get(difference.reference)
    charge = succeeded_by_intent.get(difference.reference)
    row.online_payment = payment
    row.our_reference = difference.reference[:_REFERENCE_LENGTH]
    row.provider_reference = charge.id[:_REFERENCE_LENGTH] if charge else ""
    if difference.kind == Kind.REFUND_MISMATCH:
        row.provider_amount = minor_to_money(charge.amount_refunded) if charge else None
        row.our_amount = reversed_by_payment.get(payment.payment_id) if payment and payment.payment_id else None
        return row
    row.provider_amount = minor_to_money(charge.amount) if charge else None
    # Not credited: the ledger has nothing of it (the note gives the payment's amount and state).
    row.our_amount = payment.amount if payment and difference.kind != Kind.NOT_CREDITED else None
    return row
