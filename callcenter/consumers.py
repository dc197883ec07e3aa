"""The call centre's live socket at /ws/callcenter/: screen-pops and call updates to an agent's console, live
figures to the supervisors' wallboard, and the agent's state buttons back to core and the PBX."""
from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.console.access import callcenter_access
from callcenter.console.agent_state import agent_presence_or_none, agent_state_change, agent_state_payload
from callcenter.console.pop import screen_pop_payload
from callcenter.wallboard.tasks import CALLS_BY_AGENT, QUEUE_GROUP, WALLBOARD_GROUP, queue_state_message
from core.selectors.call_kpis import wallboard_snapshot
from core.selectors.caller_profile import agents_current_calls, call_for_agent_or_none
from core.errors import DomainError

AGENT_GROUP_PREFIX = "callcenter.agent."
PBX_STATUS_CACHE_KEY = "callcenter:pbx_status"
REFUSED_CLOSE_CODE = 4403


def agent_group_name(agent_id: int) -> str:
    return f"{AGENT_GROUP_PREFIX}{agent_id}"


def _json(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False)


@database_sync_to_async
def _access(user):
    return callcenter_access(user)


@database_sync_to_async
def _state_now(user) -> dict:
    return agent_state_payload(presence=agent_presence_or_none(agent=user))


@database_sync_to_async
def _state_change(user, state: str, reason: str) -> dict:
    presence, request_id = agent_state_change(agent=user, state=state, reason=reason)
    return {**agent_state_payload(presence=presence), "request_id": request_id}


@database_sync_to_async
def _queue_state_now() -> dict:
    return queue_state_message(snapshot=wallboard_snapshot(now=timezone.now()))["payload"]


@database_sync_to_async
def _current_call_id(user) -> int | None:
    return agents_current_calls(now=timezone.now(), agent_id=user.pk).get(user.pk)


@database_sync_to_async
def _pop_again(user, call_id: int) -> dict | None:
    """The screen-pop of the agent's call, if it is still theirs."""
    call = call_for_agent_or_none(call_id=call_id, agent=user)
    return screen_pop_payload(call=call) if call is not None else None


@database_sync_to_async
def _pbx_status() -> dict:
    status = cache.get(PBX_STATUS_CACHE_KEY)
    if not isinstance(status, dict):
        return {"kind": "pbx_status", "connected": False, "at": None}
    return {"kind": "pbx_status", "connected": bool(status.get("connected")), "at": status.get("at")}


class CallcenterConsumer(AsyncWebsocketConsumer):
    """Authorised before accept(): signed-in staff holding the agent or supervisor role (superusers too). Agents
    join their own group callcenter.agent.<id> and the queue's callcenter.queue, supervisors callcenter.wallboard.
    Everything sent to those groups arrives as {"type": "callcenter.message", "payload": {...}} and reaches the
    browser as the payload's JSON.

    An agent never misses their call's screen-pop: on connecting (a reload, a reconnect after a restart) the socket
    pops the call ringing on them or the one they are on; each queue push names every agent's current call and each
    heartbeat asks for this agent's, and a call this socket has not popped is popped then (a pop the channel layer
    dropped under load, one sent while the socket was away)."""

    async def connect(self):
        self.groups_joined: list[str] = []
        self.popped_call_id: int | None = None
        user = self.scope.get("user")
        access = await _access(user)
        if not access.any:
            await self.close(code=REFUSED_CLOSE_CODE)
            return
        self.user = user
        self.is_agent = access.agent
        if access.agent:
            self.groups_joined.extend([agent_group_name(user.pk), QUEUE_GROUP])
        if access.supervisor:
            self.groups_joined.append(WALLBOARD_GROUP)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send(text_data=_json({"kind": "hello", "agent": access.agent, "supervisor": access.supervisor}))
        await self.send(text_data=_json(await _pbx_status()))
        if access.agent:
            await self.send(text_data=_json(await _state_now(user)))
            await self.send(text_data=_json(await _queue_state_now()))
            await self._pop_if_missed(await _current_call_id(user))

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            content = json.loads(text_data or "")
        except ValueError:
            content = None
        if not isinstance(content, dict):
            await self._error(_("无法识别的消息"))
            return
        action = content.get("action")
        if action == "heartbeat":
            await self.send(text_data=_json({"kind": "heartbeat", "at": timezone.now().isoformat()}))
            if self.is_agent:
                await self._pop_if_missed(await _current_call_id(self.user))
        elif action == "agent_state":
            await self._agent_state(content)
        else:
            await self._error(_("无法识别的操作"))

    async def _agent_state(self, content: dict):
        if not self.is_agent:
            await self._error(_("只有坐席可以设置坐席状态"))
            return
        state, reason = content.get("state"), content.get("reason", "")
        if not isinstance(state, str) or not isinstance(reason, str):
            await self._error(_("无效的坐席状态"))
            return
        try:
            payload = await _state_change(self.user, state, reason)
        except DomainError as refused:
            await self._error(str(refused), field=refused.field)
            return
        await self.send(text_data=_json(payload))

    async def _error(self, message: str, *, field: str | None = None):
        await self.send(text_data=_json({"kind": "error", "message": message, "field": field}))

    async def _pop_if_missed(self, call_id: int | None):
        if call_id is None or call_id == self.popped_call_id:
            return
        payload = await _pop_again(self.user, call_id)
        if payload is not None:
            self.popped_call_id = call_id
            await self.send(text_data=_json(payload))

    async def callcenter_message(self, event):
        """A screen-pop, call update, agent state, wallboard snapshot or PBX reply: passed on unchanged, but for the
        queue push's map of every agent's call, which only this socket reads."""
        payload = event["payload"]
        kind = payload.get("kind")
        if kind == "screen_pop":
            self.popped_call_id = payload["call_id"]
        calls_by_agent = payload.get(CALLS_BY_AGENT) if kind == "queue_state" else None
        if calls_by_agent is not None:
            payload = {key: value for key, value in payload.items() if key != CALLS_BY_AGENT}
        await self.send(text_data=_json(payload))
        if calls_by_agent is not None and getattr(self, "is_agent", False):
            await self._pop_if_missed(calls_by_agent.get(str(self.user.pk)))
