"""Where a ticket's outage stands, for the ticket page: the view passes the ticket, this reads its outage now."""
from __future__ import annotations

from django import template
from django.utils import timezone

from core.models import Outage
from core.selectors.outages import OutageProgress, outage_progress

register = template.Library()


@register.filter
def outage_progress_now(outage: Outage | None) -> OutageProgress | str:
    """The outage's OutageProgress now (upcoming, on, past_expected_end, restored, cancelled); "" for no outage."""
    return outage_progress(outage=outage, at=timezone.now()) if outage is not None else ""
