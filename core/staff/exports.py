"""The supervision figures as CSV: one row per group, the same columns for every breakdown."""
from __future__ import annotations

import csv
import io

from django.utils.translation import gettext as _

from core.selectors.ticket_queue import SupervisionSummary


def supervision_csv(*, summary: SupervisionSummary) -> str:
    """UTF-8 with a byte-order mark so spreadsheet programs open the Chinese text correctly."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    start = summary.period_start.date().isoformat()
    end = summary.period_last_day.isoformat()
    writer.writerow([_("统计期间"), f"{start} ~ {end}"])
    writer.writerow(
        [_("分组"), _("名称"), _("在办"), _("预警"), _("超时"), _("期间完成"), _("按时完成"), _("按时率")]
    )
    sections = [(_("合计"), [summary.totals])]
    sections += [(heading, rows) for heading, rows in summary.groups]
    sections.append((_("按人员"), summary.by_person))
    for heading, rows in sections:
        for row in rows:
            writer.writerow(
                [heading, row.label, row.open, row.warning, row.overdue, row.finished, row.on_time,
                 row.on_time_rate_display]
            )
    return out.getvalue()
