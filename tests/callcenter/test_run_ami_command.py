"""`manage.py run_ami`: a clear error and exit code without AMI_HOST or when the PBX keeps refusing the login (with
backoff, never hammering), progress lines, and a clean logoff and exit 0 on SIGTERM."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.callcenter.fake_ami import FakeAmiServer

ROOT = Path(__file__).resolve().parents[2]


def test_without_ami_host_the_command_exits_1_with_a_clear_message():
    env = {**os.environ, "AMI_HOST": "", "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    done = subprocess.run([sys.executable, "manage.py", "run_ami"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert "未设置AMI_HOST" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_a_user_the_command_refuses_to_start(settings):
    settings.AMI_HOST, settings.AMI_USERNAME = "127.0.0.1", ""
    with pytest.raises(CommandError) as refused:
        call_command("run_ami")
    assert str(refused.value) == "未设置AMI_USERNAME：请配置Asterisk管理接口的登录用户"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_refused_login_backs_off_then_exits_2(settings):
    with FakeAmiServer(secret="the-real-secret", login_failure_delay=0.01) as server:
        settings.AMI_HOST, settings.AMI_PORT = "127.0.0.1", server.port
        settings.AMI_USERNAME, settings.AMI_SECRET = "ceo", "a-wrong-secret"
        settings.AMI_RECONNECT_MIN_SECONDS, settings.AMI_RECONNECT_MAX_SECONDS = 0.1, 0.2
        out = io.StringIO()
        with pytest.raises(CommandError) as refused:
            call_command("run_ami", "--max-login-refusals", "3", stdout=out)
        assert server.refused_logins == 3
        assert server.connections == 3
    assert refused.value.returncode == 2
    assert str(refused.value) == ("Asterisk连续3次拒绝登录（Authentication failed）：请检查AMI_USERNAME和"
                                  "AMI_SECRET")
    assert out.getvalue().splitlines() == [f"连接Asterisk管理接口 127.0.0.1:{server.port}，用户 ceo"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_sigterm_logs_off_and_exits_cleanly(settings):
    with FakeAmiServer() as server:
        settings.AMI_HOST, settings.AMI_PORT = "127.0.0.1", server.port
        settings.AMI_USERNAME, settings.AMI_SECRET = "ceo", "ceo-secret"
        settings.AMI_PING_SECONDS = 0.1
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

        def terminate_once_logged_in():
            server.wait_for_action("Ping", count=2, timeout=20)
            os.kill(os.getpid(), signal.SIGTERM)

        killer = threading.Thread(target=terminate_once_logged_in)
        killer.start()
        out = io.StringIO()
        call_command("run_ami", "--progress-seconds", "0.1", stdout=out)
        killer.join()
        assert server.wait_for_closed(count=1)
        names = [action["Action"] for action in server.actions]
    assert names[:3] == ["Login", "CoreShowChannels", "QueueStatus"]
    assert names[-1] == "Logoff"
    lines = out.getvalue().splitlines()
    assert lines[0] == f"连接Asterisk管理接口 127.0.0.1:{server.port}，用户 ceo"
    assert lines[1] == "已登录（第1次连接）"
    assert lines[-1] == "已注销并退出：事件1条，写入呼叫事实0条，在途通话0通，话务指令0条"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
