"""scripts/run_platform.py, the `make run` supervisor: announces the platform, stops cleanly, fails loudly, and
without a Stripe key takes card payments through localstripe."""
import os
import re
import signal
import sys
import urllib.request
from pathlib import Path

import stripe

from tests.e2e.servers import database_copy, dev_env, free_loopback_port, start, wait_until


def supervisor(tmp_path: Path, migrated_sqlite: Path, *options: str):
    database_copy(migrated_sqlite, tmp_path)
    port = free_loopback_port()
    log = tmp_path / "supervisor.log"
    env = {name: value for name, value in dev_env(tmp_path, keep_redis=False).items()
           if not name.startswith("STRIPE_")}
    process = start(
        [sys.executable, "scripts/run_platform.py", "--port", str(port), "--no-worker", *options], env, log,
    )
    wait_until(lambda: "Press Ctrl-C to stop." in log.read_text(), "the banner", process, log)
    return process, log, f"http://127.0.0.1:{port}"


def children_of(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_the_banner_then_sigterm_stops_everything_and_exits_zero(tmp_path, migrated_sqlite):
    process, log, base_url = supervisor(tmp_path, migrated_sqlite, "--no-stripe")
    web_pid = children_of(process.pid)[0]
    with urllib.request.urlopen(f"{base_url}/healthz/", timeout=10) as response:
        assert response.status == 200

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=60) == 0
    text = log.read_text()
    assert f"  {base_url}/admin/          Wagtail CMS admin" in text
    assert f"demo-admin       demo95598  {base_url}/django-admin/" in text
    assert "[web] Starting ASGI/Daphne" in text
    assert "[supervisor] stopping web\n" in text
    assert not Path(f"/proc/{web_pid}").exists()


def test_a_child_that_dies_stops_the_supervisor_with_a_failure(tmp_path, migrated_sqlite):
    process, log, _ = supervisor(tmp_path, migrated_sqlite, "--no-stripe")
    web_pid = children_of(process.pid)[0]

    # Killed from outside, as the OOM killer would.
    os.kill(web_pid, signal.SIGKILL)

    assert process.wait(timeout=60) == 1
    assert "[supervisor] web exited with status -9; stopping" in log.read_text()


def test_without_a_stripe_key_payments_go_to_localstripe_whose_signed_events_reach_the_webhook(
    tmp_path, migrated_sqlite
):
    process, log, base_url = supervisor(tmp_path, migrated_sqlite)
    try:
        stand_in = re.search(r"Card payments: localstripe, a Stripe stand-in, at (http://127\.0\.0\.1:\d+)",
                             log.read_text()).group(1)
        # A card payment on it, as the pay page's Stripe.js would make one: its events are signed with this run's
        # webhook secret and POSTed to the platform, which verifies them (a wrong secret would be a 400).
        client = stripe.StripeClient("sk_test_localstripe", base_addresses={"api": stand_in})
        intent = client.v1.payment_intents.create(params={"amount": 4001, "currency": "cny",
                                                          "payment_method_types": ["card"]})
        token = client.v1.tokens.create(params={"card": {"number": "4242424242424242", "exp_month": "12",
                                                         "exp_year": "2040", "cvc": "123"}})
        client.v1.payment_intents.update(intent.id, params={"payment_method": token["card"]["id"]})
        assert client.v1.payment_intents.confirm(intent.id).status == "succeeded"
        wait_until(lambda: "POST /payments/stripe/webhook/ 200" in log.read_text(), "the signed webhook",
                   process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    assert "POST /payments/stripe/webhook/ 400" not in log.read_text()
    assert "[supervisor] stopping web, stripe\n" in log.read_text()
