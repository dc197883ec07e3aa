"""Staff who signed in without an authenticator reach nothing but the TOTP set-up (and sign-out) until they
have one. The flag is set on allauth's login path only (adapter.login), so force_login in tests is unaffected."""
from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from .adapter import TOTP_SETUP_SESSION_KEY

_ALLOWED_URL_NAMES = (
    "mfa_activate_totp", "mfa_index", "mfa_view_recovery_codes", "mfa_generate_recovery_codes",
    "account_logout", "account_reauthenticate", "account_email", "account_login",
)


class StaffTotpSetupMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self._allowed: frozenset[str] | None = None

    def allowed_paths(self) -> frozenset[str]:
        if self._allowed is None:
            self._allowed = frozenset(reverse(name) for name in _ALLOWED_URL_NAMES)
        return self._allowed

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get(TOTP_SETUP_SESSION_KEY):
            user = request.user
            if not user.is_authenticated:
                session.pop(TOTP_SETUP_SESSION_KEY, None)
            elif Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
                session.pop(TOTP_SETUP_SESSION_KEY, None)
            elif request.path not in self.allowed_paths() and not request.path.startswith(settings.STATIC_URL):
                return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)
