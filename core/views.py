"""Platform-level HTTP endpoints of core."""
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import platform_health


@never_cache
@require_GET
def healthz(request):
    """200 when the database, cache, broker and channel layer all answer; 503 naming what is down."""
    results = platform_health()
    down = [r.name for r in results if not r.ok]
    body = {
        "status": "ok" if not down else "down",
        "down": down,
        "checks": {r.name: {"ok": r.ok, "detail": r.detail} for r in results},
    }
    return JsonResponse(body, status=200 if not down else 503, json_dumps_params={"ensure_ascii": False})
