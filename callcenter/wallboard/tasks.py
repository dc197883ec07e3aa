"""Pushing the wallboard: one fresh snapshot to every supervisor's wallboard, at most once a second however many
calls change (a storm must not flood the channel layer or the browsers)."""
from __future__ import annotations

import threading
import time

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.utils import timezone

from core.selectors.call_kpis import wallboard_snapshot
from core.selectors.caller_profile import agents_current_calls

WALLBOARD_GROUP = "callcenter.wallboard"
# Every agent's console: the queue now (calls waiting, longest wait, agents ready), pushed with the wallboard.
QUEUE_GROUP = "callcenter.queue"
# The queue_state field carrying each agent's current call, for the sockets only.
CALLS_BY_AGENT = "calls_by_agent"
# Set while a push is scheduled: changes meanwhile ride along with it. Shared by every process through the cache.
PUSH_PENDING_KEY = "callcenter:wallboard:push_pending"
PUSH_INTERVAL_SECONDS = 1
# Longer than the interval: a push lost with its worker frees the key by itself, and the next change schedules one.
PUSH_PENDING_TIMEOUT_SECONDS = 10


def wallboard_message(*, snapshot: dict) -> dict:
    return {"type": "callcenter.message", "payload": {"kind": "wallboard", "snapshot": snapshot}}


def queue_state_message(*, snapshot: dict, calls_by_agent: dict[int, int] | None = None) -> dict:
    """What an agent's console shows of the queue: the part of the snapshot about now, not the day's figures.
    With `calls_by_agent` (agent id -> the call their screen should show) each agent's socket checks it has popped
    its call, and takes that map out before the browser sees the message (callcenter/consumers.py)."""
    payload = {
        "kind": "queue_state",
        "waiting": snapshot["queue"]["waiting"],
        "longest_wait_seconds": snapshot["queue"]["longest_wait_seconds"],
        "agents_ready": snapshot["agents_by_state"]["ready"],
    }
    if calls_by_agent is not None:
        # String keys: the Redis layer's msgpack refuses integer map keys on the way back.
        payload[CALLS_BY_AGENT] = {str(agent): call for agent, call in calls_by_agent.items()}
    return {"type": "callcenter.message", "payload": payload}


class _LocalMark:
    """When this process last scheduled a push. A push runs no sooner than PUSH_INTERVAL_SECONDS after it was
    scheduled and reads the figures when it runs, so a change made here within that interval rides along without
    asking the cache (the call-fact path sends several signals per call)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = float("-inf")

    def recent(self) -> bool:
        with self._lock:
            return time.monotonic() - self._at < PUSH_INTERVAL_SECONDS

    def set(self, at: float) -> None:
        with self._lock:
            self._at = at


_scheduled_here = _LocalMark()


def wallboard_push_request() -> bool:
    """Schedule a push in PUSH_INTERVAL_SECONDS unless one is already scheduled; True when this call scheduled it."""
    if _scheduled_here.recent():
        return False
    if not cache.add(PUSH_PENDING_KEY, True, timeout=PUSH_PENDING_TIMEOUT_SECONDS):
        return False
    _scheduled_here.set(time.monotonic())
    wallboard_push.apply_async(countdown=PUSH_INTERVAL_SECONDS)
    return True


@shared_task(name="callcenter.wallboard_push")
def wallboard_push() -> int:
    """The snapshot as it is now to the group callcenter.wallboard, and the queue now to every agent's console
    (callcenter.queue); returns the calls waiting. The pending mark is
    cleared first, so a change made while the snapshot is computed schedules the next push."""
    cache.delete(PUSH_PENDING_KEY)
    _scheduled_here.set(float("-inf"))
    now = timezone.now()
    snapshot = wallboard_snapshot(now=now)
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(WALLBOARD_GROUP, wallboard_message(snapshot=snapshot))
    async_to_sync(layer.group_send)(
        QUEUE_GROUP, queue_state_message(snapshot=snapshot, calls_by_agent=agents_current_calls(now=now))
    )
    return snapshot["queue"]["waiting"]
