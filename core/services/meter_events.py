"""Power-off and power-restore events from the data-acquisition systems (用电信息采集 / 低压集抄 / 负荷管理).

Each event is recorded once (meter, kind and moment are its natural key). Then every transformer area that got
events is looked at once, under a lock on its row:
- enough of its meters off within a short window (OutageDetectionRule, held as data per branch) and no known
  outage covering it: a fault outage is announced over it (core.services.outages), so the IVR, the console and
  the affected customers hear about it;
- an outage this interface announced, with enough of the meters that went off back on: power is recorded as
  restored.
Then a fault-repair ticket waiting at its "restore" step is finished through the ticket engine, by the
acquisition system's own user, when the evidence covers it: its customer's meter reported power back after the
report, or (a ticket about the area or the outage, with no account) the area's outage was restored.
"""
from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, TicketError
from core.models import (
    BusinessType,
    Meter,
    MeterEvent,
    Outage,
    OutageDetectionRule,
    OutageKind,
    OutageState,
    StaffAssignment,
    Ticket,
    TicketStep,
    TransformerArea,
)
from core.selectors.outages import outages_on
from core.services.outages import outage_announce, outage_restore
from core.services.tickets import SUPERVISE_PERMISSION, ticket_step_submit

logger = logging.getLogger(__name__)

SOURCE_KEY_PREFIX = "acquisition:"
SYSTEM_USERNAME = "system-acquisition"
RESTORE_STEP = "restore"
# Clocks of meters and concentrators drift; an event a little ahead of ours is still taken.
CLOCK_TOLERANCE = datetime.timedelta(minutes=5)
# The events looked back over when working out which meters of an area are off now.
LOOKBACK = datetime.timedelta(days=7)


class MeterEventInvalid(DomainError):
    code = "meter_event_invalid"


@dataclass(frozen=True)
class MeterEventRow:
    """One event as the acquisition system sends it."""

    meter_asset_number: str
    kind: str
    occurred_at: datetime.datetime | str
    row_number: int | None = None


@dataclass(frozen=True)
class EventResult:
    row_number: int
    status: str
    reason: str = ""
    event_id: int | None = None


@dataclass
class MeterEventReport:
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"

    rows: list[EventResult] = field(default_factory=list)
    outages_marked: list[Outage] = field(default_factory=list)
    outages_restored: list[Outage] = field(default_factory=list)
    tickets_closed: list[Ticket] = field(default_factory=list)
    # Tickets the evidence covered but the engine refused to move (e.g. power back before the crew arrived).
    tickets_left: list[tuple[Ticket, str]] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def accepted(self) -> int:
        return self._count(self.ACCEPTED)

    @property
    def duplicates(self) -> int:
        return self._count(self.DUPLICATE)

    @property
    def rejected(self) -> int:
        return self._count(self.REJECTED)


@dataclass(frozen=True)
class _Recorded:
    event: MeterEvent
    area_id: int
    account_id: int


def _stored(message, params: dict) -> str:
    """Text kept in records (outage notices, ticket data), in the default language whatever the request's was."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(message) % params


def _moment_parse(value) -> datetime.datetime:
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            raise MeterEventInvalid(_("发生时间格式应为ISO 8601（带时区）"), field="occurred_at") from None
    if not isinstance(value, datetime.datetime):
        raise MeterEventInvalid(_("发生时间格式应为ISO 8601（带时区）"), field="occurred_at")
    if timezone.is_naive(value):
        raise MeterEventInvalid(_("发生时间须带时区"), field="occurred_at")
    return value


def outage_rule_for(*, branch_id: int | None) -> OutageDetectionRule:
    """The branch's own rule, else the default one (no branch), else the model's defaults."""
    candidates = OutageDetectionRule.objects.filter(Q(branch_id=branch_id) | Q(branch=None))
    rules = {rule.branch_id: rule for rule in candidates}
    return rules.get(branch_id) or rules.get(None) or OutageDetectionRule()


def acquisition_user():
    """The user the acquisition interface acts as in the ticket engine and the outage records: no password, holds
    the posts of the steps it finishes, and may finish a step a crew member has claimed (the evidence is the
    system's, and the event log names it)."""
    user, created = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"first_name": "用电信息采集系统", "is_active": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        app_label, codename = SUPERVISE_PERMISSION.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def _record(*, rows: Iterable[MeterEventRow], source: str, now: datetime.datetime,
            report: MeterEventReport) -> list[_Recorded]:
    rows = list(rows)
    assets = {(row.meter_asset_number or "").strip() for row in rows}
    meters = {
        meter.asset_number: meter
        for meter in Meter.objects.filter(asset_number__in=assets).select_related("service_point")
    }
    recorded = []
    for index, row in enumerate(rows, start=1):
        row_number = row.row_number or index
        try:
            asset = (row.meter_asset_number or "").strip()
            meter = meters.get(asset)
            if meter is None:
                raise MeterEventInvalid(_("电能表%(meter)s不存在") % {"meter": asset}, field="meter")
            if row.kind not in MeterEvent.Kind.values:
                raise MeterEventInvalid(_("未知的事件类型：%(kind)s") % {"kind": row.kind}, field="kind")
            occurred_at = _moment_parse(row.occurred_at)
            if occurred_at > now + CLOCK_TOLERANCE:
                raise MeterEventInvalid(_("发生时间晚于当前时间"), field="occurred_at")
            day = timezone.localdate(occurred_at)
            if day < meter.installed_on or (meter.removed_on is not None and day > meter.removed_on):
                raise MeterEventInvalid(
                    _("电能表%(meter)s在%(date)s未在运行") % {"meter": meter.asset_number, "date": day.isoformat()},
                    field="occurred_at",
                )
        except DomainError as error:
            report.rows.append(EventResult(row_number, MeterEventReport.REJECTED, str(error)))
            continue
        existing = MeterEvent.objects.filter(meter=meter, kind=row.kind, occurred_at=occurred_at).first()
        if existing is None:
            try:
                with transaction.atomic():
                    event = MeterEvent.objects.create(
                        meter=meter, kind=row.kind, occurred_at=occurred_at, source=source, received_at=now
                    )
            except IntegrityError:
                # The same event arrived at the same time by another request: that one recorded it.
                existing = MeterEvent.objects.get(meter=meter, kind=row.kind, occurred_at=occurred_at)
            else:
                report.rows.append(EventResult(row_number, MeterEventReport.ACCEPTED, event_id=event.pk))
                recorded.append(_Recorded(event, meter.service_point.transformer_area_id,
                                          meter.service_point.account_id))
                continue
        report.rows.append(EventResult(row_number, MeterEventReport.DUPLICATE, event_id=existing.pk))
    return recorded


def _latest_events(*, area_id: int, since: datetime.datetime) -> tuple[int, dict[int, MeterEvent], list[MeterEvent]]:
    """The area's meters in service, each meter's latest event since `since`, and all those events in order."""
    meter_ids = set(
        Meter.objects.filter(service_point__transformer_area_id=area_id, removed_on__isnull=True).values_list(
            "pk", flat=True
        )
    )
    events = list(
        MeterEvent.objects.filter(meter_id__in=meter_ids, occurred_at__gte=since).order_by("occurred_at", "pk")
    )
    latest: dict[int, MeterEvent] = {}
    for event in events:
        latest[event.meter_id] = event
    return len(meter_ids), latest, events


def _open_acquisition_outage(area_id: int) -> Outage | None:
    return (
        Outage.objects.filter(
            state=OutageState.ANNOUNCED, source_key__startswith=SOURCE_KEY_PREFIX, areas__transformer_area_id=area_id
        )
        .order_by("-starts_at")
        .first()
    )


def _known_outage_covers(*, area_id: int, at: datetime.datetime) -> bool:
    """An outage over the area is on at `at`, however long past its expected end (it is not restored)."""
    return outages_on(at=at).filter(areas__transformer_area_id=area_id).exists()


def _area_mark(*, area: TransformerArea, rule: OutageDetectionRule, user, now: datetime.datetime,
               report: MeterEventReport) -> None:
    """Announce a fault outage over the area when enough of its meters went off together."""
    total, latest, _events = _latest_events(area_id=area.pk, since=now - LOOKBACK)
    off = sorted((event for event in latest.values() if event.kind == MeterEvent.Kind.POWER_OFF),
                 key=lambda event: event.occurred_at)
    if not off or total == 0:
        return
    window = datetime.timedelta(minutes=rule.window_minutes)
    together = [event for event in off if event.occurred_at >= off[-1].occurred_at - window]
    if len(together) < rule.min_meters or len(together) * 100 < rule.off_share_percent * total:
        return
    starts_at = together[0].occurred_at
    if _known_outage_covers(area_id=area.pk, at=starts_at) or _known_outage_covers(area_id=area.pk, at=now):
        return
    branch = area.feeder.substation.branch
    outage = outage_announce(
        branch=branch,
        kind=OutageKind.FAULT,
        title=_stored(_("%(area)s故障停电"), {"area": area.name}),
        reason=_stored(
            _("用电信息采集系统监测到台区%(off)d/%(total)d块电能表失电"), {"off": len(together), "total": total}
        ),
        streets="",
        starts_at=starts_at,
        ends_at=max(starts_at, now) + datetime.timedelta(minutes=rule.expected_minutes),
        transformer_area_ids=[area.pk],
        source_key=f"{SOURCE_KEY_PREFIX}{area.code}:{int(starts_at.timestamp())}",
        user=user,
        now=now,
    )
    MeterEvent.objects.filter(pk=together[-1].pk).update(outage=outage)
    report.outages_marked.append(outage)
    logger.info("area %s marked off by meter events: outage %s", area.code, outage.pk)


def _area_restore(*, area: TransformerArea, outage: Outage, rule: OutageDetectionRule, user,
                  now: datetime.datetime, report: MeterEventReport) -> Outage | None:
    """Record power back on the area's acquisition outage when enough of the meters that went off are back."""
    window = datetime.timedelta(minutes=rule.window_minutes)
    _total, latest, events = _latest_events(area_id=area.pk, since=outage.starts_at - window)
    went_off = {event.meter_id for event in events if event.kind == MeterEvent.Kind.POWER_OFF}
    if not went_off:
        return None
    back = sorted(
        (latest[meter_id] for meter_id in went_off if latest[meter_id].kind == MeterEvent.Kind.POWER_RESTORE),
        key=lambda event: event.occurred_at,
    )
    needed = math.ceil(rule.restore_share_percent * len(went_off) / 100)
    if len(back) < needed:
        return None
    tipping = back[needed - 1]
    restored = outage_restore(
        outage=outage, restored_at=min(max(tipping.occurred_at, outage.starts_at), now), user=user, now=now
    )
    MeterEvent.objects.filter(pk=tipping.pk).update(outage=restored)
    report.outages_restored.append(restored)
    logger.info("area %s restored by meter events: outage %s", area.code, outage.pk)
    return restored


def _tickets_waiting(*, query: Q) -> list[Ticket]:
    return list(
        Ticket.objects.filter(
            query,
            state=Ticket.State.OPEN,
            business_type=BusinessType.FAULT_REPAIR,
            current_step__state=TicketStep.State.ACTIVE,
            current_step__step_definition__code=RESTORE_STEP,
        ).select_related("current_step")
    )


def _ticket_restore(*, ticket: Ticket, restored_at: datetime.datetime, evidence: str, user,
                    now: datetime.datetime, report: MeterEventReport) -> None:
    """Finish the ticket's restore step with the evidence, as any submission: validated, recorded, moved on."""
    if restored_at < ticket.opened_at:
        return
    step = ticket.current_step
    StaffAssignment.objects.get_or_create(user=user, post_id=step.post_id, branch=None, station=None)
    data = {"restored_at": restored_at.isoformat(), "cause": "other", "repair_actions": evidence}
    try:
        closed = ticket_step_submit(step_id=step.pk, user=user, data=data, note=evidence, at=now)
    except TicketError as error:
        reason = "; ".join(
            message for messages in (getattr(error, "errors", None) or {}).values() for message in messages
        ) or str(error)
        report.tickets_left.append((ticket, reason))
        logger.info("ticket %s left at its restore step: %s", ticket.number, reason)
        return
    report.tickets_closed.append(closed)


def _tickets_close(*, recorded: list[_Recorded], restored: list[tuple[TransformerArea, Outage]], user,
                   now: datetime.datetime, report: MeterEventReport) -> None:
    done: set[int] = set()
    # A customer's own meter back on after the report.
    restores = {}
    for item in recorded:
        if item.event.kind == MeterEvent.Kind.POWER_RESTORE:
            restores.setdefault(item.account_id, []).append(item.event)
    if restores:
        latest_kind = {}
        for event in MeterEvent.objects.filter(
            meter__service_point__account_id__in=restores, meter__removed_on__isnull=True,
            occurred_at__gte=now - LOOKBACK,
        ).order_by("occurred_at", "pk").select_related("meter__service_point"):
            latest_kind[event.meter.service_point.account_id, event.meter_id] = event
        for ticket in _tickets_waiting(query=Q(account_id__in=restores)):
            account_latest = [
                event for (account_id, _meter), event in latest_kind.items() if account_id == ticket.account_id
            ]
            if any(event.kind == MeterEvent.Kind.POWER_OFF for event in account_latest):
                continue  # one of the customer's meters is still off
            event = max(restores[ticket.account_id], key=lambda event: event.occurred_at)
            evidence = _stored(_("用电信息采集系统：电能表%(meter)s于%(time)s上报复电"), {
                "meter": event.meter.asset_number,
                "time": timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M"),
            })
            _ticket_restore(ticket=ticket, restored_at=event.occurred_at, evidence=evidence, user=user, now=now,
                            report=report)
            done.add(ticket.pk)
    # A ticket about the area or the outage itself, with no customer's meter to go by.
    for area, outage in restored:
        query = Q(outage=outage) | Q(transformer_area=area, account__isnull=True)
        for ticket in _tickets_waiting(query=query):
            if ticket.pk in done:
                continue
            evidence = _stored(_("用电信息采集系统：台区%(area)s于%(time)s恢复送电"), {
                "area": area.name,
                "time": timezone.localtime(outage.restored_at).strftime("%Y-%m-%d %H:%M"),
            })
            _ticket_restore(ticket=ticket, restored_at=outage.restored_at, evidence=evidence, user=user, now=now,
                            report=report)
            done.add(ticket.pk)


def meter_events_record(
    *, rows: Iterable[MeterEventRow], source: str, now: datetime.datetime | None = None
) -> MeterEventReport:
    """Record a batch of meter events (per row accepted, duplicate or rejected with the reason), mark or restore
    the outages of the transformer areas they touch, and finish the repair tickets the evidence covers.

    Locks each touched transformer area row, one after the other in id order, so two batches about one area
    decide one after the other."""
    now = now or timezone.now()
    if source not in MeterEvent.Source.values:
        raise MeterEventInvalid(_("未知的来源系统"), field="source")
    report = MeterEventReport()
    with transaction.atomic():
        recorded = _record(rows=rows, source=source, now=now, report=report)
        if not recorded:
            return report
        user = acquisition_user()
        area_ids = sorted({item.area_id for item in recorded})
        restored: list[tuple[TransformerArea, Outage]] = []
        for area in (
            TransformerArea.objects.select_for_update(of=("self",))
            .select_related("feeder__substation__branch")
            .filter(pk__in=area_ids)
            .order_by("pk")
        ):
            rule = outage_rule_for(branch_id=area.feeder.substation.branch_id)
            outage = _open_acquisition_outage(area.pk)
            if outage is None:
                _area_mark(area=area, rule=rule, user=user, now=now, report=report)
            else:
                back = _area_restore(area=area, outage=outage, rule=rule, user=user, now=now, report=report)
                if back is not None:
                    restored.append((area, back))
        _tickets_close(recorded=recorded, restored=restored, user=user, now=now, report=report)
    return report
