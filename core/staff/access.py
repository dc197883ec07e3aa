"""What the staff pages share: the permission guard and the bundled chart library's address."""
from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.templatetags.static import static

ECHARTS = "vendor/echarts/echarts.min.js"


def staff_permission_required(permission: str):
    """A view decorator: signed-in staff holding `permission`; anonymous visitors go to sign in, others get 403."""

    def decorator(view):
        @wraps(view)
        def check(request, *args, **kwargs):
            if not request.user.is_staff or not request.user.has_perm(permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(check)

    return decorator


def echarts_url() -> str:
    """The bundled ECharts, or "" when the asset build has not put it in the static files (the pages then show
    their tables only)."""
    try:
        return static(ECHARTS)
    except ValueError:
        return ""
