"""The integrations API: /api/v1/ for the utility's other systems, the OpenAPI schema at /api/schema/ and its
browsable docs at /api/docs/ (Swagger UI served from the bundled static files, no CDN)."""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI, Schema
from ninja.openapi.docs import Swagger
from ninja.renderers import JSONRenderer

from integrations.api.auth import API_AUTH, ClientRateThrottle
from integrations.api.errors import install_error_handlers

DESCRIPTION = """95598 客户服务平台统一接口。各系统持各自的密钥（`Authorization: Bearer <key>` 或 `X-API-Key`），
密钥带权限范围；每个写操作可带 `Idempotency-Key` 头，重复提交只生效一次。错误统一为
`{"error": {"code", "message", "fields"}}`，提示语言随 `Accept-Language`。

One API for the utility's other systems. Each system holds its own key with scopes; every write is idempotent
(an `Idempotency-Key` header, or the record's natural key); errors share one body."""

class Utf8JSONRenderer(JSONRenderer):
    """Chinese stays readable in the answers (UTF-8, not \\u escapes)."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    title="95598 Integrations API",
    version="1",
    description=DESCRIPTION,
    auth=API_AUTH,
    throttle=[ClientRateThrottle()],
    urls_namespace="api",
    openapi_url="schema/",
    docs_url="docs/",
    docs=Swagger(settings={"persistAuthorization": True}),
    renderer=Utf8JSONRenderer(),
)
install_error_handlers(api)


class WhoAmI(Schema):
    client: str
    system: str
    scopes: list[str]
    server_time: str


@api.get("/v1/whoami/", response=WhoAmI, tags=["meta"], summary=str(_("当前密钥的客户端与权限")))
def whoami(request):
    client = request.auth
    return {
        "client": client.name,
        "system": client.system,
        "scopes": client.scopes,
        "server_time": timezone.now().isoformat(),
    }


# Each topic's endpoints live in their own module, mounted under /api/v1/.
for module in (
    "readings",
    "topology",
    "finance",
    "banks",
    "callcenter",
):
    api.add_router("/v1/", f"integrations.api.{module}.router")
