"""The one identity page allauth lacks: sign out a single other session from the sessions list."""
from __future__ import annotations

from allauth.usersessions.adapter import get_adapter as get_usersessions_adapter
from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST


@require_POST
@login_required
def session_end(request, session_id: int):
    """Sign out one of the user's other browsers; someone else's session, or this one, is not found."""
    session = get_object_or_404(UserSession, pk=session_id, user=request.user)
    if session.is_current():
        return redirect("account_logout")
    get_usersessions_adapter().end_sessions([session])
    messages.success(request, _("已退出该设备"))
    return redirect("usersessions_list")
