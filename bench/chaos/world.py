"""What the fault runs work on, made through the project's factories and services: customers with accounts and
phones, tickets whose current step is overdue, agents signed in for the console."""
from __future__ import annotations

import datetime

from django.utils import timezone

OUTAGE = {"area": "舞阳坝街道", "starts": "11月28日 08:00", "ends": "11月28日 18:00", "reason": "线路检修"}


def accounts_create(count: int) -> list:
    """`count` residential accounts, each with its own customer and mobile number."""
    from tests.factories import AccountFactory, ServiceStationFactory, residential_tiered_tariff

    station = ServiceStationFactory()
    tariff = residential_tiered_tariff()
    return AccountFactory.create_batch(count, station=station, branch=station.branch, tariff=tariff)


def overdue_tickets_open(count: int, *, label: str) -> list[int]:
    """`count` tickets opened ten days ago whose first step is long past due and not yet marked: the ids of those
    steps, which the next SLA scan must mark overdue once each."""
    from core.models import TicketStep
    from core.services.tickets import ticket_open
    from tests.factories import BranchFactory
    from tests.ticket_factories import TEST_BUSINESS_TYPE, sample_process

    sample_process()
    branch = BranchFactory()
    opened_at = timezone.now() - datetime.timedelta(days=10)
    ticket_ids = [
        ticket_open(business_type=TEST_BUSINESS_TYPE, channel="agent", summary=f"{label} {index}", branch=branch,
                    at=opened_at, idempotency_key=f"{label}:{index}").pk
        for index in range(count)
    ]
    return list(TicketStep.objects.filter(ticket_id__in=ticket_ids, state=TicketStep.State.ACTIVE,
                                          overdue_at__isnull=True).values_list("id", flat=True))


def phone_e164(phone: str) -> str:
    from notifications.transports import phone_e164 as e164

    return e164(phone)
