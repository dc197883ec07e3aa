import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


def default_rule_create(apps, schema_editor):
    """The company-wide rule, editable afterwards; a branch may get its own."""
    apps.get_model("core", "OutageDetectionRule").objects.get_or_create(branch=None)


class Migration(migrations.Migration):
    dependencies = [("core", "0010_tracking_attempts")]

    operations = [
        migrations.CreateModel(
            name='MeterEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('power_off', '停电'), ('power_restore', '复电')], max_length=16, verbose_name='事件类型')),
                ('occurred_at', models.DateTimeField(verbose_name='发生时间')),
                ('source', models.CharField(choices=[('acquisition', '用电信息采集系统'), ('concentrator', '低压集抄'), ('load_management', '负荷管理系统')], max_length=16, verbose_name='来源系统')),
                ('received_at', models.DateTimeField(verbose_name='接收时间')),
                ('meter', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='events', to='core.meter', verbose_name='电能表')),
                ('outage', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='meter_events', to='core.outage', verbose_name='停电信息')),
            ],
            options={
                'verbose_name': '电能表停复电事件',
                'verbose_name_plural': '电能表停复电事件',
                'indexes': [models.Index(fields=['meter', 'occurred_at'], name='meter_event_meter_time')],
                'constraints': [models.UniqueConstraint(fields=('meter', 'kind', 'occurred_at'), name='meter_event_unique')],
            },
        ),
        migrations.CreateModel(
            name='OutageDetectionRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('min_meters', models.PositiveSmallIntegerField(default=3, help_text='台区内至少这么多块表上报停电才判定台区停电', validators=[django.core.validators.MinValueValidator(1)], verbose_name='最少停电表数')),
                ('off_share_percent', models.PositiveSmallIntegerField(default=50, help_text='上报停电的表占台区在运电能表的比例', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(100)], verbose_name='停电表占比(%)')),
                ('window_minutes', models.PositiveSmallIntegerField(default=15, help_text='在这段时间内先后上报的停电视为同一次停电', validators=[django.core.validators.MinValueValidator(1)], verbose_name='判定时间窗(分钟)')),
                ('restore_share_percent', models.PositiveSmallIntegerField(default=80, help_text='停电的表中上报复电的比例达到此值即登记恢复送电', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(100)], verbose_name='复电表占比(%)')),
                ('expected_minutes', models.PositiveSmallIntegerField(default=240, help_text='公告的预计恢复送电时间', validators=[django.core.validators.MinValueValidator(1)], verbose_name='预计停电时长(分钟)')),
                ('branch', models.OneToOneField(blank=True, help_text='不填为默认规则', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='outage_detection_rule', to='core.branch', verbose_name='县公司')),
            ],
            options={
                'verbose_name': '台区停电判定规则',
                'verbose_name_plural': '台区停电判定规则',
                'constraints': [models.CheckConstraint(condition=models.Q(('min_meters__gte', 1)), name='outage_rule_min_meters'), models.CheckConstraint(condition=models.Q(('off_share_percent__gte', 1), ('off_share_percent__lte', 100)), name='outage_rule_off_share'), models.CheckConstraint(condition=models.Q(('restore_share_percent__gte', 1), ('restore_share_percent__lte', 100)), name='outage_rule_restore_share'), models.CheckConstraint(condition=models.Q(('window_minutes__gte', 1)), name='outage_rule_window'), models.CheckConstraint(condition=models.Q(('expected_minutes__gte', 1)), name='outage_rule_expected')],
            },
        ),
        migrations.RunPython(default_rule_create, migrations.RunPython.noop),
    ]
