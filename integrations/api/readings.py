"""/api/v1/ endpoints: data acquisition (集抄 / 用电信息采集 / 负荷管理) — meter readings in batches (JSON or CSV) and
meter power-off / power-restore events, each row answered accepted, duplicate or rejected with the reason."""
from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Literal

import pydantic
from django.core.exceptions import RequestDataTooBig
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from ninja import Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import Field

from core.services.meter_events import MeterEventReport, MeterEventRow, meter_events_record
from core.services.readings import ImportReport, ReadingRow
from core.services.readings_batch import ReadingFileInvalid, readings_batch_import, readings_csv_rows
from integrations import scopes
from integrations.api.auth import scope_require
from integrations.api.errors import ApiError, ErrorOut
from integrations.api.idempotency import idempotent

router = Router(tags=["readings"])

# One request is one acquisition push; a bigger file goes through `manage.py readings_import`.
MAX_READINGS = 20_000
MAX_EVENTS = 10_000
# Readings pushed by other systems; meter replacement readings come only from core's own meter_replace.
ReadingSource = Literal["ami", "manual", "estimate"]
EventSource = Literal["acquisition", "concentrator", "load_management"]
Quantity = Decimal | int | str


ERRORS = {status: ErrorOut for status in (401, 403, 413, 415, 422, 429)}


class ReadingIn(Schema):
    meter: str = Field(..., min_length=1, max_length=32, description="电能表资产编号")
    read_on: str = Field(..., max_length=32, description="抄表日期 YYYY-MM-DD")
    total: Quantity = Field(..., description="总示数（kWh，最多两位小数）")
    peak: Quantity | None = Field(None, description="峰示数")
    flat: Quantity | None = Field(None, description="平示数")
    valley: Quantity | None = Field(None, description="谷示数")
    max_demand_kw: Quantity | None = Field(None, description="最大需量（kW）")
    power_factor: Quantity | None = Field(None, description="功率因数（0-1）")


class ReadingsIn(Schema):
    source: ReadingSource = Field("ami", description="来源：ami 用电信息采集，manual 人工抄表，estimate 估抄")
    readings: list[ReadingIn] = Field(..., min_length=1, max_length=MAX_READINGS)


class ReadingRowOut(Schema):
    row: int = Field(..., description="JSON为第几条（从1起）；CSV为文件行号（表头为第1行）")
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str
    reading_id: int | None


class ReadingsOut(Schema):
    source: str
    accepted: int
    duplicates: int
    rejected: int
    rows: list[ReadingRowOut]


class MeterEventIn(Schema):
    meter: str = Field(..., min_length=1, max_length=32, description="电能表资产编号")
    kind: str = Field(..., max_length=32, description="power_off 停电，power_restore 复电")
    occurred_at: str = Field(..., max_length=40, description="发生时间，ISO 8601 带时区")


class MeterEventsIn(Schema):
    source: EventSource = Field("acquisition", description="来源系统")
    events: list[MeterEventIn] = Field(..., min_length=1, max_length=MAX_EVENTS)


class MeterEventRowOut(Schema):
    row: int
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str
    event_id: int | None


class OutageMarkedOut(Schema):
    id: int
    title: str
    starts_at: str
    ends_at: str


class OutageRestoredOut(Schema):
    id: int
    title: str
    restored_at: str


class TicketLeftOut(Schema):
    ticket: str
    reason: str


class MeterEventsOut(Schema):
    source: str
    accepted: int
    duplicates: int
    rejected: int
    rows: list[MeterEventRowOut]
    outages_marked: list[OutageMarkedOut]
    outages_restored: list[OutageRestoredOut]
    tickets_closed: list[str]
    tickets_left: list[TicketLeftOut]


def _inlined(schema: dict) -> dict:
    """A pydantic JSON schema with its $defs written in place, so it can sit inside the OpenAPI document."""
    definitions = schema.pop("$defs", {})

    def resolve(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return resolve(schema)


READINGS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inlined(ReadingsIn.model_json_schema())},
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "UTF-8，首行为表头：meter,read_on,total[,peak,flat,valley,max_demand_kw,"
                    "power_factor]；来源由查询参数 source 指定（默认 ami）",
                }
            },
        },
    },
    "parameters": [
        {
            "name": "source",
            "in": "query",
            "required": False,
            "description": "CSV的来源（ami、manual、estimate）；JSON在请求体中给出",
            "schema": {"type": "string", "enum": ["ami", "manual", "estimate"], "default": "ami"},
        }
    ],
}


def _body(request) -> bytes:
    try:
        return request.body
    except RequestDataTooBig:
        raise ApiError(413, "payload_too_large", _("请求体过大，请分批上传或使用文件导入命令")) from None


def _invalid(fields: dict[str, list[str]]) -> ApiError:
    return ApiError(422, "invalid_request", _("请求内容有误"), fields=fields)


def _json_payload(request, model: type[Schema]):
    """The JSON body validated by `model`; numbers are read as decimals, never floats."""
    try:
        data = json.loads(_body(request), parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise _invalid({"__all__": [gettext("请求体应为JSON对象")]})
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        raise ValidationError([{**item, "loc": ("body", *item["loc"])} for item in error.errors()]) from None


def _csv_rows(request) -> tuple[str, list[ReadingRow]]:
    source = request.GET.get("source", "ami")
    if source not in ReadingSource.__args__:
        raise _invalid({"source": [gettext("取值不在允许范围内")]})
    try:
        text = _body(request).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _invalid({"__all__": [gettext("CSV文件应为UTF-8编码")]}) from None
    rows = []
    try:
        for row in readings_csv_rows(lines=io.StringIO(text, newline="")):
            if len(rows) >= MAX_READINGS:
                raise _invalid({"readings": [gettext("每次最多上传%(count)d条") % {"count": MAX_READINGS}]})
            rows.append(row)
    except ReadingFileInvalid as error:
        raise _invalid({error.field: [str(error)]}) from None
    if not rows:
        raise _invalid({"readings": [gettext("没有数据行")]})
    return source, rows


def _json_rows(request) -> tuple[str, list[ReadingRow]]:
    payload = _json_payload(request, ReadingsIn)
    rows = [
        ReadingRow(
            meter_asset_number=item.meter, read_on=item.read_on, total=item.total, peak=item.peak, flat=item.flat,
            valley=item.valley, max_demand_kw=item.max_demand_kw, power_factor=item.power_factor, row_number=index,
        )
        for index, item in enumerate(payload.readings, start=1)
    ]
    return payload.source, rows


def readings_body(*, source: str, report: ImportReport) -> dict:
    return {
        "source": source,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "rows": [
            {"row": row.row_number, "status": row.status, "reason": row.reason, "reading_id": row.reading_id}
            for row in report.rows
        ],
    }


@router.post(
    "/readings/",
    response={200: ReadingsOut, **ERRORS},
    summary=str(_("上传抄表示数（JSON或CSV），逐行返回结果")),
    openapi_extra=READINGS_BODY,
)
def readings_post(request):
    scope_require(request, scopes.READINGS_WRITE)
    content_type = request.content_type or ""
    if content_type == "text/csv":
        source, rows = _csv_rows(request)
    elif content_type == "application/json":
        source, rows = _json_rows(request)
    else:
        raise ApiError(415, "unsupported_media_type", _("请求体应为 application/json 或 text/csv"))

    def run():
        report = readings_batch_import(rows=rows, source=source)
        return 200, readings_body(source=source, report=report)

    return Status(*idempotent(request, run))


def _iso(moment) -> str:
    return timezone.localtime(moment).isoformat()


def meter_events_body(*, source: str, report: MeterEventReport) -> dict:
    return {
        "source": source,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "rows": [
            {"row": row.row_number, "status": row.status, "reason": row.reason, "event_id": row.event_id}
            for row in report.rows
        ],
        "outages_marked": [
            {"id": o.pk, "title": o.title, "starts_at": _iso(o.starts_at), "ends_at": _iso(o.ends_at)}
            for o in report.outages_marked
        ],
        "outages_restored": [
            {"id": o.pk, "title": o.title, "restored_at": _iso(o.restored_at)} for o in report.outages_restored
        ],
        "tickets_closed": [ticket.number for ticket in report.tickets_closed],
        "tickets_left": [{"ticket": ticket.number, "reason": reason} for ticket, reason in report.tickets_left],
    }


@router.post(
    "/meter-events/",
    response={200: MeterEventsOut, **ERRORS},
    summary=str(_("上报电能表停电/复电事件")),
)
def meter_events_post(request, payload: MeterEventsIn):
    scope_require(request, scopes.METER_EVENTS_WRITE)
    rows = [
        MeterEventRow(meter_asset_number=item.meter, kind=item.kind, occurred_at=item.occurred_at, row_number=index)
        for index, item in enumerate(payload.events, start=1)
    ]

    def run():
        report = meter_events_record(rows=rows, source=payload.source)
        return 200, meter_events_body(source=payload.source, report=report)

    return Status(*idempotent(request, run))
