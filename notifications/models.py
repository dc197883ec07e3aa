"""Notifications: templates per event and language, one Message row per channel, the portal inbox,
customer preferences and SMS opt-outs (STOP/TD)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Event(models.TextChoices):
    LOGIN_CODE = "login_code", _("短信登录验证码")
    TICKET_ACCEPTED = "ticket_accepted", _("工单已受理")
    TICKET_STEP_PROGRESS = "ticket_step_progress", _("工单进度")
    TICKET_COMPLETED = "ticket_completed", _("工单已办结")
    TICKET_SATISFACTION_REQUEST = "ticket_satisfaction_request", _("满意度回访")
    TICKET_ARRIVAL = "ticket_arrival", _("工单到达岗位")
    TICKET_WARNING = "ticket_warning", _("工单即将超时")
    TICKET_OVERDUE = "ticket_overdue", _("工单已超时")
    BILL_ISSUED = "bill_issued", _("电费账单已出")
    PAYMENT_RECEIVED = "payment_received", _("缴费到账")
    ARREARS_REMINDER_BEFORE = "arrears_reminder_before", _("电费到期提醒")
    ARREARS_REMINDER_AFTER = "arrears_reminder_after", _("欠费催缴")
    OUTAGE_PLANNED = "outage_planned", _("计划停电通知")
    OUTAGE_RESTORED = "outage_restored", _("恢复送电通知")
    OUTAGE_CANCELLED = "outage_cancelled", _("停电取消通知")
    BINDING_CODE = "binding_code", _("绑定户号验证码")
    TIER_THRESHOLD_NEAR = "tier_threshold_near", _("阶梯电量提醒")
    PREPAID_BALANCE_LOW = "prepaid_balance_low", _("预付费余额不足提醒")
    SURVEY_INVITATION = "survey_invitation", _("问卷调查邀请")
    PAYMENT_LINK = "payment_link", _("缴费链接")
    AGENT_MESSAGE = "agent_message", _("坐席短信")


# Sent whatever the customer's SMS opt-out says: a login code the customer asked for, and outage notices
# the supply rules require, and what a caller asked for on the phone (a payment link, an agent's message).
ESSENTIAL_EVENTS = frozenset(
    {
        Event.LOGIN_CODE, Event.BINDING_CODE, Event.OUTAGE_PLANNED, Event.OUTAGE_RESTORED, Event.OUTAGE_CANCELLED,
        Event.PAYMENT_LINK, Event.AGENT_MESSAGE,
    }
)


class Channel(models.TextChoices):
    SMS = "sms", _("短信")
    EMAIL = "email", _("电子邮件")
    INBOX = "inbox", _("站内信")
    STAFF = "staff", _("员工实时提醒")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("普通")
    URGENT = "urgent", _("紧急")


class MessageTemplate(models.Model):
    """The text of one event on one channel in one language, edited by staff in the admin."""

    event = models.CharField(_("事件"), max_length=40, choices=Event.choices)
    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices)
    language = models.CharField(_("语言"), max_length=8, choices=settings.LANGUAGES)
    subject = models.CharField(_("标题"), max_length=200, blank=True)
    body = models.TextField(_("正文"), help_text=_("Django 模板语法，例如 {{ account_number }}"))
    sample_data = models.JSONField(_("预览示例数据"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("消息模板")
        verbose_name_plural = _("消息模板")
        ordering = ["event", "channel", "language"]
        constraints = [
            models.UniqueConstraint(fields=["event", "channel", "language"], name="message_template_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} / {self.get_channel_display()} / {self.language}"


class Message(models.Model):
    """One notification on one channel to one recipient; its state moves only through notifications.services."""

    class State(models.TextChoices):
        PENDING = "pending", _("待发送")
        HELD = "held", _("免打扰暂缓")
        SENDING = "sending", _("发送中")
        SENT = "sent", _("已发送")
        DELIVERED = "delivered", _("已送达")
        FAILED = "failed", _("发送失败")
        DEAD = "dead", _("重试耗尽")

    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices)
    event = models.CharField(_("事件"), max_length=40, choices=Event.choices)
    urgency = models.CharField(_("紧急程度"), max_length=8, choices=Urgency.choices, default=Urgency.NORMAL)
    recipient_customer = models.ForeignKey(
        "core.Customer", on_delete=models.CASCADE, null=True, blank=True, related_name="messages",
        verbose_name=_("客户"),
    )
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="messages",
        verbose_name=_("员工"),
    )
    # The electricity account a customer's message is about (a bill, an alert, a ticket), if one: the portal shows it
    # only to users who have bound that account; without one it is the customer's, shown to every binder.
    account = models.ForeignKey(
        "core.Account", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("户号"),
    )
    to = models.CharField(_("接收地址"), max_length=254, db_index=True)
    language = models.CharField(_("语言"), max_length=8)
    subject = models.CharField(_("标题"), max_length=200, blank=True)
    body = models.TextField(_("正文"))
    sms_segments = models.PositiveSmallIntegerField(_("短信条数"), default=0)
    idempotency_key = models.CharField(_("幂等键"), max_length=120)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.CharField(_("最近错误"), max_length=500, blank=True)
    # Pending: when the beat re-queues it if no worker took it; held: when quiet hours end; sending: lease expiry.
    next_attempt_at = models.DateTimeField(_("下次尝试时间"), null=True, blank=True)
    provider = models.CharField(_("通道提供方"), max_length=16, blank=True)
    provider_sid = models.CharField(_("通道消息编号"), max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("消息")
        verbose_name_plural = _("消息")
        ordering = ["-id"]
        permissions = [("resend_message", _("可以重发失败的消息"))]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key", "channel"], name="message_idempotency_per_channel"),
            # A caller who is nobody's login and no customer on file (a payment link asked for on the phone) is
            # reached by SMS at the number they gave.
            models.CheckConstraint(
                condition=models.Q(recipient_customer__isnull=False)
                | models.Q(recipient_user__isnull=False)
                | (models.Q(channel="sms") & ~models.Q(to="")),
                name="message_has_recipient",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="message_due_idx"),
            models.Index(fields=["channel", "to", "sent_at"], name="message_rate_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.to} {self.get_event_display()}"


class InboxMessage(models.Model):
    """A message in the customer's portal inbox (站内信)."""

    customer = models.ForeignKey(
        "core.Customer", on_delete=models.CASCADE, related_name="inbox_messages", verbose_name=_("客户")
    )
    message = models.OneToOneField(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbox_message",
        verbose_name=_("来源消息"),
    )
    account = models.ForeignKey(
        "core.Account", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("户号"),
    )
    subject = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("正文"))
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("站内信")
        verbose_name_plural = _("站内信")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "read_at"], name="inbox_customer_unread_idx")]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class PreferenceKind(models.TextChoices):
    SMS = "sms", _("短信通知")
    EMAIL = "email", _("邮件通知")
    INBOX = "inbox", _("站内信")
    PAPERLESS_BILLS = "paperless_bills", _("电子账单（不寄纸质账单）")


# What a customer gets when they never set a preference.
PREFERENCE_DEFAULTS = {
    PreferenceKind.SMS: True,
    PreferenceKind.EMAIL: True,
    PreferenceKind.INBOX: True,
    PreferenceKind.PAPERLESS_BILLS: False,
}

# The kinds that are delivery channels, so may be switched per topic (paperless bills is one choice).
CHANNEL_KINDS = (PreferenceKind.SMS, PreferenceKind.EMAIL, PreferenceKind.INBOX)


class NotificationTopic(models.TextChoices):
    """What a notification is about: a customer may keep a channel but not for every topic."""

    BILLS = "bills", _("账单与欠费提醒")
    PAYMENTS = "payments", _("缴费到账")
    TICKETS = "tickets", _("工单进度")
    OUTAGES = "outages", _("停电通知")
    SURVEYS = "surveys", _("问卷调查")


# The topic of every event; "" for the ones no topic switch can stop (codes the customer asked for, staff alerts).
# Outage notices still go by SMS and inbox whatever the switches (ESSENTIAL_EVENTS); their e-mail follows them.
EVENT_TOPICS: dict[str, str] = {
    Event.LOGIN_CODE: "",
    Event.BINDING_CODE: "",
    Event.TICKET_ARRIVAL: "",
    Event.TICKET_WARNING: "",
    Event.TICKET_OVERDUE: "",
    Event.BILL_ISSUED: NotificationTopic.BILLS,
    Event.ARREARS_REMINDER_BEFORE: NotificationTopic.BILLS,
    Event.ARREARS_REMINDER_AFTER: NotificationTopic.BILLS,
    Event.TIER_THRESHOLD_NEAR: NotificationTopic.BILLS,
    Event.PREPAID_BALANCE_LOW: NotificationTopic.BILLS,
    Event.PAYMENT_RECEIVED: NotificationTopic.PAYMENTS,
    Event.TICKET_ACCEPTED: NotificationTopic.TICKETS,
    Event.TICKET_STEP_PROGRESS: NotificationTopic.TICKETS,
    Event.TICKET_COMPLETED: NotificationTopic.TICKETS,
    Event.TICKET_SATISFACTION_REQUEST: NotificationTopic.TICKETS,
    Event.OUTAGE_PLANNED: NotificationTopic.OUTAGES,
    Event.OUTAGE_RESTORED: NotificationTopic.OUTAGES,
    Event.OUTAGE_CANCELLED: NotificationTopic.OUTAGES,
    Event.SURVEY_INVITATION: NotificationTopic.SURVEYS,
    Event.PAYMENT_LINK: "",
    Event.AGENT_MESSAGE: "",
}


class NotificationPreference(models.Model):
    """A customer's choice for one kind of notification, as a whole (topic "") or for one topic of a channel;
    absent rows mean PREFERENCE_DEFAULTS for a whole kind and on for a topic."""

    customer = models.ForeignKey(
        "core.Customer", on_delete=models.CASCADE, related_name="notification_preferences", verbose_name=_("客户")
    )
    kind = models.CharField(_("类型"), max_length=16, choices=PreferenceKind.choices)
    topic = models.CharField(
        _("消息类别"), max_length=10, choices=NotificationTopic.choices, blank=True, default="",
        help_text=_("留空表示整个渠道"),
    )
    enabled = models.BooleanField(_("开启"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("通知偏好")
        verbose_name_plural = _("通知偏好")
        constraints = [
            models.UniqueConstraint(fields=["customer", "kind", "topic"], name="preference_customer_kind_topic")
        ]

    def __str__(self) -> str:
        suffix = f"/{self.topic}" if self.topic else ""
        return f"{self.customer_id} {self.kind}{suffix}={self.enabled}"


class SmsOptOut(models.Model):
    """A phone that replied STOP/TD/退订: no non-essential SMS until it replies START."""

    phone = models.CharField(_("手机号码"), max_length=20, unique=True)
    keyword = models.CharField(_("退订指令"), max_length=20)
    created_at = models.DateTimeField(_("退订时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("短信退订")
        verbose_name_plural = _("短信退订")

    def __str__(self) -> str:
        return self.phone
