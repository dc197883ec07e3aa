"""Typed, translated refusals of the notifications app (core.errors.DomainError subclasses)."""
from core.errors import DomainError


class NotificationError(DomainError):
    code = "notification_error"


class TemplateMissing(NotificationError):
    code = "notification_template_missing"


class TemplateRenderError(NotificationError):
    code = "notification_template_render_error"


class NotificationConflict(NotificationError):
    code = "notification_conflict"


class MessageNotResendable(NotificationError):
    code = "message_not_resendable"
