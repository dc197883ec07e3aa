"""Bank collection (代收) and withholding (代扣): the banks we exchange files with, the customers' withholding
agreements, and every batch file sent or received with its lines (what the bank said, and what we did with it)."""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.money import format_yuan


class BankFileStyle(models.TextChoices):
    FIXED_WIDTH = "fixed", _("定长格式")
    CSV = "csv", _("逗号分隔格式")


class BankFileEncoding(models.TextChoices):
    GBK = "gbk", _("GBK")
    UTF8 = "utf-8", _("UTF-8")


class Bank(models.Model):
    """A bank that collects for us or debits customers' accounts, with the file layout it speaks."""

    code = models.CharField(_("银行编码"), max_length=6, unique=True)
    name = models.CharField(_("银行名称"), max_length=100)
    file_style = models.CharField(
        _("文件格式"), max_length=5, choices=BankFileStyle.choices, default=BankFileStyle.FIXED_WIDTH
    )
    file_encoding = models.CharField(
        _("文件编码"), max_length=5, choices=BankFileEncoding.choices, default=BankFileEncoding.GBK
    )
    # The integrations API client (by name) this bank's own system calls with; it sees only this bank's files.
    api_client_name = models.CharField(_("接口客户端名称"), max_length=100, blank=True)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("合作银行")
        verbose_name_plural = _("合作银行")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class WithholdingAgreement(models.Model):
    """A customer's signed authority (代扣协议) for a bank to debit one bank account for one electricity account."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("有效")
        CANCELLED = "cancelled", _("已解约")

    account = models.ForeignKey(
        "core.Account", on_delete=models.PROTECT, related_name="withholding_agreements", verbose_name=_("用电户")
    )
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="agreements", verbose_name=_("银行"))
    bank_account_number = models.CharField(_("扣款账号"), max_length=32)
    bank_account_name = models.CharField(_("扣款户名"), max_length=50)
    signed_on = models.DateField(_("签约日期"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    cancelled_on = models.DateField(_("解约日期"), null=True, blank=True)

    class Meta:
        ordering = ["bank", "account"]
        verbose_name = _("代扣协议")
        verbose_name_plural = _("代扣协议")
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=models.Q(status="active"), name="withholding_one_active_per_account"
            ),
        ]
        indexes = [models.Index(fields=["bank", "status"], name="withholding_bank_status_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.bank_id} {self.bank_account_masked}"

    @property
    def bank_account_masked(self) -> str:
        number = self.bank_account_number
        return f"{'*' * max(len(number) - 4, 0)}{number[-4:]}"


class BankBatch(models.Model):
    """One bank file: a withholding request we sent, or a results, collection or statement file the bank sent."""

    class Kind(models.TextChoices):
        WITHHOLDING_REQUEST = "withholding_request", _("代扣请求")
        WITHHOLDING_RESULT = "withholding_result", _("代扣回盘")
        COLLECTION = "collection", _("代收明细")
        STATEMENT = "statement", _("对账文件")

    class Status(models.TextChoices):
        SENT = "sent", _("待回盘")
        SETTLED = "settled", _("已回盘")
        IMPORTED = "imported", _("已导入")

    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="batches", verbose_name=_("银行"))
    kind = models.CharField(_("文件类型"), max_length=20, choices=Kind.choices)
    batch_number = models.CharField(_("批次号"), max_length=20)
    business_date = models.DateField(_("业务日期"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices)
    record_count = models.PositiveIntegerField(_("笔数"), default=0)
    total_amount = models.DecimalField(_("总金额"), max_digits=16, decimal_places=2, default=Decimal("0.00"))
    # The received file's digest: the same file sent again is answered from this batch; other content is refused.
    content_sha256 = models.CharField(_("文件摘要"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("经办人"),
    )

    class Meta:
        ordering = ["-business_date", "-id"]
        verbose_name = _("银行批次")
        verbose_name_plural = _("银行批次")
        constraints = [
            models.UniqueConstraint(fields=["bank", "kind", "batch_number"], name="bank_batch_number_unique"),
        ]
        indexes = [models.Index(fields=["bank", "kind", "business_date"], name="bank_batch_date_idx")]

    def __str__(self) -> str:
        return f"{self.bank_id} {self.batch_number}"

    @property
    def total_display(self) -> str:
        return format_yuan(self.total_amount)


class BankBatchLine(models.Model):
    """One detail line of a bank file, and its outcome here."""

    class Outcome(models.TextChoices):
        REQUESTED = "requested", _("已请求")
        DEBITED = "debited", _("扣款成功")
        FAILED = "failed", _("扣款失败")
        POSTED = "posted", _("已入账")
        DUPLICATE = "duplicate", _("重复，已入账过")
        RECORDED = "recorded", _("已记录")

    batch = models.ForeignKey(BankBatch, on_delete=models.CASCADE, related_name="lines", verbose_name=_("批次"))
    line_number = models.PositiveIntegerField(_("行号"))
    serial = models.CharField(_("流水号"), max_length=20)
    account = models.ForeignKey(
        "core.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="bank_lines",
        verbose_name=_("用电户"),
    )
    account_number = models.CharField(_("户号"), max_length=10)
    account_name = models.CharField(_("户名"), max_length=50, blank=True)
    bank_account_number = models.CharField(_("银行账号"), max_length=32, blank=True)
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2)
    transacted_at = models.DateTimeField(_("交易时间"), null=True, blank=True)
    result_code = models.CharField(_("银行返回码"), max_length=4, blank=True)
    result_message = models.CharField(_("银行返回说明"), max_length=50, blank=True)
    outcome = models.CharField(_("处理结果"), max_length=10, choices=Outcome.choices)
    payment = models.ForeignKey(
        "core.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="bank_lines",
        verbose_name=_("缴费记录"),
    )

    class Meta:
        ordering = ["batch", "line_number"]
        verbose_name = _("银行批次明细")
        verbose_name_plural = _("银行批次明细")
        constraints = [
            models.UniqueConstraint(fields=["batch", "line_number"], name="bank_line_number_unique"),
            models.UniqueConstraint(fields=["batch", "serial"], name="bank_line_serial_unique"),
        ]
        indexes = [models.Index(fields=["serial"], name="bank_line_serial_idx")]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.line_number} {self.serial}"
