#!/usr/bin/env python
"""localstripe, a stateful Stripe stand-in from PyPI, on a loopback port with its state in memory only: for `make
run` when no STRIPE_SECRET_KEY is set (scripts/run_platform.py) and for the tests.

    python scripts/localstripe_server.py --port 8420

localstripe's own entry point listens on every address and pickles its whole store to one fixed /tmp file after
every write, which parallel servers would race on and a later run would load stale: this one does neither.

From Python, `localstripe_running(log_dir)` starts one on a free port and gives a LocalStripe: `settings_apply(
settings)` (pytest-django's settings fixture) or `environment()` (a child process's STRIPE_* variables) point the
platform at it, and `webhook_register(url)` makes it sign and POST its events to our webhook.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
START_SECONDS = 30.0
SECRET_KEY = "sk_test_localstripe"
PUBLISHABLE_KEY = "pk_test_localstripe"
WEBHOOK_SECRET = "whsec_localstripe_tests"


@dataclass(frozen=True)
class LocalStripe:
    """Where a running localstripe answers, and the keys our settings need to talk to it."""

    base_url: str
    secret_key: str = SECRET_KEY
    publishable_key: str = PUBLISHABLE_KEY
    webhook_secret: str = WEBHOOK_SECRET

    @property
    def js_url(self) -> str:
        return f"{self.base_url}/js.stripe.com/v3/"

    def environment(self) -> dict[str, str]:
        """The STRIPE_* environment variables for a child process (config/settings/base.py reads them)."""
        return {
            "STRIPE_SECRET_KEY": self.secret_key,
            "STRIPE_PUBLISHABLE_KEY": self.publishable_key,
            "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
            "STRIPE_API_BASE": self.base_url,
            "STRIPE_JS_URL": self.js_url,
        }

    def settings_apply(self, settings) -> None:
        """Point the STRIPE_* settings of this process at the server (pytest-django's `settings` fixture)."""
        for name, value in self.environment().items():
            setattr(settings, name, value)

    def webhook_register(self, url: str, *, hook_id: str = "portal", events: list[str] | None = None) -> None:
        """Have localstripe sign its events with our webhook secret and POST them to url (about 1 s after each)."""
        fields = [("url", url), ("secret", self.webhook_secret)]
        fields += [("events[]", event) for event in events or []]
        self._post(f"/_config/webhooks/{hook_id}", urllib.parse.urlencode(fields).encode())

    def webhook_unregister(self, *, hook_id: str = "portal") -> None:
        """Point a registered hook at a closed port: localstripe has no call to remove one."""
        self._post(
            f"/_config/webhooks/{hook_id}",
            urllib.parse.urlencode({"url": "http://127.0.0.1:9/", "secret": self.webhook_secret}).encode(),
        )

    def flush(self) -> None:
        """Forget every object (intents, charges, refunds, events)."""
        request = urllib.request.Request(f"{self.base_url}/_config/data", method="DELETE")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def _post(self, path: str, body: bytes) -> None:
        request = urllib.request.Request(f"{self.base_url}{path}", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/js.stripe.com/v3/", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextlib.contextmanager
def localstripe_running(log_dir: Path) -> Iterator[LocalStripe]:
    """Start localstripe in its own process on a free loopback port; stop it on exit. Its log is in log_dir."""
    port = free_loopback_port()
    log = Path(log_dir) / "localstripe.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--port", str(port)],
            cwd=BASE_DIR, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = LocalStripe(base_url=f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _answers(server.base_url):
            if process.poll() is not None:
                raise RuntimeError(f"localstripe exited with {process.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"localstripe did not answer in {START_SECONDS} s:\n{log.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def main() -> None:
    """Serve localstripe on 127.0.0.1:<port>, keeping its state in memory only."""
    from aiohttp import web
    from localstripe import resources, server

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # localstripe pickles its whole store to one fixed /tmp file after every write; parallel servers would race
    # on it and a later run would load a stale one. Memory is all a stand-in needs.
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None
    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.StreamHandler())
    web.run_app(server.app, host="127.0.0.1", port=args.port, access_log=logger, print=None)


if __name__ == "__main__":
    main()
