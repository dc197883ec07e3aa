"""The hotline's records: one Call per customer call (an Asterisk Linkedid or a Twilio CallSid), its channel legs,
the agents' presence on the queues, the tickets a call touched, and callers who asked to be told when power is back.

Written only by core.services.calls from facts the call-centre adapters report (core/call_facts.py); read by the
agent console, the wallboard and the call KPIs.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .customers import Account, Customer
from .outages import Outage
from .tickets import Ticket


class CallTransport(models.TextChoices):
    ASTERISK = "asterisk", _("Asterisk")
    TWILIO = "twilio", _("Twilio")


class CallState(models.TextChoices):
    IVR = "ivr", _("自助语音")
    QUEUED = "queued", _("排队中")
    RINGING = "ringing", _("振铃")
    TALKING = "talking", _("通话中")
    ENDED = "ended", _("已结束")


class CallOutcome(models.TextChoices):
    """How the call ended, for the KPIs: answered by an agent, abandoned in the queue, or resolved by the IVR."""

    NONE = "", _("未结束")
    ANSWERED = "answered", _("人工接听")
    ABANDONED = "abandoned", _("排队放弃")
    IVR_RESOLVED = "ivr_resolved", _("自助语音办结")
    STORM_INFORMED = "storm_informed", _("停电告知后挂机")
    IVR_ABANDONED = "ivr_abandoned", _("自助语音中挂机")


class IdentifiedBy(models.TextChoices):
    NONE = "", _("未识别")
    CALLER_ID = "caller_id", _("来电号码")
    IVR_ENTRY = "ivr_entry", _("语音输入户号")
    AGENT = "agent", _("坐席确认")


class Call(models.Model):
    """One call as the caller lived it, from the first ring to the last hang-up, whatever channels it crossed."""

    transport = models.CharField(_("接入方式"), max_length=10, choices=CallTransport.choices)
    # Asterisk's Linkedid, or "twilio:<CallSid>": one row per call whatever order the facts arrive in.
    call_key = models.CharField(_("呼叫标识"), max_length=80, unique=True)
    caller_number = models.CharField(_("主叫号码"), max_length=32, blank=True, db_index=True)
    dialled_number = models.CharField(_("被叫号码"), max_length=32, blank=True)
    state = models.CharField(_("状态"), max_length=10, choices=CallState.choices, default=CallState.IVR)
    outcome = models.CharField(_("结果"), max_length=20, choices=CallOutcome.choices, default="", blank=True)
    language = models.CharField(_("语言"), max_length=10, default="zh-hans")
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls", verbose_name=_("客户")
    )
    account = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls", verbose_name=_("户号")
    )
    identified_by = models.CharField(
        _("识别方式"), max_length=12, choices=IdentifiedBy.choices, default="", blank=True
    )
    # The IVR nodes visited with what was keyed at each: [{"node": "main_menu", "input": "2", "at": iso}, ...].
    ivr_path = models.JSONField(_("语音导航路径"), default=list, blank=True)
    # What the caller told the IVR, carried to the agent: account number, intent, ticket number asked about.
    ivr_data = models.JSONField(_("语音导航所得"), default=dict, blank=True)
    # Storm mode: the outage the caller was told about before the menu.
    outage = models.ForeignKey(
        Outage, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls", verbose_name=_("关联停电")
    )
    storm_informed = models.BooleanField(_("已告知停电"), default=False)
    queue = models.CharField(_("队列"), max_length=40, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls_handled",
        verbose_name=_("坐席"),
    )
    # The queue member that answered (e.g. "Local/1001@agents/n", or a Twilio client name).
    agent_interface = models.CharField(_("坐席分机"), max_length=80, blank=True)
    started_at = models.DateTimeField(_("呼入时间"), db_index=True)
    queued_at = models.DateTimeField(_("进入队列时间"), null=True, blank=True)
    answered_at = models.DateTimeField(_("接听时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("挂机时间"), null=True, blank=True)
    wrap_up_ended_at = models.DateTimeField(_("话后处理结束时间"), null=True, blank=True)
    queue_wait_seconds = models.PositiveIntegerField(_("排队时长(秒)"), null=True, blank=True)
    talk_seconds = models.PositiveIntegerField(_("通话时长(秒)"), null=True, blank=True)
    hangup_cause = models.PositiveSmallIntegerField(_("挂机原因码"), null=True, blank=True)
    hangup_cause_text = models.CharField(_("挂机原因"), max_length=80, blank=True)
    wrap_up_code = models.CharField(_("小结代码"), max_length=40, blank=True)
    wrap_up_note = models.CharField(_("小结备注"), max_length=500, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("呼叫记录")
        verbose_name_plural = _("呼叫记录")
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["state", "queued_at"], name="call_state_queued_idx"),
            models.Index(fields=["agent", "started_at"], name="call_agent_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.call_key} {self.caller_number}"


class CallLeg(models.Model):
    """One channel of a call (the caller's, a Local channel, an agent's), as the PBX named it."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="legs", verbose_name=_("呼叫"))
    unique_id = models.CharField(_("通道标识"), max_length=80, unique=True)
    channel = models.CharField(_("通道"), max_length=120)
    caller_number = models.CharField(_("主叫号码"), max_length=32, blank=True)
    started_at = models.DateTimeField(_("开始时间"))
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    hangup_cause = models.PositiveSmallIntegerField(_("挂机原因码"), null=True, blank=True)
    hangup_cause_text = models.CharField(_("挂机原因"), max_length=80, blank=True)

    class Meta:
        verbose_name = _("通话通道")
        verbose_name_plural = _("通话通道")
        ordering = ["started_at", "id"]


class CallTicketRelation(models.TextChoices):
    OPENED = "opened", _("来电新建")
    ADDED = "added", _("来电补充")
    ASKED = "asked", _("来电查询")


class CallTicket(models.Model):
    """A ticket the call touched: opened from it, added to, or asked about."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="ticket_links", verbose_name=_("呼叫"))
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="call_links", verbose_name=_("工单"))
    relation = models.CharField(_("关系"), max_length=10, choices=CallTicketRelation.choices)
    at = models.DateTimeField(_("时间"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("操作人"),
    )

    class Meta:
        verbose_name = _("呼叫关联工单")
        verbose_name_plural = _("呼叫关联工单")
        constraints = [
            models.UniqueConstraint(fields=["call", "ticket", "relation"], name="call_ticket_once_per_relation"),
        ]


class AgentState(models.TextChoices):
    LOGGED_OUT = "logged_out", _("未签入")
    READY = "ready", _("就绪")
    NOT_READY = "not_ready", _("未就绪")
    ON_CALL = "on_call", _("通话中")
    AFTER_CALL_WORK = "after_call_work", _("话后处理")


class AgentPresence(models.Model):
    """An agent's place on the hotline now: the queue member interface they answer on and their state."""

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_presence", verbose_name=_("坐席")
    )
    # The queue member interface the PBX rings for this agent, e.g. "Local/1001@agents/n" (unique when set).
    interface = models.CharField(_("坐席分机"), max_length=80, blank=True)
    queue = models.CharField(_("队列"), max_length=40, blank=True)
    state = models.CharField(_("状态"), max_length=20, choices=AgentState.choices, default=AgentState.LOGGED_OUT)
    reason = models.CharField(_("未就绪原因"), max_length=80, blank=True)
    since = models.DateTimeField(_("状态开始时间"))
    current_call = models.ForeignKey(
        Call, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("当前呼叫")
    )

    class Meta:
        verbose_name = _("坐席状态")
        verbose_name_plural = _("坐席状态")
        constraints = [
            models.UniqueConstraint(
                fields=["interface"], condition=~Q(interface=""), name="agent_presence_interface_unique"
            ),
        ]


class AgentStateChange(models.Model):
    """Each change of an agent's state, for the wallboard's per-hour figures and occupancy."""

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_state_changes",
        verbose_name=_("坐席"),
    )
    state = models.CharField(_("状态"), max_length=20, choices=AgentState.choices)
    reason = models.CharField(_("原因"), max_length=80, blank=True)
    at = models.DateTimeField(_("时间"), db_index=True)

    class Meta:
        verbose_name = _("坐席状态变更")
        verbose_name_plural = _("坐席状态变更")
        ordering = ["at", "id"]


class RestorationCallback(models.Model):
    """A caller who, told of an outage by the IVR, asked for an SMS when power is back."""

    outage = models.ForeignKey(
        Outage, on_delete=models.CASCADE, related_name="restoration_callbacks", verbose_name=_("停电")
    )
    phone = models.CharField(_("手机号码"), max_length=20)
    account = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("户号")
    )
    call = models.ForeignKey(Call, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    requested_at = models.DateTimeField(_("登记时间"))
    notified_at = models.DateTimeField(_("通知时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("恢复送电短信登记")
        verbose_name_plural = _("恢复送电短信登记")
        constraints = [
            models.UniqueConstraint(fields=["outage", "phone"], name="restoration_callback_once_per_phone"),
        ]
