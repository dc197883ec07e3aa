"""allauth's hooks for the portal: mainland mobile numbers stored in portal.UserPhone, codes texted through
notifications, staff sent to their own pages and flagged for TOTP set-up when they have no authenticator."""
from __future__ import annotations

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from . import services
from .phones import MobileField, mobile_normalise

# Session key set at a staff login without an authenticator; the middleware holds the user on the TOTP set-up.
TOTP_SETUP_SESSION_KEY = "identity_totp_setup_required"


class PortalAccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "incorrect_code": _("验证码不正确或已过期"),
        "unknown_phone": _("该手机号码尚未注册"),
        "phone_taken": _("该手机号码已被注册"),
        "too_many_login_attempts": _("尝试次数过多，请稍后再试"),
    }

    def phone_form_field(self, **kwargs) -> MobileField:
        return MobileField(**kwargs)

    def clean_phone(self, phone: str) -> str:
        return mobile_normalise(phone)

    def set_phone(self, user, phone: str, verified: bool) -> None:
        services.user_phone_set(user=user, phone=phone, verified=verified)

    def get_phone(self, user) -> tuple[str, bool] | None:
        record = getattr(user, "phone", None) if user.pk else None
        if record is None:
            return None
        return record.phone, record.verified_at is not None

    def set_phone_verified(self, user, phone: str) -> None:
        services.user_phone_verify(user=user, phone=phone)

    def get_user_by_phone(self, phone: str):
        return services.user_by_phone(phone=phone)

    def send_verification_code_sms(self, user, phone: str, code: str, **kwargs) -> None:
        # The shorter of the two code lifetimes, so the text never promises more time than the code has.
        seconds = min(account_settings.LOGIN_BY_CODE_TIMEOUT, account_settings.PHONE_VERIFICATION_TIMEOUT)
        services.login_code_send(user=user, phone=phone, code=code, minutes=max(1, seconds // 60))

    def get_login_redirect_url(self, request) -> str:
        if request.user.is_staff:
            return settings.STAFF_LOGIN_REDIRECT_URL
        return super().get_login_redirect_url(request)

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        # A staff member held on the TOTP set-up has just signed in: asking for the password again to add the
        # authenticator the login itself demanded is noise. Everything else keeps allauth's rule.
        if app == "allauth.mfa" and self.request is not None and self.request.session.get(TOTP_SETUP_SESSION_KEY):
            return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def login(self, request, user) -> None:
        super().login(request, user)
        if user.is_staff and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            request.session[TOTP_SETUP_SESSION_KEY] = True
