import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0014_counter_collection"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditFlag",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("rule", models.CharField(choices=[("zero_consumption", "连续零电量"), ("consumption_jump", "电量突增"), ("bill_corrected", "账单发行后更正"), ("payment_reversed", "缴费冲正"), ("late_fee_waived", "违约金减免")], max_length=20, verbose_name="稽查规则")),
                ("period", models.DateField(blank=True, null=True, verbose_name="电费年月")),
                ("kwh", models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True, verbose_name="当月电量(kWh)")),
                ("baseline_kwh", models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True, verbose_name="前12个月月均电量(kWh)")),
                ("amount", models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True, verbose_name="金额")),
                ("reason", models.CharField(blank=True, max_length=200, verbose_name="业务原因")),
                ("occurred_at", models.DateTimeField(verbose_name="发生时间")),
                ("raised_at", models.DateTimeField(verbose_name="发现时间")),
                ("state", models.CharField(choices=[("open", "待核查"), ("resolved", "已处理")], default="open", max_length=10, verbose_name="状态")),
                ("resolved_at", models.DateTimeField(blank=True, null=True, verbose_name="处理时间")),
                ("resolution_note", models.TextField(blank=True, verbose_name="处理说明")),
                ("account", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="audit_flags", to="core.account", verbose_name="用电户")),
                ("branch", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="audit_flags", to="core.branch", verbose_name="县公司")),
                ("ledger_entry", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="audit_flags", to="core.ledgerentry", verbose_name="账务流水")),
                ("resolved_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="处理人")),
            ],
            options={
                "verbose_name": "稽查疑点",
                "verbose_name_plural": "稽查疑点",
                "ordering": ["-raised_at", "-id"],
                "indexes": [
                    models.Index(fields=["state", "branch", "rule", "raised_at"], name="audit_flag_work_list"),
                    models.Index(fields=["account", "rule", "period"], name="audit_flag_account_rule"),
                ],
                "constraints": [
                    models.UniqueConstraint(condition=models.Q(("period__isnull", False)), fields=("rule", "account", "period"), name="audit_flag_once_per_account_period"),
                    models.UniqueConstraint(condition=models.Q(("ledger_entry__isnull", False)), fields=("rule", "ledger_entry"), name="audit_flag_once_per_ledger_entry"),
                    models.CheckConstraint(condition=models.Q(models.Q(("ledger_entry__isnull", True), ("period__isnull", False)), models.Q(("ledger_entry__isnull", False), ("period__isnull", True)), _connector="OR"), name="audit_flag_period_or_ledger_entry"),
                    models.CheckConstraint(condition=models.Q(("state", "open"), models.Q(("resolution_note", ""), _negated=True), _connector="OR"), name="audit_flag_resolved_with_note"),
                ],
            },
        ),
    ]
