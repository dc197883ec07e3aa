"""Admin: templates editable by staff with a live preview and SMS segment count; messages read-only."""
from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .errors import TemplateRenderError
from .models import Channel, InboxMessage, Message, MessageTemplate, NotificationPreference, SmsOptOut
from .rendering import sms_segments, template_render


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["event", "channel", "language", "subject", "body", "sample_data"]

    def clean(self):
        cleaned = super().clean()
        for field in ("subject", "body"):
            try:
                template_render(source=cleaned.get(field) or "", data={}, autoescape=True)
            except TemplateRenderError as exc:
                self.add_error(field, exc.message)
        return cleaned


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["event", "channel", "language", "subject", "updated_at"]
    list_filter = ["event", "channel", "language"]
    readonly_fields = ["preview"]

    @admin.display(description=_("预览（示例数据）"))
    def preview(self, obj: MessageTemplate) -> str:
        if obj.pk is None:
            return "-"
        autoescape = obj.channel in (Channel.EMAIL, Channel.INBOX)
        try:
            subject = template_render(source=obj.subject, data=obj.sample_data, autoescape=False)
            body = template_render(source=obj.body, data=obj.sample_data, autoescape=autoescape)
        except TemplateRenderError as exc:
            return str(exc.message)
        if obj.channel == Channel.SMS:
            counted = sms_segments(body)
            return format_html(
                "<pre>{}</pre><p>{}</p>", body,
                _("%(units)s 字（%(encoding)s），计 %(segments)s 条短信")
                % {"units": counted.units, "encoding": counted.encoding, "segments": counted.segments},
            )
        return format_html("<strong>{}</strong><pre>{}</pre>", subject, body)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "event", "to", "state", "attempts", "created_at"]
    list_filter = ["state", "channel", "event"]
    search_fields = ["to", "idempotency_key", "provider_sid"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(InboxMessage)
class InboxMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "customer", "subject", "created_at", "read_at"]
    raw_id_fields = ["customer", "message"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "topic", "enabled", "updated_at"]
    list_filter = ["kind", "topic", "enabled"]
    raw_id_fields = ["customer"]


@admin.register(SmsOptOut)
class SmsOptOutAdmin(admin.ModelAdmin):
    list_display = ["phone", "keyword", "created_at"]
    search_fields = ["phone"]
