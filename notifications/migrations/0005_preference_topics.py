"""Notification preferences per topic: a row with a topic switches one topic of a channel; the existing rows
(topic "") keep switching the channel as a whole."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0004_portal_events'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='notificationpreference',
            name='preference_customer_kind',
        ),
        migrations.AddField(
            model_name='notificationpreference',
            name='topic',
            field=models.CharField(blank=True, choices=[('bills', '账单与欠费提醒'), ('payments', '缴费到账'), ('tickets', '工单进度'), ('outages', '停电通知'), ('surveys', '问卷调查')], default='', help_text='留空表示整个渠道', max_length=10, verbose_name='消息类别'),
        ),
        migrations.AddConstraint(
            model_name='notificationpreference',
            constraint=models.UniqueConstraint(fields=('customer', 'kind', 'topic'), name='preference_customer_kind_topic'),
        ),
    ]
