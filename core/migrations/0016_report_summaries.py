import django.db.models.deletion
from decimal import Decimal

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0015_audit_flags")]

    operations = [
        migrations.CreateModel(
            name='ReportRefresh',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started_at', models.DateTimeField(verbose_name='开始时间')),
                ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='完成时间')),
                ('full', models.BooleanField(default=False, verbose_name='全量重算')),
                ('marks', models.JSONField(default=dict, verbose_name='读取位置')),
                ('scanned_from', models.JSONField(default=dict, verbose_name='本次读取起点')),
                ('periods', models.JSONField(default=dict, verbose_name='重算期间')),
                ('rows', models.PositiveIntegerField(default=0, verbose_name='写入行数')),
                ('seconds', models.DecimalField(decimal_places=3, default=Decimal('0'), max_digits=10, verbose_name='耗时(秒)')),
            ],
            options={
                'verbose_name': '报表刷新记录',
                'verbose_name_plural': '报表刷新记录',
                'ordering': ['-id'],
                'permissions': [('view_decision_support', '查看决策支持报表')],
            },
        ),
        migrations.CreateModel(
            name='BillingSummary',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period', models.DateField(verbose_name='电费年月')),
                ('category', models.CharField(choices=[('residential', '居民生活'), ('non_residential', '一般工商业'), ('large_industry', '大工业'), ('agricultural', '农业生产')], max_length=20, verbose_name='用电类别')),
                ('bills', models.PositiveIntegerField(default=0, verbose_name='账单数')),
                ('kwh', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=16, verbose_name='电量(kWh)')),
                ('billed', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=16, verbose_name='应收电费')),
                ('paid', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=16, verbose_name='实收电费')),
                ('outstanding', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=16, verbose_name='欠费余额')),
                ('accounts_in_arrears', models.PositiveIntegerField(default=0, verbose_name='欠费户数')),
                ('branch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.branch', verbose_name='县公司')),
                ('station', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.servicestation', verbose_name='供电所')),
            ],
            options={
                'verbose_name': '电量电费汇总',
                'verbose_name_plural': '电量电费汇总',
                'indexes': [models.Index(fields=['branch', 'period'], name='billing_summary_branch')],
                'constraints': [models.UniqueConstraint(fields=('period', 'branch', 'station', 'category'), name='billing_summary_key')],
            },
        ),
        migrations.CreateModel(
            name='CustomerSummary',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period', models.DateField(verbose_name='立户年月')),
                ('category', models.CharField(choices=[('residential', '居民生活'), ('non_residential', '一般工商业'), ('large_industry', '大工业'), ('agricultural', '农业生产')], max_length=20, verbose_name='用电类别')),
                ('opened', models.PositiveIntegerField(default=0, verbose_name='新增户数')),
                ('branch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.branch', verbose_name='县公司')),
                ('station', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.servicestation', verbose_name='供电所')),
            ],
            options={
                'verbose_name': '客户增长汇总',
                'verbose_name_plural': '客户增长汇总',
                'indexes': [models.Index(fields=['branch', 'period'], name='customer_summary_branch')],
                'constraints': [models.UniqueConstraint(fields=('period', 'branch', 'station', 'category'), name='customer_summary_key')],
            },
        ),
        migrations.CreateModel(
            name='FaultReportSummary',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period', models.DateField(verbose_name='受理年月')),
                ('reports', models.PositiveIntegerField(default=0, verbose_name='报修量')),
                ('closed', models.PositiveIntegerField(default=0, verbose_name='办结量')),
                ('closed_on_time', models.PositiveIntegerField(default=0, verbose_name='按时办结量')),
                ('branch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.branch', verbose_name='县公司')),
                ('feeder', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.feeder', verbose_name='10kV线路')),
            ],
            options={
                'verbose_name': '线路报修汇总',
                'verbose_name_plural': '线路报修汇总',
                'indexes': [models.Index(fields=['branch', 'period'], name='fault_report_summary_branch')],
                'constraints': [models.UniqueConstraint(fields=('period', 'branch', 'feeder'), name='fault_report_summary_key')],
            },
        ),
        migrations.CreateModel(
            name='OutageSummary',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period', models.DateField(verbose_name='停电年月')),
                ('kind', models.CharField(choices=[('planned', '计划停电'), ('temporary', '临时停电'), ('fault', '故障停电')], max_length=10, verbose_name='停电类型')),
                ('outages', models.PositiveIntegerField(default=0, verbose_name='停电次数')),
                ('areas', models.PositiveIntegerField(default=0, verbose_name='停电台区数')),
                ('customers', models.PositiveIntegerField(default=0, verbose_name='影响计量点数')),
                ('customer_interruption', models.DurationField(verbose_name='停电时户数')),
                ('branch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.branch', verbose_name='县公司')),
                ('feeder', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.feeder', verbose_name='10kV线路')),
            ],
            options={
                'verbose_name': '线路停电汇总',
                'verbose_name_plural': '线路停电汇总',
                'indexes': [models.Index(fields=['branch', 'period'], name='outage_summary_branch')],
                'constraints': [models.UniqueConstraint(fields=('period', 'branch', 'feeder', 'kind'), name='outage_summary_key')],
            },
        ),
        migrations.CreateModel(
            name='TicketSummary',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period', models.DateField(verbose_name='受理年月')),
                ('business_type', models.CharField(choices=[('lv_residential_connection', '低压居民新装'), ('lv_non_residential_connection', '低压非居民新装'), ('hv_connection', '高压新装'), ('capacity_increase', '增容'), ('capacity_reduction', '减容'), ('suspension', '暂停'), ('resumption', '暂停恢复'), ('name_change', '更名'), ('transfer', '过户'), ('tariff_class_change', '改类'), ('account_closure', '销户'), ('fault_repair', '故障报修'), ('complaint', '投诉'), ('report', '举报'), ('opinion', '意见'), ('suggestion', '建议'), ('praise', '表扬'), ('service_application', '服务申请'), ('consultation', '咨询升级'), ('meter_accuracy_check', '计量异常'), ('arrears_disconnection', '欠费停电'), ('reconnection', '欠费复电')], max_length=40, verbose_name='业务类型')),
                ('opened', models.PositiveIntegerField(default=0, verbose_name='受理量')),
                ('closed', models.PositiveIntegerField(default=0, verbose_name='办结量')),
                ('closed_due', models.PositiveIntegerField(default=0, verbose_name='有承诺时限的办结量')),
                ('closed_on_time', models.PositiveIntegerField(default=0, verbose_name='按时办结量')),
                ('cancelled', models.PositiveIntegerField(default=0, verbose_name='撤销量')),
                ('branch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.branch', verbose_name='县公司')),
                ('station', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.servicestation', verbose_name='供电所')),
            ],
            options={
                'verbose_name': '工单汇总',
                'verbose_name_plural': '工单汇总',
                'indexes': [models.Index(fields=['period', 'branch'], name='ticket_summary_period'), models.Index(fields=['branch', 'period'], name='ticket_summary_branch')],
            },
        ),
        migrations.CreateModel(
            name='TierSummary',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period', models.DateField(verbose_name='电费年月')),
                ('tier', models.PositiveSmallIntegerField(verbose_name='档次')),
                ('bills', models.PositiveIntegerField(default=0, verbose_name='达到该档的账单数')),
                ('kwh', models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=16, verbose_name='该档电量(kWh)')),
                ('branch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.branch', verbose_name='县公司')),
                ('station', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.servicestation', verbose_name='供电所')),
            ],
            options={
                'verbose_name': '阶梯分布汇总',
                'verbose_name_plural': '阶梯分布汇总',
                'indexes': [models.Index(fields=['branch', 'period'], name='tier_summary_branch')],
                'constraints': [models.UniqueConstraint(fields=('period', 'branch', 'station', 'tier'), name='tier_summary_key')],
            },
        ),
        migrations.AddIndex(
            model_name="bill",
            index=models.Index(fields=["period"], name="bill_period_idx"),
        ),
    ]
