"""Retired grid elements (退运: retired_at set by the topology import) are no longer offered for an outage: the notice
editor's choosers leave them out, a notice that still picks one is refused with a clear message, and a substation or
feeder picked whole reaches only the transformer areas still in service."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from cms.models import OutageNoticePage
from core.errors import OutageScopeInvalid
from core.models import Outage, OutageArea, OutageKind
from core.services.outages import outage_announce
from tests.cms.test_outage_notices import DAY, HOUR, World, _add_url, _form_data
from tests.cms.test_outage_notices import editor as editor  # the signed-in superuser fixture, shared
from tests.factories import AccountFactory, FeederFactory, ServicePointFactory, SubstationFactory, TransformerAreaFactory

pytestmark = pytest.mark.django_db
RETIRED = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture
def world():
    world = World()
    world.old_substation = SubstationFactory(branch=world.branch, name="35kV旧城变", code="SUB-OLD", retired_at=RETIRED)
    world.old_feeder = FeederFactory(substation=world.substation, name="10kV舞阳旧线", code="FD-OLD",
                                     retired_at=RETIRED)
    world.old_area = TransformerAreaFactory(feeder=world.feeder, name="金桂旧台区", code="TA-OLD", retired_at=RETIRED)
    # A customer still mapped to the retired area must not be told of an outage on its feeder.
    ServicePointFactory(account=AccountFactory(station=world.account.station), transformer_area=world.old_area)
    return world


def test_the_choosers_offer_only_elements_in_service(world, client, editor):
    areas = client.get("/admin/outages/transformer-areas/results/", {"q": "金桂"}).content.decode()
    assert "金桂小区1号台区" in areas and "金桂旧台区" not in areas and "TA-OLD" not in areas
    feeders = client.get("/admin/outages/feeders/results/", {"q": "舞阳"}).content.decode()
    assert "10kV舞阳一回" in feeders and "10kV舞阳旧线" not in feeders
    substations = client.get("/admin/outages/substations/results/").content.decode()
    assert "110kV舞阳变" in substations and "35kV旧城变" not in substations


def test_the_editor_refuses_a_notice_that_picks_a_retired_area(world, client, editor):
    response = client.post(_add_url(world), _form_data(world, starts_in=9 * DAY, area=world.old_area))

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["所选台区已退运，不能安排停电"]
    assert not OutageNoticePage.objects.exists() and not Outage.objects.exists()


@pytest.mark.parametrize(("picks", "message"), [
    ({"substation_ids": "old_substation"}, "所选变电站已退运，不能安排停电"),
    ({"feeder_ids": "old_feeder"}, "所选10kV线路已退运，不能安排停电"),
    ({"transformer_area_ids": "old_area"}, "所选台区已退运，不能安排停电"),
])
def test_announcing_over_a_retired_element_is_refused_and_writes_nothing(world, picks, message):
    (field, name), = picks.items()
    with pytest.raises(OutageScopeInvalid) as refused:
        outage_announce(branch=world.branch, kind=OutageKind.PLANNED, title="检修", reason="线路检修", streets="",
                        starts_at=world.now + 8 * DAY, ends_at=world.now + 8 * DAY + HOUR,
                        **{field: [getattr(world, name).pk]})
    assert (str(refused.value), refused.value.field) == (message, field)
    assert not Outage.objects.exists()


def test_a_whole_feeder_reaches_only_its_areas_in_service(world):
    outage = outage_announce(branch=world.branch, kind=OutageKind.PLANNED, title="检修", reason="线路检修",
                             streets="", starts_at=timezone.now() + 8 * DAY, ends_at=timezone.now() + 8 * DAY + HOUR,
                             feeder_ids=[world.feeder.pk])

    assert list(OutageArea.objects.filter(outage=outage).values_list("transformer_area__code", flat=True)) == [
        "TA-JG1"
    ]
    assert outage.affected_accounts == 1
