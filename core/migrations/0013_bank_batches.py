from decimal import Decimal

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The banks a prefecture utility commonly exchanges collection and withholding files with; their layouts are data,
# editable when a bank changes its file.
BANKS = [
    ("ICBC", "中国工商银行", "fixed", "gbk"),
    ("ABC", "中国农业银行", "fixed", "gbk"),
    ("CCB", "中国建设银行", "csv", "gbk"),
    ("BOC", "中国银行", "csv", "utf-8"),
    ("PSBC", "中国邮政储蓄银行", "fixed", "gbk"),
    ("HBRCU", "湖北农村信用社", "fixed", "gbk"),
]


def banks_seed(apps, schema_editor):
    Bank = apps.get_model("core", "Bank")
    for code, name, style, encoding in BANKS:
        Bank.objects.get_or_create(code=code, defaults={"name": name, "file_style": style, "file_encoding": encoding})


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0012_topology_imports"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Bank",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.CharField(max_length=6, unique=True, verbose_name="银行编码")),
                ("name", models.CharField(max_length=100, verbose_name="银行名称")),
                ("file_style", models.CharField(choices=[("fixed", "定长格式"), ("csv", "逗号分隔格式")], default="fixed", max_length=5, verbose_name="文件格式")),
                ("file_encoding", models.CharField(choices=[("gbk", "GBK"), ("utf-8", "UTF-8")], default="gbk", max_length=5, verbose_name="文件编码")),
                ("api_client_name", models.CharField(blank=True, max_length=100, verbose_name="接口客户端名称")),
                ("active", models.BooleanField(default=True, verbose_name="启用")),
            ],
            options={"verbose_name": "合作银行", "verbose_name_plural": "合作银行", "ordering": ["code"]},
        ),
        migrations.CreateModel(
            name="BankBatch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("withholding_request", "代扣请求"), ("withholding_result", "代扣回盘"), ("collection", "代收明细"), ("statement", "对账文件")], max_length=20, verbose_name="文件类型")),
                ("batch_number", models.CharField(max_length=20, verbose_name="批次号")),
                ("business_date", models.DateField(verbose_name="业务日期")),
                ("status", models.CharField(choices=[("sent", "待回盘"), ("settled", "已回盘"), ("imported", "已导入")], max_length=10, verbose_name="状态")),
                ("record_count", models.PositiveIntegerField(default=0, verbose_name="笔数")),
                ("total_amount", models.DecimalField(decimal_places=2, default=Decimal("0.00"), max_digits=16, verbose_name="总金额")),
                ("content_sha256", models.CharField(blank=True, max_length=64, verbose_name="文件摘要")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="创建时间")),
                ("bank", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="batches", to="core.bank", verbose_name="银行")),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="经办人")),
            ],
            options={
                "verbose_name": "银行批次",
                "verbose_name_plural": "银行批次",
                "ordering": ["-business_date", "-id"],
                "indexes": [models.Index(fields=["bank", "kind", "business_date"], name="bank_batch_date_idx")],
                "constraints": [models.UniqueConstraint(fields=("bank", "kind", "batch_number"), name="bank_batch_number_unique")],
            },
        ),
        migrations.CreateModel(
            name="BankBatchLine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("line_number", models.PositiveIntegerField(verbose_name="行号")),
                ("serial", models.CharField(max_length=20, verbose_name="流水号")),
                ("account_number", models.CharField(max_length=10, verbose_name="户号")),
                ("account_name", models.CharField(blank=True, max_length=50, verbose_name="户名")),
                ("bank_account_number", models.CharField(blank=True, max_length=32, verbose_name="银行账号")),
                ("amount", models.DecimalField(decimal_places=2, max_digits=14, verbose_name="金额")),
                ("transacted_at", models.DateTimeField(blank=True, null=True, verbose_name="交易时间")),
                ("result_code", models.CharField(blank=True, max_length=4, verbose_name="银行返回码")),
                ("result_message", models.CharField(blank=True, max_length=50, verbose_name="银行返回说明")),
                ("outcome", models.CharField(choices=[("requested", "已请求"), ("debited", "扣款成功"), ("failed", "扣款失败"), ("posted", "已入账"), ("duplicate", "重复，已入账过"), ("recorded", "已记录")], max_length=10, verbose_name="处理结果")),
                ("account", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="bank_lines", to="core.account", verbose_name="用电户")),
                ("batch", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="lines", to="core.bankbatch", verbose_name="批次")),
                ("payment", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="bank_lines", to="core.payment", verbose_name="缴费记录")),
            ],
            options={
                "verbose_name": "银行批次明细",
                "verbose_name_plural": "银行批次明细",
                "ordering": ["batch", "line_number"],
                "indexes": [models.Index(fields=["serial"], name="bank_line_serial_idx")],
                "constraints": [
                    models.UniqueConstraint(fields=("batch", "line_number"), name="bank_line_number_unique"),
                    models.UniqueConstraint(fields=("batch", "serial"), name="bank_line_serial_unique"),
                ],
            },
        ),
        migrations.CreateModel(
            name="WithholdingAgreement",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("bank_account_number", models.CharField(max_length=32, verbose_name="扣款账号")),
                ("bank_account_name", models.CharField(max_length=50, verbose_name="扣款户名")),
                ("signed_on", models.DateField(verbose_name="签约日期")),
                ("status", models.CharField(choices=[("active", "有效"), ("cancelled", "已解约")], default="active", max_length=10, verbose_name="状态")),
                ("cancelled_on", models.DateField(blank=True, null=True, verbose_name="解约日期")),
                ("account", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="withholding_agreements", to="core.account", verbose_name="用电户")),
                ("bank", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="agreements", to="core.bank", verbose_name="银行")),
            ],
            options={
                "verbose_name": "代扣协议",
                "verbose_name_plural": "代扣协议",
                "ordering": ["bank", "account"],
                "indexes": [models.Index(fields=["bank", "status"], name="withholding_bank_status_idx")],
                "constraints": [
                    models.UniqueConstraint(condition=models.Q(("status", "active")), fields=("account",), name="withholding_one_active_per_account"),
                ],
            },
        ),
        migrations.RunPython(banks_seed, migrations.RunPython.noop),
    ]
