"""The wallboard's first render laid out for the template (which only prints): tiles, the agents' table, the
hourly table, and the wording the page's script needs. The script formats live updates the same way."""
from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from core.models import AgentState


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    value: str


@dataclass(frozen=True)
class AgentRow:
    name: str
    state: str
    state_label: str
    reason: str
    in_state: str


@dataclass(frozen=True)
class HourRow:
    hour: str
    calls: int
    answered: int
    abandoned: int
    ivr_answered: int
    service_level: str
    average_handle: str


def duration_text(seconds: int | None) -> str:
    """65 -> 1:05, 3725 -> 1:02:05, None -> —."""
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def wallboard_tiles(*, snapshot: dict) -> list[Tile]:
    today, queue = snapshot["today"], snapshot["queue"]
    return [
        Tile("waiting", _("排队来电"), str(queue["waiting"])),
        Tile("longest_wait", _("最长等待"), duration_text(queue["longest_wait_seconds"])),
        Tile(
            "service_level",
            _("服务水平（%(seconds)d秒内接通）") % {"seconds": snapshot["service_level_seconds"]},
            percent_text(today["service_level_percent"]),
        ),
        Tile("abandonment", _("放弃率"), percent_text(today["abandonment_percent"])),
        Tile("average_handle", _("平均处理时长"), duration_text(today["average_handle_seconds"])),
        Tile("calls", _("今日来电"), str(today["calls"])),
        Tile("answered", _("人工接听"), str(today["answered"])),
        Tile("ivr_answered", _("自助语音办结"), str(today["ivr_answered"])),
        Tile("storm_informed", _("停电告知"), str(today["storm_informed"])),
    ]


def wallboard_agent_rows(*, snapshot: dict) -> list[AgentRow]:
    return [
        AgentRow(
            name=agent["name"], state=agent["state"], state_label=agent["state_label"], reason=agent["reason"],
            in_state=duration_text(agent["seconds_in_state"]),
        )
        for agent in snapshot["agents"]
    ]


def wallboard_hour_rows(*, snapshot: dict) -> list[HourRow]:
    """Today's hours that had calls, in order."""
    return [
        HourRow(
            hour=f"{hour['hour']:02d}:00", calls=hour["calls"], answered=hour["answered"],
            abandoned=hour["abandoned"], ivr_answered=hour["ivr_answered"],
            service_level=percent_text(hour["service_level_percent"]),
            average_handle=duration_text(hour["average_handle_seconds"]),
        )
        for hour in snapshot["hours"]
        if hour["calls"]
    ]


def wallboard_text() -> dict[str, object]:
    """What the script writes on the page, translated here."""
    return {
        "connected": _("实时更新中"),
        "connecting": _("正在连接…"),
        "disconnected": _("连接已断开，%(seconds)s秒后重连（显示的是断开前的数据）"),
        "pbx_connected": _("交换机已连接"),
        "pbx_disconnected": _("交换机未连接"),
        "answered": _("人工接听"),
        "abandoned": _("排队放弃"),
        "ivr_answered": _("自助语音办结"),
        "service_level": _("服务水平"),
        "calls": _("来电"),
        "no_calls": _("今日暂无来电"),
        "no_agents": _("暂无签入的坐席"),
        "hours_chart": _("今日每小时来电"),
        "agents_chart": _("坐席状态分布"),
        "states": {value: str(label) for value, label in AgentState.choices},
    }
