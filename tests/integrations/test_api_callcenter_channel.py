"""A ticket accepted through /api/v1/callcenter/tickets/ records the channel its API client is: the call centre's own
system is the hotline's agents (95598坐席); another system granted the scope is a system interface (系统接口)."""
from __future__ import annotations

import json

import pytest

from core.models import BusinessType, Channel, Ticket
from integrations.clients import api_client_create
from integrations.scopes import CALLCENTER_READ, CALLCENTER_WRITE
from tests.factories import AccountFactory
from tests.portal.factories import residential_policy
from tests.ticket_factories import sample_process

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("system", "channel", "label"), [
    ("callcenter", Channel.AGENT, "95598坐席"),
    ("other", Channel.API, "系统接口"),
])
def test_the_ticket_channel_is_the_api_clients(client, system, channel, label):
    residential_policy()
    sample_process()
    account = AccountFactory()
    key = api_client_create(name=f"{system}-client", system=system, scopes=[CALLCENTER_READ, CALLCENTER_WRITE]).key
    body = {"reference": "CC-1", "business_type": BusinessType.METER_ACCURACY_CHECK, "summary": "电表走得太快",
            "account_number": account.number}

    response = client.post("/api/v1/callcenter/tickets/", json.dumps(body), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 201
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.get_channel_display(), response.json()["channel"]) == (channel, label, channel)
    assert ticket.data["api_client"] == f"{system}-client"
