"""Message templates in the Django admin: a preview with the SMS segment count, syntax checked on save."""
import pytest
from django.contrib.auth import get_user_model

from notifications.models import MessageTemplate

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.cn", "pw"))
    return client


def test_sms_template_preview_shows_text_and_segments(admin_client):
    template = MessageTemplate.objects.get(event="login_code", channel="sms", language="zh-hans")

    page = admin_client.get(f"/django-admin/notifications/messagetemplate/{template.pk}/change/").content.decode()

    assert "<pre>【国网95598】您的登录验证码为482913，5分钟内有效，请勿告知他人。</pre>" in page
    assert "<p>38 字（UCS-2），计 1 条短信</p>" in page


def test_email_template_preview_escapes_sample_data(admin_client):
    template = MessageTemplate.objects.get(event="outage_planned", channel="email", language="zh-hans")
    template.sample_data = {**template.sample_data, "area": "<script>"}
    template.save()

    page = admin_client.get(f"/django-admin/notifications/messagetemplate/{template.pk}/change/").content.decode()

    assert "<strong>计划停电通知：&lt;script&gt;</strong>" in page
    # The preview shows the e-mail's HTML source: the data was escaped once by the template, once for display.
    assert (
        "<pre>&lt;p&gt;因线路检修，&amp;lt;script&amp;gt;将于11月28日 08:00至11月28日 18:00停电，请提前做好准备。&lt;/p&gt;</pre>"
    ) in page


def test_template_with_a_syntax_error_is_not_saved(admin_client):
    template = MessageTemplate.objects.get(event="login_code", channel="sms", language="en")
    form = {
        "event": "login_code", "channel": "sms", "language": "en", "subject": "",
        "body": "{% if %}broken", "sample_data": "{}",
    }

    response = admin_client.post(f"/django-admin/notifications/messagetemplate/{template.pk}/change/", form)

    assert response.status_code == 200
    assert "消息模板有语法错误" in response.content.decode()
    template.refresh_from_db()
    assert template.body.startswith("[SGCC 95598] Your login code is")
