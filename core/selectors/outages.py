"""Reads about outages: what is coming, whom an outage affects, and whether an account is affected.

The IVR, the agent console, fault reports and the website ask here; the lookup goes through OutageArea (the
picked scope expanded to transformer areas) and the account's service points.
"""
from __future__ import annotations

import datetime

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet, TextChoices
from django.utils.translation import gettext_lazy as _

from core.models import Account, Branch, Outage, OutageState


class OutageProgress(TextChoices):
    """Where one outage stands at a moment, as customers are told."""

    UPCOMING = "upcoming", _("即将停电")
    ON = "on", _("停电中")
    PAST_EXPECTED_END = "past_expected_end", _("停电中：已过预计恢复送电时间，正在抢修")
    RESTORED = "restored", _("已恢复送电")
    CANCELLED = "cancelled", _("已取消")


# How long past its expected end an outage with no restoration recorded is still taken to be on.
OVERRUN_LIMIT = datetime.timedelta(hours=24)


def outages_not_over(*, at: datetime.datetime) -> QuerySet[Outage]:
    """Outages neither restored nor cancelled at `at`, started or not, each with `past_expected_end` (started and
    its expected end passed at `at`): the one rule of when an outage is on, for every list and lookup here.

    An outage is on from its start until it is restored or cancelled, not until its expected end: outages overrun,
    and an area still without power must not look unaffected (its fault reports would send a crew for nothing, the
    IVR and the website would say nothing of it). Restoration is recorded by staff (the admin's 登记恢复送电, whose
    list filter shows the outages past their expected end) or from the meters; one nobody records is let go
    OVERRUN_LIMIT after its expected end, so a forgotten notice does not hold its areas for ever.
    """
    # An outage ends after it starts (a constraint): one past its expected end has started.
    return Outage.objects.filter(state=OutageState.ANNOUNCED, ends_at__gt=at - OVERRUN_LIMIT).annotate(
        past_expected_end=ExpressionWrapper(Q(ends_at__lte=at), output_field=BooleanField())
    )


def outages_on(*, at: datetime.datetime) -> QuerySet[Outage]:
    """Outages on at `at`: started, neither restored nor cancelled, each with `past_expected_end`."""
    return outages_not_over(at=at).filter(starts_at__lte=at)


def outage_progress(*, outage: Outage, at: datetime.datetime) -> OutageProgress:
    """The progress of one outage at `at`, by the rule of outages_not_over (for an outage read on its own)."""
    if outage.state == OutageState.RESTORED:
        return OutageProgress.RESTORED
    if outage.state == OutageState.CANCELLED:
        return OutageProgress.CANCELLED
    if outage.ends_at <= at:
        return OutageProgress.PAST_EXPECTED_END
    return OutageProgress.ON if outage.starts_at <= at else OutageProgress.UPCOMING


def outages_upcoming(*, now: datetime.datetime, days: int = 7, branch: Branch | None = None) -> QuerySet[Outage]:
    """Outages not over (on now, however long past their expected end, or to come) that start before
    `now + days`, soonest first, each with `past_expected_end`."""
    outages = outages_not_over(at=now).filter(starts_at__lt=now + datetime.timedelta(days=days))
    if branch is not None:
        outages = outages.filter(branch=branch)
    return outages.select_related("branch").order_by("starts_at", "pk")


def outages_affecting_account(*, account: Account, at: datetime.datetime, horizon_days: int = 0) -> list[Outage]:
    """Outages over any of the account's transformer areas that are on at `at` (see outages_not_over) or start
    within `horizon_days` of it, soonest first, each with `past_expected_end`."""
    return list(
        outages_not_over(at=at)
        .filter(
            starts_at__lte=at + datetime.timedelta(days=horizon_days),
            areas__transformer_area__service_points__account=account,
        )
        .distinct()
        .select_related("branch")
        .order_by("starts_at", "pk")
    )


def outage_search(
    *, now: datetime.datetime, branch_id: int | None = None, street: str = "", account_number: str = ""
) -> QuerySet[Outage]:
    """Outages not over (on now, however long past their expected end, or to come), each with
    `past_expected_end`, narrowed by county, a street fragment and an account number (an unknown number finds
    nothing; it is never an error)."""
    outages = outages_not_over(at=now)
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
