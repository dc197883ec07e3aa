"""The demo's outage notices (停电公告) over the first branch's topology, timed relative to now: planned ones more
than 7 days ahead, a temporary repair 36 hours ahead, and one planned outage already over and restored."""
from __future__ import annotations

import datetime

from django.utils import timezone

from core.models import Branch, Feeder, OutageKind, Substation, TransformerArea

NOTICE_HOURS_AHEAD_TEMPORARY = 36


def _local(now: datetime.datetime, days: int, hour: int, minute: int = 0) -> datetime.datetime:
    """`days` after today (local time) at hour:minute."""
    day = timezone.localdate(now) + datetime.timedelta(days=days)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def streets_describe(areas: list[TransformerArea]) -> str:
    """The places the areas are named after ("楚天路1号台区" -> "楚天路"), each once, in order."""
    places = []
    for area in areas:
        place = area.name.split("号台区")[0].rstrip("0123456789")
        if place not in places:
            places.append(place)
    return "、".join(places)


def notice_specs(
    *, now: datetime.datetime, branch: Branch, substation: Substation, feeder: Feeder, areas: list[TransformerArea]
) -> list[dict]:
    """Five notices; `restored_at` marks the one that is already over."""
    feeder_areas = [area for area in areas if area.feeder_id == feeder.pk]
    temporary_start = (now + datetime.timedelta(hours=NOTICE_HOURS_AHEAD_TEMPORARY)).astimezone(
        timezone.get_current_timezone()
    ).replace(minute=0, second=0, microsecond=0)
    return [
        {
            "slug": "planned-feeder-maintenance",
            "title": f"{branch.name}{feeder.name}计划停电公告",
            "kind": OutageKind.PLANNED,
            "starts_at": _local(now, 10, 8),
            "ends_at": _local(now, 10, 18),
            "reason": "10kV线路检修及通道树障清理",
            "streets": streets_describe(feeder_areas),
            "details": "<p>停电期间请关闭家中电器电源，来电前切勿靠近线路。如遇天气原因，停电时间可能顺延，另行公告。</p>",
            "feeders": [feeder],
        },
        {
            "slug": "planned-transformer-replacement",
            "title": f"{branch.name}{areas[0].name}计划停电公告",
            "kind": OutageKind.PLANNED,
            "starts_at": _local(now, 8, 9),
            "ends_at": _local(now, 8, 15),
            "reason": "配电变压器增容更换",
            "streets": streets_describe(areas[:1]),
            "details": "<p>更换后台区容量提高，可满足电动车充电、电采暖等用电增长。</p>",
            "transformer_areas": areas[:1],
        },
        {
            "slug": "temporary-switch-repair",
            "title": f"{branch.name}{areas[-1].name}临时检修停电公告",
            "kind": OutageKind.TEMPORARY,
            "starts_at": temporary_start,
            "ends_at": temporary_start + datetime.timedelta(hours=4),
            "reason": "临时检修：处理隔离开关发热缺陷",
            "streets": streets_describe(areas[-1:]),
            "details": "<p>巡视发现隔离开关接头发热，为防止故障扩大，安排临时检修。</p>",
            "transformer_areas": areas[-1:],
        },
        {
            "slug": "planned-substation-test",
            "title": f"{branch.name}{substation.name}计划停电公告",
            "kind": OutageKind.PLANNED,
            "starts_at": _local(now, 20, 6),
            "ends_at": _local(now, 20, 14),
            "reason": "主变压器预防性试验及保护装置校验",
            "streets": streets_describe(areas),
            "details": "<p>本次停电范围较大，医院、水厂等重要客户已提前安排备用电源。</p>",
            "substations": [substation],
        },
        {
            "slug": "restored-line-upgrade",
            "title": f"{branch.name}{feeder.name}线路改造停电公告（已恢复送电）",
            "kind": OutageKind.PLANNED,
            "starts_at": _local(now, -5, 8),
            "ends_at": _local(now, -5, 17),
            "restored_at": _local(now, -5, 16, 20),
            "announced_at": _local(now, -14, 10),
            "reason": "10kV线路绝缘化改造",
            "streets": streets_describe(feeder_areas),
            "details": "<p>工程已提前完工，当日16:20恢复送电。感谢您的理解与支持。</p>",
            "feeders": [feeder],
        },
    ]
