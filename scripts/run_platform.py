"""Run the platform for a developer: the ASGI server, a Celery worker with beat, run_ami when AMI_HOST is set, and
localstripe when no Stripe key is.

The one worker consumes every Celery queue (WORKER_QUEUES); production runs a worker per group of queues instead
(Procfile, deploy/systemd/).

The ASGI server serves HTTP and websockets; `manage.py run_ami` is the PBX worker, started only when AMI_HOST names
an Asterisk to connect to.

Without Redis the children still reach one another's websockets through the SQLite channel layer in VAR_DIR
(config/channel_layers.py): the Celery worker's staff alerts and run_ami's screen-pops reach browsers on Daphne.

Without STRIPE_SECRET_KEY, card payments go to localstripe (a Stripe stand-in from PyPI, scripts/
localstripe_server.py) on a free loopback port: the web server and the worker get STRIPE_* settings pointing at it
and a webhook secret of this run, and once the web server answers localstripe is told to sign and POST its events
to /payments/stripe/webhook/, as Stripe's dashboard would be. With a key set, nothing of this happens.

Each child runs in its own process group so that stopping it also stops whatever it forked (worker pool, embedded
beat). Output is prefixed with the child's name. Ctrl-C or SIGTERM stops everything and exits 0; a child that dies
on its own stops the others and the supervisor exits non-zero.
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# Run as `python scripts/run_platform.py`, the project's folder must be on the path for its scripts package.
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from scripts.localstripe_server import LocalStripe, free_loopback_port

STOP_GRACE_SECONDS = 10.0
READY_TIMEOUT_SECONDS = 120.0
# Every queue of CELERY_QUEUES_ALL (config/settings/base.py; tests/deploy/test_layout.py keeps the two equal).
WORKER_QUEUES = ("default", "notifications", "tickets", "payments", "reports", "callcenter")


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    pump: threading.Thread | None = field(default=None, repr=False)


def _pump_output(child: Child, lock: threading.Lock) -> None:
    assert child.process is not None and child.process.stdout is not None
    for raw in child.process.stdout:
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        with lock:
            print(f"[{child.name}] {line}", flush=True)


def _start(child: Child, env: dict[str, str], lock: threading.Lock) -> None:
    child.process = subprocess.Popen(
        child.argv,
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    child.pump = threading.Thread(target=_pump_output, args=(child, lock), daemon=True)
    child.pump.start()


def _signal_group(child: Child, sig: int) -> None:
    if child.process is None:
        return
    try:
        os.killpg(child.process.pid, sig)
    except ProcessLookupError:
        pass


def stop_all(children: list[Child]) -> None:
    """SIGTERM every leader, wait for a grace period, then SIGKILL whatever is left in each process group."""
    for child in children:
        # The leader alone gets SIGTERM: Celery's warm shutdown stops its own pool and beat cleanly.
        if child.process is not None and child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for child in children:
        # The group may outlive its leader (forked pool workers), so it is killed even when the leader has gone.
        _signal_group(child, signal.SIGKILL)
        if child.process is not None:
            child.process.wait()
        if child.pump is not None:
            child.pump.join(timeout=2)


def _server_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer, a 503 from /readyz/ included, means the server is up
    except OSError:
        return False


def _print_banner(python: str, base_url: str, env: dict[str, str], lock: threading.Lock,
                  stripe: LocalStripe | None = None) -> None:
    logins = subprocess.run(
        [python, "manage.py", "demo_logins", "--base-url", base_url],
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    lines = ["", "=" * 72, "The 95598 platform is running:"]
    for path, what in [
        ("/", "public site and customer portal"),
        ("/admin/", "Wagtail CMS admin"),
        ("/django-admin/", "Django admin"),
        ("/healthz/", "liveness (the server answers)"),
        ("/readyz/", "readiness of database, cache, broker, channel layer, PBX"),
    ]:
        lines.append(f"  {base_url}{path:<16} {what}")
    if env.get("AMI_HOST"):
        pbx = f"{env['AMI_HOST']}:{env.get('AMI_PORT', '5038')}"
        lines.append(f"  PBX: run_ami connects to the Asterisk Manager Interface at {pbx}")
    if stripe is not None:
        lines.append(f"  Card payments: localstripe, a Stripe stand-in, at {stripe.base_url} (no STRIPE_SECRET_KEY set);")
        lines.append("  pay with the test card 4242 4242 4242 4242, any future expiry date and any CVC")
    lines.append("")
    if logins.returncode == 0 and logins.stdout.strip():
        lines.append("Demo logins:")
        lines.extend(f"  {line}" for line in logins.stdout.strip().splitlines())
    else:
        reason = (logins.stderr.strip().splitlines() or ["no output"])[0]
        lines.append(f"(demo logins unavailable: {reason})")
    lines.extend(["", "Press Ctrl-C to stop.", "=" * 72, ""])
    with lock:
        print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--no-worker", action="store_true",
        help="without the Celery worker and beat (run_ami still starts when AMI_HOST is set)",
    )
    parser.add_argument(
        "--no-stripe", action="store_true", help="without localstripe when no STRIPE_SECRET_KEY is set (no card payments)",
    )
    args = parser.parse_args(argv)

    python = sys.executable
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    env["PYTHONUNBUFFERED"] = "1"
    base_url = f"http://{args.host}:{args.port}"
    stripe = None
    if not env.get("STRIPE_SECRET_KEY") and not args.no_stripe:
        stripe = LocalStripe(base_url=f"http://127.0.0.1:{free_loopback_port()}",
                             webhook_secret=f"whsec_{secrets.token_hex(16)}")
        env.update(stripe.environment())

    # Daphne's runserver serves HTTP and websockets, and static files from the apps while DEBUG is on.
    children = [Child("web", [python, "manage.py", "runserver", "--noreload", f"{args.host}:{args.port}"])]
    if not args.no_worker:
        children.append(
            Child(
                "worker",
                [python, "-m", "celery", "-A", "config", "worker", "--beat", "--loglevel", "INFO",
                 "--concurrency", "2", "--hostname", "worker@%h", "--queues", ",".join(WORKER_QUEUES)],
            )
        )
    if stripe is not None:
        port = stripe.base_url.rsplit(":", 1)[1]
        children.append(Child("stripe", [python, "scripts/localstripe_server.py", "--port", port]))
    if env.get("AMI_HOST"):
        # Call events in, agents' queue commands out (callcenter/worker.py); it reconnects to the PBX by itself.
        children.append(Child("ami", [python, "manage.py", "run_ami"]))

    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    lock = threading.Lock()
    for child in children:
        _start(child, env, lock)

    announced = False
    started = time.monotonic()
    exit_code = 0
    while not stopping.is_set():
        dead = [c for c in children if c.process is not None and c.process.poll() is not None]
        if dead:
            with lock:
                for child in dead:
                    print(f"[supervisor] {child.name} exited with status {child.process.returncode}; stopping",
                          flush=True)
            exit_code = 1
            break
        if not announced:
            if _server_answers(f"{base_url}/readyz/"):
                announced = True
                if stripe is not None:
                    # localstripe started with the web server and answers well before it.
                    try:
                        stripe.webhook_register(f"{base_url}/payments/stripe/webhook/")
                    except OSError as error:
                        with lock:
                            print(f"[supervisor] localstripe's webhook not registered ({error}): payments will "
                                  "not be credited", flush=True)
                _print_banner(python, base_url, env, lock, stripe)
            elif time.monotonic() - started > READY_TIMEOUT_SECONDS:
                with lock:
                    print(f"[supervisor] {base_url} did not answer within {READY_TIMEOUT_SECONDS:.0f} s; stopping",
                          flush=True)
                exit_code = 1
                break
        stopping.wait(0.5)

    with lock:
        print("[supervisor] stopping " + ", ".join(c.name for c in children), flush=True)
    stop_all(children)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
