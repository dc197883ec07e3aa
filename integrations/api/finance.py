"""/api/v1/ endpoints: finance (财务) — receivable, received and outstanding per county branch and bill month."""
from __future__ import annotations

import datetime

from django.utils.translation import gettext_lazy as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from core.models import Branch
from core.selectors.finance import FinanceFigures, FinanceSummary, finance_summary
from integrations import scopes
from integrations.api.auth import scope_require
from integrations.api.errors import ApiError, ErrorOut

router = Router(tags=["finance"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 422: ErrorOut, 429: ErrorOut}

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


class FinanceSummaryQuery(Schema):
    period: str = Field(..., pattern=PERIOD_PATTERN, description="电费年月 YYYY-MM")
    branch: str | None = Field(None, pattern=r"^[0-9A-Za-z_-]{1,16}$", description="县公司编码；不填为全部县公司")


class FinanceFiguresOut(Schema):
    bills: int = Field(..., description="当月正常电费账单张数")
    receivable: str = Field(..., description="应收电费（元，冲红已抵减）")
    received: str = Field(..., description="实收电费（元）")
    written_off: str = Field(..., description="核销（元）")
    outstanding: str = Field(..., description="欠费（元）= 应收 - 实收 - 核销")
    late_fees: str = Field(..., description="违约金（元）")
    late_fees_received: str = Field(..., description="违约金实收（元）")
    late_fees_waived: str = Field(..., description="违约金减免（元）")
    collected: str = Field(..., description="当月入账的缴费（元，扣除冲正与退费）")


class FinanceBranchFiguresOut(FinanceFiguresOut):
    code: str
    name: str


class FinanceSummaryOut(Schema):
    period: str
    currency: str
    branches: list[FinanceBranchFiguresOut]
    totals: FinanceFiguresOut


def _figures_body(figures: FinanceFigures) -> dict:
    body: dict = {"bills": figures.bills}
    body.update({name: f"{getattr(figures, name):.2f}" for name in FinanceFigures.money_fields()})
    return body


def summary_body(summary: FinanceSummary) -> dict:
    return {
        "period": f"{summary.period:%Y-%m}",
        "currency": "CNY",
        "branches": [{"code": row.code, "name": row.name, **_figures_body(row.figures)} for row in summary.branches],
        "totals": _figures_body(summary.totals),
    }


def period_parse(text: str) -> datetime.date:
    """A bill month "YYYY-MM" as its first day; a month the calendar does not have is a 422 naming `period`."""
    try:
        return datetime.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise ApiError(
            422, "invalid_period", _("电费年月无效"), fields={"period": [str(_("电费年月应为YYYY-MM，例如2026-01"))]}
        ) from None


@router.get(
    "/finance/summary/",
    response={200: FinanceSummaryOut, **ERRORS},
    summary=str(_("应收、实收、欠费（按县公司、电费年月）")),
)
def finance_summary_get(request, query: Query[FinanceSummaryQuery]):
    scope_require(request, scopes.FINANCE_READ)
    period = period_parse(query.period)
    branch = None
    if query.branch is not None:
        branch = Branch.objects.filter(code=query.branch).first()
        if branch is None:
            raise ApiError(
                422,
                "unknown_branch",
                _("县公司编码%(code)s不存在") % {"code": query.branch},
                fields={"branch": [str(_("县公司编码不存在"))]},
            )
    return Status(200, summary_body(finance_summary(period=period, branch=branch)))
