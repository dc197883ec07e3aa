"""Grid elements can be retired (退运) by a topology import; the import record with its diff report."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("core", "0011_meter_events")]

    operations = [
        migrations.AddField(
            model_name='feeder',
            name='retired_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='退运时间'),
        ),
        migrations.AddField(
            model_name='substation',
            name='retired_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='退运时间'),
        ),
        migrations.AddField(
            model_name='transformerarea',
            name='retired_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='退运时间'),
        ),
        migrations.CreateModel(
            name='TopologyImport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('mode', models.CharField(choices=[('full', '全量'), ('partial', '增量')], max_length=8, verbose_name='导入方式')),
                ('status', models.CharField(choices=[('applied', '已应用'), ('dry_run', '试算（未应用）')], max_length=8, verbose_name='状态')),
                ('source', models.CharField(max_length=120, verbose_name='来源')),
                ('document_sha256', models.CharField(max_length=64, verbose_name='文档摘要')),
                ('created', models.PositiveIntegerField(default=0, verbose_name='新增')),
                ('updated', models.PositiveIntegerField(default=0, verbose_name='修改')),
                ('moved', models.PositiveIntegerField(default=0, verbose_name='迁移')),
                ('retired', models.PositiveIntegerField(default=0, verbose_name='退运')),
                ('unchanged', models.PositiveIntegerField(default=0, verbose_name='未变')),
                ('accounts_remapped', models.PositiveIntegerField(default=0, verbose_name='重新挂接的用电户')),
                ('report', models.JSONField(default=dict, verbose_name='差异报告')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='导入时间')),
                ('scope_branch', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.branch', verbose_name='全量范围(县公司)')),
            ],
            options={
                'verbose_name': '配网拓扑导入',
                'verbose_name_plural': '配网拓扑导入',
                'ordering': ['-created_at', '-pk'],
            },
        ),
    ]
