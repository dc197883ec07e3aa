"""Outage notices to customers: outage_changed turned into one fan-out per announcement, per material revision and
per restoration; a notice page published twice informs customers once."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from cms.models import OutageNoticeFeeder, OutageNoticeIndexPage, OutageNoticePage
from cms.services import cms_site_ensure
from core.models import OutageKind
from core.services.outages import outage_announce, outage_cancel, outage_restore, outage_revise
from core.signals import outage_changed
from notifications import outage_alerts
from notifications.models import Event, Message, MessageTemplate
from tests.factories import (
    AccountFactory,
    BranchFactory,
    CustomerFactory,
    FeederFactory,
    ServicePointFactory,
    ServiceStationFactory,
    SubstationFactory,
    TransformerAreaFactory,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


class Grid:
    def __init__(self):
        self.now = timezone.now().replace(second=0, microsecond=0)
        self.branch = BranchFactory(name="恩施市")
        self.feeder = FeederFactory(substation=SubstationFactory(branch=self.branch))
        self.area = TransformerAreaFactory(feeder=self.feeder)
        self.later_area = TransformerAreaFactory(feeder=FeederFactory(substation=self.feeder.substation))
        station = ServiceStationFactory(branch=self.branch)
        self.customers = []
        for area, phone in ((self.area, "13800000001"), (self.area, "13800000002"), (self.later_area, "13800000003")):
            customer = CustomerFactory(phone=phone, email="")
            ServicePointFactory(account=AccountFactory(customer=customer, station=station), transformer_area=area)
            self.customers.append(customer)

    def announce(self, **overrides):
        values = dict(
            branch=self.branch, kind=OutageKind.PLANNED, title="舞阳坝街道计划停电", reason="线路检修",
            streets="舞阳大道1-99号\n金桂小区", starts_at=self.now + 8 * DAY, ends_at=self.now + 8 * DAY + 8 * HOUR,
            feeder_ids=[self.feeder.pk],
        )
        values.update(overrides)
        return outage_announce(**values)


@pytest.fixture
def grid():
    return Grid()


@pytest.fixture
def requests(monkeypatch):
    """Every fan-out the receiver asks for, as (event, idempotency prefix, data); the real fan-out still runs."""
    made = []
    original = outage_alerts.outage_notice_fan_out

    def recording(**kwargs):
        made.append((kwargs["event"], kwargs["idempotency_prefix"], kwargs["data"]))
        return original(**kwargs)

    monkeypatch.setattr(outage_alerts, "outage_notice_fan_out", recording)
    return made


def _sms(phone: str) -> list[str]:
    return list(Message.objects.filter(channel="sms", to=phone).order_by("pk").values_list("body", flat=True))


def test_an_announcement_tells_every_affected_customer_once(grid, requests, twilio, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        outage = grid.announce()
    starts = timezone.localtime(outage.starts_at).strftime("%Y-%m-%d %H:%M")
    ends = timezone.localtime(outage.ends_at).strftime("%Y-%m-%d %H:%M")
    assert requests == [(
        Event.OUTAGE_PLANNED, f"outage:{outage.pk}",
        {"area": "舞阳大道1-99号、金桂小区", "starts": starts, "ends": ends, "reason": "线路检修"},
    )]
    assert _sms("13800000001") == [f"【国网95598】因线路检修，舞阳大道1-99号、金桂小区将于{starts}至{ends}停电，请提前做好准备。"]
    assert len(_sms("13800000002")) == 1
    assert _sms("13800000003") == []
    # The signal delivered again sends nothing twice.
    outage_changed.send(sender=type(outage), outage_id=outage.pk, kind="announced", material=True)
    assert Message.objects.filter(channel="sms").count() == 2


def test_a_notice_page_published_twice_informs_customers_once(grid, requests, twilio, django_capture_on_commit_callbacks):
    home = cms_site_ensure()
    index = home.add_child(instance=OutageNoticeIndexPage(title="停电公告", slug="outages"))
    page = index.add_child(instance=OutageNoticePage(
        title="舞阳坝街道计划停电", slug="wuyang", live=False, kind=OutageKind.PLANNED, branch=grid.branch,
        starts_at=grid.now + 8 * DAY, ends_at=grid.now + 8 * DAY + 8 * HOUR, reason="线路检修", streets="金桂小区",
        feeders=[OutageNoticeFeeder(feeder=grid.feeder)],
    ))
    with django_capture_on_commit_callbacks(execute=True):
        page.save_revision().publish()
    with django_capture_on_commit_callbacks(execute=True):
        page.save_revision().publish()
    page.refresh_from_db()
    assert [(event, prefix) for event, prefix, _ in requests] == [(Event.OUTAGE_PLANNED, f"outage:{page.outage_id}")]
    assert Message.objects.filter(channel="sms").count() == 2


def test_a_text_only_revision_tells_nobody(grid, requests, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        outage = grid.announce()
        outage_revise(
            outage=outage, kind=outage.kind, title=outage.title, reason="10kV线路检修", streets=outage.streets,
            starts_at=outage.starts_at, ends_at=outage.ends_at, feeder_ids=[grid.feeder.pk],
        )
    assert len(requests) == 1


def test_new_times_or_scope_are_told_again(grid, requests, twilio, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        outage = grid.announce()
    with django_capture_on_commit_callbacks(execute=True):
        revised = outage_revise(
            outage=outage, kind=outage.kind, title=outage.title, reason=outage.reason, streets=outage.streets,
            starts_at=outage.starts_at + HOUR, ends_at=outage.ends_at + HOUR,
            feeder_ids=[grid.feeder.pk, grid.later_area.feeder_id],
        )
    event, prefix, data = requests[-1]
    assert (event, prefix) == (Event.OUTAGE_PLANNED, f"outage:{outage.pk}:rev:{revised.updated_at:%Y%m%d%H%M%S%f}")
    assert data["starts"] == timezone.localtime(outage.starts_at + HOUR).strftime("%Y-%m-%d %H:%M")
    assert len(_sms("13800000001")) == 2
    assert len(_sms("13800000003")) == 1


def test_restoration_is_told_once_and_a_withdrawal_once_per_withdrawal(
    grid, requests, twilio, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        fault = grid.announce(kind=OutageKind.FAULT, starts_at=grid.now - 2 * HOUR, ends_at=grid.now + 2 * HOUR)
    assert requests == []  # a fault is not announced ahead
    with django_capture_on_commit_callbacks(execute=True):
        outage_restore(outage=fault, restored_at=grid.now - HOUR)
    outage_changed.send(sender=type(fault), outage_id=fault.pk, kind="restored", material=True)
    assert [(event, prefix) for event, prefix, _ in requests] == [
        (Event.OUTAGE_RESTORED, f"outage:{fault.pk}:restored"),
        (Event.OUTAGE_RESTORED, f"outage:{fault.pk}:restored"),
    ]
    assert _sms("13800000001") == ["【国网95598】舞阳大道1-99号、金桂小区已恢复送电，感谢您的理解。"]

    with django_capture_on_commit_callbacks(execute=True):
        planned = grid.announce(source_key="other", starts_at=grid.now + 9 * DAY, ends_at=grid.now + 9 * DAY + HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = outage_cancel(outage=planned, reason="天气原因")
    outage_changed.send(sender=type(planned), outage_id=planned.pk, kind="cancelled", material=True)
    first_withdrawal = f"outage:{planned.pk}:cancelled:{cancelled.cancelled_at:%Y%m%d%H%M%S%f}"
    assert [(event, prefix) for event, prefix, _ in requests][2:] == [
        (Event.OUTAGE_PLANNED, f"outage:{planned.pk}"),
        (Event.OUTAGE_CANCELLED, first_withdrawal),
        (Event.OUTAGE_CANCELLED, first_withdrawal),
    ]
    starts = timezone.localtime(planned.starts_at).strftime("%Y-%m-%d %H:%M")
    ends = timezone.localtime(planned.ends_at).strftime("%Y-%m-%d %H:%M")
    assert _sms("13800000002")[-1] == (
        f"【国网95598】原定{starts}至{ends}舞阳大道1-99号、金桂小区的停电已取消，届时正常供电。"
    )
    assert len([body for body in _sms("13800000002") if "已取消" in body]) == 1

    # Announced again and withdrawn again: a second withdrawal, told again.
    with django_capture_on_commit_callbacks(execute=True):
        grid.announce(source_key="other", starts_at=grid.now + 9 * DAY, ends_at=grid.now + 9 * DAY + HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        again = outage_cancel(outage=planned, reason="施工推迟", now=cancelled.cancelled_at + HOUR)
    assert again.cancelled_at == cancelled.cancelled_at + HOUR
    assert requests[-1][:2] == (
        Event.OUTAGE_CANCELLED, f"outage:{planned.pk}:cancelled:{again.cancelled_at:%Y%m%d%H%M%S%f}"
    )
    assert len([body for body in _sms("13800000002") if "已取消" in body]) == 2


def test_an_outage_already_over_is_not_announced(grid, requests):
    outage = grid.announce(kind=OutageKind.FAULT, starts_at=grid.now - 5 * HOUR, ends_at=grid.now - HOUR)
    type(outage).objects.filter(pk=outage.pk).update(kind=OutageKind.PLANNED)
    assert outage_alerts.outage_alert_send(outage_id=outage.pk, kind="announced") == 0
    assert requests == []


def test_a_long_street_list_is_cut_for_the_sms(grid):
    outage = grid.announce(streets="\n".join(f"第{n}村民小组" for n in range(1, 20)))
    area = outage_alerts.outage_notice_data(outage)["area"]
    assert area.endswith("等") and len(area) <= outage_alerts.AREA_TEXT_LIMIT + 1
    assert area.startswith("第1村民小组、第2村民小组")


def test_a_notification_failure_never_undoes_the_announcement(grid, caplog, django_capture_on_commit_callbacks):
    MessageTemplate.objects.filter(event=Event.OUTAGE_PLANNED).delete()
    with django_capture_on_commit_callbacks(execute=True):
        outage = grid.announce()
    assert outage.pk is not None
    assert f"outage {outage.pk} (announced): notification failed" in caplog.text
    assert Message.objects.count() == 0


def test_a_restoration_recorded_long_after_the_fact_is_not_news(grid, requests, django_capture_on_commit_callbacks):
    fault = grid.announce(kind=OutageKind.FAULT, starts_at=grid.now - 3 * DAY, ends_at=grid.now - 2 * DAY)
    with django_capture_on_commit_callbacks(execute=True):
        outage_restore(outage=fault, restored_at=grid.now - 2 * DAY)
    assert requests == []
    assert _sms("13800000001") == []
