"""SMS segment counting and template rendering (pure functions), and the seeded templates in both languages."""
import pytest

from notifications.errors import TemplateRenderError
from notifications.models import Event, MessageTemplate
from notifications.rendering import SmsSegments, sms_segments, template_render


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsSegments("GSM-7", 0, 0)),
        ("Hello", SmsSegments("GSM-7", 5, 1)),
        ("a" * 160, SmsSegments("GSM-7", 160, 1)),
        ("a" * 161, SmsSegments("GSM-7", 161, 2)),
        ("a" * 306, SmsSegments("GSM-7", 306, 2)),
        ("a" * 307, SmsSegments("GSM-7", 307, 3)),
        # Extension characters take an escape septet: 80 euro signs fill 160 septets.
        ("€" * 80, SmsSegments("GSM-7", 160, 1)),
        ("€" * 81, SmsSegments("GSM-7", 162, 2)),
        ("电" * 70, SmsSegments("UCS-2", 70, 1)),
        ("电" * 71, SmsSegments("UCS-2", 71, 2)),
        ("电" * 134, SmsSegments("UCS-2", 134, 2)),
        ("电" * 135, SmsSegments("UCS-2", 135, 3)),
        # One Chinese character turns the whole text into UCS-2.
        ("a" * 69 + "电", SmsSegments("UCS-2", 70, 1)),
        ("😀", SmsSegments("UCS-2", 2, 1)),
        ("【国网95598】您的登录验证码为123456，5分钟内有效，请勿告知他人。", SmsSegments("UCS-2", 38, 1)),
    ],
)
def test_sms_segments_count_like_carriers(text, expected):
    assert sms_segments(text) == expected


def test_template_render_escapes_only_when_asked():
    source = "<b>{{ name }}</b>"

    assert template_render(source=source, data={"name": "<i>A&B</i>"}, autoescape=True) == (
        "<b>&lt;i&gt;A&amp;B&lt;/i&gt;</b>"
    )
    assert template_render(source=source, data={"name": "<i>A&B</i>"}, autoescape=False) == "<b><i>A&B</i></b>"


def test_template_render_syntax_error_is_a_typed_error():
    with pytest.raises(TemplateRenderError) as caught:
        template_render(source="{% if %}", data={}, autoescape=False)

    assert str(caught.value).startswith("消息模板有语法错误：")


@pytest.mark.django_db
def test_every_event_has_seeded_templates_in_both_languages():
    seeded = set(MessageTemplate.objects.values_list("event", "language"))

    assert seeded == {(event, language) for event in Event.values for language in ("zh-hans", "en")}
    assert MessageTemplate.objects.count() == 76


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "period", "expected"),
    [
        ("zh-hans", "2026年10月", "【国网95598】户号4200000011，2026年10月电费123.45元，请于2026-11-30前缴纳。"),
        ("en", "October 2026", "[SGCC 95598] Account 4200000011: October 2026 bill CNY 123.45, due 2026-11-30."),
    ],
)
def test_seeded_bill_template_renders_in_each_language(language, period, expected):
    template = MessageTemplate.objects.get(event=Event.BILL_ISSUED, channel="sms", language=language)
    data = {"account_number": "4200000011", "period": period, "amount": "123.45", "due_date": "2026-11-30"}

    assert template_render(source=template.body, data=data, autoescape=False) == expected
