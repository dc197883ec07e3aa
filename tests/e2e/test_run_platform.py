"""scripts/run_platform.py, the `make run` supervisor: announces the platform, stops cleanly, fails loudly."""
import os
import signal
import sys
import urllib.request
from pathlib import Path

from tests.e2e.servers import database_copy, dev_env, free_loopback_port, start, wait_until


def supervisor(tmp_path: Path, migrated_sqlite: Path):
    database_copy(migrated_sqlite, tmp_path)
    port = free_loopback_port()
    log = tmp_path / "supervisor.log"
    process = start(
        [sys.executable, "scripts/run_platform.py", "--port", str(port), "--no-worker"],
        dev_env(tmp_path, keep_redis=False),
        log,
    )
    wait_until(lambda: "Press Ctrl-C to stop." in log.read_text(), "the banner", process, log)
    return process, log, f"http://127.0.0.1:{port}"


def children_of(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_the_banner_then_sigterm_stops_everything_and_exits_zero(tmp_path, migrated_sqlite):
    process, log, base_url = supervisor(tmp_path, migrated_sqlite)
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
    process, log, _ = supervisor(tmp_path, migrated_sqlite)
    web_pid = children_of(process.pid)[0]

    # Killed from outside, as the OOM killer would.
    os.kill(web_pid, signal.SIGKILL)

    assert process.wait(timeout=60) == 1
    assert "[supervisor] web exited with status -9; stopping" in log.read_text()
