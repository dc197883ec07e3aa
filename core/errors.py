"""Typed, translated domain errors. Entry points turn them into clear messages, never a 500."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _


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



# --- electronic work tickets (电子传票) ------------------------------------------------------------------------


class TicketError(DomainError):
    """A refused ticket operation; each subclass carries a default message, so `raise StepNotActive()` reads well."""

    code = "ticket_error"
    default_message = _("工单操作未能完成")

    def __init__(self, message=None, *, field: str | None = None):
        super().__init__(message if message is not None else self.default_message, field=field)


class TicketNotFound(TicketError):
    code = "ticket_not_found"
    default_message = _("工单或环节不存在")


class TicketOpenInvalid(TicketError):
    code = "ticket_open_invalid"
    default_message = _("受理信息不完整或有误")


class TicketIdempotencyConflict(TicketError):
    code = "ticket_idempotency_conflict"
    default_message = _("该幂等键已用于另一张工单")


class TicketNumbersExhausted(TicketError):
    code = "ticket_numbers_exhausted"
    default_message = _("当日工单号已用尽")


class TicketValidationError(TicketError):
    """A refused submission; `errors` maps each field name (or "__all__") to its messages."""

    code = "ticket_validation_error"
    default_message = _("提交内容有误，请按提示修改")

    def __init__(self, message=None, *, errors: dict[str, list[str]] | None = None, field: str | None = None):
        super().__init__(message, field=field)
        self.errors = {name: [str(m) for m in messages] for name, messages in (errors or {}).items()}


class StepNotActive(TicketError):
    code = "step_not_active"
    default_message = _("该环节已不在处理中，可能已被他人提交")


class StepAlreadyClaimed(TicketError):
    code = "step_already_claimed"
    default_message = _("该环节已被他人领取")


class TicketNotOpen(TicketError):
    code = "ticket_not_open"
    default_message = _("工单不在处理中")


class TicketNotSuspended(TicketError):
    code = "ticket_not_suspended"
    default_message = _("工单未挂起")


class TicketNotClosed(TicketError):
    code = "ticket_not_closed"
    default_message = _("工单尚未办结，不能评价")


class TicketAlreadyRated(TicketError):
    code = "ticket_already_rated"
    default_message = _("该工单已评价")


class TicketPermissionDenied(TicketError):
    code = "ticket_permission_denied"
    default_message = _("您没有办理该工单环节的权限")


class StepNotSkippable(TicketError):
    code = "step_not_skippable"
    default_message = _("该环节不能跳过")


class ReturnNotAllowed(TicketError):
    code = "return_not_allowed"
    default_message = _("流程不允许退回到该环节")


class ProcessDefinitionMissing(TicketError):
    code = "process_definition_missing"
    default_message = _("该业务类型没有启用的流程定义")


class ProcessDefinitionInvalid(TicketError):
    code = "process_definition_invalid"
    default_message = _("流程定义有误，请联系管理员")


class TicketAttachmentRejected(TicketError):
    """A file refused as a ticket attachment (too large, empty, or not one of the accepted document types)."""

    code = "ticket_attachment_rejected"
    default_message = _("附件未能上传")


class OutageError(DomainError):
    code = "outage_error"


class OutageTimesInvalid(OutageError):
    code = "outage_times_invalid"


class OutageNoticeTooShort(OutageError):
    code = "outage_notice_too_short"


class OutageScopeInvalid(OutageError):
    code = "outage_scope_invalid"


class OutageStateInvalid(OutageError):
    code = "outage_state_invalid"


# --- account binding and guest bill lookup (portal helper "binding") ------------------------------------------


class BindingError(DomainError):
    code = "binding_error"


class BindingRefused(BindingError):
    """The one answer to wrong details, whatever was wrong: it never tells whether the account exists."""

    code = "binding_refused"
    default_message = _("户号、户主姓名或验证信息不匹配，请核对后重试")


class BindingLocked(BindingError):
    """Too many failed tries from this user or address: refused, with the time left, until the lock ends."""

    code = "binding_locked"

    def __init__(self, message, *, until, field: str | None = None):
        super().__init__(message, field=field)
        self.until = until


class BindingAlreadyActive(BindingError):
    code = "binding_already_active"


class BindingSettingsInvalid(BindingError):
    code = "binding_settings_invalid"


class BillLookupRefused(BindingError):
    code = "bill_lookup_refused"


# --- portal requests (applications, fault reports, feedback, tracking) -------------------------------------------


class PortalRequestInvalid(TicketError):
    """A portal application, fault report or feedback refused before any ticket is opened."""

    code = "portal_request_invalid"
    default_message = _("申请信息不完整或有误")


class TrackingLocked(TicketError):
    """Too many failed guest tracking lookups from one address."""

    code = "tracking_locked"
    default_message = _("查询失败次数过多，请稍后再试")


# --- online payments (portal helper "payments") ----------------------------------------------------------------


class OnlinePaymentError(DomainError):
    code = "online_payment_error"


class OnlinePaymentAmountInvalid(OnlinePaymentError):
    code = "online_payment_amount_invalid"


class OnlinePaymentNothingDue(OnlinePaymentError):
    code = "online_payment_nothing_due"


class OnlinePaymentStateInvalid(OnlinePaymentError):
    code = "online_payment_state_invalid"


class OnlinePaymentProviderError(OnlinePaymentError):
    """The provider refused a call or could not be reached; `detail` is its own words, for logs and staff."""

    code = "online_payment_provider_error"

    def __init__(self, message, *, detail: str = "", field: str | None = None):
        super().__init__(message, field=field)
        self.detail = detail


class OnlinePaymentSignatureInvalid(OnlinePaymentProviderError):
    code = "online_payment_signature_invalid"


class OnlineRefundRefused(OnlinePaymentError):
    code = "online_refund_refused"
