"""API clients (one per outside system, with a hashed key and scopes), their request log, and the stored answers
that make a repeated write with the same Idempotency-Key return the first answer instead of acting twice."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiClient(models.Model):
    """An outside system allowed in. Only the key's hash is kept; the key is shown once, when it is made."""

    class System(models.TextChoices):
        ACQUISITION = "acquisition", _("用电信息采集系统")
        DISTRIBUTION = "distribution", _("配网信息系统")
        FINANCE = "finance", _("财务系统")
        BANK = "bank", _("银行")
        CALLCENTER = "callcenter", _("呼叫中心")
        OTHER = "other", _("其他")

    name = models.CharField(_("名称"), max_length=100, unique=True)
    system = models.CharField(_("系统"), max_length=20, choices=System.choices)
    key_prefix = models.CharField(_("密钥前缀"), max_length=12, unique=True)
    key_hash = models.CharField(_("密钥摘要"), max_length=64)
    scopes = models.JSONField(_("权限范围"), default=list)
    rate_limit_per_minute = models.PositiveIntegerField(_("每分钟请求上限"), default=600)
    active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)

    class Meta:
        verbose_name = _("接口客户端")
        verbose_name_plural = _("接口客户端")

    def __str__(self) -> str:
        return self.name

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


class ApiRequestLog(models.Model):
    """One API request: who, what, the answer's status and how long it took."""

    client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, null=True, blank=True, related_name="requests", verbose_name=_("客户端")
    )
    method = models.CharField(_("方法"), max_length=8)
    path = models.CharField(_("路径"), max_length=300)
    status = models.PositiveSmallIntegerField(_("状态码"))
    duration_ms = models.PositiveIntegerField(_("耗时(毫秒)"))
    request_id = models.CharField(_("请求编号"), max_length=36)
    idempotency_key = models.CharField(_("幂等键"), max_length=100, blank=True)
    remote_addr = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("接口请求日志")
        verbose_name_plural = _("接口请求日志")
        indexes = [models.Index(fields=["client", "created_at"], name="apilog_client_time_idx")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"


class IdempotentResponse(models.Model):
    """The first answer to a write sent with an Idempotency-Key, replayed for every repeat of the same request."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="idempotent_responses")
    key = models.CharField(_("幂等键"), max_length=100)
    request_fingerprint = models.CharField(_("请求摘要"), max_length=64)
    status = models.PositiveSmallIntegerField(_("状态码"))
    body = models.JSONField(_("应答"))
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("幂等应答")
        verbose_name_plural = _("幂等应答")
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="idempotent_client_key_unique")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.key}"
