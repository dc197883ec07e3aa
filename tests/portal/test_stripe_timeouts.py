"""A payment provider that does not answer: every call to Stripe gives up after the configured time and a retry,
the customer is told to try again later, nothing is recorded; bad timeout settings stop the start with a message."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.urls import reverse

from core.errors import OnlinePaymentProviderError
from core.models import OnlinePayment
from portal.payments.stripe_gateway import StripeGateway
from tests.portal.test_payments import customer_with_arrears

BASE_DIR = Path(__file__).resolve().parent.parent.parent


class SilentServer:
    """Accepts connections on loopback, reads what is sent and never answers: Stripe's API hanging."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        self.requests_received = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _address = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        received = b""
        try:
            while b"\r\n\r\n" not in received:
                chunk = connection.recv(4096)
                if not chunk:
                    return
                received += chunk
        except OSError:
            return
        with self._lock:
            self.requests_received += 1

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def silent_stripe():
    server = SilentServer()
    yield server
    server.close()


def test_a_call_stripe_never_answers_fails_after_the_read_timeout_and_its_retries(silent_stripe):
    gateway = StripeGateway(secret_key="sk_test_silent", webhook_secret="whsec_x", api_base=silent_stripe.url,
                            connect_timeout=1, read_timeout=0.3, network_retries=1)

    with pytest.raises(OnlinePaymentProviderError) as refusal:
        gateway.intent_create(amount=12345, currency="cny", metadata={}, idempotency_key="k-1")

    assert str(refusal.value.message) == "支付渠道暂时无法处理，请稍后再试"
    assert "timed out" in refusal.value.detail.lower() or "timeout" in refusal.value.detail.lower()
    # Asked once and once more, then given up (the second ask carries the same idempotency key).
    assert silent_stripe.requests_received == 2


@pytest.mark.django_db
def test_the_pay_page_tells_the_customer_to_try_later_and_records_nothing(client, settings, silent_stripe):
    settings.STRIPE_SECRET_KEY = "sk_test_silent"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_silent"
    settings.STRIPE_API_BASE = silent_stripe.url
    settings.STRIPE_READ_TIMEOUT_SECONDS = 0.2
    _user, account = customer_with_arrears(client, "66.00")

    response = client.post(reverse("portal:pay_account", args=[account.number]), {"request_key": "form-silent"})

    assert response.status_code == 400
    page = response.content.decode()
    assert "支付渠道暂时无法处理，请稍后再试" in page
    assert "66.00" in page  # the page is shown again, with what is due, to try again
    assert not OnlinePayment.objects.exists()
    assert silent_stripe.requests_received == 3  # the call and the two retries the gateway allows


def _settings_with(**variables: str) -> subprocess.CompletedProcess:
    code = ("from django.conf import settings; "
            "print(settings.STRIPE_CONNECT_TIMEOUT_SECONDS, settings.STRIPE_READ_TIMEOUT_SECONDS)")
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.dev", **variables}
    return subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def test_timeouts_default_to_5_and_10_seconds_and_follow_the_environment(tmp_path):
    assert _settings_with(VAR_DIR=str(tmp_path)).stdout.split() == ["5.0", "10.0"]
    configured = _settings_with(VAR_DIR=str(tmp_path), STRIPE_CONNECT_TIMEOUT_SECONDS="2",
                                STRIPE_READ_TIMEOUT_SECONDS="7.5")
    assert configured.stdout.split() == ["2.0", "7.5"]


@pytest.mark.parametrize("value", ["0", "-3", "ten", "nan", "inf"])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_stops_the_start(tmp_path, value):
    result = _settings_with(VAR_DIR=str(tmp_path), STRIPE_READ_TIMEOUT_SECONDS=value)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: "
        f"STRIPE_READ_TIMEOUT_SECONDS must be a number of seconds above 0, not {value!r}."
    )
