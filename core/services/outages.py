"""Announcing, revising, restoring and cancelling outages (停电).

The CMS (a published 停电公告), fault handling and the data-acquisition interface come here; the IVR, the agent
console and fault reports read the result through core.selectors.outages. Each change sends
core.signals.outage_changed after commit; notifications tells the affected customers, the CMS drops cached pages.

Notice rules (供电服务承诺): a planned outage is announced at least settings.OUTAGE_PLANNED_NOTICE_DAYS days before
it starts, a temporary one (emergency or temporary maintenance) settings.OUTAGE_TEMPORARY_NOTICE_HOURS hours
before; a fault is recorded as it happens. A revision needs the notice again only when it tells customers something
new too late: the start moved earlier, or the scope reaches transformer areas not announced before. Postponing,
shortening or correcting the text of an announced outage is always allowed.
"""
from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import (
    OutageError,
    OutageNoticeTooShort,
    OutageScopeInvalid,
    OutageStateInvalid,
    OutageTimesInvalid,
)
from core.models import Branch, Feeder, Outage, OutageArea, OutageKind, OutageState, Substation, TransformerArea
from core.selectors.outages import outage_affected_accounts
from core.signals import outage_changed

logger = logging.getLogger(__name__)

_TEXT_LIMIT = 200


@dataclass(frozen=True)
class _Scope:
    """What the announcer picked and the transformer areas it expands to."""

    substation_ids: frozenset[int]
    feeder_ids: frozenset[int]
    transformer_area_ids: frozenset[int]
    expanded_area_ids: frozenset[int]


def _display(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _ids(values: Iterable) -> frozenset[int]:
    try:
        return frozenset(int(value) for value in values)
    except (TypeError, ValueError) as error:
        raise OutageScopeInvalid(_("停电范围的编号无效"), field="scope") from error


def _check_text(*, title: str, reason: str) -> None:
    for field, value, label in (("title", title, _("标题")), ("reason", reason, _("停电原因"))):
        if not (value or "").strip():
            raise OutageError(_("%(label)s不能为空") % {"label": label}, field=field)
        if len(value) > _TEXT_LIMIT:
            raise OutageError(
                _("%(label)s不能超过%(limit)d个字") % {"label": label, "limit": _TEXT_LIMIT}, field=field
            )


def _check_kind_and_times(*, kind: str, starts_at, ends_at) -> None:
    if kind not in OutageKind.values:
        raise OutageError(_("停电类型无效"), field="kind")
    for field, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not isinstance(value, datetime.datetime) or timezone.is_naive(value):
            raise OutageTimesInvalid(_("请填写带时区的停电时间"), field=field)
    if ends_at <= starts_at:
        raise OutageTimesInvalid(_("预计恢复送电时间必须晚于停电开始时间"), field="ends_at")


def _check_notice(*, kind: str, starts_at: datetime.datetime, now: datetime.datetime) -> None:
    """The lead time the notice rules ask of an announcement made at `now`."""
    if kind == OutageKind.PLANNED:
        days = settings.OUTAGE_PLANNED_NOTICE_DAYS
        earliest = now + datetime.timedelta(days=days)
        if starts_at < earliest:
            raise OutageNoticeTooShort(
                _("计划停电须至少提前%(days)d天公告：最早可于%(earliest)s开始；紧急情况请选择临时停电")
                % {"days": days, "earliest": _display(earliest)},
                field="starts_at",
            )
    elif kind == OutageKind.TEMPORARY:
        hours = settings.OUTAGE_TEMPORARY_NOTICE_HOURS
        earliest = now + datetime.timedelta(hours=hours)
        if starts_at < earliest:
            raise OutageNoticeTooShort(
                _("临时停电须至少提前%(hours)d小时公告：最早可于%(earliest)s开始")
                % {"hours": hours, "earliest": _display(earliest)},
                field="starts_at",
            )


def _checked_scope(*, branch: Branch, substation_ids, feeder_ids, transformer_area_ids) -> _Scope:
    """Every pick exists, belongs to the branch and is in service (not retired); the picks expanded down the topology
    to the transformer areas in service (one query each)."""
    substations, feeders, areas = _ids(substation_ids), _ids(feeder_ids), _ids(transformer_area_ids)
    if not (substations or feeders or areas):
        raise OutageScopeInvalid(_("请至少选择一个停电的变电站、线路或台区"), field="scope")
    checks = (
        (substations, Substation.objects.filter(branch=branch), "substation_ids", _("变电站")),
        (feeders, Feeder.objects.filter(substation__branch=branch), "feeder_ids", _("10kV线路")),
        (areas, TransformerArea.objects.filter(feeder__substation__branch=branch), "transformer_area_ids", _("台区")),
    )
    for picked, owned, field, label in checks:
        if not picked:
            continue
        retired = list(owned.filter(pk__in=picked).values_list("retired_at", flat=True))
        if len(retired) != len(picked):
            raise OutageScopeInvalid(
                _("所选%(kind)s不属于%(branch)s") % {"kind": label, "branch": branch.name}, field=field
            )
        if any(at is not None for at in retired):
            raise OutageScopeInvalid(_("所选%(kind)s已退运，不能安排停电") % {"kind": label}, field=field)
    # A substation or feeder reaches only its transformer areas still in service.
    expanded = frozenset(
        TransformerArea.objects.filter(
            Q(pk__in=areas) | Q(feeder_id__in=feeders) | Q(feeder__substation_id__in=substations),
            retired_at__isnull=True,
        ).values_list("pk", flat=True)
    )
    return _Scope(substations, feeders, areas, expanded)


def _announced_area_ids(outage: Outage) -> frozenset[int]:
    return frozenset(OutageArea.objects.filter(outage=outage).values_list("transformer_area_id", flat=True))


def _needs_notice_again(*, outage: Outage, starts_at: datetime.datetime, scope: _Scope) -> bool:
    """Whether a revision tells customers something new: a withdrawn outage announced again, an earlier start or
    transformer areas not announced before."""
    if outage.state == OutageState.CANCELLED or starts_at < outage.starts_at:
        return True
    return not scope.expanded_area_ids <= _announced_area_ids(outage)


def outage_announce_check(
    *,
    branch: Branch,
    kind: str,
    title: str,
    reason: str,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    streets: str = "",
    substation_ids: Iterable[int] = (),
    feeder_ids: Iterable[int] = (),
    transformer_area_ids: Iterable[int] = (),
    source_key: str | None = None,
    now: datetime.datetime | None = None,
) -> None:
    """Raise the OutageError that outage_announce would raise with these values, writing nothing (editing forms
    refuse a notice before it is published). The streets are free text and never refused."""
    now = now or timezone.now()
    _check_text(title=title, reason=reason)
    _check_kind_and_times(kind=kind, starts_at=starts_at, ends_at=ends_at)
    scope = _checked_scope(
        branch=branch, substation_ids=substation_ids, feeder_ids=feeder_ids, transformer_area_ids=transformer_area_ids
    )
    existing = Outage.objects.filter(source_key=source_key).first() if source_key else None
    if existing is not None and existing.state == OutageState.RESTORED:
        raise OutageStateInvalid(_("该停电已恢复送电，不能再修改"), field=None)
    if existing is not None and existing.branch_id != branch.pk:
        raise OutageScopeInvalid(_("已公告的停电不能改到其他县公司"), field="branch")
    if existing is None or _needs_notice_again(outage=existing, starts_at=starts_at, scope=scope):
        _check_notice(kind=kind, starts_at=starts_at, now=now)


def _areas_replace(*, outage: Outage, area_ids: frozenset[int]) -> None:
    current = _announced_area_ids(outage)
    if current - area_ids:
        OutageArea.objects.filter(outage=outage, transformer_area_id__in=current - area_ids).delete()
    if area_ids - current:
        OutageArea.objects.bulk_create(
            [OutageArea(outage=outage, transformer_area_id=pk) for pk in sorted(area_ids - current)]
        )


def _picks_set(*, outage: Outage, scope: _Scope) -> None:
    outage.substations.set(scope.substation_ids)
    outage.feeders.set(scope.feeder_ids)
    outage.transformer_areas.set(scope.transformer_area_ids)


def _changed_on_commit(*, outage: Outage, kind: str, material: bool) -> None:
    """outage_changed after commit; `material` says whether customers were told something new (times or scope)."""
    transaction.on_commit(
        partial(outage_changed.send, sender=Outage, outage_id=outage.pk, kind=kind, material=material), robust=True
    )


def outage_announce(
    *,
    branch: Branch,
    kind: str,
    title: str,
    reason: str,
    streets: str,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    substation_ids: Iterable[int] = (),
    feeder_ids: Iterable[int] = (),
    transformer_area_ids: Iterable[int] = (),
    source_key: str | None = None,
    user=None,
    now: datetime.datetime | None = None,
) -> Outage:
    """Announce an outage over the picked substations, feeders and transformer areas of one branch.

    The same source_key again revises the outage it announced (one outage per source, also under a race: the
    unique source_key settles concurrent first announcements). Locks the outage row of that source.
    """
    now = now or timezone.now()
    values = dict(
        branch=branch, kind=kind, title=title, reason=reason, streets=streets, starts_at=starts_at, ends_at=ends_at,
        substation_ids=substation_ids, feeder_ids=feeder_ids, transformer_area_ids=transformer_area_ids,
        user=user, now=now,
    )
    with transaction.atomic():
        existing = Outage.objects.select_for_update().filter(source_key=source_key).first() if source_key else None
        if existing is not None:
            return _revise(outage=existing, **values)
        _check_text(title=title, reason=reason)
        _check_kind_and_times(kind=kind, starts_at=starts_at, ends_at=ends_at)
        scope = _checked_scope(
            branch=branch, substation_ids=substation_ids, feeder_ids=feeder_ids,
            transformer_area_ids=transformer_area_ids,
        )
        _check_notice(kind=kind, starts_at=starts_at, now=now)
        try:
            with transaction.atomic():
                outage = Outage.objects.create(
                    branch=branch, kind=kind, state=OutageState.ANNOUNCED, title=title.strip(),
                    reason=reason.strip(), streets=(streets or "").strip(), starts_at=starts_at, ends_at=ends_at,
                    source_key=source_key, announced_at=now, announced_by=user,
                )
        except IntegrityError:
            # A concurrent announcement of the same source inserted first: this one revises it.
            existing = Outage.objects.select_for_update().get(source_key=source_key)
            return _revise(outage=existing, **values)
        _picks_set(outage=outage, scope=scope)
        _areas_replace(outage=outage, area_ids=scope.expanded_area_ids)
        outage.affected_accounts = outage_affected_accounts(outage=outage).count()
        outage.save(update_fields=["affected_accounts", "updated_at"])
        logger.info("outage %s announced by %s at %s", outage.pk, getattr(user, "pk", None), now.isoformat())
        _changed_on_commit(outage=outage, kind="announced", material=True)
    return outage


def _revise(
    *, outage: Outage, branch: Branch, kind: str, title: str, reason: str, streets: str, starts_at, ends_at,
    substation_ids, feeder_ids, transformer_area_ids, user, now: datetime.datetime,
) -> Outage:
    """Revise a locked outage row (see outage_revise)."""
    if outage.state == OutageState.RESTORED:
        raise OutageStateInvalid(_("该停电已恢复送电，不能再修改"), field=None)
    if outage.branch_id != branch.pk:
        raise OutageScopeInvalid(_("已公告的停电不能改到其他县公司"), field="branch")
    _check_text(title=title, reason=reason)
    _check_kind_and_times(kind=kind, starts_at=starts_at, ends_at=ends_at)
    scope = _checked_scope(
        branch=branch, substation_ids=substation_ids, feeder_ids=feeder_ids, transformer_area_ids=transformer_area_ids
    )
    if _needs_notice_again(outage=outage, starts_at=starts_at, scope=scope):
        _check_notice(kind=kind, starts_at=starts_at, now=now)

    material = (
        outage.state == OutageState.CANCELLED
        or outage.starts_at != starts_at
        or outage.ends_at != ends_at
        or scope.expanded_area_ids != _announced_area_ids(outage)
    )
    new_text = {"kind": kind, "title": title.strip(), "reason": reason.strip(), "streets": (streets or "").strip()}
    picks_changed = (
        frozenset(outage.substations.values_list("pk", flat=True)) != scope.substation_ids
        or frozenset(outage.feeders.values_list("pk", flat=True)) != scope.feeder_ids
        or frozenset(outage.transformer_areas.values_list("pk", flat=True)) != scope.transformer_area_ids
    )
    text_changed = any(getattr(outage, name) != value for name, value in new_text.items())
    if not (material or picks_changed or text_changed):
        return outage

    if outage.state == OutageState.CANCELLED:
        # Announced again after it was withdrawn: a new announcement as far as customers are concerned.
        outage.state = OutageState.ANNOUNCED
        outage.cancelled_reason = ""
        outage.announced_at = now
        outage.announced_by = user
    for name, value in new_text.items():
        setattr(outage, name, value)
    outage.revised_at, outage.revised_by = now, user
    outage.starts_at, outage.ends_at = starts_at, ends_at
    _picks_set(outage=outage, scope=scope)
    _areas_replace(outage=outage, area_ids=scope.expanded_area_ids)
    outage.affected_accounts = outage_affected_accounts(outage=outage).count()
    outage.save()
    logger.info("outage %s revised by %s at %s", outage.pk, getattr(user, "pk", None), now.isoformat())
    _changed_on_commit(outage=outage, kind="revised", material=material)
    return outage


def outage_revise(
    *,
    outage: Outage,
    kind: str,
    title: str,
    reason: str,
    streets: str,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    substation_ids: Iterable[int] = (),
    feeder_ids: Iterable[int] = (),
    transformer_area_ids: Iterable[int] = (),
    user=None,
    now: datetime.datetime | None = None,
) -> Outage:
    """Change an announced (or withdrawn) outage's details; nothing changed sends nothing. A restored outage is
    history and stays as it is. Locks the outage row."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Outage.objects.select_for_update().select_related("branch").get(pk=outage.pk)
        return _revise(
            outage=locked, branch=locked.branch, kind=kind, title=title, reason=reason, streets=streets,
            starts_at=starts_at, ends_at=ends_at, substation_ids=substation_ids, feeder_ids=feeder_ids,
            transformer_area_ids=transformer_area_ids, user=user, now=now,
        )


def outage_restore(
    *, outage: Outage, restored_at: datetime.datetime, user=None, now: datetime.datetime | None = None
) -> Outage:
    """Record that power is back (恢复送电). Locks the outage row."""
    now = now or timezone.now()
    if not isinstance(restored_at, datetime.datetime) or timezone.is_naive(restored_at):
        raise OutageTimesInvalid(_("请填写带时区的恢复送电时间"), field="restored_at")
    with transaction.atomic():
        locked = Outage.objects.select_for_update().get(pk=outage.pk)
        if locked.state != OutageState.ANNOUNCED:
            raise OutageStateInvalid(
                _("只有已公告的停电才能登记恢复送电（当前：%(state)s）") % {"state": locked.get_state_display()},
                field=None,
            )
        if restored_at < locked.starts_at:
            raise OutageTimesInvalid(_("恢复送电时间不能早于停电开始时间"), field="restored_at")
        if restored_at > now:
            raise OutageTimesInvalid(_("恢复送电时间不能晚于当前时间"), field="restored_at")
        locked.state = OutageState.RESTORED
        locked.restored_at = restored_at
        locked.restored_by = user
        locked.save(update_fields=["state", "restored_at", "restored_by", "updated_at"])
        logger.info("outage %s restored by %s at %s", locked.pk, getattr(user, "pk", None), now.isoformat())
        _changed_on_commit(outage=locked, kind="restored", material=True)
    return locked


def outage_cancel(
    *, outage: Outage, reason: str, user=None, now: datetime.datetime | None = None
) -> Outage:
    """Withdraw an announced outage (取消); withdrawing a withdrawn one changes nothing. Locks the outage row."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise OutageError(_("请填写取消原因"), field="reason")
    if len(reason) > _TEXT_LIMIT:
        raise OutageError(_("取消原因不能超过%(limit)d个字") % {"limit": _TEXT_LIMIT}, field="reason")
    with transaction.atomic():
        locked = Outage.objects.select_for_update().get(pk=outage.pk)
        if locked.state == OutageState.CANCELLED:
            return locked
        if locked.state == OutageState.RESTORED:
            raise OutageStateInvalid(_("该停电已恢复送电，不能取消"), field=None)
        locked.state = OutageState.CANCELLED
        locked.cancelled_reason = reason
        locked.cancelled_at, locked.cancelled_by = now, user
        locked.save(update_fields=["state", "cancelled_reason", "cancelled_at", "cancelled_by", "updated_at"])
        logger.info("outage %s cancelled by %s", locked.pk, getattr(user, "pk", None))
        _changed_on_commit(outage=locked, kind="cancelled", material=True)
    return locked
