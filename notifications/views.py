"""Entry points: Twilio webhooks (signature-verified, CSRF-exempt) and the staff failures page."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from core.services.personal_data import PersonalDataShown, personal_data_access_record

from .errors import NotificationError
from .models import Channel
from .selectors import messages_needing_attention
from .services import message_resend, sms_inbound_handle, sms_status_record


def _twilio_signature_valid(request: HttpRequest) -> bool:
    """Twilio signs the URL it called: ours as Django sees it, or the public one behind a proxy."""
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    validator = RequestValidator(token)
    params = request.POST.dict()
    urls = [request.build_absolute_uri()]
    if settings.NOTIFICATIONS_PUBLIC_BASE_URL:
        urls.append(settings.NOTIFICATIONS_PUBLIC_BASE_URL.rstrip("/") + request.get_full_path())
    return any(validator.validate(url, params, signature) for url in urls)


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not _twilio_signature_valid(request):
        return HttpResponse(status=403)
    sms_status_record(
        provider_sid=request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not _twilio_signature_valid(request):
        return HttpResponse(status=403)
    reply = sms_inbound_handle(from_phone=request.POST.get("From", ""), body=request.POST.get("Body", ""))
    twiml = MessagingResponse()
    if reply:
        twiml.message(reply)
    return HttpResponse(str(twiml), content_type="application/xml")


# Which personal field a message's address is, per channel (in-app and staff messages carry no contact detail).
RECIPIENT_FIELDS = {Channel.SMS: "phone", Channel.EMAIL: "email"}


def _staff_only(view):
    def check(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(permission_required("notifications.resend_message", raise_exception=True)(check))


@require_GET
@_staff_only
def staff_failures(request: HttpRequest) -> HttpResponse:
    failures = list(messages_needing_attention()[:200])
    # The page shows each message's address in full: a customer's phone or e-mail is recorded for the auditors.
    personal_data_access_record(
        staff=request.user, context="notifications:failures",
        shown=[PersonalDataShown(customer_id=message.recipient_customer_id, account_id=None,
                                 fields=(RECIPIENT_FIELDS[message.channel],))
               for message in failures if message.recipient_customer_id and message.channel in RECIPIENT_FIELDS],
    )
    return render(request, "notifications/staff_failures.html", {"failures": failures})


@require_POST
@_staff_only
def staff_resend(request: HttpRequest, message_id: int) -> HttpResponse:
    try:
        message_resend(message_id=message_id, user=request.user)
    except NotificationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已重新排队发送"))
    return redirect("notifications_staff:failures")
