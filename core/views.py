"""Platform-level HTTP endpoints of core: liveness and readiness for the process manager and the load balancer."""
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import platform_health


@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers HTTP. Touches no dependency, so a database or Redis outage never gets every
    web process restarted at once (that is what /readyz/ is for)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Readiness: 200 when the database, cache, broker, channel layer and PBX connection all answer; 503 naming
    what is down."""
    results = platform_health()
    down = [r.name for r in results if not r.ok]
    body = {
        "status": "ok" if not down else "down",
        "down": down,
        "checks": {r.name: {"ok": r.ok, "detail": r.detail} for r in results},
    }
    return JsonResponse(body, status=200 if not down else 503, json_dumps_params={"ensure_ascii": False})
