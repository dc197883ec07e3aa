"""Seed the message templates of every event in Simplified Chinese and English (staff edit them later)."""
from django.db import migrations

TICKET = {"ticket_number": "TK202611230001", "business": "故障报修", "step": "到达现场", "url": "https://95598.example.cn/t/1"}
BILL = {"account_number": "4200000011", "period": "2026年10月", "amount": "123.45", "due_date": "2026-11-30"}
OUTAGE = {"area": "恩施市舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00", "reason": "线路检修"}

# (event, channel, zh subject, zh body, en subject, en body, sample data)
TEMPLATES = [
    ("login_code", "sms", "", "【国网95598】您的登录验证码为{{ code }}，{{ minutes }}分钟内有效，请勿告知他人。",
     "", "[SGCC 95598] Your login code is {{ code }}, valid for {{ minutes }} minutes. Do not share it.",
     {"code": "482913", "minutes": 5}),
    ("ticket_accepted", "sms", "", "【国网95598】您的{{ business }}申请已受理，工单号{{ ticket_number }}，进度可在网上国网查询。",
     "", "[SGCC 95598] Your {{ business }} request is accepted, ticket {{ ticket_number }}.", TICKET),
    ("ticket_accepted", "inbox", "工单{{ ticket_number }}已受理", "您的{{ business }}申请已受理，我们会尽快处理。",
     "Ticket {{ ticket_number }} accepted", "Your {{ business }} request has been accepted.", TICKET),
    ("ticket_step_progress", "inbox", "工单{{ ticket_number }}有新进展", "您的{{ business }}工单已进入“{{ step }}”环节。",
     "Ticket {{ ticket_number }} progress", "Your {{ business }} ticket has reached: {{ step }}.", TICKET),
    ("ticket_completed", "sms", "", "【国网95598】您的工单{{ ticket_number }}（{{ business }}）已办结，感谢您的支持。",
     "", "[SGCC 95598] Ticket {{ ticket_number }} ({{ business }}) is completed. Thank you.", TICKET),
    ("ticket_completed", "inbox", "工单{{ ticket_number }}已办结", "您的{{ business }}工单已办结。",
     "Ticket {{ ticket_number }} completed", "Your {{ business }} ticket is completed.", TICKET),
    ("ticket_satisfaction_request", "sms", "",
     "【国网95598】请对工单{{ ticket_number }}的服务进行评价：{{ url }} 回复TD退订。",
     "", "[SGCC 95598] Please rate ticket {{ ticket_number }}: {{ url }} Reply STOP to opt out.", TICKET),
    ("ticket_satisfaction_request", "inbox", "请评价工单{{ ticket_number }}", "请对本次服务进行评价：{{ url }}",
     "Rate ticket {{ ticket_number }}", "Please rate our service: {{ url }}", TICKET),
    ("ticket_arrival", "staff", "新工单到达", "工单{{ ticket_number }}（{{ business }}）已到达您的岗位：{{ step }}。",
     "New ticket", "Ticket {{ ticket_number }} ({{ business }}) has arrived at your post: {{ step }}.", TICKET),
    ("ticket_warning", "staff", "工单即将超时", "工单{{ ticket_number }}的“{{ step }}”环节即将超时，请尽快处理。",
     "Ticket due soon", "Step {{ step }} of ticket {{ ticket_number }} is due soon.", TICKET),
    ("ticket_overdue", "staff", "工单已超时", "工单{{ ticket_number }}的“{{ step }}”环节已超时。",
     "Ticket overdue", "Step {{ step }} of ticket {{ ticket_number }} is overdue.", TICKET),
    ("bill_issued", "sms", "", "【国网95598】户号{{ account_number }}，{{ period }}电费{{ amount }}元，请于{{ due_date }}前缴纳。",
     "", "[SGCC 95598] Account {{ account_number }}: {{ period }} bill CNY {{ amount }}, due {{ due_date }}.", BILL),
    ("bill_issued", "inbox", "{{ period }}电费账单", "户号{{ account_number }}，{{ period }}电费{{ amount }}元，缴费截止日{{ due_date }}。",
     "Bill for {{ period }}", "Account {{ account_number }}: CNY {{ amount }}, due {{ due_date }}.", BILL),
    ("bill_issued", "email", "{{ period }}电子账单（户号{{ account_number }}）",
     "<p>尊敬的客户：</p><p>户号{{ account_number }}，{{ period }}电费{{ amount }}元，请于{{ due_date }}前缴纳。</p>",
     "Your {{ period }} e-bill (account {{ account_number }})",
     "<p>Dear customer,</p><p>Account {{ account_number }}: CNY {{ amount }} for {{ period }}, due {{ due_date }}.</p>", BILL),
    ("payment_received", "sms", "", "【国网95598】户号{{ account_number }}缴费{{ amount }}元已到账，谢谢。",
     "", "[SGCC 95598] Payment of CNY {{ amount }} to account {{ account_number }} received.", BILL),
    ("payment_received", "inbox", "缴费到账", "户号{{ account_number }}缴费{{ amount }}元已到账。",
     "Payment received", "CNY {{ amount }} received for account {{ account_number }}.", BILL),
    ("arrears_reminder_before", "sms", "", "【国网95598】户号{{ account_number }}电费{{ amount }}元将于{{ due_date }}到期，请及时缴纳。",
     "", "[SGCC 95598] Account {{ account_number }}: CNY {{ amount }} due on {{ due_date }}.", BILL),
    ("arrears_reminder_before", "inbox", "电费即将到期", "户号{{ account_number }}电费{{ amount }}元将于{{ due_date }}到期。",
     "Bill due soon", "Account {{ account_number }}: CNY {{ amount }} due on {{ due_date }}.", BILL),
    ("arrears_reminder_after", "sms", "", "【国网95598】户号{{ account_number }}已欠费{{ amount }}元（到期日{{ due_date }}），逾期将产生违约金，请尽快缴纳。",
     "", "[SGCC 95598] Account {{ account_number }} is overdue: CNY {{ amount }} (due {{ due_date }}). Late fees apply.", BILL),
    ("arrears_reminder_after", "inbox", "欠费提醒", "户号{{ account_number }}已欠费{{ amount }}元，逾期将产生违约金。",
     "Overdue bill", "Account {{ account_number }} owes CNY {{ amount }}; late fees apply.", BILL),
    ("arrears_reminder_after", "email", "欠费提醒（户号{{ account_number }}）",
     "<p>户号{{ account_number }}已欠费{{ amount }}元（到期日{{ due_date }}），逾期将产生违约金。</p>",
     "Overdue bill (account {{ account_number }})",
     "<p>Account {{ account_number }} owes CNY {{ amount }} (due {{ due_date }}); late fees apply.</p>", BILL),
    ("outage_planned", "sms", "", "【国网95598】因{{ reason }}，{{ area }}将于{{ starts }}至{{ ends }}停电，请提前做好准备。",
     "", "[SGCC 95598] Planned outage in {{ area }} from {{ starts }} to {{ ends }} ({{ reason }}).", OUTAGE),
    ("outage_planned", "inbox", "计划停电通知", "因{{ reason }}，{{ area }}将于{{ starts }}至{{ ends }}停电。",
     "Planned outage", "Planned outage in {{ area }} from {{ starts }} to {{ ends }} ({{ reason }}).", OUTAGE),
    ("outage_planned", "email", "计划停电通知：{{ area }}",
     "<p>因{{ reason }}，{{ area }}将于{{ starts }}至{{ ends }}停电，请提前做好准备。</p>",
     "Planned outage: {{ area }}", "<p>Planned outage in {{ area }} from {{ starts }} to {{ ends }} ({{ reason }}).</p>", OUTAGE),
    ("outage_restored", "sms", "", "【国网95598】{{ area }}已恢复送电，感谢您的理解。",
     "", "[SGCC 95598] Power is restored in {{ area }}. Thank you for your patience.", OUTAGE),
    ("outage_restored", "inbox", "恢复送电", "{{ area }}已恢复送电。",
     "Power restored", "Power is restored in {{ area }}.", OUTAGE),
    ("survey_invitation", "sms", "", "【国网95598】诚邀您参加“{{ title }}”问卷：{{ url }} 回复TD退订。",
     "", "[SGCC 95598] Please take our survey \"{{ title }}\": {{ url }} Reply STOP to opt out.",
     {"title": "2026年供电服务满意度调查", "url": "https://95598.example.cn/s/1"}),
    ("survey_invitation", "inbox", "问卷邀请：{{ title }}", "诚邀您参加问卷调查：{{ url }}",
     "Survey: {{ title }}", "Please take our survey: {{ url }}",
     {"title": "2026年供电服务满意度调查", "url": "https://95598.example.cn/s/1"}),
    ("survey_invitation", "email", "问卷邀请：{{ title }}", "<p>诚邀您参加问卷调查：<a href=\"{{ url }}\">{{ title }}</a></p>",
     "Survey: {{ title }}", "<p>Please take our survey: <a href=\"{{ url }}\">{{ title }}</a></p>",
     {"title": "2026年供电服务满意度调查", "url": "https://95598.example.cn/s/1"}),
]


def seed(apps, schema_editor):
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    for event, channel, zh_subject, zh_body, en_subject, en_body, sample in TEMPLATES:
        for language, subject, body in (("zh-hans", zh_subject, zh_body), ("en", en_subject, en_body)):
            MessageTemplate.objects.update_or_create(
                event=event, channel=channel, language=language,
                defaults={"subject": subject, "body": body, "sample_data": sample},
            )


def unseed(apps, schema_editor):
    apps.get_model("notifications", "MessageTemplate").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
