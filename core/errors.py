"""Typed, translated domain errors. Entry points turn them into clear messages, never a 500."""
from __future__ import annotations


class DomainError(Exception):
    """Base of every business-rule refusal; its message is user-facing and translated."""

    code = "domain_error"

    def __init__(self, message, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class InvalidAccountNumber(DomainError):
    code = "invalid_account_number"


class InvalidReading(DomainError):
    code = "invalid_reading"


class ReadingBelowPrevious(InvalidReading):
    code = "reading_below_previous"


class ReadingOutOfOrder(InvalidReading):
    code = "reading_out_of_order"


class ReadingConflict(InvalidReading):
    code = "reading_conflict"


class MeterNotActive(InvalidReading):
    code = "meter_not_active"


class TariffNotFound(DomainError):
    code = "tariff_not_found"


class BillingError(DomainError):
    code = "billing_error"


class PeriodOutOfOrder(BillingError):
    code = "period_out_of_order"


class PaymentError(DomainError):
    code = "payment_error"


class IdempotencyConflict(PaymentError):
    code = "idempotency_conflict"


class InvalidPaymentAmount(PaymentError):
    code = "invalid_payment_amount"


class PaymentAlreadyReversed(PaymentError):
    code = "payment_already_reversed"


class LateFeeError(DomainError):
    code = "late_fee_error"


class CollectionPolicyMissing(LateFeeError):
    code = "collection_policy_missing"
