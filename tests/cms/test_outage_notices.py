"""Outage notices (停电公告): publishing announces the core outage once, the notice rules refuse in the editor and
at late publishing, unpublishing and deleting withdraw, the choosers, and the index page's search."""
from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from wagtail.models import Locale, PageLogEntry
from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text

from cms.models import OutageNoticeFeeder, OutageNoticeIndexPage, OutageNoticePage, OutageNoticeTransformerArea
from cms.outage_publishing import REFUSED_LOG_ACTION
from cms.services import cms_site_ensure
from core.models import Outage, OutageKind, OutageState
from core.signals import outage_changed
from tests.factories import (
    AccountFactory,
    BranchFactory,
    FeederFactory,
    ServicePointFactory,
    ServiceStationFactory,
    SubstationFactory,
    TransformerAreaFactory,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


class World:
    def __init__(self):
        self.now = timezone.now().replace(second=0, microsecond=0)
        self.branch = BranchFactory(name="恩施市")
        self.other_branch = BranchFactory(name="利川市")
        self.substation = SubstationFactory(branch=self.branch, name="110kV舞阳变", code="SUB-WY")
        self.feeder = FeederFactory(substation=self.substation, name="10kV舞阳一回", code="FD-WY1")
        self.area = TransformerAreaFactory(feeder=self.feeder, name="金桂小区1号台区", code="TA-JG1")
        self.other_area = TransformerAreaFactory(feeder=FeederFactory(substation=self.substation), name="土桥台区")
        station = ServiceStationFactory(branch=self.branch)
        self.account = AccountFactory(station=station)
        self.bystander = AccountFactory(station=station)
        ServicePointFactory(account=self.account, transformer_area=self.area)
        ServicePointFactory(account=self.bystander, transformer_area=self.other_area)
        foreign_sub = SubstationFactory(branch=self.other_branch)
        self.foreign_area = TransformerAreaFactory(feeder=FeederFactory(substation=foreign_sub), name="利川台区")
        self.home = cms_site_ensure()
        self.index = self.home.add_child(instance=OutageNoticeIndexPage(title="停电公告", slug="outages"))

    def notice(self, *, slug="wuyang", starts_in=8 * DAY, kind=OutageKind.PLANNED, **extra) -> OutageNoticePage:
        values = dict(
            title="舞阳坝街道计划停电", slug=slug, live=False, kind=kind, branch=self.branch,
            starts_at=self.now + starts_in, ends_at=self.now + starts_in + 8 * HOUR, reason="10kV线路检修",
            streets="舞阳大道1-99号\n金桂小区", feeders=[OutageNoticeFeeder(feeder=self.feeder)],
        )
        values.update(extra)
        return self.index.add_child(instance=OutageNoticePage(**values))


@pytest.fixture
def world():
    return World()


@pytest.fixture
def changes():
    sent = []

    def receiver(sender, **kwargs):
        sent.append(kwargs["kind"])

    outage_changed.connect(receiver, dispatch_uid="tests.cms.test_outage_notices")
    yield sent
    outage_changed.disconnect(dispatch_uid="tests.cms.test_outage_notices")


@pytest.fixture
def editor(client):
    user = get_user_model().objects.create_superuser("editor", "editor@example.com", "pw")
    client.force_login(user)
    return user


def publish(page: OutageNoticePage) -> None:
    page.save_revision().publish()
    page.refresh_from_db(fields=["live", "live_revision", "has_unpublished_changes", "outage"])


# Publishing


def test_publishing_announces_the_outage_once_however_often(world, changes, django_capture_on_commit_callbacks):
    page = world.notice()
    with django_capture_on_commit_callbacks(execute=True):
        publish(page)
    outage = Outage.objects.get()
    assert outage.source_key == f"cms:{page.translation_key}"
    assert (outage.kind, outage.state, outage.branch, outage.title) == (
        OutageKind.PLANNED, OutageState.ANNOUNCED, world.branch, "舞阳坝街道计划停电"
    )
    assert list(outage.areas.values_list("transformer_area_id", flat=True)) == [world.area.pk]
    assert outage.affected_accounts == 1
    page.refresh_from_db()
    assert page.outage_id == outage.pk

    page.ends_at += HOUR
    with django_capture_on_commit_callbacks(execute=True):
        publish(page)
        publish(page)
    assert Outage.objects.count() == 1
    outage.refresh_from_db()
    assert outage.ends_at == page.ends_at
    assert changes == ["announced", "revised"]
    page.refresh_from_db()
    assert page.outage_id == outage.pk


def test_a_notice_that_reaches_publishing_too_late_is_unpublished_and_logged(world, changes):
    page = world.notice(starts_in=3 * DAY)
    publish(page)
    page.refresh_from_db()
    assert page.live is False
    assert Outage.objects.count() == 0
    entry = PageLogEntry.objects.filter(page=page, action=REFUSED_LOG_ACTION).get()
    assert entry.data["field"] == "starts_at"
    assert entry.data["message"].startswith("计划停电须至少提前7天公告")
    assert changes == []


def test_a_temporary_notice_may_be_published_a_day_ahead(world):
    page = world.notice(kind=OutageKind.TEMPORARY, starts_in=25 * HOUR)
    publish(page)
    page.refresh_from_db()
    assert page.live is True
    assert Outage.objects.get().kind == OutageKind.TEMPORARY


def test_a_refused_revision_leaves_the_announced_outage_as_it_was(world):
    page = world.notice()
    publish(page)
    outage = Outage.objects.get()
    page.starts_at = world.now + 2 * DAY
    publish(page)
    page.refresh_from_db()
    outage.refresh_from_db()
    assert page.live is False
    assert (outage.state, outage.starts_at) == (OutageState.ANNOUNCED, world.now + 8 * DAY)
    assert page.outage_id == outage.pk


def test_a_scheduled_notice_is_checked_when_it_goes_live(world):
    page = world.notice(starts_in=8 * DAY)
    revision = page.save_revision()
    # It goes live on schedule six days later: by then the seven days' notice is gone.
    later = world.now + 6 * DAY
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: later)
        revision.publish()
    page.refresh_from_db()
    assert page.live is False
    assert Outage.objects.count() == 0


def test_the_notice_scope_must_belong_to_its_branch(world):
    page = world.notice(transformer_areas=[OutageNoticeTransformerArea(transformer_area=world.foreign_area)])
    publish(page)
    page.refresh_from_db()
    assert page.live is False
    assert PageLogEntry.objects.get(page=page, action=REFUSED_LOG_ACTION).data["message"] == "所选台区不属于恩施市"


def test_unpublishing_cancels_the_outage(world, changes, django_capture_on_commit_callbacks):
    page = world.notice()
    publish(page)
    with django_capture_on_commit_callbacks(execute=True):
        page.unpublish()
    outage = Outage.objects.get()
    assert (outage.state, outage.cancelled_reason) == (OutageState.CANCELLED, "停电公告已撤回")
    assert changes == ["cancelled"]
    # Published again: the same outage, announced again.
    publish(page)
    outage.refresh_from_db()
    assert outage.state == OutageState.ANNOUNCED
    assert Outage.objects.count() == 1


def test_deleting_a_live_notice_cancels_the_outage(world):
    page = world.notice()
    publish(page)
    page.delete()
    assert Outage.objects.get().state == OutageState.CANCELLED


def test_the_english_translation_is_the_same_outage(world):
    page = world.notice()
    publish(page)
    english = page.copy_for_translation(Locale.objects.get(language_code="en"), copy_parents=True)
    english.title = "Planned outage in Wuyangba"
    english.reason = "Line maintenance"
    english.save_revision().publish()
    outage = Outage.objects.get()
    assert (outage.title, outage.reason) == ("舞阳坝街道计划停电", "10kV线路检修")
    english.refresh_from_db()
    assert english.outage_id == outage.pk
    # Withdrawing the English version while the Chinese one is live keeps the outage.
    english.unpublish()
    outage.refresh_from_db()
    assert outage.state == OutageState.ANNOUNCED


# The editor


def _form_data(world, *, starts_in, action="action-publish", area=None):
    starts = timezone.localtime(world.now + starts_in)
    data = nested_form_data({
        "title": "金桂小区计划停电",
        "slug": "jingui",
        "kind": OutageKind.PLANNED,
        "branch": world.branch.pk,
        "starts_at": starts.strftime("%Y-%m-%d %H:%M"),
        "ends_at": (starts + 6 * HOUR).strftime("%Y-%m-%d %H:%M"),
        "reason": "配变增容改造",
        "streets": "金桂小区1-6栋",
        "details": rich_text("<p>请提前做好准备。</p>"),
        "substations": inline_formset([]),
        "feeders": inline_formset([]),
        "transformer_areas": inline_formset([{"transformer_area": (area or world.area).pk}]),
    })
    data[action] = "1"
    return data


def _add_url(world):
    return f"/admin/pages/add/cms/outagenoticepage/{world.index.pk}/"


def test_the_editor_refuses_to_publish_a_notice_too_late(world, client, editor):
    response = client.post(_add_url(world), _form_data(world, starts_in=5 * DAY))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["starts_at"][0].startswith("计划停电须至少提前7天公告：最早可于")
    assert not OutageNoticePage.objects.exists()
    assert Outage.objects.count() == 0


def test_the_editor_refuses_a_scope_of_another_branch(world, client, editor):
    response = client.post(_add_url(world), _form_data(world, starts_in=9 * DAY, area=world.foreign_area))
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["所选台区不属于恩施市"]
    assert not OutageNoticePage.objects.exists()


def test_the_editor_may_save_a_draft_that_is_not_ready(world, client, editor):
    response = client.post(_add_url(world), _form_data(world, starts_in=2 * DAY, action="action-save"))
    assert response.status_code == 302
    page = OutageNoticePage.objects.get()
    assert page.live is False
    assert Outage.objects.count() == 0


def test_the_editor_publishes_a_notice_that_keeps_the_rules(world, client, editor):
    response = client.post(_add_url(world), _form_data(world, starts_in=9 * DAY))
    assert response.status_code == 302
    page = OutageNoticePage.objects.get()
    outage = Outage.objects.get()
    assert page.live is True
    assert (page.outage_id, outage.announced_by, outage.affected_accounts) == (outage.pk, editor, 1)


def test_the_editor_opens_the_topology_choosers(world, client, editor):
    body = client.get(_add_url(world)).content.decode()
    assert "/admin/outages/transformer-areas/" in body
    response = client.get("/admin/outages/transformer-areas/results/", {"q": "金桂"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "金桂小区1号台区" in body and "TA-JG1" in body and "恩施市" in body
    assert "土桥台区" not in body
    feeders = client.get("/admin/outages/feeders/results/", {"q": "舞阳变"}).content.decode()
    assert "10kV舞阳一回" in feeders
    substations = client.get("/admin/outages/substations/results/", {"q": "利川"}).content.decode()
    assert "110kV舞阳变" not in substations


# The site


def test_the_notice_page_shows_the_outage(world, client):
    page = world.notice(transformer_areas=[OutageNoticeTransformerArea(transformer_area=world.area)])
    publish(page)
    response = client.get("/outages/wuyang/")
    assert response.status_code == 200
    body = response.content.decode()
    starts = timezone.localtime(world.now + 8 * DAY).strftime("%Y-%m-%d %H:%M")
    assert '<span class="badge badge--planned">计划停电</span>' in body
    assert f">{starts}</time>" in body
    assert "<li>舞阳大道1-99号</li><li>金桂小区</li>" in body
    assert "<dd>10kV舞阳一回</dd>" in body and "<dd>金桂小区1号台区</dd>" in body
    assert "<dd>10kV线路检修</dd>" in body


def test_the_notice_page_says_when_the_outage_is_cancelled(world, client):
    page = world.notice()
    publish(page)
    english_free = Outage.objects.get()
    from core.services.outages import outage_cancel

    outage_cancel(outage=english_free, reason="天气原因取消")
    assert "本次停电已取消" in client.get("/outages/wuyang/").content.decode()


def _published_world(world):
    publish(world.notice())
    publish(world.notice(
        slug="tuqiao", title="土桥片区计划停电", streets="土桥大道", feeders=[],
        transformer_areas=[OutageNoticeTransformerArea(transformer_area=world.other_area)], starts_in=9 * DAY,
    ))
    from core.services.outages import outage_announce

    outage_announce(
        branch=world.other_branch, kind=OutageKind.FAULT, title="利川东城故障停电", reason="线路故障",
        streets="东城街道", starts_at=world.now - HOUR, ends_at=world.now + 3 * HOUR,
        transformer_area_ids=[world.foreign_area.pk],
    )


def test_the_index_lists_current_and_upcoming_outages(world, client, django_assert_max_num_queries):
    _published_world(world)
    with django_assert_max_num_queries(30):
        response = client.get("/outages/")
    assert response.status_code == 200
    titles = [item.title for item in response.context["outages"]]
    assert titles == ["利川东城故障停电", "舞阳坝街道计划停电", "土桥片区计划停电"]
    body = response.content.decode()
    assert '<a href="/outages/wuyang/">舞阳坝街道计划停电</a>' in body
    assert '<span class="badge badge--fault">故障停电</span>' in body
    assert 'name="account"' in body and 'name="street"' in body and 'name="branch"' in body


def test_the_index_keeps_an_outage_past_its_expected_end_in_progress_until_it_is_restored(
    world, client, django_capture_on_commit_callbacks
):
    _published_world(world)
    from core.services.outages import outage_announce, outage_restore

    overrun = outage_announce(
        branch=world.branch, kind=OutageKind.FAULT, title="土桥台区故障停电", reason="配变烧损", streets="土桥大道",
        starts_at=world.now - 5 * HOUR, ends_at=world.now - HOUR, transformer_area_ids=[world.other_area.pk],
    )
    response = client.get("/outages/")
    assert [(item.title, item.progress) for item in response.context["outages"]] == [
        ("土桥台区故障停电", "past_expected_end"), ("利川东城故障停电", "on"), ("舞阳坝街道计划停电", "upcoming"),
        ("土桥片区计划停电", "upcoming"),
    ]
    body = response.content.decode()
    assert (
        '<p class="outage-card__progress outage-card__progress--past_expected_end">'
        "停电中：已过预计恢复送电时间，正在抢修</p>"
    ) in body
    assert '<p class="outage-card__progress outage-card__progress--on">停电中</p>' in body
    # Found by the account it affects, too.
    by_account = client.get("/outages/", {"account": world.bystander.number})
    assert [(item.title, item.progress_label) for item in by_account.context["outages"]] == [
        ("土桥台区故障停电", "停电中：已过预计恢复送电时间，正在抢修"), ("土桥片区计划停电", "即将停电"),
    ]

    with django_capture_on_commit_callbacks(execute=True):  # the restoration makes the cached index stale
        outage_restore(outage=overrun, restored_at=world.now)
    titles = [item.title for item in client.get("/outages/").context["outages"]]
    assert titles == ["利川东城故障停电", "舞阳坝街道计划停电", "土桥片区计划停电"]


def _queries(client, query) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get("/outages/", query).status_code == 200
    return len(captured)


def test_the_index_search_costs_the_same_queries_for_more_outages(world, client, django_assert_max_num_queries):
    _published_world(world)
    query = {"street": "大道"}
    _queries(client, query)  # warms Wagtail's site root paths
    few = _queries(client, query)
    for number in range(4):
        publish(world.notice(slug=f"more-{number}", title=f"舞阳大道第{number}段停电", starts_in=(10 + number) * DAY))
    assert _queries(client, query) == few
    with django_assert_max_num_queries(15):
        response = client.get("/outages/", query)
    assert len(response.context["outages"]) == 6


def test_the_index_searches_by_account_number(world, client):
    _published_world(world)
    response = client.get("/outages/", {"account": world.account.number})
    assert [item.title for item in response.context["outages"]] == ["舞阳坝街道计划停电"]
    assert [item.title for item in client.get("/outages/", {"account": world.bystander.number}).context["outages"]] == [
        "土桥片区计划停电"
    ]
    unknown = client.get("/outages/", {"account": "0000000000"})
    assert unknown.context["outages"] == []
    assert "没有查到符合条件的停电信息" in unknown.content.decode()


def test_the_index_searches_by_county_and_street(world, client):
    _published_world(world)
    by_county = client.get("/outages/", {"branch": world.other_branch.pk})
    assert [item.title for item in by_county.context["outages"]] == ["利川东城故障停电"]
    by_street = client.get("/outages/", {"street": "土桥"})
    assert [item.title for item in by_street.context["outages"]] == ["土桥片区计划停电"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"account": "12345"}, "account", "户号应为10位数字"),
        ({"branch": "999999"}, "branch", "选择一个有效的选项： 该选择不在可用的选项中。"),
    ],
)
def test_bad_search_input_is_a_clear_error(world, client, query, field, message):
    _published_world(world)
    response = client.get("/outages/", query)
    assert response.status_code == 200
    assert response.context["search_form"].errors[field] == [message]
    assert response.context["outages"] == []
    assert "请更正查询条件后再查询。" in response.content.decode()
