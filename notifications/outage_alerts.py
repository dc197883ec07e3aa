"""Outage notices to customers: core.signals.outage_changed (sent after commit) turned into fan-out requests to
every account fed from the outage's transformer areas.

- "announced": the planned-outage notice (OUTAGE_PLANNED), idempotency prefix "outage:<id>". core sends
  "announced" once per outage (announcing the same source again is a revision), and the prefix makes a signal
  delivered twice send nothing twice.
- "revised": when customers would be told something new (`material`: the times or the affected transformer areas
  changed, or a withdrawn outage was announced again), the notice again with the new details, under a prefix
  naming that revision ("outage:<id>:rev:<updated_at to the microsecond>"), so customers newly in scope hear of it too. A revision of
  text only (title, reason, street wording, the English translation of a notice) tells nobody.
- "restored": the restored notice (OUTAGE_RESTORED) once, prefix "outage:<id>:restored", unless power came back
  more than RESTORED_NEWS_WINDOW ago (a restoration recorded late is old news).
- "cancelled": customers told of a planned or temporary outage that has not ended yet hear it is off
  (OUTAGE_CANCELLED), once per withdrawal ("outage:<id>:cancelled:<cancelled_at>"): an outage announced again and
  withdrawn again is a second withdrawal.
Faults are not announced ahead (customers already have no power), and an outage already over is not announced.
A failure here is logged, never raised: the outage change has committed.
"""
from __future__ import annotations

import datetime
import logging

from django.utils import timezone

from core.models import Outage, OutageKind, OutageState
from core.selectors.outages import outage_affected_accounts

from .models import Event, Urgency
from .services import outage_notice_fan_out

logger = logging.getLogger(__name__)

AREA_TEXT_LIMIT = 40
# Customers are told power is back only while that is news.
RESTORED_NEWS_WINDOW = datetime.timedelta(hours=12)


def outage_area_text(outage: Outage) -> str:
    """The affected streets in one short line for an SMS: the lines joined, cut at AREA_TEXT_LIMIT with 等."""
    parts = [line.strip(" ，,、;；") for line in outage.streets.splitlines() if line.strip(" ，,、;；")]
    text = "、".join(parts) or outage.title
    if len(text) > AREA_TEXT_LIMIT:
        text = text[:AREA_TEXT_LIMIT].rstrip("、，, ") + "等"
    return text


def outage_notice_data(outage: Outage) -> dict:
    """What the outage templates show: {area, starts, ends, reason}, times in local time."""
    return {
        "area": outage_area_text(outage),
        "starts": timezone.localtime(outage.starts_at).strftime("%Y-%m-%d %H:%M"),
        "ends": timezone.localtime(outage.ends_at).strftime("%Y-%m-%d %H:%M"),
        "reason": outage.reason,
    }


def outage_alert_send(*, outage_id: int, kind: str, material: bool = True) -> int:
    """Request the notices one outage change calls for; returns the number of customers asked to be told."""
    outage = Outage.objects.select_related("branch").filter(pk=outage_id).first()
    if outage is None:
        return 0
    accounts = outage_affected_accounts(outage=outage)
    if kind == "restored" and outage.state == OutageState.RESTORED:
        if outage.restored_at < timezone.now() - RESTORED_NEWS_WINDOW:
            # A restoration recorded long after the fact (back-office catch-up, an import) is old news.
            return 0
        return outage_notice_fan_out(
            accounts=accounts, event=Event.OUTAGE_RESTORED, data=outage_notice_data(outage),
            idempotency_prefix=f"outage:{outage.pk}:restored",
        )
    if kind == "cancelled" and outage.state == OutageState.CANCELLED:
        if outage.kind == OutageKind.FAULT or outage.ends_at <= timezone.now() or outage.cancelled_at is None:
            return 0
        return outage_notice_fan_out(
            accounts=accounts, event=Event.OUTAGE_CANCELLED, data=outage_notice_data(outage),
            idempotency_prefix=f"outage:{outage.pk}:cancelled:{outage.cancelled_at:%Y%m%d%H%M%S%f}",
        )
    if kind not in ("announced", "revised") or outage.state != OutageState.ANNOUNCED:
        return 0
    if outage.kind == OutageKind.FAULT or outage.ends_at <= timezone.now():
        return 0
    if kind == "announced":
        prefix = f"outage:{outage.pk}"
    elif material:
        prefix = f"outage:{outage.pk}:rev:{outage.updated_at:%Y%m%d%H%M%S%f}"
    else:
        return 0
    urgency = Urgency.URGENT if outage.kind == OutageKind.TEMPORARY else Urgency.NORMAL
    return outage_notice_fan_out(
        accounts=accounts, event=Event.OUTAGE_PLANNED, data=outage_notice_data(outage),
        idempotency_prefix=prefix, urgency=urgency,
    )


def outage_changed_notify(sender, *, outage_id: int, kind: str, material: bool = True, **kwargs) -> None:
    """Receiver of core.signals.outage_changed (sent after commit)."""
    try:
        outage_alert_send(outage_id=outage_id, kind=kind, material=material)
    except Exception:
        # The outage change has committed; a notification problem must not surface as the announcer's error.
        logger.exception("outage %s (%s): notification failed", outage_id, kind)
