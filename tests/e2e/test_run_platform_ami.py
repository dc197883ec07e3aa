"""`make run` with AMI_HOST set: the supervisor starts run_ami beside Daphne; it logs in to the PBX, takes an agent's
command sent from another process over the embedded SQLite channel layer, and logs off when the platform stops."""
import signal
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest

from callcenter.pbx_control import pbx_command_send
from tests.callcenter.fake_ami import FakeAmiServer
from tests.e2e.servers import database_copy, dev_env, free_loopback_port, start, stop, wait_until


def pbx_listener_joined(var_dir: Path) -> bool:
    """run_ami has joined callcenter.pbx in the layer file of its VAR_DIR."""
    try:
        # Read-only, so that polling before run_ami opened the file does not create it.
        with closing(sqlite3.connect(f"file:{var_dir / 'channel-layer.sqlite3'}?mode=ro", uri=True)) as connection:
            joined = connection.execute("SELECT 1 FROM channel_group WHERE name = 'callcenter.pbx'").fetchone()
    except sqlite3.OperationalError:
        return False  # the file or its tables are not there yet
    return joined is not None


@pytest.mark.django_db
def test_run_ami_starts_with_the_platform_takes_pbx_commands_and_logs_off(
    tmp_path, migrated_sqlite, settings, django_capture_on_commit_callbacks
):
    database_copy(migrated_sqlite, tmp_path)
    with FakeAmiServer(username="platform", secret="pbx-secret") as pbx:
        env = dev_env(tmp_path, keep_redis=False)
        env.update(AMI_HOST="127.0.0.1", AMI_PORT=str(pbx.port), AMI_USERNAME="platform", AMI_SECRET="pbx-secret")
        log = tmp_path / "supervisor.log"
        process = start(
            [sys.executable, "scripts/run_platform.py", "--port", str(free_loopback_port()), "--no-worker",
             "--no-stripe"],
            env, log,
        )
        try:
            wait_until(lambda: "Press Ctrl-C to stop." in log.read_text(), "the banner", process, log)
            assert pbx.wait_for_login(timeout=30), log.read_text()
            wait_until(lambda: pbx_listener_joined(tmp_path), "run_ami listening on callcenter.pbx", process, log)

            # This test process plays Daphne's part: the console's command crosses processes through the layer file.
            settings.CHANNEL_LAYERS = {
                "default": {
                    "BACKEND": "config.channel_layers.SQLiteChannelLayer",
                    "CONFIG": {"path": str(tmp_path / "channel-layer.sqlite3")},
                }
            }
            with django_capture_on_commit_callbacks(execute=True):
                pbx_command_send(
                    action="QueuePause",
                    fields={"Queue": "hotline", "Interface": "Local/1001@agents/n", "Paused": "true", "Reason": "午休"},
                )
            [pause] = pbx.wait_for_action("QueuePause", timeout=10)
            assert (pause["Queue"], pause["Interface"], pause["Paused"]) == ("hotline", "Local/1001@agents/n", "true")

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                stop(process)
        pbx.wait_for_action("Logoff", timeout=5)

    text = log.read_text()
    assert f"  PBX: run_ami connects to the Asterisk Manager Interface at 127.0.0.1:{pbx.port}\n" in text
    assert "[ami] " in text
    assert "[supervisor] stopping web, ami\n" in text
