import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0013_bank_batches"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CounterOutlet',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(max_length=16, unique=True, verbose_name='编码')),
                ('name', models.CharField(max_length=100, verbose_name='名称')),
                ('active', models.BooleanField(default=True, verbose_name='营业中')),
                ('branch', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='counter_outlets', to='core.branch', verbose_name='县公司')),
            ],
            options={
                'verbose_name': '营业厅',
                'verbose_name_plural': '营业厅',
                'ordering': ['code'],
            },
        ),
        migrations.CreateModel(
            name='CounterCashier',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('active', models.BooleanField(default=True, verbose_name='在岗')),
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='counter_cashier', to=settings.AUTH_USER_MODEL, verbose_name='收费员')),
                ('outlet', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='cashiers', to='core.counteroutlet', verbose_name='营业厅')),
            ],
            options={
                'verbose_name': '收费员',
                'verbose_name_plural': '收费员',
            },
        ),
        migrations.CreateModel(
            name='CounterReceipt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.CharField(max_length=32, unique=True, verbose_name='收据号')),
                ('kind', models.CharField(choices=[('payment', '收费'), ('reversal', '冲正')], max_length=10, verbose_name='类型')),
                ('method', models.CharField(choices=[('cash', '现金'), ('bank_slip', '进账单'), ('list_slip', '列账单')], max_length=10, verbose_name='收费方式')),
                ('amount', models.DecimalField(decimal_places=2, max_digits=12, verbose_name='金额')),
                ('slip_reference', models.CharField(blank=True, max_length=40, verbose_name='票据号')),
                ('business_day', models.DateField(verbose_name='营业日')),
                ('taken_at', models.DateTimeField(verbose_name='收费时间')),
                ('reason', models.CharField(blank=True, max_length=200, verbose_name='冲正原因')),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='counter_receipts', to='core.account', verbose_name='用电户')),
                ('cashier', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='counter_receipts', to=settings.AUTH_USER_MODEL, verbose_name='收费员')),
                ('outlet', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='receipts', to='core.counteroutlet', verbose_name='营业厅')),
                ('payment', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='counter_receipts', to='core.payment', verbose_name='缴费')),
                ('reverses', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='reversal', to='core.counterreceipt', verbose_name='被冲正收据')),
            ],
            options={
                'verbose_name': '收费收据',
                'verbose_name_plural': '收费收据',
                'ordering': ['business_day', 'id'],
            },
        ),
        migrations.CreateModel(
            name='DepositAccount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('bank_name', models.CharField(max_length=100, verbose_name='开户银行')),
                ('account_number', models.CharField(max_length=40, verbose_name='银行账号')),
                ('active', models.BooleanField(default=True, verbose_name='启用')),
                ('branch', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='deposit_accounts', to='core.branch', verbose_name='县公司')),
            ],
            options={
                'verbose_name': '解款账户',
                'verbose_name_plural': '解款账户',
                'ordering': ['branch', 'bank_name', 'account_number'],
            },
        ),
        migrations.CreateModel(
            name='CounterSettlement',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('business_day', models.DateField(verbose_name='营业日')),
                ('cash_amount', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='现金')),
                ('bank_slip_amount', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='进账单')),
                ('list_slip_amount', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='列账单')),
                ('total', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='解款金额')),
                ('receipt_count', models.PositiveIntegerField(verbose_name='收据笔数')),
                ('state', models.CharField(choices=[('submitted', '待审核'), ('reviewed', '已审核')], default='submitted', max_length=10, verbose_name='状态')),
                ('closed_at', models.DateTimeField(verbose_name='日结时间')),
                ('reviewed_at', models.DateTimeField(blank=True, null=True, verbose_name='审核时间')),
                ('review_note', models.CharField(blank=True, max_length=200, verbose_name='审核意见')),
                ('cashier', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='counter_settlements', to=settings.AUTH_USER_MODEL, verbose_name='收费员')),
                ('outlet', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='settlements', to='core.counteroutlet', verbose_name='营业厅')),
                ('reviewed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='counter_settlements_reviewed', to=settings.AUTH_USER_MODEL, verbose_name='审核人')),
                ('deposit_account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='settlements', to='core.depositaccount', verbose_name='解款账户')),
            ],
            options={
                'verbose_name': '解款单',
                'verbose_name_plural': '解款单',
                'ordering': ['-business_day', 'id'],
                'permissions': [('review_countersettlement', '审核解款')],
            },
        ),
        migrations.AddIndex(
            model_name='counterreceipt',
            index=models.Index(fields=['cashier', 'business_day'], name='counter_rcpt_cashier_day_idx'),
        ),
        migrations.AddConstraint(
            model_name='counterreceipt',
            constraint=models.UniqueConstraint(fields=('payment', 'kind'), name='counter_receipt_payment_kind_unique'),
        ),
        migrations.AddConstraint(
            model_name='counterreceipt',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('amount__gt', 0), ('kind', 'payment'), ('reverses__isnull', True)), models.Q(('amount__lt', 0), ('kind', 'reversal'), ('reverses__isnull', False)), _connector='OR'), name='counter_receipt_sign_matches_kind'),
        ),
        migrations.AddConstraint(
            model_name='depositaccount',
            constraint=models.UniqueConstraint(fields=('branch', 'account_number'), name='deposit_account_unique'),
        ),
        migrations.AddIndex(
            model_name='countersettlement',
            index=models.Index(fields=['outlet', 'state', 'business_day'], name='counter_settle_review_idx'),
        ),
        migrations.AddConstraint(
            model_name='countersettlement',
            constraint=models.UniqueConstraint(fields=('cashier', 'business_day'), name='counter_settlement_cashier_day_unique'),
        ),
    ]
