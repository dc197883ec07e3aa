"""Bill and payment-receipt PDFs (reportlab): Chinese text in the WenQuanYi Micro Hei font the server has (Debian
fonts-wqy-microhei), figures in Helvetica. The views pass in what the selectors read; nothing here queries."""
from __future__ import annotations

import io
from functools import lru_cache

from django.utils import timezone
from django.utils.translation import gettext
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.models import Account, Payment, PaymentAllocation
from core.money import format_yuan
from core.selectors.portal_bills import BillView, kwh_text

# The CJK font of the Debian package fonts-wqy-microhei (a TrueType collection; face 0 is Micro Hei).
CJK_FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
CJK_FONT = "WQYMicroHei"
FIGURE_FONT = "Helvetica"
BRAND_COLOUR = colors.HexColor("#00706b")


@lru_cache(maxsize=1)
def _font_registered() -> str:
    pdfmetrics.registerFont(TTFont(CJK_FONT, CJK_FONT_PATH, subfontIndex=0))
    return CJK_FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = _font_registered()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=16, leading=22, textColor=BRAND_COLOUR),
        "body": ParagraphStyle("body", fontName=font, fontSize=10, leading=15, wordWrap="CJK"),
        "note": ParagraphStyle("note", fontName=font, fontSize=8, leading=12, textColor=colors.grey, wordWrap="CJK"),
    }


def _facts_table(rows: list[tuple[str, str]]) -> Table:
    table = Table(rows, colWidths=[32 * mm, 138 * mm])
    table.setStyle(
        TableStyle([
            ("FONTNAME", (0, 0), (-1, -1), CJK_FONT),
            ("FONTSIZE", (0, 0), (-1, -1), 10),
            ("TEXTCOLOR", (0, 0), (0, -1), colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ])
    )
    return table


def _figures_table(header: list[str], rows: list[list[str]], figure_columns: int) -> Table:
    """A table whose last `figure_columns` columns are figures (Helvetica, right-aligned)."""
    width = 170 * mm
    first = width - figure_columns * 32 * mm
    table = Table([header, *rows], colWidths=[first] + [32 * mm] * figure_columns, repeatRows=1)
    first_figure = len(header) - figure_columns
    table.setStyle(
        TableStyle([
            ("FONTNAME", (0, 0), (-1, 0), CJK_FONT),
            ("FONTNAME", (0, 1), (first_figure - 1, -1), CJK_FONT),
            ("FONTNAME", (first_figure, 1), (-1, -1), FIGURE_FONT),
            ("FONTSIZE", (0, 0), (-1, -1), 10),
            ("ALIGN", (first_figure, 0), (-1, -1), "RIGHT"),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, BRAND_COLOUR),
            ("LINEBELOW", (0, -1), (-1, -1), 0.4, colors.grey),
        ])
    )
    return table


def _document(*, title: str, story: list) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm, bottomMargin=18 * mm,
        title=title, author=gettext("国网95598供电服务"), creator="95598",
    )
    document.build(story)
    return buffer.getvalue()


def _footer(styles) -> list:
    printed = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    return [
        Spacer(1, 8 * mm),
        Paragraph(
            gettext("打印时间：%(time)s。本凭证由网上营业厅生成，如有疑问请拨打95598。") % {"time": printed}, styles["note"]
        ),
    ]


def bill_pdf_render(*, account: Account, view: BillView) -> bytes:
    """One bill: the account, the period, each line (quantity x price = amount), totals and the bill in words."""
    styles = _styles()
    bill = view.bill
    facts = [
        (gettext("户号"), account.number),
        (gettext("户名"), account.name),
        (gettext("用电地址"), account.address),
        (gettext("电费年月"), f"{bill.period:%Y-%m}"),
        (gettext("账单号"), bill.number),
        (gettext("账单类型"), bill.get_kind_display()),
        (gettext("电价"), bill.tariff_version.tariff.name),
        (gettext("发行日期"), f"{bill.issued_on:%Y-%m-%d}"),
        (gettext("缴费截止日"), f"{bill.due_date:%Y-%m-%d}"),
        (gettext("状态"), bill.get_state_display()),
    ]
    lines = [[line.label, kwh_text(line.quantity), line.unit_price_text, line.amount_display] for line in view.lines]
    totals = [
        [gettext("电量合计(千瓦时)"), "", "", kwh_text(bill.kwh)],
        [gettext("应收金额"), "", "", bill.total_display],
        [gettext("已收金额"), "", "", format_yuan(bill.amount_paid)],
        [gettext("尚欠金额"), "", "", bill.outstanding_display],
    ]
    story = [
        Paragraph(gettext("电费账单"), styles["title"]),
        Spacer(1, 4 * mm),
        _facts_table(facts),
        Spacer(1, 5 * mm),
        _figures_table([gettext("项目"), gettext("数量"), gettext("单价(元)"), gettext("金额")], lines + totals, 3),
        Spacer(1, 5 * mm),
        Paragraph(view.summary, styles["body"]),
        *_footer(styles),
    ]
    return _document(title=gettext("电费账单 %(number)s") % {"number": bill.number}, story=story)


def _allocation_text(allocation: PaymentAllocation) -> str:
    if allocation.bill_id is not None:
        return gettext("%(period)s电费（账单%(number)s）") % {
            "period": f"{allocation.bill.period:%Y-%m}", "number": allocation.bill.number,
        }
    return gettext("%(period)s电费违约金") % {"period": f"{allocation.late_fee.bill.period:%Y-%m}"}


def payment_receipt_pdf_render(*, account: Account, payment: Payment, allocations: list[PaymentAllocation]) -> bytes:
    """A payment receipt: who paid what, when, by which channel, and which bills and late fees it settled."""
    styles = _styles()
    received = timezone.localtime(payment.received_at).strftime("%Y-%m-%d %H:%M")
    facts = [
        (gettext("户号"), account.number),
        (gettext("户名"), account.name),
        (gettext("缴费时间"), received),
        (gettext("缴费渠道"), payment.get_channel_display()),
        (gettext("流水号"), payment.external_reference or str(payment.pk)),
        (gettext("状态"), payment.get_status_display()),
    ]
    rows = [[_allocation_text(allocation), format_yuan(allocation.amount)] for allocation in allocations]
    rows.append([gettext("未销账（预存）"), format_yuan(payment.unallocated)])
    rows.append([gettext("缴费金额"), payment.amount_display])
    story = [
        Paragraph(gettext("电费缴费凭证"), styles["title"]),
        Spacer(1, 4 * mm),
        _facts_table(facts),
        Spacer(1, 5 * mm),
        _figures_table([gettext("销账明细"), gettext("金额")], rows, 1),
        *_footer(styles),
    ]
    return _document(title=gettext("缴费凭证 %(id)s") % {"id": payment.pk}, story=story)
