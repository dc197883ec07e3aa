"""Reads about outages: what is coming, whom an outage affects, and whether an account is affected.

The IVR, the agent console, fault reports and the website ask here; the lookup goes through OutageArea (the
picked scope expanded to transformer areas) and the account's service points.
"""
from __future__ import annotations

import datetime

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from core.models import Account, Branch, Outage, OutageState


def outages_upcoming(*, now: datetime.datetime, days: int = 7, branch: Branch | None = None) -> QuerySet[Outage]:
    """Announced outages not yet over that start before `now + days`, soonest first."""
    outages = Outage.objects.filter(
        state=OutageState.ANNOUNCED, ends_at__gt=now, starts_at__lt=now + datetime.timedelta(days=days)
    )
    if branch is not None:
        outages = outages.filter(branch=branch)
    return outages.select_related("branch").order_by("starts_at", "pk")


def outages_affecting_account(*, account: Account, at: datetime.datetime, horizon_days: int = 0) -> list[Outage]:
    """Outages over any of the account's transformer areas that are on at `at` or start within `horizon_days` of
    it, soonest first, each with `past_expected_end` (on at `at` and its expected end passed).

    An outage is on from its start until it is restored or cancelled, not until its expected end: outages overrun,
    and an area still without power must not look unaffected (its fault reports would send a crew for nothing).
    """
    return list(
        Outage.objects.filter(
            state=OutageState.ANNOUNCED,
            starts_at__lte=at + datetime.timedelta(days=horizon_days),
            areas__transformer_area__service_points__account=account,
        )
        .annotate(past_expected_end=ExpressionWrapper(Q(ends_at__lte=at), output_field=BooleanField()))
        .distinct()
        .select_related("branch")
        .order_by("starts_at", "pk")
    )


def outage_search(
    *, now: datetime.datetime, branch_id: int | None = None, street: str = "", account_number: str = ""
) -> QuerySet[Outage]:
    """Announced outages not yet over, narrowed by county, a street fragment and an account number (an unknown
    number finds nothing; it is never an error)."""
    outages = Outage.objects.filter(state=OutageState.ANNOUNCED, ends_at__gt=now)
    if branch_id is not None:
        outages = outages.filter(branch_id=branch_id)
    street = street.strip()
    if street:
        outages = outages.filter(streets__contains=street)
    account_number = account_number.strip()
    if account_number:
        area_ids = Account.objects.filter(number=account_number).values("service_points__transformer_area_id")
        outages = outages.filter(
            pk__in=Outage.objects.filter(areas__transformer_area_id__in=area_ids).values("pk")
        )
    return outages.select_related("branch").order_by("starts_at", "pk")


def outage_affected_accounts(*, outage: Outage) -> QuerySet[Account]:
    """The open accounts fed from the outage's transformer areas, each once (a closed account has no supply)."""
    return (
        Account.objects.exclude(status=Account.Status.CLOSED)
        .filter(
            pk__in=Account.objects.filter(
                service_points__transformer_area__outage_areas__outage=outage
            ).values("pk")
        )
        .select_related("customer")
        .order_by("number")
    )
