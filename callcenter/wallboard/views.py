"""The supervisors' wallboard at /callcenter/wallboard/: the page with the figures as they are now, and the same
snapshot as JSON for the page to catch up after its socket reconnects. Live updates arrive on /ws/callcenter/."""
from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from callcenter.console.access import callcenter_access
from core.selectors.call_kpis import wallboard_snapshot

from .presenters import wallboard_agent_rows, wallboard_hour_rows, wallboard_text, wallboard_tiles

PBX_STATUS_CACHE_KEY = "callcenter:pbx_status"


def supervisor_required(view):
    """Signed-in staff in the supervisor role (superusers too); anyone else is refused, visitors go to sign in."""

    @wraps(view)
    def check(request, *args, **kwargs):
        if not callcenter_access(request.user).supervisor:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(check)


def _pbx_connected() -> bool:
    status = cache.get(PBX_STATUS_CACHE_KEY)
    return isinstance(status, dict) and bool(status.get("connected"))


@require_GET
@never_cache
@supervisor_required
def wallboard_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    snapshot = wallboard_snapshot(now=now)
    return render(
        request,
        "callcenter/wallboard.html",
        {
            "snapshot": snapshot,
            "at_display": timezone.localtime(now).strftime("%H:%M:%S"),
            "tiles": wallboard_tiles(snapshot=snapshot),
            "agent_rows": wallboard_agent_rows(snapshot=snapshot),
            "hour_rows": wallboard_hour_rows(snapshot=snapshot),
            "pbx_connected": _pbx_connected(),
            "wallboard_text": wallboard_text(),
            "wallboard_config": {"ws_path": "/ws/callcenter/", "snapshot_url": reverse("callcenter:wallboard_snapshot")},
        },
    )


@require_GET
@never_cache
@supervisor_required
def wallboard_snapshot_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"kind": "wallboard", "snapshot": wallboard_snapshot(now=timezone.now()), "pbx_connected": _pbx_connected()},
        json_dumps_params={"ensure_ascii": False},
    )
