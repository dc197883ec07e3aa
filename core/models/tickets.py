"""Electronic work tickets (电子传票): process definitions held as data, tickets, their steps, the immutable
event log, evaluations (考核), the working-day calendar and the operators' warning thresholds.

Nothing here moves a ticket: every change goes through core.services.tickets, which locks the ticket row,
validates, writes an event and emits core.signals.ticket_changed after commit. `state` fields are never
assigned outside those services.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.storage import private_storage

from .customers import Account, Customer
from .grid import TransformerArea
from .org import Branch, Post


class BusinessType(models.TextChoices):
    LV_RESIDENTIAL_CONNECTION = "lv_residential_connection", _("低压居民新装")
    LV_NON_RESIDENTIAL_CONNECTION = "lv_non_residential_connection", _("低压非居民新装")
    HV_CONNECTION = "hv_connection", _("高压新装")
    CAPACITY_INCREASE = "capacity_increase", _("增容")
    CAPACITY_REDUCTION = "capacity_reduction", _("减容")
    SUSPENSION = "suspension", _("暂停")
    RESUMPTION = "resumption", _("暂停恢复")
    NAME_CHANGE = "name_change", _("更名")
    TRANSFER = "transfer", _("过户")
    TARIFF_CLASS_CHANGE = "tariff_class_change", _("改类")
    ACCOUNT_CLOSURE = "account_closure", _("销户")
    FAULT_REPAIR = "fault_repair", _("故障报修")
    COMPLAINT = "complaint", _("投诉")
    REPORT = "report", _("举报")
    OPINION = "opinion", _("意见")
    SUGGESTION = "suggestion", _("建议")
    PRAISE = "praise", _("表扬")
    SERVICE_APPLICATION = "service_application", _("服务申请")
    CONSULTATION = "consultation", _("咨询升级")
    METER_ACCURACY_CHECK = "meter_accuracy_check", _("计量异常")
    ARREARS_DISCONNECTION = "arrears_disconnection", _("欠费停电")
    RECONNECTION = "reconnection", _("欠费复电")


class Channel(models.TextChoices):
    PORTAL = "portal", _("网站")
    IVR = "ivr", _("语音自助")
    AGENT = "agent", _("95598坐席")
    COUNTER = "counter", _("营业厅")
    API = "api", _("系统接口")
    SYSTEM = "system", _("系统生成")


class ComplaintClass(models.TextChoices):
    SERVICE = "service", _("服务类")
    BUSINESS_PROCESS = "business_process", _("业务办理类")
    POWER_QUALITY = "power_quality", _("供电质量类")
    TARIFF_BILLING = "tariff_billing", _("电价电费类")
    OTHER = "other", _("其他")


class ProcessDefinition(models.Model):
    """One version of a business type's process. A running ticket keeps the version it started with;
    editing a process means adding a version and activating it."""

    business_type = models.CharField(_("业务类型"), max_length=40, choices=BusinessType.choices)
    version = models.PositiveIntegerField(_("版本"), default=1)
    name = models.CharField(_("名称"), max_length=60)
    active = models.BooleanField(_("启用"), default=False)
    # The service commitment for the whole ticket (e.g. 5 working days for low-voltage residential connection).
    commitment_kind = models.CharField(
        _("承诺时限类型"), max_length=20, choices=[("working_days", _("工作日")), ("calendar_minutes", _("日历分钟"))],
        blank=True,
    )
    commitment_value = models.PositiveIntegerField(_("承诺时限"), null=True, blank=True)
    allows_anonymous = models.BooleanField(_("允许匿名"), default=False)
    requires_account = models.BooleanField(_("需要户号"), default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        ordering = ["business_type", "-version"]
        verbose_name = _("流程定义")
        verbose_name_plural = _("流程定义")
        constraints = [
            models.UniqueConstraint(fields=["business_type", "version"], name="process_definition_version_unique"),
            models.UniqueConstraint(
                fields=["business_type"], condition=Q(active=True), name="process_definition_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class LimitKind(models.TextChoices):
    WORKING_DAYS = "working_days", _("工作日")
    CALENDAR_MINUTES = "calendar_minutes", _("日历分钟（7×24）")


class StepPriority(models.IntegerChoices):
    """Only LOW steps may be skipped when a ticket is overdue."""

    LOW = 1, _("低（超时可跳过）")
    NORMAL = 2, _("普通")
    ESSENTIAL = 3, _("关键（不可跳过）")


class StepDefinition(models.Model):
    """A step of a process: the post that does it, its time limit, what it must fill in and what is checked.

    `fields` is a list of {"name", "label", "label_en", "type", "required", "choices", "min", "max"} where
    type is one of text, textarea, integer, decimal, date, datetime, choice, boolean. `checks` names rules
    from core.workflows.checks (horizontal: fields against each other; vertical: against master data and
    history). `limit_by_area` optionally overrides limit_value by the branch's area kind (city/rural/remote).
    """

    definition = models.ForeignKey(
        ProcessDefinition, on_delete=models.CASCADE, related_name="steps", verbose_name=_("流程定义")
    )
    code = models.SlugField(_("编码"), max_length=40)
    name = models.CharField(_("名称"), max_length=60)
    name_en = models.CharField(_("英文名称"), max_length=80, blank=True)
    customer_text = models.CharField(_("客户可见进度说明"), max_length=120, blank=True)
    customer_text_en = models.CharField(_("客户可见进度说明（英文）"), max_length=160, blank=True)
    order = models.PositiveSmallIntegerField(_("顺序"))
    post = models.ForeignKey(
        Post, on_delete=models.PROTECT, related_name="step_definitions", verbose_name=_("岗位"), null=True, blank=True
    )
    limit_kind = models.CharField(_("时限类型"), max_length=20, choices=LimitKind.choices, default=LimitKind.WORKING_DAYS)
    limit_value = models.PositiveIntegerField(_("时限"), default=1)
    limit_by_area = models.JSONField(_("按区域时限"), default=dict, blank=True)
    priority = models.PositiveSmallIntegerField(_("优先级"), choices=StepPriority.choices, default=StepPriority.NORMAL)
    auto_skip_when_overdue = models.BooleanField(_("超时自动跳过"), default=False)
    fields = models.JSONField(_("填写项"), default=list, blank=True)
    checks = models.JSONField(_("校验规则"), default=list, blank=True)

    class Meta:
        ordering = ["definition", "order"]
        verbose_name = _("流程环节")
        verbose_name_plural = _("流程环节")
        constraints = [
            models.UniqueConstraint(fields=["definition", "code"], name="step_definition_code_unique"),
            models.UniqueConstraint(fields=["definition", "order"], name="step_definition_order_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class TransitionDefinition(models.Model):
    """Where a submitted step goes: forward (first matching condition in `order` wins; no target ends the
    process) or back to an earlier step (a return). `condition` is {"field", "op", "value"} over the
    submitted data, op one of eq, ne, in, gt, gte, lt, lte, truthy; empty means always."""

    class Kind(models.TextChoices):
        FORWARD = "forward", _("前进")
        RETURN = "return", _("退回")

    definition = models.ForeignKey(
        ProcessDefinition, on_delete=models.CASCADE, related_name="transitions", verbose_name=_("流程定义")
    )
    from_step = models.ForeignKey(
        StepDefinition, on_delete=models.CASCADE, related_name="outgoing", verbose_name=_("起始环节")
    )
    to_step = models.ForeignKey(
        StepDefinition,
        on_delete=models.CASCADE,
        related_name="incoming",
        verbose_name=_("目标环节"),
        null=True,
        blank=True,
    )
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices, default=Kind.FORWARD)
    condition = models.JSONField(_("条件"), default=dict, blank=True)
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)
    label = models.CharField(_("说明"), max_length=60, blank=True)

    class Meta:
        ordering = ["from_step__order", "order", "id"]
        verbose_name = _("环节流转")
        verbose_name_plural = _("环节流转")

    def __str__(self) -> str:
        target = self.to_step.name if self.to_step_id else _("结束")
        return f"{self.from_step.name} → {target}"


class Ticket(models.Model):
    """One customer request (电子传票), from any channel, pinned to the process version it started with."""

    class State(models.TextChoices):
        OPEN = "open", _("处理中")
        SUSPENDED = "suspended", _("已挂起")
        CLOSED = "closed", _("已办结")
        CANCELLED = "cancelled", _("已撤销")

    number = models.CharField(_("工单号"), max_length=16, unique=True)
    definition = models.ForeignKey(
        ProcessDefinition, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("流程定义")
    )
    business_type = models.CharField(_("业务类型"), max_length=40, choices=BusinessType.choices)
    channel = models.CharField(_("受理渠道"), max_length=10, choices=Channel.choices)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.OPEN)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("县公司"))
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("客户"), null=True, blank=True
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("户号"), null=True, blank=True
    )
    transformer_area = models.ForeignKey(
        TransformerArea, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("台区"),
        null=True, blank=True,
    )
    # A fault report recorded against a known outage instead of dispatching a crew (the outage explains it).
    outage = models.ForeignKey(
        "core.Outage", on_delete=models.PROTECT, related_name="tickets", verbose_name=_("关联停电"),
        null=True, blank=True,
    )
    anonymous = models.BooleanField(_("匿名"), default=False)
    contact_name = models.CharField(_("联系人"), max_length=60, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    summary = models.CharField(_("诉求摘要"), max_length=200)
    description = models.TextField(_("诉求内容"), blank=True)
    complaint_class = models.CharField(
        _("投诉分类"), max_length=20, choices=ComplaintClass.choices, blank=True
    )
    appealed_to_regulator = models.BooleanField(_("已向12398申诉"), default=False)
    data = models.JSONField(_("业务数据"), default=dict, blank=True)
    current_step = models.ForeignKey(
        "TicketStep", on_delete=models.SET_NULL, related_name="+", verbose_name=_("当前环节"), null=True, blank=True
    )
    opened_at = models.DateTimeField(_("受理时间"))
    due_at = models.DateTimeField(_("承诺办结时间"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("挂起时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("满意度"), null=True, blank=True)
    satisfaction_comment = models.CharField(_("评价意见"), max_length=300, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+", verbose_name=_("受理人"),
        null=True, blank=True,
    )
    idempotency_key = models.CharField(_("幂等键"), max_length=120, null=True, blank=True, unique=True)
    version = models.PositiveIntegerField(_("版本号"), default=0)

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("工单")
        verbose_name_plural = _("工单")
        indexes = [
            models.Index(fields=["state", "branch", "business_type"], name="ticket_state_branch_type"),
            models.Index(fields=["customer", "opened_at"], name="ticket_customer_opened"),
            models.Index(fields=["account", "opened_at"], name="ticket_account_opened"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="ticket_satisfaction_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class TicketStep(models.Model):
    """One visit of a ticket to a step: who holds it, when it arrived and falls due, and what was submitted.
    A return to an earlier step creates a new TicketStep; the old ones stay as history."""

    class State(models.TextChoices):
        ACTIVE = "active", _("处理中")
        # The ticket is suspended while the customer is the cause: the step's clock stops, the SLA scan skips it.
        SUSPENDED = "suspended", _("已挂起")
        COMPLETED = "completed", _("已完成")
        SKIPPED = "skipped", _("已跳过")
        RETURNED = "returned", _("已退回")
        CANCELLED = "cancelled", _("已撤销")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="steps", verbose_name=_("工单"))
    step_definition = models.ForeignKey(
        StepDefinition, on_delete=models.PROTECT, related_name="ticket_steps", verbose_name=_("环节")
    )
    sequence = models.PositiveSmallIntegerField(_("序号"))
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.ACTIVE)
    post = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="ticket_steps", verbose_name=_("岗位"))
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="ticket_steps", verbose_name=_("县公司"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ticket_steps", verbose_name=_("处理人"),
        null=True, blank=True,
    )
    arrived_at = models.DateTimeField(_("到达时间"))
    due_at = models.DateTimeField(_("到期时间"))
    warn_at = models.DateTimeField(_("预警时间"))
    warned_at = models.DateTimeField(_("已预警时间"), null=True, blank=True)
    overdue_at = models.DateTimeField(_("标记超时时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    finished_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+", verbose_name=_("完成人"),
        null=True, blank=True,
    )
    data = models.JSONField(_("提交内容"), default=dict, blank=True)
    note = models.TextField(_("内部备注"), blank=True)

    class Meta:
        ordering = ["ticket", "sequence"]
        verbose_name = _("工单环节")
        verbose_name_plural = _("工单环节")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "sequence"], name="ticket_step_sequence_unique"),
            # At most one current step per ticket: a concurrent double submission cannot fork a ticket.
            models.UniqueConstraint(
                fields=["ticket"], condition=Q(state__in=["active", "suspended"]), name="ticket_one_current_step"
            ),
        ]
        indexes = [
            # The SLA scan reads only the rows still to be warned or marked, through these partial indexes.
            models.Index(fields=["warn_at"], condition=Q(state="active", warned_at__isnull=True),
                         name="ticket_step_to_warn"),
            models.Index(fields=["due_at"], condition=Q(state="active", overdue_at__isnull=True),
                         name="ticket_step_to_mark_overdue"),
            models.Index(fields=["post", "branch", "state", "due_at"], name="ticket_step_pool"),
            models.Index(fields=["assignee", "state", "due_at"], name="ticket_step_assignee"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket.number} · {self.step_definition.name}"


class TicketEvent(models.Model):
    """An immutable record of one change to a ticket: who, when, what, and the values before and after.
    `public` events (with `public_text`) make the customer's timeline; the rest are for staff only."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("受理")
        ARRIVED = "arrived", _("到达环节")
        CLAIMED = "claimed", _("领取")
        ASSIGNED = "assigned", _("派工")
        SUBMITTED = "submitted", _("提交")
        RETURNED = "returned", _("退回")
        SUSPENDED = "suspended", _("挂起")
        RESUMED = "resumed", _("恢复")
        SKIPPED = "skipped", _("跳过")
        WARNED = "warned", _("预警")
        OVERDUE = "overdue", _("超时")
        CANCELLED = "cancelled", _("撤销")
        CLOSED = "closed", _("办结")
        RATED = "rated", _("评价")
        NOTE = "note", _("备注")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events", verbose_name=_("工单"))
    step = models.ForeignKey(
        TicketStep, on_delete=models.CASCADE, related_name="events", verbose_name=_("环节"), null=True, blank=True
    )
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作人"),
        null=True, blank=True,
    )
    actor_label = models.CharField(_("操作方"), max_length=60, blank=True)
    at = models.DateTimeField(_("时间"))
    before = models.JSONField(_("变更前"), default=dict, blank=True)
    after = models.JSONField(_("变更后"), default=dict, blank=True)
    note = models.TextField(_("说明"), blank=True)
    public = models.BooleanField(_("客户可见"), default=False)

    class Meta:
        ordering = ["ticket", "at", "id"]
        verbose_name = _("工单事件")
        verbose_name_plural = _("工单事件")
        indexes = [models.Index(fields=["ticket", "at"], name="ticket_event_ticket_at")]

    def __str__(self) -> str:
        return f"{self.ticket.number} · {self.get_kind_display()}"


class Evaluation(models.Model):
    """An evaluation record (考核) against a post and a person, raised when a step was skipped or late."""

    class Reason(models.TextChoices):
        SKIPPED = "skipped", _("超时跳过")
        OVERDUE = "overdue", _("超时办理")

    step = models.ForeignKey(TicketStep, on_delete=models.PROTECT, related_name="evaluations", verbose_name=_("环节"))
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="evaluations", verbose_name=_("工单"))
    post = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="evaluations", verbose_name=_("岗位"))
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="evaluations", verbose_name=_("县公司"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="evaluations", verbose_name=_("责任人"),
        null=True, blank=True,
    )
    reason = models.CharField(_("原因"), max_length=10, choices=Reason.choices)
    minutes_late = models.PositiveIntegerField(_("超时分钟数"), default=0)
    created_at = models.DateTimeField(_("考核时间"))
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("考核记录")
        verbose_name_plural = _("考核记录")
        constraints = [models.UniqueConstraint(fields=["step", "reason"], name="evaluation_once_per_step_reason")]

    def __str__(self) -> str:
        return f"{self.ticket.number} · {self.get_reason_display()}"


class WorkCalendarDay(models.Model):
    """An exception to Monday-Friday: a public holiday on a weekday, or a make-up working day (调休) at a weekend."""

    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("是否工作日"))
    name = models.CharField(_("说明"), max_length=40, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("工作日历")
        verbose_name_plural = _("工作日历")

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class WarningThreshold(models.Model):
    """An operator's own warning threshold: warn this many minutes before due, or when this share of the
    time limit has elapsed, whichever comes first."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="warning_threshold", verbose_name=_("员工")
    )
    minutes_before_due = models.PositiveIntegerField(_("到期前分钟数"), null=True, blank=True)
    percent_elapsed = models.PositiveSmallIntegerField(_("时限已用百分比"), null=True, blank=True)

    class Meta:
        verbose_name = _("预警阈值")
        verbose_name_plural = _("预警阈值")
        constraints = [
            models.CheckConstraint(
                condition=Q(percent_elapsed__isnull=True) | Q(percent_elapsed__gte=1, percent_elapsed__lte=99),
                name="warning_threshold_percent_1_99",
            ),
        ]

    def __str__(self) -> str:
        return str(self.user)


class TicketDaySequence(models.Model):
    """The last ticket sequence number issued on one day; incremented under a row lock."""

    day = models.DateField(_("日期"), unique=True)
    last = models.PositiveIntegerField(_("当日最后序号"), default=0)

    class Meta:
        verbose_name = _("工单日序号")
        verbose_name_plural = _("工单日序号")

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class TicketAttachment(models.Model):
    """A document filed with a ticket (an ID copy, a site photo, a test report), kept with who filed it and when.
    Added only through core.services.tickets.ticket_attachment_add, which checks the type and size."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("工单"))
    step = models.ForeignKey(
        TicketStep, on_delete=models.SET_NULL, related_name="attachments", verbose_name=_("上传时环节"),
        null=True, blank=True,
    )
    file = models.FileField(_("文件"), upload_to="tickets/%Y/%m/", max_length=200, storage=private_storage)
    name = models.CharField(_("文件名"), max_length=200)
    content_type = models.CharField(_("文件类型"), max_length=100)
    size = models.PositiveIntegerField(_("大小（字节）"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人"),
        null=True, blank=True,
    )
    uploaded_at = models.DateTimeField(_("上传时间"))

    class Meta:
        ordering = ["ticket", "uploaded_at", "id"]
        verbose_name = _("工单附件")
        verbose_name_plural = _("工单附件")

    def __str__(self) -> str:
        return f"{self.ticket.number} · {self.name}"


class TicketReporter(models.Model):
    """Someone who reported the same fault: repeated reports from one transformer area within a window join one
    repair ticket, and every reporter is told when power is back."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="reporters", verbose_name=_("工单"))
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("客户")
    )
    account = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("户号")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("用户"),
    )
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    reported_at = models.DateTimeField(_("报修时间"))
    told_restored_at = models.DateTimeField(_("已告知恢复送电"), null=True, blank=True)

    class Meta:
        ordering = ["ticket", "reported_at", "id"]
        verbose_name = _("报修人")
        verbose_name_plural = _("报修人")
        indexes = [models.Index(fields=["ticket", "reported_at"], name="ticket_reporter_by_ticket")]

    def __str__(self) -> str:
        return f"{self.ticket.number} · {self.phone}"
