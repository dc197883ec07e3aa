"""localstripe (a stateful Stripe stand-in) on a free loopback port, for the payment tests and the browser journey.

Use it from a fixture of your own:

    @pytest.fixture(scope="session")
    def localstripe(tmp_path_factory):
        with localstripe_running(tmp_path_factory.mktemp("localstripe")) as server:
            yield server

then `server.settings_apply(settings)` (pytest-django's settings fixture, or a dict of environment variables via
`server.environment()` for a child process) points STRIPE_* at it, and `server.webhook_register(url)` makes it sign
and POST its events to our webhook. The server itself is scripts/localstripe_server.py (also what `make run` starts
when no Stripe key is set): localstripe on 127.0.0.1 only and without its shared /tmp/localstripe.pickle, so several
servers (parallel test runs) never read or clobber each other's state.
"""
from __future__ import annotations

import contextlib
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

BASE_DIR = Path(__file__).resolve().parent.parent.parent
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


def _free_loopback_port() -> int:
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
    port = _free_loopback_port()
    log = Path(log_dir) / "localstripe.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "scripts" / "localstripe_server.py"), "--port", str(port)],
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
