"""/api/v1/ endpoints: topology (配网信息) — the network system sends substations, feeders, transformer areas and
which area feeds each service point; it is applied as a diff, and each import's report can be read back."""
from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, Literal

from django.utils.translation import gettext_lazy as _
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from core.models import TopologyImport
from core.services.topology_import import topology_document_parse, topology_import_apply
from integrations import scopes
from integrations.api.auth import scope_require
from integrations.api.errors import ApiError, ErrorOut
from integrations.api.idempotency import idempotent

router = Router(tags=["topology"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 422: ErrorOut, 429: ErrorOut}
CODE = r"^[0-9A-Za-z][0-9A-Za-z_.\-]*$"
BIGINT_MAX = 2**63 - 1


def _code(description: str, *, required: bool = True, max_length: int = 32):
    return Field(... if required else None, pattern=CODE, max_length=max_length, description=description)


class TopologySubstationIn(Schema):
    code: str = _code("变电站编码")
    name: str | None = Field(None, min_length=1, max_length=100, description="名称；新建时必填，不填则不改")
    branch: str | None = _code("所属县公司编码；新建时必填，不同则迁移", required=False, max_length=16)
    retired: bool = Field(False, description="true：退运")


class TopologyFeederIn(Schema):
    code: str = _code("10kV线路编码")
    name: str | None = Field(None, min_length=1, max_length=100, description="名称；新建时必填，不填则不改")
    substation: str | None = _code("所属变电站编码；新建时必填，不同则迁移", required=False)
    retired: bool = Field(False, description="true：退运")


class TopologyAreaIn(Schema):
    code: str = _code("台区编码")
    name: str | None = Field(None, min_length=1, max_length=100, description="名称；新建时必填，不填则不改")
    feeder: str | None = _code("所属线路编码；新建时必填，不同则迁移", required=False)
    capacity_kva: Decimal | None = Field(None, gt=0, max_digits=10, decimal_places=2, description="配变容量(kVA)")
    retired: bool = Field(False, description="true：退运")


class TopologyServicePointIn(Schema):
    code: str = _code("计量点编号（须已存在）")
    transformer_area: str = _code("供电台区编码")


class TopologyDocumentIn(Schema):
    mode: Literal["full", "partial"] = Field(
        ..., description="full：全量，文档未列出的（限branch范围）退运；partial：增量，只改文档列出的"
    )
    branch: str | None = _code("全量导入的县公司范围；不填为全公司", required=False, max_length=16)
    substations: list[TopologySubstationIn] = Field(default_factory=list)
    feeders: list[TopologyFeederIn] = Field(default_factory=list)
    transformer_areas: list[TopologyAreaIn] = Field(default_factory=list)
    service_points: list[TopologyServicePointIn] = Field(default_factory=list)


class TopologyImportQuery(Schema):
    dry_run: bool = Field(False, description="true：只计算差异报告，不修改")


class TopologyImportPath(Schema):
    import_id: int = Field(..., ge=1, le=BIGINT_MAX)


class TopologyImportOut(Schema):
    id: int
    status: str
    mode: str
    branch: str | None
    source: str
    document_sha256: str
    created_at: datetime.datetime
    report: dict[str, Any]


def import_body(record: TopologyImport) -> dict:
    return {
        "id": record.pk,
        "status": record.status,
        "mode": record.mode,
        "branch": record.report.get("branch"),
        "source": record.source,
        "document_sha256": record.document_sha256,
        "created_at": record.created_at,
        "report": record.report,
    }


@router.post(
    "/topology/",
    response={200: TopologyImportOut, 201: TopologyImportOut, **ERRORS},
    summary=str(_("导入配网拓扑（按差异应用）")),
    description=str(_(
        "应用后返回201与差异报告（新增、修改、迁移、退运，计量点重新挂接）；dry_run=true只试算，返回200，不做修改。"
        "会使计量点、台区或线路失去上级的文档整体退回（422），fields逐项指明位置。同一文档重复导入不再改动（报告均为未变）；"
        "带Idempotency-Key重复提交返回首次结果。权限：topology:write。"
    )),
)
def topology_import(request, payload: TopologyDocumentIn, query: Query[TopologyImportQuery]):
    client = scope_require(request, scopes.TOPOLOGY_WRITE)
    document = topology_document_parse(data=payload.model_dump())

    def run() -> tuple[int, dict]:
        record = topology_import_apply(document=document, source=f"api:{client.name}", dry_run=query.dry_run)
        return (200 if query.dry_run else 201), import_body(record)

    status, body = idempotent(request, run)
    return Status(status, body)


@router.get(
    "/topology/imports/{import_id}/",
    response={200: TopologyImportOut, 404: ErrorOut, **ERRORS},
    summary=str(_("配网拓扑导入的差异报告")),
    description=str(_("权限：topology:read。")),
)
def topology_import_report(request, path: Path[TopologyImportPath]):
    scope_require(request, scopes.TOPOLOGY_READ)
    record = TopologyImport.objects.filter(pk=path.import_id).first()
    if record is None:
        raise ApiError(404, "not_found", _("没有这次配网拓扑导入"))
    return Status(200, import_body(record))
