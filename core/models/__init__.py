"""Core records, one model each, plain names (see ../shared/DOMAIN.md)."""
from .audit import PersonalDataAccess
from .billing import Bill, BillingRun, BillLine, CollectionPolicy
from .calls import (
    AgentPresence,
    AgentState,
    AgentStateChange,
    Call,
    CallLeg,
    CallOutcome,
    CallState,
    CallTicket,
    CallTicketRelation,
    CallTransport,
    IdentifiedBy,
    RestorationCallback,
)
from .customers import Account, Customer
from .grid import Feeder, Meter, ServicePoint, Substation, TransformerArea
from .ledger import LateFee, LedgerEntry, Payment, PaymentAllocation
from .org import Branch, Company, Post, ServiceStation, StaffAssignment
from .online_payments import (
    OnlinePayment,
    OnlinePaymentPurpose,
    OnlinePaymentState,
    OnlineRefund,
    ProviderEvent,
)
from .outages import Outage, OutageArea, OutageKind, OutageState
from .portal_access import AccountBinding, BindingAttempt, BindingCode, BindingMethod, TrackingAttempt
from .readings import MeterReading
from .tariffs import PowerFactorBand, Tariff, TariffPeriodPrice, TariffTier, TariffVersion, TimeBand
from .tickets import (
    BusinessType,
    Channel,
    ComplaintClass,
    Evaluation,
    LimitKind,
    ProcessDefinition,
    StepDefinition,
    StepPriority,
    Ticket,
    TicketDaySequence,
    TicketEvent,
    TicketReporter,
    TicketStep,
    TransitionDefinition,
    WarningThreshold,
    WorkCalendarDay,
)

__all__ = [
    "TrackingAttempt",
    "PersonalDataAccess",
    "AgentPresence",
    "AgentState",
    "AgentStateChange",
    "Call",
    "CallLeg",
    "CallOutcome",
    "CallState",
    "CallTicket",
    "CallTicketRelation",
    "CallTransport",
    "IdentifiedBy",
    "RestorationCallback",
    "TicketReporter",
    "BindingMethod",
    "BindingCode",
    "BindingAttempt",
    "AccountBinding",
    "ProviderEvent",
    "OnlineRefund",
    "OnlinePaymentState",
    "OnlinePaymentPurpose",
    "OnlinePayment",
    "Account",
    "Bill",
    "BillLine",
    "BillingRun",
    "Branch",
    "BusinessType",
    "Channel",
    "CollectionPolicy",
    "Company",
    "ComplaintClass",
    "Customer",
    "Evaluation",
    "Feeder",
    "LateFee",
    "LedgerEntry",
    "LimitKind",
    "Meter",
    "MeterReading",
    "Outage",
    "OutageArea",
    "OutageKind",
    "OutageState",
    "Payment",
    "PaymentAllocation",
    "Post",
    "PowerFactorBand",
    "ProcessDefinition",
    "ServicePoint",
    "ServiceStation",
    "StaffAssignment",
    "StepDefinition",
    "StepPriority",
    "Substation",
    "Tariff",
    "TariffPeriodPrice",
    "TariffTier",
    "TariffVersion",
    "Ticket",
    "TicketDaySequence",
    "TicketEvent",
    "TicketStep",
    "TimeBand",
    "TransformerArea",
    "TransitionDefinition",
    "WarningThreshold",
    "WorkCalendarDay",
]
from .audit_flags import AuditFlag, AuditRule
from .banks import Bank, BankBatch, BankBatchLine, BankFileEncoding, BankFileStyle, WithholdingAgreement
from .counter import CounterCashier, CounterMethod, CounterOutlet, CounterReceipt, CounterSettlement, DepositAccount
from .report_summaries import BillingSummary, CustomerSummary, FaultReportSummary, OutageSummary, ReportRefresh, TicketSummary, TierSummary
from .meter_events import MeterEvent, OutageDetectionRule
from .topology_imports import TopologyImport
from .online_reconciliation import (
    OnlineReconciliation,
    OnlineReconciliationDifference,
    OnlineReconciliationDifferenceKind,
)
