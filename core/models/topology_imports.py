"""A distribution-network (配网) topology import: what the network system sent, and what it changed."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class TopologyImport(models.Model):
    """One document applied (or tried as a dry run) by core.services.topology_import, with its diff report.

    A refused document changes nothing and leaves no record: the refusal goes back to the sender.
    """

    class Mode(models.TextChoices):
        FULL = "full", _("全量")
        PARTIAL = "partial", _("增量")

    class Status(models.TextChoices):
        APPLIED = "applied", _("已应用")
        DRY_RUN = "dry_run", _("试算（未应用）")

    mode = models.CharField(_("导入方式"), max_length=8, choices=Mode.choices)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices)
    # Where it came from: "api:<client name>" or "file:<file name>".
    source = models.CharField(_("来源"), max_length=120)
    scope_branch = models.ForeignKey(
        "core.Branch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("全量范围(县公司)"),
    )
    document_sha256 = models.CharField(_("文档摘要"), max_length=64)
    created = models.PositiveIntegerField(_("新增"), default=0)
    updated = models.PositiveIntegerField(_("修改"), default=0)
    moved = models.PositiveIntegerField(_("迁移"), default=0)
    retired = models.PositiveIntegerField(_("退运"), default=0)
    unchanged = models.PositiveIntegerField(_("未变"), default=0)
    accounts_remapped = models.PositiveIntegerField(_("重新挂接的用电户"), default=0)
    report = models.JSONField(_("差异报告"), default=dict)
    created_at = models.DateTimeField(_("导入时间"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("配网拓扑导入")
        verbose_name_plural = _("配网拓扑导入")

    def __str__(self) -> str:
        return f"{self.get_mode_display()} {self.created_at:%Y-%m-%d %H:%M}"
