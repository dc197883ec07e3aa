"""One error body for every refusal: {"error": {"code", "message", "fields"}}, the message translated by the
request's Accept-Language (Chinese by default)."""
from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from core.errors import DomainError


class ApiError(Exception):
    """A refusal with its HTTP status, a stable machine code and a translated message."""

    def __init__(self, status: int, code: str, message, *, fields: dict[str, list[str]] | None = None):
        super().__init__(str(message))
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict[str, list[str]]


class ErrorOut(Schema):
    """The one error body of the API, for `response={..., 422: ErrorOut}` declarations (one shared schema name)."""

    error: ErrorDetail


def error_body(code: str, message, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": str(message), "fields": fields or {}}}


_SOURCES = {"body", "query", "path", "file", "form", "header", "cookie"}


def _validation_fields(errors: list[dict]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in errors:
        # Ninja puts where the value came from first (body, query, path, file, form, header): the caller wants the
        # field's own name.
        location = [str(part) for part in error.get("loc", ())]
        if location and location[0] in _SOURCES:
            location = location[1:]
        location = [part for part in location if part != "payload"]
        name = ".".join(location) or "__all__"
        fields.setdefault(name, []).append(_validation_message(error))
    return fields


def _validation_message(error: dict) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return gettext("必填")
    if kind in {"json_invalid", "model_attributes_type", "dict_type"}:
        return gettext("请求体应为JSON对象")
    if kind.startswith("decimal") or kind.startswith("float") or kind.startswith("int"):
        return gettext("应为数字")
    if kind.startswith("date"):
        return gettext("日期格式应为YYYY-MM-DD")
    if kind.startswith("string"):
        return gettext("应为文本，且长度合适")
    if kind in {"list_type", "too_long", "too_short"}:
        return gettext("条数不符合要求")
    if kind == "literal_error" or kind == "enum":
        return gettext("取值不在允许范围内")
    return gettext("格式不正确")


def install_error_handlers(api: NinjaAPI) -> None:
    def respond(request: HttpRequest, status: int, body: dict) -> HttpResponse:
        return api.create_response(request, body, status=status)

    @api.exception_handler(ApiError)
    def api_error(request, exc: ApiError):
        return respond(request, exc.status, error_body(exc.code, exc.message, exc.fields))

    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        fields = getattr(exc, "errors", None) or ({exc.field: [str(exc)]} if exc.field else {})
        return respond(request, 422, error_body(exc.code, exc, fields))

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return respond(request, 422, error_body("invalid_request", _("请求内容有误"), _validation_fields(exc.errors)))

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        response = respond(request, 401, error_body("unauthenticated", _("缺少或无效的接口密钥")))
        response["WWW-Authenticate"] = 'Bearer realm="95598"'
        return response

    @api.exception_handler(Throttled)
    def throttled(request, exc: Throttled):
        return respond(request, 429, error_body("rate_limited", _("请求过于频繁，请稍后再试")))

    @api.exception_handler(RequestDataTooBig)
    def too_big(request, exc):
        return respond(request, 413, error_body("request_too_large", _("请求体过大：请分批提交，每次不超过2.5MB")))

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return respond(request, 404, error_body("not_found", _("未找到")))

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if exc.status_code == 400:  # Ninja could not parse the body at all: the same refusal as a bad field
            return respond(request, 422, error_body("invalid_request", _("请求体应为JSON对象")))
        return respond(request, exc.status_code, error_body("http_error", exc.message))
