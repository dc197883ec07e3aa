"""Chromium for the browser tests: Debian's own binary (no browser download), flags for a closed network, and a
close that cannot hang the run. Playwright's own action timeouts (30 s) stay far under the test watchdog's.

Playwright's `browser.close()` waits for Chromium to exit; a Chromium wedged on a loaded two-core machine would hold
the test forever. Each browser carries a unique marker switch, so that when the close does not finish in time the
processes of that browser (and only those) are killed."""
from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LAUNCH_TIMEOUT_MS = 90_000
CLOSE_GRACE_SECONDS = 30


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in command_line:
            found.append(int(entry.name))
    return found


def _kill_processes_with(marker: str) -> None:
    for pid in _processes_with(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def chromium() -> Iterator[Browser]:
    """A launched headless Chromium, closed (or killed) on the way out."""
    marker = f"--test-browser={uuid.uuid4().hex}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, marker], timeout=LAUNCH_TIMEOUT_MS
        )
        try:
            yield browser
        finally:
            reaper = threading.Timer(CLOSE_GRACE_SECONDS, _kill_processes_with, args=(marker,))
            reaper.daemon = True
            reaper.start()
            try:
                browser.close()
            finally:
                reaper.cancel()
