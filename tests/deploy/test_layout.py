"""The production layout agrees with the settings: every task has a queue and every queue a worker (Procfile,
systemd, `make run`), nginx's upstream is the ASGI processes, .env.example lists every variable read, nginx accepts
the rendered conf and systemd the units, and the readiness wait of the ASGI unit does what it says."""
from __future__ import annotations

import ast
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from celery.app.routes import MapRoute
from django.conf import settings

from scripts.prod_local import Layout, Ports, nginx_command, nginx_conf_render, nginx_prepare, process_names, tls_ensure
from scripts.run_platform import WORKER_QUEUES

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DEPLOY = BASE_DIR / "deploy"
SYSTEMD = DEPLOY / "systemd"
PROCFILE = BASE_DIR / "Procfile"
# Read by libraries rather than by our settings: prometheus_client reads the folder of its multiprocess mode itself.
READ_BY_LIBRARIES = {"PROMETHEUS_MULTIPROC_DIR"}


def procfile() -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_-]+):\s*(.+)$", PROCFILE.read_text(), re.MULTILINE))


def queues_of(command: str) -> frozenset[str]:
    return frozenset(re.search(r"--queues (\S+)", command).group(1).split(","))


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections: each key with all its values in order (systemd allows a key several times)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in (SYSTEMD / name).read_text().splitlines():
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        elif "=" in line and not line.startswith("#"):
            key, _sep, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return sections


def target_wants() -> list[str]:
    """The units 95598.target pulls in (several Wants= lines, each a list)."""
    lines = [line for line in (SYSTEMD / "95598.target").read_text().splitlines() if line.startswith("Wants=")]
    return [name for line in lines for name in line.removeprefix("Wants=").split()]


def env_file(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_]+)=(.*)$", path.read_text(), re.MULTILINE))


def systemd_worker_groups() -> dict[str, frozenset[str]]:
    groups = {}
    for name in target_wants():
        match = re.fullmatch(r"95598-celery@(\w+)\.service", name)
        if match:
            values = env_file(SYSTEMD / f"celery-{match.group(1)}.env")
            groups[match.group(1)] = frozenset(values["CELERY_WORKER_QUEUES"].split(","))
    return groups


# --- Celery queues ------------------------------------------------------------------------------------------------


def test_every_registered_task_is_routed_by_name_to_one_of_the_queues():
    from config.celery import app

    app.loader.import_default_modules()
    names = sorted(name for name in app.tasks if not name.startswith("celery."))
    routes = MapRoute(settings.CELERY_TASK_ROUTES)

    assert len(names) >= 20
    unrouted = [name for name in names if routes(name) is None]
    assert unrouted == []
    queues = {name: app.amqp.router.route({}, name)["queue"].name for name in names}
    assert set(queues.values()) <= set(settings.CELERY_QUEUES_ALL)
    assert queues["core.sla_tick"] == "tickets"
    assert queues["notifications.message_send"] == "notifications"
    assert queues["core.reports_rebuild"] == "reports"
    assert queues["callcenter.wallboard_push"] == "callcenter"
    assert queues["core.stripe_reconcile"] == "payments"
    assert queues["cms.publish_scheduled"] == "default"
    # A task nobody named still lands on a queue some worker consumes.
    assert app.amqp.router.route({}, "core.unnamed_task")["queue"].name == settings.CELERY_TASK_DEFAULT_QUEUE


def test_every_queue_has_exactly_one_worker_group_in_the_procfile_and_under_systemd():
    workers = {name: queues_of(command) for name, command in procfile().items() if " worker " in command}
    systemd = systemd_worker_groups()

    for groups in (list(workers.values()), list(systemd.values())):
        every = [queue for group in groups for queue in group]
        assert sorted(every) == sorted(settings.CELERY_QUEUES_ALL)
    # The same split in both, so that what `make prod-local` runs is what production runs.
    assert sorted(map(sorted, workers.values())) == sorted(map(sorted, systemd.values()))
    assert set(systemd) == {"io", "main"}


def test_make_run_has_one_worker_for_every_queue():
    assert WORKER_QUEUES == settings.CELERY_QUEUES_ALL
    assert settings.CELERY_TASK_DEFAULT_QUEUE in settings.CELERY_QUEUES_ALL


def test_one_beat_in_each_layout_and_no_worker_runs_an_embedded_one():
    commands = procfile().values()
    assert [command for command in commands if " beat" in command] == ["exec celery -A config beat --loglevel INFO"]
    assert not any("--beat" in command for command in commands)
    assert "95598-beat.service" in target_wants()
    assert not re.search(r"--beat\b|\s-B\b", (SYSTEMD / "95598-celery@.service").read_text())


# --- ASGI processes and nginx -----------------------------------------------------------------------------------


def test_nginx_upstream_is_the_asgi_processes_of_the_procfile_and_of_systemd():
    upstream = re.search(r"upstream power95598_asgi \{(.*?)\}", (DEPLOY / "nginx" / "95598.conf").read_text(), re.S)
    servers = re.findall(r"server 127\.0\.0\.1:(\d+);", upstream.group(1))
    procfile_ports = re.findall(r"--port \$\{ASGI_PORT_\d:-(\d+)\}", " ".join(procfile().values()))
    systemd_ports = [re.fullmatch(r"95598-asgi@(\d+)\.service", name).group(1)
                     for name in target_wants() if name.startswith("95598-asgi@")]

    assert servers == procfile_ports == systemd_ports == ["8001", "8002"]
    assert Ports().asgi == (8001, 8002)


def test_nginx_serves_static_and_public_media_from_disk_and_never_the_private_documents():
    conf = (DEPLOY / "nginx" / "95598.conf").read_text()
    served = re.findall(r"^\s*(?:alias|root) (\S+);", conf, re.MULTILINE)

    assert served == ["/var/lib/95598/static/", "/var/lib/95598", "/var/lib/95598/media/"]
    assert not any("private" in path for path in served)
    # The root line serves only the hashed names under /static/.
    assert re.search(r'location ~ "\^/static/[^"]+" \{\s*root /var/lib/95598;', conf)
    # Wagtail documents (collection privacy) and /metrics never come from here; websockets are upgraded.
    assert re.search(r"location \^~ /media/documents/ \{\s*return 404;", conf)
    assert re.search(r"location \^~ /metrics \{\s*deny all;", conf)
    websocket = re.search(r"location /ws/ \{(.*?)\}", conf, re.S).group(1)
    assert "proxy_set_header Upgrade $http_upgrade;" in websocket
    assert "proxy_set_header Connection $power95598_connection;" in websocket
    # daphne --proxy-headers takes the first X-Forwarded-For address: nginx replaces it, never appends to it.
    assert "$proxy_add_x_forwarded_for" not in conf
    assert conf.count("proxy_set_header X-Forwarded-For $remote_addr;") == 3
    assert conf.count("proxy_set_header X-Forwarded-Proto $scheme;") == 3


def test_private_documents_are_kept_apart_from_what_nginx_serves():
    private = Path(settings.PRIVATE_MEDIA_ROOT).resolve()
    for public in (Path(settings.MEDIA_ROOT).resolve(), Path(settings.STATIC_ROOT).resolve()):
        assert private != public and public not in private.parents and private not in public.parents


def test_the_rendered_nginx_conf_passes_nginx_t(tmp_path):
    layout = Layout(folder=tmp_path, ports=Ports(https=18443, http=18080, asgi=(18001, 18002)))
    tls_ensure(layout)
    main_conf = nginx_prepare(layout)
    rendered = (tmp_path / "nginx" / "95598.conf").read_text()

    result = subprocess.run(nginx_command(main_conf, test=True), capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert "server 127.0.0.1:18001;\n    server 127.0.0.1:18002;\n" in rendered
    assert "listen 127.0.0.1:18443 ssl http2;" in rendered
    assert "listen [::]" not in rendered
    assert f"alias {tmp_path}/data/static/;" in rendered


def test_rendering_refuses_a_template_that_no_longer_holds_what_it_replaces():
    template = (DEPLOY / "nginx" / "95598.conf").read_text().replace("listen 443 ssl http2;", "listen 443 ssl;")
    layout = Layout(folder=Path("/tmp/x"), ports=Ports())

    with pytest.raises(ValueError) as refused:
        nginx_conf_render(template, layout=layout)

    assert str(refused.value) == "deploy/nginx/95598.conf no longer contains 'listen 443 ssl http2;'"


# --- systemd ------------------------------------------------------------------------------------------------------


def test_every_unit_is_hardened_reads_the_environment_file_and_belongs_to_the_target():
    services = sorted(path.name for path in SYSTEMD.glob("*.service"))
    assert services == ["95598-ami.service", "95598-asgi@.service", "95598-beat.service", "95598-celery@.service"]
    for name in services:
        service = unit(name)["Service"]
        assert service["User"] == ["power95598"]
        assert service["EnvironmentFile"][0] == "/etc/95598/env", name
        for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                           ("PrivateTmp", "yes"), ("PrivateDevices", "yes"), ("CapabilityBoundingSet", ""),
                           ("RestrictSUIDSGID", "yes"), ("StateDirectory", "95598")]:
            assert service[key] == [value], (name, key)
        assert unit(name)["Unit"]["PartOf"] == ["95598.target"]
        assert unit(name)["Install"]["WantedBy"] == ["95598.target"]
    assert unit("95598-celery@.service")["Service"]["EnvironmentFile"] == [
        "/etc/95598/env", "/etc/95598/celery-%i.env"]


def test_systemd_accepts_every_unit(tmp_path):
    """systemd-analyze verify: no unknown keys, every program exists (the units pointed at this checkout)."""
    for path in SYSTEMD.iterdir():
        if path.suffix in (".service", ".target"):
            (tmp_path / path.name).write_text(path.read_text().replace("/srv/95598", str(BASE_DIR)))
    instances = ["95598-asgi@8001.service", "95598-celery@io.service", "95598-beat.service", "95598-ami.service",
                 "95598.target"]
    for name in instances:
        if "@" in name:
            shutil.copyfile(tmp_path / re.sub(r"@[^.]+", "@", name), tmp_path / name)

    result = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / name) for name in instances)],
                            capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_the_asgi_unit_counts_as_started_only_once_the_process_answers(tmp_path):
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz/" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    wait = [sys.executable, str(DEPLOY / "wait_http.py")]
    try:
        answered = subprocess.run([*wait, f"http://127.0.0.1:{port}/healthz/", "--timeout", "5"],
                                  capture_output=True, text=True)
        missing = subprocess.run([*wait, f"http://127.0.0.1:{port}/nothing/", "--timeout", "1", "--interval",
                                  "0.2"], capture_output=True, text=True)
    finally:
        server.shutdown()
        server.server_close()

    assert answered.returncode == 0
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"http://127.0.0.1:{port}/nothing/ did not answer 200 within 1 s"
    assert unit("95598-asgi@.service")["Service"]["ExecStartPost"] == [
        "/srv/95598/.venv/bin/python /srv/95598/deploy/wait_http.py http://127.0.0.1:%i/healthz/ --timeout 60"]


# --- Environment ----------------------------------------------------------------------------------------------


def variables_read_by_config() -> set[str]:
    """Every environment variable config/ reads (settings and the modules beside them), found in the code."""
    readers = {"os.environ.get", "os.getenv", "env_bool", "env_list", "env_seconds", "os.environ.setdefault"}
    names = set()
    for path in (BASE_DIR / "config").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and ast.unparse(node.func) in readers and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                names.add(node.args[0].value)
            if (isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ"
                    and isinstance(node.slice, ast.Constant)):
                names.add(node.slice.value)
    return names


def test_env_example_lists_every_variable_read_and_nothing_else():
    documented = set(re.findall(r"^# ([A-Z][A-Z0-9_]*)=", (BASE_DIR / ".env.example").read_text(), re.MULTILINE))
    procfile_variables = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", PROCFILE.read_text()))
    read = variables_read_by_config() | procfile_variables | READ_BY_LIBRARIES

    assert {"LOG_FORMAT", "METRICS_TOKEN", "PROMETHEUS_MULTIPROC_DIR", "ASGI_PORT_1"} <= documented
    assert sorted(read - documented) == []
    assert sorted(documented - read) == []


def test_make_prod_local_starts_run_ami_only_when_a_pbx_is_named():
    assert process_names({}) == ["asgi1", "asgi2", "worker_io", "worker_main", "beat"]
    assert process_names({"AMI_HOST": "pbx.internal"}) == ["asgi1", "asgi2", "worker_io", "worker_main", "beat", "ami"]


def test_the_visibility_timeout_is_given_to_a_redis_broker_only():
    """The SQLAlchemy transport of the embedded broker hands transport options to create_engine, which refuses them."""
    show = ("import json, config.settings.base as s; "
            "print(json.dumps(getattr(s, 'CELERY_BROKER_TRANSPORT_OPTIONS', None)))")

    def options(**env: str):
        clean = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
        done = subprocess.run([sys.executable, "-c", show], cwd=BASE_DIR, env={**clean, **env},
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert options(REDIS_URL="redis://127.0.0.1:6379/0") == {"visibility_timeout": 3600}
    assert options(REDIS_URL="redis://127.0.0.1:6379/0", CELERY_VISIBILITY_TIMEOUT="7200") == {
        "visibility_timeout": 7200}
    assert options() is None
