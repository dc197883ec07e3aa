"""The counter receipt PDF (reportlab): Chinese text in the WenQuanYi Micro Hei font the bill PDFs use (Debian
fonts-wqy-microhei), figures in Helvetica. The view passes in what the selectors read; nothing here queries."""
from __future__ import annotations

import io
from functools import lru_cache

from django.utils import timezone
from django.utils.translation import gettext
from reportlab.lib import colors
from reportlab.lib.pagesizes import A5, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.models import PaymentAllocation
from core.models.counter import CounterReceipt
from core.money import format_yuan
from core.selectors.ticket_queue import staff_name

# The same face as portal/pdf.py's bills and payment receipts (a TrueType collection; face 0 is Micro Hei).
CJK_FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
CJK_FONT = "WQYMicroHei"
FIGURE_FONT = "Helvetica"
BRAND_COLOUR = colors.HexColor("#00706b")
PAGE = landscape(A5)
WIDTH = PAGE[0] - 24 * mm


@lru_cache(maxsize=1)
def _font_registered() -> str:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(CJK_FONT, CJK_FONT_PATH, subfontIndex=0))
    return CJK_FONT


def _allocation_text(allocation: PaymentAllocation) -> str:
    if allocation.bill_id is not None:
        return gettext("%(period)s电费（账单%(number)s）") % {
            "period": f"{allocation.bill.period:%Y-%m}", "number": allocation.bill.number,
        }
    return gettext("%(period)s电费违约金") % {"period": f"{allocation.late_fee.bill.period:%Y-%m}"}


def _table(
    rows: list[list[str]], widths: list[float], *, figures_from: int | None = None, header: bool = False
) -> Table:
    table = Table(rows, colWidths=widths)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), CJK_FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if figures_from is not None:
        style += [
            ("FONTNAME", (figures_from, 1 if header else 0), (-1, -1), FIGURE_FONT),
            ("ALIGN", (figures_from, 0), (-1, -1), "RIGHT"),
        ]
    if header:
        style.append(("LINEBELOW", (0, 0), (-1, 0), 0.8, BRAND_COLOUR))
    table.setStyle(TableStyle(style))
    return table


def counter_receipt_pdf_render(*, receipt: CounterReceipt, allocations: list[PaymentAllocation]) -> bytes:
    """One counter receipt: who paid what, how, where and to whom, and which bills and late fees it settled."""
    font = _font_registered()
    title_style = ParagraphStyle("title", fontName=font, fontSize=15, leading=20, textColor=BRAND_COLOUR)
    note_style = ParagraphStyle("note", fontName=font, fontSize=7, leading=10, textColor=colors.grey, wordWrap="CJK")
    account = receipt.account
    is_reversal = receipt.kind == CounterReceipt.Kind.REVERSAL
    facts = [
        [gettext("收据号"), receipt.number, gettext("营业日"), f"{receipt.business_day:%Y-%m-%d}"],
        [gettext("户号"), account.number, gettext("户名"), account.name],
        [gettext("用电地址"), account.address, gettext("所属县公司"), account.branch.name],
        [gettext("收费方式"), receipt.get_method_display(), gettext("票据号"), receipt.slip_reference or "—"],
        [gettext("营业厅"), receipt.outlet.name, gettext("收费员"), staff_name(receipt.cashier)],
        [gettext("收费时间"), timezone.localtime(receipt.taken_at).strftime("%Y-%m-%d %H:%M"), "", ""],
    ]
    if is_reversal:
        facts.append([gettext("原收据号"), receipt.reverses.number, gettext("冲正原因"), receipt.reason])
    quarter = WIDTH / 4
    story = [
        Paragraph(gettext("电费冲正凭证") if is_reversal else gettext("营业厅电费收费收据"), title_style),
        Spacer(1, 3 * mm),
        _table(facts, [22 * mm, quarter * 2 - 22 * mm, 22 * mm, quarter * 2 - 22 * mm]),
        Spacer(1, 3 * mm),
    ]
    rows = [[gettext("销账明细"), gettext("金额")]]
    rows += [[_allocation_text(allocation), format_yuan(allocation.amount)] for allocation in allocations]
    if not is_reversal:
        rows.append([gettext("未销账（预存）"), format_yuan(receipt.payment.unallocated)])
    rows.append([gettext("冲正金额") if is_reversal else gettext("收费金额"), receipt.amount_display])
    story += [
        _table(rows, [WIDTH - 40 * mm, 40 * mm], figures_from=1, header=True),
        Spacer(1, 4 * mm),
        Paragraph(
            gettext("打印时间：%(time)s。请妥善保管本收据，如有疑问请拨打95598。")
            % {"time": timezone.localtime().strftime("%Y-%m-%d %H:%M")},
            note_style,
        ),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=PAGE, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=10 * mm, bottomMargin=10 * mm,
        title=gettext("收费收据 %(number)s") % {"number": receipt.number}, author=gettext("国网95598供电服务"),
        creator="95598",
    )
    document.build(story)
    return buffer.getvalue()
