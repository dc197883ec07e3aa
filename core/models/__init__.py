"""Core records, one model each, plain names (see ../shared/DOMAIN.md)."""
from .billing import Bill, BillingRun, BillLine, CollectionPolicy
from .customers import Account, Customer
from .grid import Feeder, Meter, ServicePoint, Substation, TransformerArea
from .ledger import LateFee, LedgerEntry, Payment, PaymentAllocation
from .org import Branch, Company, Post, ServiceStation, StaffAssignment
from .readings import MeterReading
from .tariffs import PowerFactorBand, Tariff, TariffPeriodPrice, TariffTier, TariffVersion, TimeBand

__all__ = [
    "Account",
    "Bill",
    "BillLine",
    "BillingRun",
    "Branch",
    "CollectionPolicy",
    "Company",
    "Customer",
    "Feeder",
    "LateFee",
    "LedgerEntry",
    "Meter",
    "MeterReading",
    "Payment",
    "PaymentAllocation",
    "Post",
    "PowerFactorBand",
    "ServicePoint",
    "ServiceStation",
    "StaffAssignment",
    "Substation",
    "Tariff",
    "TariffPeriodPrice",
    "TariffTier",
    "TariffVersion",
    "TimeBand",
    "TransformerArea",
]
