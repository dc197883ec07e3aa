"""`make prod-local` for real: scripts/prod_local.py on free loopback ports, without demo data (the release from an
empty database, then the demo logins). Through nginx (TLS): /readyz/ is 200, a portal page and a collected static
file are served, /metrics is refused, plain http redirects, and an agent's console websocket connects; the ASGI
unit's start check passes against a production process on its loopback port. Then SIGINT:
it exits 0 and leaves no process behind (the Procfile's, nginx, Redis and PostgreSQL all gone)."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from scripts.prod_local import env_file_read, process_environment
from tests.e2e.servers import BASE_DIR, free_loopback_port

START_SECONDS = 240
SESSION = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
client = Client()
client.force_login(get_user_model().objects.get(username="demo-agent"))
print(json.dumps({"cookie": client.cookies["sessionid"].value}))
"""


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str) -> tuple[int, dict, bytes]:
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=_unverified()), _NoRedirect())
    try:
        with opener.open(url, timeout=15) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as answer:
        return answer.code, dict(answer.headers), answer.read()


def refuses(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def processes_mentioning(folder: str) -> list[str]:
    """Processes whose command line or environment names the folder (PostgreSQL, nginx, the Django processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if folder.encode() in cmdline or folder.encode() in environ:
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name}: {command}")
    return found


async def _console_hello(https_port: int, cookie: str) -> dict:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        socket_ = await session.ws_connect(
            f"wss://127.0.0.1:{https_port}/ws/callcenter/", ssl=False, heartbeat=None,
            headers={"Cookie": f"sessionid={cookie}", "Origin": f"https://127.0.0.1:{https_port}"},
        )
        hello = json.loads((await socket_.receive(timeout=15)).data)
        await socket_.close()
    return hello


@pytest.fixture
def folder():
    # Not under pytest's tmp_path (0700): PostgreSQL's user and nginx's workers walk into this folder.
    path = tempfile.mkdtemp(prefix="power95598-prodlocal-")
    os.chmod(path, 0o755)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_prod_local_serves_the_layout_through_nginx_and_stops_everything_on_ctrl_c(folder):
    ports = {name: free_loopback_port() for name in ("https", "http", "asgi1", "asgi2", "postgres", "redis")}
    log = folder.parent / f"{folder.name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "scripts/prod_local.py", "--dir", str(folder), "--https-port", str(ports["https"]),
             "--http-port", str(ports["http"]), "--asgi-ports", f"{ports['asgi1']},{ports['asgi2']}",
             "--postgres-port", str(ports["postgres"]), "--redis-port", str(ports["redis"]), "--no-seed"],
            cwd=BASE_DIR, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"https://127.0.0.1:{ports['https']}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while "Press Ctrl-C to stop everything." not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-4000:]
            time.sleep(1)

        ready = fetch(f"{base}/readyz/")
        login = fetch(f"{base}/accounts/login/")
        manifest = json.loads((folder / "data" / "static" / "staticfiles.json").read_text())["paths"]
        static = fetch(f"{base}/static/{manifest['callcenter/console.js']}")
        metrics = fetch(f"{base}/metrics")
        plain = fetch(f"http://127.0.0.1:{ports['http']}/portal/")
        # systemd's start check of an ASGI unit, run against a process with the production settings.
        probe = subprocess.run([sys.executable, "deploy/wait_http.py", f"http://127.0.0.1:{ports['asgi1']}/healthz/",
                                "--timeout", "10"], cwd=BASE_DIR, capture_output=True, text=True)
        env = process_environment(env_file_read(folder / "env"))
        session = subprocess.run([sys.executable, "manage.py", "shell", "-c", SESSION], cwd=BASE_DIR, env=env,
                                 capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert session.returncode == 0, session.stderr
        cookie = json.loads(session.stdout.strip().splitlines()[-1])["cookie"]
        hello = asyncio.run(_console_hello(ports["https"], cookie))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = log.read_text(errors="replace")
    log.unlink()

    assert ready[0] == 200 and json.loads(ready[2])["status"] == "ok"
    assert login[0] == 200 and b'name="login"' in login[2]
    assert static[0] == 200 and static[1]["Cache-Control"] == "public, max-age=31536000, immutable"
    assert metrics[0] == 403
    assert plain[0] == 301 and plain[1]["Location"] == f"{base}/portal/"
    assert probe.returncode == 0, probe.stderr
    assert hello == {"kind": "hello", "agent": True, "supervisor": False}
    assert process.returncode == 0, output[-4000:]
    assert output.rstrip().endswith(" stopped") and "[prod-local]" in output.rstrip().splitlines()[-1]
    assert [name for name, port in ports.items() if not refuses(port)] == []
    assert processes_mentioning(str(folder)) == []
