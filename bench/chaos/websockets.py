"""Agents' console sockets as console.js keeps them: one websocket to /ws/callcenter/ each, reopened after every close
with the console's backoff (500 ms, doubling up to 15 s, back to 500 ms once open). Runs its own event loop in a
thread; records every open and every message of kind "chaos_probe"."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 15.0


def retry_delays(count: int) -> list[float]:
    """The waits console.js makes before its first `count` reconnect attempts."""
    delays, delay = [], RETRY_FIRST_SECONDS
    for _ in range(count):
        delays.append(delay)
        delay = min(delay * 2, RETRY_MAX_SECONDS)
    return delays


@dataclass
class SocketState:
    agent_id: int
    opens: list[float] = field(default_factory=list)
    closes: list[float] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return len(self.opens) > len(self.closes)


class ConsoleSockets:
    def __init__(self, *, agents: list[dict], ports: list[int]) -> None:
        self.states = [SocketState(agent_id=agent["id"]) for agent in agents]
        self.agents, self.ports = agents, ports
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="console-sockets", daemon=True)

    async def _socket(self, session, index: int) -> None:
        import aiohttp

        agent, state = self.agents[index], self.states[index]
        port = self.ports[index % len(self.ports)]
        delay = RETRY_FIRST_SECONDS
        while not self._stop.is_set():
            try:
                async with session.ws_connect(f"ws://127.0.0.1:{port}/ws/callcenter/", heartbeat=None,
                                              headers={"Cookie": agent["cookie"],
                                                       "Origin": f"http://127.0.0.1:{port}"}) as socket:
                    opened = False
                    async for message in socket:
                        if message.type != aiohttp.WSMsgType.TEXT:
                            break
                        payload = json.loads(message.data)
                        if payload.get("kind") == "hello" and not opened:
                            opened = True
                            state.opens.append(time.monotonic())
                            delay = RETRY_FIRST_SECONDS
                        elif payload.get("kind") == "chaos_probe":
                            state.probes.append(payload["probe"])
                    if opened:
                        state.closes.append(time.monotonic())
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
                pass
            if self._stop.is_set():
                return
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def _main(self) -> None:
        import aiohttp

        self._stop = asyncio.Event()
        async with aiohttp.ClientSession() as session:
            tasks = [asyncio.create_task(self._socket(session, index)) for index in range(len(self.agents))]
            await self._stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    def start(self) -> None:
        self._thread.start()
        while self._stop is None:
            time.sleep(0.01)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def all_open(self) -> bool:
        return all(state.open for state in self.states)
