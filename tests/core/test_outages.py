"""Outages in core: notice rules, topology ownership and expansion, one outage per source, the changes' signals,
and the selectors the site, the IVR and the agent console read."""
from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.test import override_settings
from django.utils import timezone

from core.errors import (
    OutageError,
    OutageNoticeTooShort,
    OutageScopeInvalid,
    OutageStateInvalid,
    OutageTimesInvalid,
)
from core.models import Account, Outage, OutageArea, OutageKind, OutageState
from core.selectors.outages import (
    OVERRUN_LIMIT,
    OutageProgress,
    outage_affected_accounts,
    outage_progress,
    outage_search,
    outages_affecting_account,
    outages_not_over,
    outages_on,
    outages_upcoming,
)
from core.services.outages import (
    outage_announce,
    outage_announce_check,
    outage_cancel,
    outage_restore,
    outage_revise,
)
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

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2025, 6, 2, 9, 0, tzinfo=SHANGHAI)
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


class Grid:
    """Branch 恩施 with substation S1 -> feeders F1 (areas A1, A2) and F2 (area A3); one account per area (two on
    A1); branch 利川 with its own substation, feeder and area."""

    def __init__(self):
        self.branch = BranchFactory(name="恩施市")
        self.other_branch = BranchFactory(name="利川市")
        self.s1 = SubstationFactory(branch=self.branch)
        self.f1 = FeederFactory(substation=self.s1)
        self.f2 = FeederFactory(substation=self.s1)
        self.a1 = TransformerAreaFactory(feeder=self.f1)
        self.a2 = TransformerAreaFactory(feeder=self.f1)
        self.a3 = TransformerAreaFactory(feeder=self.f2)
        station = ServiceStationFactory(branch=self.branch)
        self.acc1 = AccountFactory(station=station)
        self.acc1b = AccountFactory(station=station)
        self.acc2 = AccountFactory(station=station)
        self.acc3 = AccountFactory(station=station)
        for account, area in ((self.acc1, self.a1), (self.acc1b, self.a1), (self.acc2, self.a2), (self.acc3, self.a3)):
            ServicePointFactory(account=account, transformer_area=area)
        self.foreign_sub = SubstationFactory(branch=self.other_branch)
        self.foreign_feeder = FeederFactory(substation=self.foreign_sub)
        self.foreign_area = TransformerAreaFactory(feeder=self.foreign_feeder)


@pytest.fixture
def grid(db):
    return Grid()


def announce(grid, **overrides):
    values = dict(
        branch=grid.branch, kind=OutageKind.PLANNED, title="舞阳坝街道计划停电", reason="10kV线路检修",
        streets="舞阳大道1-99号\n金桂小区", starts_at=NOW + 8 * DAY, ends_at=NOW + 8 * DAY + 8 * HOUR,
        feeder_ids=[grid.f1.pk], now=NOW,
    )
    values.update(overrides)
    return outage_announce(**values)


@pytest.fixture
def signals():
    sent = []

    def receiver(sender, **kwargs):
        sent.append((kwargs["kind"], kwargs["material"]))

    outage_changed.connect(receiver, dispatch_uid="tests.core.test_outages")
    yield sent
    outage_changed.disconnect(dispatch_uid="tests.core.test_outages")


# Notice rules


def test_a_planned_outage_needs_seven_days_notice(grid):
    with pytest.raises(OutageNoticeTooShort) as refused:
        announce(grid, starts_at=NOW + 7 * DAY - datetime.timedelta(minutes=1), ends_at=NOW + 8 * DAY)
    assert refused.value.field == "starts_at"
    assert str(refused.value) == "计划停电须至少提前7天公告：最早可于2025-06-09 09:00开始；紧急情况请选择临时停电"
    assert Outage.objects.count() == 0

    outage = announce(grid, starts_at=NOW + 7 * DAY, ends_at=NOW + 7 * DAY + 4 * HOUR)
    assert outage.state == OutageState.ANNOUNCED
    assert outage.announced_at == NOW


def test_a_temporary_outage_needs_twenty_four_hours_notice(grid):
    with pytest.raises(OutageNoticeTooShort) as refused:
        announce(grid, kind=OutageKind.TEMPORARY, starts_at=NOW + 23 * HOUR, ends_at=NOW + 30 * HOUR)
    assert str(refused.value) == "临时停电须至少提前24小时公告：最早可于2025-06-03 09:00开始"
    outage = announce(grid, kind=OutageKind.TEMPORARY, starts_at=NOW + 24 * HOUR, ends_at=NOW + 30 * HOUR)
    assert outage.kind == OutageKind.TEMPORARY


def test_a_fault_needs_no_notice(grid):
    outage = announce(grid, kind=OutageKind.FAULT, starts_at=NOW - HOUR, ends_at=NOW + 3 * HOUR)
    assert outage.kind == OutageKind.FAULT


@override_settings(OUTAGE_PLANNED_NOTICE_DAYS=3, OUTAGE_TEMPORARY_NOTICE_HOURS=12)
def test_the_notice_periods_come_from_settings(grid):
    announce(grid, starts_at=NOW + 3 * DAY, ends_at=NOW + 3 * DAY + HOUR, source_key="a")
    announce(grid, kind=OutageKind.TEMPORARY, starts_at=NOW + 12 * HOUR, ends_at=NOW + 13 * HOUR, source_key="b")
    with pytest.raises(OutageNoticeTooShort):
        announce(grid, kind=OutageKind.TEMPORARY, starts_at=NOW + 11 * HOUR, ends_at=NOW + 13 * HOUR)


def test_the_end_must_follow_the_start(grid):
    with pytest.raises(OutageTimesInvalid) as refused:
        announce(grid, ends_at=NOW + 8 * DAY)
    assert (refused.value.field, str(refused.value)) == ("ends_at", "预计恢复送电时间必须晚于停电开始时间")


def test_naive_times_and_unknown_kinds_are_refused(grid):
    with pytest.raises(OutageTimesInvalid) as refused:
        announce(grid, starts_at=datetime.datetime(2025, 6, 20, 8, 0))
    assert refused.value.field == "starts_at"
    with pytest.raises(OutageError) as refused:
        announce(grid, kind="storm")
    assert (refused.value.field, str(refused.value)) == ("kind", "停电类型无效")
    with pytest.raises(OutageError) as refused:
        announce(grid, reason="  ")
    assert (refused.value.field, str(refused.value)) == ("reason", "停电原因不能为空")
    assert Outage.objects.count() == 0


# Topology


def test_the_scope_must_not_be_empty(grid):
    with pytest.raises(OutageScopeInvalid) as refused:
        announce(grid, feeder_ids=[])
    assert (refused.value.field, str(refused.value)) == ("scope", "请至少选择一个停电的变电站、线路或台区")


@pytest.mark.parametrize(
    ("picks", "field", "message"),
    [
        ({"substation_ids": "foreign_sub"}, "substation_ids", "所选变电站不属于恩施市"),
        ({"feeder_ids": "foreign_feeder"}, "feeder_ids", "所选10kV线路不属于恩施市"),
        ({"transformer_area_ids": "foreign_area"}, "transformer_area_ids", "所选台区不属于恩施市"),
    ],
)
def test_every_pick_belongs_to_the_branch(grid, picks, field, message):
    (name, attribute), = picks.items()
    with pytest.raises(OutageScopeInvalid) as refused:
        announce(grid, **{"feeder_ids": [grid.f1.pk], name: [getattr(grid, attribute).pk]})
    assert (refused.value.field, str(refused.value)) == (field, message)
    assert Outage.objects.count() == OutageArea.objects.count() == 0


def test_an_unknown_pick_is_refused(grid):
    with pytest.raises(OutageScopeInvalid) as refused:
        announce(grid, transformer_area_ids=[999999])
    assert refused.value.field == "transformer_area_ids"


@pytest.mark.parametrize(
    ("picks", "areas", "accounts"),
    [
        ({"substation_ids": ["s1"]}, ["a1", "a2", "a3"], 4),
        ({"feeder_ids": ["f1"]}, ["a1", "a2"], 3),
        ({"feeder_ids": ["f2"], "transformer_area_ids": ["a1"]}, ["a1", "a3"], 3),
        ({"transformer_area_ids": ["a2"]}, ["a2"], 1),
    ],
)
def test_the_picks_expand_to_transformer_areas_and_count_accounts(grid, picks, areas, accounts):
    kwargs = {"feeder_ids": []}
    kwargs.update({name: [getattr(grid, item).pk for item in items] for name, items in picks.items()})
    outage = announce(grid, **kwargs)
    assert set(outage.areas.values_list("transformer_area_id", flat=True)) == {getattr(grid, a).pk for a in areas}
    assert outage.affected_accounts == accounts
    assert set(outage.feeders.values_list("pk", flat=True)) == set(kwargs["feeder_ids"])


def test_closed_accounts_are_not_affected(grid):
    Account.objects.filter(pk=grid.acc1b.pk).update(status=Account.Status.CLOSED)
    outage = announce(grid)
    assert list(outage_affected_accounts(outage=outage)) == sorted([grid.acc1, grid.acc2], key=lambda a: a.number)
    assert outage.affected_accounts == 2


# One outage per source, revisions


def test_the_same_source_key_revises_the_same_outage(grid, signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = announce(grid, source_key="cms:abc")
    with django_capture_on_commit_callbacks(execute=True):
        again = announce(
            grid, source_key="cms:abc", title="舞阳坝街道计划停电（更正）", ends_at=NOW + 8 * DAY + 10 * HOUR,
            transformer_area_ids=[grid.a3.pk], now=NOW + DAY,
        )
    assert again.pk == first.pk
    assert Outage.objects.count() == 1
    again.refresh_from_db()
    assert again.title == "舞阳坝街道计划停电（更正）"
    assert again.ends_at == NOW + 8 * DAY + 10 * HOUR
    assert set(again.areas.values_list("transformer_area_id", flat=True)) == {grid.a1.pk, grid.a2.pk, grid.a3.pk}
    assert again.affected_accounts == 4
    assert again.announced_at == NOW
    assert signals == [("announced", True), ("revised", True)]


def test_announcing_the_same_values_again_changes_nothing(grid, signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        announce(grid, source_key="cms:abc")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        announce(grid, source_key="cms:abc", now=NOW + 2 * DAY)
    assert callbacks == []
    assert signals == [("announced", True)]


def test_a_text_only_revision_is_not_material(grid, signals, django_capture_on_commit_callbacks):
    outage = announce(grid)
    with django_capture_on_commit_callbacks(execute=True):
        outage_revise(
            outage=outage, kind=OutageKind.PLANNED, title="Planned outage", reason="Line maintenance",
            streets="1-99 Wuyang Avenue", starts_at=outage.starts_at, ends_at=outage.ends_at,
            feeder_ids=[grid.f1.pk], now=NOW + 6 * DAY,
        )
    assert signals == [("revised", False)]
    outage.refresh_from_db()
    assert outage.reason == "Line maintenance"


def test_a_revision_inside_the_notice_period_may_postpone_but_not_bring_forward(grid):
    outage = announce(grid)
    later = NOW + 6 * DAY
    postponed = outage_revise(
        outage=outage, kind=OutageKind.PLANNED, title=outage.title, reason=outage.reason, streets=outage.streets,
        starts_at=outage.starts_at + HOUR, ends_at=outage.ends_at + HOUR, feeder_ids=[grid.f1.pk], now=later,
    )
    assert postponed.starts_at == NOW + 8 * DAY + HOUR
    with pytest.raises(OutageNoticeTooShort):
        outage_revise(
            outage=outage, kind=OutageKind.PLANNED, title=outage.title, reason=outage.reason,
            streets=outage.streets, starts_at=NOW + 8 * DAY, ends_at=outage.ends_at, feeder_ids=[grid.f1.pk],
            now=later,
        )
    with pytest.raises(OutageNoticeTooShort):
        outage_revise(
            outage=outage, kind=OutageKind.PLANNED, title=outage.title, reason=outage.reason,
            streets=outage.streets, starts_at=postponed.starts_at, ends_at=postponed.ends_at,
            substation_ids=[grid.s1.pk], now=later,
        )
    outage.refresh_from_db()
    assert outage.starts_at == NOW + 8 * DAY + HOUR
    assert outage.affected_accounts == 3


def test_a_revision_cannot_move_the_outage_to_another_branch(grid):
    announce(grid, source_key="cms:abc")
    with pytest.raises(OutageScopeInvalid) as refused:
        announce(grid, source_key="cms:abc", branch=grid.other_branch, feeder_ids=[grid.foreign_feeder.pk])
    assert refused.value.field == "branch"


def test_the_check_refuses_what_announce_would_and_writes_nothing(grid):
    announce(grid, source_key="cms:abc")
    values = dict(
        branch=grid.branch, kind=OutageKind.PLANNED, title="t", reason="r", ends_at=NOW + 9 * DAY,
        feeder_ids=[grid.f1.pk], now=NOW + 6 * DAY,
    )
    # Unchanged start of the announced outage: allowed; a new source with the same start: too late.
    outage_announce_check(source_key="cms:abc", starts_at=NOW + 8 * DAY, **values)
    with pytest.raises(OutageNoticeTooShort):
        outage_announce_check(source_key="cms:new", starts_at=NOW + 8 * DAY, **values)
    assert Outage.objects.get().title == "舞阳坝街道计划停电"


# Restore and cancel


def test_restore_records_the_time_once(grid, signals, django_capture_on_commit_callbacks):
    outage = announce(grid, kind=OutageKind.FAULT, starts_at=NOW - 2 * HOUR, ends_at=NOW + 2 * HOUR)
    with pytest.raises(OutageTimesInvalid) as refused:
        outage_restore(outage=outage, restored_at=NOW - 3 * HOUR, now=NOW)
    assert str(refused.value) == "恢复送电时间不能早于停电开始时间"
    with pytest.raises(OutageTimesInvalid) as refused:
        outage_restore(outage=outage, restored_at=NOW + HOUR, now=NOW)
    assert str(refused.value) == "恢复送电时间不能晚于当前时间"
    with django_capture_on_commit_callbacks(execute=True):
        restored = outage_restore(outage=outage, restored_at=NOW - HOUR, now=NOW)
    assert (restored.state, restored.restored_at) == (OutageState.RESTORED, NOW - HOUR)
    with pytest.raises(OutageStateInvalid):
        outage_restore(outage=outage, restored_at=NOW, now=NOW)
    with pytest.raises(OutageStateInvalid):
        outage_cancel(outage=outage, reason="误报")
    assert signals == [("restored", True)]


def test_cancel_withdraws_once_and_a_new_announcement_revives_it(grid, signals, django_capture_on_commit_callbacks):
    outage = announce(grid, source_key="cms:abc")
    with pytest.raises(OutageError) as refused:
        outage_cancel(outage=outage, reason=" ")
    assert str(refused.value) == "请填写取消原因"
    with django_capture_on_commit_callbacks(execute=True):
        outage_cancel(outage=outage, reason="停电公告已撤回")
        outage_cancel(outage=outage, reason="停电公告已撤回")
    outage.refresh_from_db()
    assert (outage.state, outage.cancelled_reason) == (OutageState.CANCELLED, "停电公告已撤回")
    # Announced again later: the full notice period applies from the new announcement.
    with pytest.raises(OutageNoticeTooShort):
        announce(grid, source_key="cms:abc", now=NOW + 2 * DAY)
    with django_capture_on_commit_callbacks(execute=True):
        revived = announce(grid, source_key="cms:abc", now=NOW + DAY)
    assert (revived.pk, revived.state, revived.cancelled_reason) == (outage.pk, OutageState.ANNOUNCED, "")
    assert revived.announced_at == NOW + DAY
    assert signals == [("cancelled", True), ("revised", True)]


def test_each_change_records_who_made_it_and_when(grid, django_user_model):
    announcer, reviser, controller = (django_user_model.objects.create_user(username=n) for n in ("a", "b", "c"))
    outage = announce(grid, user=announcer, source_key="cms:who")
    revised = announce(grid, user=reviser, source_key="cms:who", reason="10kV线路改造", now=NOW + HOUR)
    assert (revised.announced_by, revised.announced_at) == (announcer, NOW)
    assert (revised.revised_by, revised.revised_at) == (reviser, NOW + HOUR)
    cancelled = outage_cancel(outage=outage, reason="施工推迟", user=controller, now=NOW + 2 * HOUR)
    assert (cancelled.cancelled_by, cancelled.cancelled_at) == (controller, NOW + 2 * HOUR)

    fault = announce(grid, kind=OutageKind.FAULT, starts_at=NOW - 2 * HOUR, ends_at=NOW + 2 * HOUR)
    restored = outage_restore(outage=fault, restored_at=NOW - HOUR, user=controller, now=NOW)
    assert (restored.restored_by, restored.restored_at) == (controller, NOW - HOUR)


def test_signals_wait_for_the_commit(grid, signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        announce(grid)
    assert signals == []
    assert len(callbacks) == 1


# Selectors


def test_upcoming_outages_are_announced_not_over_and_within_the_days(grid):
    soon = announce(grid, source_key="soon")
    announce(grid, source_key="far", starts_at=NOW + 20 * DAY, ends_at=NOW + 20 * DAY + HOUR)
    cancelled = announce(grid, source_key="gone", starts_at=NOW + 9 * DAY, ends_at=NOW + 9 * DAY + HOUR)
    outage_cancel(outage=cancelled, reason="撤回")
    elsewhere = announce(
        grid, source_key="lichuan", branch=grid.other_branch, feeder_ids=[grid.foreign_feeder.pk],
        starts_at=NOW + 7 * DAY + HOUR, ends_at=NOW + 7 * DAY + 2 * HOUR,
    )
    assert list(outages_upcoming(now=NOW + DAY, days=8)) == [elsewhere, soon]
    assert list(outages_upcoming(now=NOW + DAY, days=8, branch=grid.branch)) == [soon]
    assert list(outages_upcoming(now=NOW + DAY)) == [elsewhere]
    assert [o.past_expected_end for o in outages_upcoming(now=NOW + DAY, days=8)] == [False, False]


def test_upcoming_outages_keep_one_on_past_its_expected_end_until_it_is_restored(grid):
    soon = announce(grid, source_key="soon")
    elsewhere = announce(
        grid, source_key="lichuan", branch=grid.other_branch, feeder_ids=[grid.foreign_feeder.pk],
        starts_at=NOW + 8 * DAY + 9 * HOUR, ends_at=NOW + 8 * DAY + 10 * HOUR,
    )
    overrun = NOW + 9 * DAY  # both past their expected end, within OVERRUN_LIMIT
    assert [(o, o.past_expected_end) for o in outages_upcoming(now=overrun)] == [(soon, True), (elsewhere, True)]
    outage_restore(outage=elsewhere, restored_at=overrun, now=overrun)
    assert [(o, o.past_expected_end) for o in outages_upcoming(now=overrun)] == [(soon, True)]
    outage_cancel(outage=soon, reason="撤回", now=overrun)
    assert list(outages_upcoming(now=overrun)) == []


def test_outages_affecting_an_account(grid):
    outage = announce(grid)
    at_start = outage.starts_at
    assert outages_affecting_account(account=grid.acc1, at=at_start) == [outage]
    assert outages_affecting_account(account=grid.acc2, at=at_start + HOUR) == [outage]
    assert outages_affecting_account(account=grid.acc3, at=at_start) == []
    assert outages_affecting_account(account=grid.acc1, at=NOW) == []
    assert outages_affecting_account(account=grid.acc1, at=NOW, horizon_days=8) == [outage]
    outage_cancel(outage=outage, reason="撤回")
    assert outages_affecting_account(account=grid.acc1, at=at_start) == []


def test_an_outage_not_restored_still_affects_its_areas_after_its_expected_end(grid):
    outage = announce(grid)
    before, overrun = outage.ends_at - datetime.timedelta(minutes=1), outage.ends_at + 3 * HOUR
    assert [(o, o.past_expected_end) for o in outages_affecting_account(account=grid.acc1, at=before)] == [
        (outage, False)
    ]
    assert [(o, o.past_expected_end) for o in outages_affecting_account(account=grid.acc1, at=outage.ends_at)] == [
        (outage, True)
    ]
    assert [(o, o.past_expected_end) for o in outages_affecting_account(account=grid.acc2, at=overrun)] == [
        (outage, True)
    ]
    assert outages_affecting_account(account=grid.acc3, at=overrun) == []
    # Upcoming outages are never past their expected end.
    assert [o.past_expected_end for o in outages_affecting_account(account=grid.acc1, at=NOW, horizon_days=8)] == [
        False
    ]

    outage_restore(outage=outage, restored_at=overrun, now=overrun)
    assert outages_affecting_account(account=grid.acc1, at=overrun) == []
    assert outages_affecting_account(account=grid.acc1, at=overrun + DAY) == []


def test_an_outage_is_on_from_its_start_until_restored_and_its_progress_says_where_it_stands(grid):
    outage = announce(grid)
    starts, ends = outage.starts_at, outage.ends_at
    moments = [NOW, starts, ends - datetime.timedelta(minutes=1), ends, ends + 3 * HOUR]
    assert [outage_progress(outage=outage, at=at) for at in moments] == [
        OutageProgress.UPCOMING, OutageProgress.ON, OutageProgress.ON, OutageProgress.PAST_EXPECTED_END,
        OutageProgress.PAST_EXPECTED_END,
    ]
    assert [list(outages_on(at=at)) for at in moments] == [[], [outage], [outage], [outage], [outage]]
    # The annotation and the one-outage reading agree.
    for at in moments:
        [read] = outages_not_over(at=at)
        assert read.past_expected_end is (outage_progress(outage=outage, at=at) == OutageProgress.PAST_EXPECTED_END)

    restored = outage_restore(outage=outage, restored_at=ends + DAY, now=ends + DAY)
    assert outage_progress(outage=restored, at=ends + 3 * DAY) == OutageProgress.RESTORED
    assert list(outages_not_over(at=ends + 3 * DAY)) == []
    cancelled = outage_cancel(outage=announce(grid, source_key="other"), reason="撤回")
    assert outage_progress(outage=cancelled, at=cancelled.starts_at) == OutageProgress.CANCELLED
    assert list(outages_on(at=cancelled.starts_at)) == []


def test_a_cancelled_outage_affects_nobody_after_its_expected_end(grid):
    outage = announce(grid)
    outage_cancel(outage=outage, reason="天气原因，检修改期")
    assert outages_affecting_account(account=grid.acc1, at=outage.ends_at + HOUR) == []


def test_outage_search_by_county_street_and_account_number(grid, django_assert_max_num_queries):
    wuyang = announce(grid, source_key="wuyang")
    jingui = announce(grid, source_key="jingui", streets="金桂大道", feeder_ids=[grid.f2.pk])
    lichuan = announce(
        grid, source_key="lichuan", branch=grid.other_branch, feeder_ids=[grid.foreign_feeder.pk], streets="东城街道"
    )
    assert list(outage_search(now=NOW)) == [wuyang, jingui, lichuan]
    assert list(outage_search(now=NOW, branch_id=grid.other_branch.pk)) == [lichuan]
    assert list(outage_search(now=NOW, street=" 金桂 ")) == [wuyang, jingui]
    assert list(outage_search(now=NOW, street="金桂大道")) == [jingui]
    assert list(outage_search(now=NOW, account_number=grid.acc3.number)) == [jingui]
    assert list(outage_search(now=NOW, account_number=grid.acc1b.number, street="舞阳")) == [wuyang]
    assert list(outage_search(now=NOW, account_number="0000000000")) == []
    assert list(outage_search(now=NOW, account_number="not a number")) == []
    # Not restored: still listed once past the expected end, and marked so.
    assert [(o, o.past_expected_end) for o in outage_search(now=NOW + 9 * DAY, street="金桂大道")] == [(jingui, True)]
    outage_restore(outage=jingui, restored_at=NOW + 9 * DAY, now=NOW + 9 * DAY)
    assert list(outage_search(now=NOW + 9 * DAY, street="金桂")) == [wuyang]
    with django_assert_max_num_queries(1):
        assert [o.branch.name for o in outage_search(now=NOW, account_number=grid.acc2.number)] == ["恩施市"]


# Django admin


def test_the_admin_lists_and_shows_outages_read_only(grid, client, django_assert_max_num_queries):
    from django.contrib.auth import get_user_model

    outage = announce(grid)
    announce(grid, source_key="second", feeder_ids=[grid.f2.pk])
    client.force_login(get_user_model().objects.create_superuser("admin", "admin@example.com", "pw"))
    with django_assert_max_num_queries(12):
        listing = client.get("/django-admin/core/outage/")
    assert listing.status_code == 200
    assert listing.content.decode().count("舞阳坝街道计划停电") >= 2
    detail = client.get(f"/django-admin/core/outage/{outage.pk}/change/")
    assert detail.status_code == 200
    body = detail.content.decode()
    assert grid.a1.name in body and grid.a2.name in body
    assert 'name="_save"' not in body
    assert client.get("/django-admin/core/outage/add/").status_code == 403


def test_an_outage_nobody_restores_is_let_go_a_day_past_its_expected_end(grid):
    outage = announce(grid)
    assert outages_affecting_account(account=grid.acc1, at=outage.ends_at + OVERRUN_LIMIT - HOUR) == [outage]
    assert outages_affecting_account(account=grid.acc1, at=outage.ends_at + OVERRUN_LIMIT) == []
    assert list(outages_on(at=outage.ends_at + OVERRUN_LIMIT)) == []


def _staff_with(django_user_model, *codenames):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("dispatcher", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="core", codename__in=codenames))
    return user


def test_staff_record_the_restoration_from_the_admin(grid, client, django_user_model, signals,
                                                     django_capture_on_commit_callbacks):
    outage = announce(grid)
    other = announce(grid, source_key="second", feeder_ids=[grid.f2.pk])
    client.force_login(_staff_with(django_user_model, "view_outage", "change_outage"))
    overdue = client.get("/django-admin/core/outage/?restoration=overdue").content.decode()
    assert "已过预计恢复时间，未登记恢复送电" in overdue and overdue.count("舞阳坝街道计划停电") >= 2

    chosen = {"action": "outages_restore", "_selected_action": [outage.pk]}
    page = client.post("/django-admin/core/outage/", chosen)
    assert page.status_code == 200 and "确认恢复送电" in page.content.decode()
    assert Outage.objects.get(pk=outage.pk).state == OutageState.ANNOUNCED  # asked, nothing done yet

    restored_at = timezone.localtime(outage.ends_at + 2 * HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/django-admin/core/outage/", {
            **chosen, "apply": "1", "restored_at": restored_at.strftime("%Y-%m-%dT%H:%M"),
        }, follow=True)
    assert "已登记恢复送电" in done.content.decode()
    outage.refresh_from_db()
    assert (outage.state, outage.restored_at, outage.restored_by.username) == (
        OutageState.RESTORED, restored_at, "dispatcher")
    assert signals == [("restored", True)]
    assert Outage.objects.get(pk=other.pk).state == OutageState.ANNOUNCED
    assert outages_affecting_account(account=grid.acc1, at=restored_at) == []


def test_a_restoration_time_the_service_refuses_is_said_and_nothing_changes(grid, client, django_user_model):
    outage = announce(grid)
    client.force_login(_staff_with(django_user_model, "view_outage", "change_outage"))
    before_start = timezone.localtime(outage.starts_at - HOUR).strftime("%Y-%m-%dT%H:%M")
    done = client.post("/django-admin/core/outage/", {
        "action": "outages_restore", "_selected_action": [outage.pk], "apply": "1", "restored_at": before_start,
    }, follow=True)
    assert "恢复送电时间不能早于停电开始时间" in done.content.decode()
    assert Outage.objects.get(pk=outage.pk).state == OutageState.ANNOUNCED
    bad = client.post("/django-admin/core/outage/", {
        "action": "outages_restore", "_selected_action": [outage.pk], "apply": "1", "restored_at": "昨天",
    })
    assert bad.status_code == 200 and "确认恢复送电" in bad.content.decode()
    assert Outage.objects.get(pk=outage.pk).state == OutageState.ANNOUNCED


def test_staff_who_may_only_view_outages_are_not_offered_the_restoration(grid, client, django_user_model):
    outage = announce(grid)
    client.force_login(_staff_with(django_user_model, "view_outage"))
    assert "outages_restore" not in client.get("/django-admin/core/outage/").content.decode()
    client.post("/django-admin/core/outage/", {
        "action": "outages_restore", "_selected_action": [outage.pk], "apply": "1",
        "restored_at": timezone.localtime(outage.ends_at).strftime("%Y-%m-%dT%H:%M"),
    })
    assert Outage.objects.get(pk=outage.pk).state == OutageState.ANNOUNCED
