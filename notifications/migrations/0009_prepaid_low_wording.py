"""The prepaid low-balance SMS no longer says the threshold is one "you set": smart-prepaid holders are now told at the
utility's 10 yuan as well as binders at their own (core.services.customer_alerts). A template staff have edited since
it was seeded is left as they wrote it."""
from django.db import migrations

SEEDED = {
    "zh-hans": "【国网95598】户号{{ account_number }}预付费余额{{ balance }}元，低于您设置的{{ threshold }}元，"
               "预计还可用{{ days_left }}天，请及时充值以免停电。",
    "en": "[SGCC 95598] Account {{ account_number }} prepaid balance CNY {{ balance }} is below your CNY "
          "{{ threshold }}; about {{ days_left }} days left. Top up to avoid disconnection.",
}
NOW = {
    "zh-hans": "【国网95598】户号{{ account_number }}预付费余额{{ balance }}元，低于提醒金额{{ threshold }}元，"
               "预计还可用{{ days_left }}天，请及时充值以免停电。",
    "en": "[SGCC 95598] Account {{ account_number }} prepaid balance CNY {{ balance }} is below the alert amount of CNY "
          "{{ threshold }}; about {{ days_left }} days left. Top up to avoid disconnection.",
}


def _replace(apps, old: dict, new: dict) -> None:
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    for language, body in old.items():
        MessageTemplate.objects.filter(
            event="prepaid_balance_low", channel="sms", language=language, body=body
        ).update(body=new[language])


def forwards(apps, schema_editor):
    _replace(apps, SEEDED, NOW)


def backwards(apps, schema_editor):
    _replace(apps, NOW, SEEDED)


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0008_message_account"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
