"""Run the production layout on this machine, on loopback (`make prod-local`): try and test it for real.

Everything lives in one folder (var/prod-local by default, kept between runs):
    env         the processes' environment (honcho's env file); SECRET_KEY is generated once and kept
    pg/         a PostgreSQL cluster of its own (Debian's postgresql-15) on a loopback port
    redis/      redis-server on a loopback port (broker, channel layer, cache), append-only file on
    tls/        a self-signed certificate for 127.0.0.1 and localhost
    nginx/      deploy/nginx/95598.conf rendered for this folder and these ports, nginx's own conf, logs, temp files
    data/       VAR_DIR: collected static files, media, private documents, the beat schedule

Then, as a release does: migrate, collectstatic, seed_demo (small); then the Procfile's processes through honcho with
the production settings (DEBUG off): two ASGI processes behind nginx on https://127.0.0.1:8443, a Celery worker per
group of queues, beat, and run_ami when AMI_HOST is set. Ctrl-C (or SIGTERM) stops everything, PostgreSQL and Redis
included, and exits 0; a process that dies on its own stops the rest and exits 1.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# bench.pg starts clusters the way the benchmarks and tests do (as the postgres user when run by root).
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

NGINX_TEMPLATE = BASE_DIR / "deploy" / "nginx" / "95598.conf"
PROCFILE = BASE_DIR / "Procfile"
DATABASE_NAME = "power95598"
READY_TIMEOUT_SECONDS = 180.0
STOP_GRACE_SECONDS = 30.0
# nginx's workers when started by root (they never run as root); they read static files and write temp files.
NGINX_WORKER_USER = "www-data"
# Variables of the caller that would point the processes elsewhere or change how they run.
CALLER_DROPPED = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "DEBUG",
                  "DJANGO_SETTINGS_MODULE", "VAR_DIR", "STATIC_ROOT", "MEDIA_ROOT", "PRIVATE_MEDIA_ROOT"}


@dataclass(frozen=True)
class Ports:
    https: int = 8443
    http: int = 8080
    asgi: tuple[int, ...] = (8001, 8002)
    postgres: int = 55432
    redis: int = 56379


@dataclass(frozen=True)
class Layout:
    folder: Path
    ports: Ports

    @property
    def env_file(self) -> Path:
        return self.folder / "env"

    @property
    def pg_dir(self) -> Path:
        return self.folder / "pg"

    @property
    def redis_dir(self) -> Path:
        return self.folder / "redis"

    @property
    def tls_dir(self) -> Path:
        return self.folder / "tls"

    @property
    def nginx_dir(self) -> Path:
        return self.folder / "nginx"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.ports.https}"

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.ports.postgres}/{DATABASE_NAME}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports.redis}/0"


def say(message: str) -> None:
    print(f"[prod-local] {time.strftime('%H:%M:%S')} {message}", flush=True)


# --- nginx ------------------------------------------------------------------------------------------------------


def nginx_conf_render(template: str, *, layout: Layout) -> str:
    """deploy/nginx/95598.conf for this folder and these ports: the same locations, headers and limits, only the
    addresses, names and paths replaced. Raises ValueError when the template no longer holds what is replaced."""
    ports = layout.ports
    replacements = [
        ("    server 127.0.0.1:8001;\n    server 127.0.0.1:8002;\n",
         "".join(f"    server 127.0.0.1:{port};\n" for port in ports.asgi)),
        ("listen 80;", f"listen 127.0.0.1:{ports.http};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{ports.https} ssl http2;"),
        ("server_name 95598.example.cn;", "server_name 127.0.0.1 localhost;"),
        ("return 301 https://$host$request_uri;", f"return 301 https://$host:{ports.https}$request_uri;"),
        ("/etc/95598/tls/fullchain.pem", str(layout.tls_dir / "cert.pem")),
        ("/etc/95598/tls/privkey.pem", str(layout.tls_dir / "key.pem")),
        ("alias /var/lib/95598/static/;", f"alias {layout.data_dir / 'static'}/;"),
        ("root /var/lib/95598;", f"root {layout.data_dir};"),
        ("alias /var/lib/95598/media/;", f"alias {layout.data_dir / 'media'}/;"),
        ("/var/log/nginx/95598.", f"{layout.nginx_dir / 'logs'}/95598."),
    ]
    text = template
    for old, new in replacements:
        if old not in text:
            raise ValueError(f"deploy/nginx/95598.conf no longer contains {old.strip()!r}")
        text = text.replace(old, new)
    # Loopback only: the IPv6 wildcard listeners are dropped.
    text = "".join(line for line in text.splitlines(keepends=True) if not line.strip().startswith("listen [::]"))
    directives = "".join(line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#"))
    leftover = re.findall(r"/(?:etc|var/lib)/95598\S*|/var/log/nginx\S*", directives)
    if leftover:
        raise ValueError(f"production paths left in the rendered nginx conf: {sorted(set(leftover))}")
    return text


def nginx_main_conf(*, layout: Layout, as_root: bool) -> str:
    """nginx's top-level conf for a server of its own: pid, logs and temp files in the folder."""
    folder = layout.nginx_dir
    user = f"user {NGINX_WORKER_USER};\n" if as_root else ""
    temp = "\n".join(f"    {kind}_temp_path {folder / 'tmp' / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (
        f"{user}worker_processes 1;\n"
        f"pid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'logs' / 'error.log'} warn;\n"
        "events {\n    worker_connections 1024;\n}\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        "    default_type application/octet-stream;\n"
        "    sendfile on;\n"
        f"{temp}\n"
        f"    include {folder / '95598.conf'};\n"
        "}\n"
    )


def nginx_prepare(layout: Layout) -> Path:
    """Write both confs; returns the main one."""
    as_root = os.geteuid() == 0
    folder = layout.nginx_dir
    for sub in ("logs", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "95598.conf").write_text(nginx_conf_render(NGINX_TEMPLATE.read_text(), layout=layout))
    main = folder / "nginx.conf"
    main.write_text(nginx_main_conf(layout=layout, as_root=as_root))
    if as_root:
        shutil.chown(folder / "tmp", NGINX_WORKER_USER)
    return main


def nginx_command(main_conf: Path, *, test: bool = False) -> list[str]:
    prefix = main_conf.parent
    command = ["nginx", "-p", f"{prefix}/", "-e", str(prefix / "logs" / "error.log"), "-c", str(main_conf)]
    return command + (["-t", "-q"] if test else ["-g", "daemon off;"])


# --- TLS, environment -------------------------------------------------------------------------------------------


def tls_ensure(layout: Layout) -> None:
    """A self-signed certificate for 127.0.0.1 and localhost, made once."""
    cert, key = layout.tls_dir / "cert.pem", layout.tls_dir / "key.pem"
    if cert.exists() and key.exists():
        return
    layout.tls_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    key.chmod(0o600)


def env_file_read(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def environment_build(layout: Layout) -> dict[str, str]:
    """The processes' own variables (written to the env file): production settings over this folder's services."""
    secret = env_file_read(layout.env_file).get("SECRET_KEY") or secrets.token_urlsafe(64)
    https = layout.ports.https
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secret,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CSRF_TRUSTED_ORIGINS": f"https://127.0.0.1:{https},https://localhost:{https}",
        "DATABASE_URL": layout.database_url,
        # Two ASGI processes, three Celery processes with pools, beat: well under PostgreSQL's 100 connections.
        "DATABASE_POOL_MAX_SIZE": "8",
        "REDIS_URL": layout.redis_url,
        "VAR_DIR": str(layout.data_dir),
        "LOG_FORMAT": "json",
        # No HSTS for 127.0.0.1/localhost: a browser would insist on https for localhost for a year afterwards.
        "SECURE_HSTS_SECONDS": "0",
        "WAGTAILADMIN_BASE_URL": f"https://127.0.0.1:{https}",
        "PROMETHEUS_MULTIPROC_DIR": str(layout.folder / "prometheus"),
        "ASGI_PORT_1": str(layout.ports.asgi[0]),
        "ASGI_PORT_2": str(layout.ports.asgi[1]),
    }


def env_file_write(path: Path, values: dict[str, str]) -> None:
    lines = ["# Written by scripts/prod_local.py on every start (SECRET_KEY is kept); honcho reads it (-e)."]
    lines += [f"{name}={value}" for name, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def process_environment(own: dict[str, str]) -> dict[str, str]:
    """What the children run with: the caller's environment (AMI_*, TWILIO_*, … pass through) without what would
    point them elsewhere, then the layout's own variables, and the virtualenv's programs first on PATH."""
    env = {name: value for name, value in os.environ.items() if name not in CALLER_DROPPED}
    env.update(own)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --- PostgreSQL and Redis ---------------------------------------------------------------------------------------


def postgres_start(layout: Layout) -> None:
    """The folder's cluster (initdb the first time), started on its loopback port, with the database created."""
    import psycopg

    from bench.pg import PG_BIN, _as_postgres, _postgres_user_ensure

    data = layout.pg_dir / "data"
    as_root = os.geteuid() == 0
    if as_root:
        _postgres_user_ensure()
    layout.pg_dir.mkdir(parents=True, exist_ok=True)
    if as_root:
        shutil.chown(layout.pg_dir, "postgres")
    if not (data / "PG_VERSION").exists():
        say("initdb (first run)")
        subprocess.run(_as_postgres([f"{PG_BIN}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E",
                                     "UTF8", "--locale=C.UTF-8"]), check=True, capture_output=True)
    options = f"-p {layout.ports.postgres} -k {layout.pg_dir} -c listen_addresses=127.0.0.1"
    result = subprocess.run(
        _as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(data), "-l", str(layout.pg_dir / "server.log"), "-w", "-t",
                      "60", "-o", options, "start"]),
        capture_output=True, text=True, start_new_session=True,
    )
    if result.returncode != 0:
        log = (layout.pg_dir / "server.log").read_text()[-2000:] if (layout.pg_dir / "server.log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()}\n{log}")
    admin = f"postgresql://postgres@127.0.0.1:{layout.ports.postgres}/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def postgres_stop(layout: Layout) -> None:
    from bench.pg import PG_BIN, _as_postgres

    data = layout.pg_dir / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True)


def redis_start(layout: Layout) -> subprocess.Popen:
    import redis

    layout.redis_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(layout.ports.redis), "--dir", str(layout.redis_dir),
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no"],
        stdin=subprocess.DEVNULL, stdout=(layout.redis_dir / "redis.log").open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            redis.Redis.from_url(layout.redis_url, socket_connect_timeout=0.5).ping()
            return process
        except redis.exceptions.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {layout.ports.redis}; "
                                   f"see {layout.redis_dir / 'redis.log'}") from None
            time.sleep(0.1)


# --- The release steps and the processes ------------------------------------------------------------------------


def manage(env: dict[str, str], *args: str) -> None:
    say("manage.py " + " ".join(args))
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True,
                   stdin=subprocess.DEVNULL)


def release(env: dict[str, str], *, customers: int | None) -> None:
    """What a release runs before the processes start (deploy/README.md): schema, static files; then the demo
    (None: no demo data, only the demo logins the banner lists)."""
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    if customers is not None:
        manage(env, "seed_demo", "--customers", str(customers))


def process_names(env: dict[str, str]) -> list[str]:
    """The Procfile's processes to start: all of them, run_ami only when AMI_HOST names a PBX."""
    names = re.findall(r"^([A-Za-z0-9_-]+):", PROCFILE.read_text(), re.MULTILINE)
    return [name for name in names if name != "ami" or env.get("AMI_HOST")]


def honcho_start(layout: Layout, env: dict[str, str]) -> subprocess.Popen:
    names = process_names(env)
    say("starting " + ", ".join(names))
    return subprocess.Popen(
        [sys.executable, "-m", "honcho", "--no-colour", "-f", str(PROCFILE), "-e", str(layout.env_file), "-d",
         str(BASE_DIR), "start", *names],
        cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, start_new_session=True,
    )


def readiness(url: str) -> tuple[int, str]:
    """/readyz/'s status and body through nginx (the self-signed certificate accepted); (0, "") when no answer."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def banner(layout: Layout, env: dict[str, str]) -> None:
    logins = subprocess.run(
        [sys.executable, "manage.py", "demo_logins", "--allow-fixed-passwords", "--base-url", layout.base_url],
        cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
    )
    lines = ["", "=" * 72, f"The 95598 production layout is running on {layout.base_url}/",
             "  (self-signed certificate: let the browser accept it once)",
             f"  readiness  {layout.base_url}/readyz/",
             f"  processes  nginx, {', '.join(process_names(env))}, PostgreSQL :{layout.ports.postgres}, "
             f"Redis :{layout.ports.redis}",
             f"  logs       this terminal (JSON lines), {layout.nginx_dir / 'logs'}/, {layout.pg_dir / 'server.log'}",
             f"  env        {layout.env_file}", ""]
    if logins.returncode == 0 and logins.stdout.strip():
        lines.append("Demo logins (production settings: staff set up an authenticator app at first sign-in):")
        lines.extend(f"  {line}" for line in logins.stdout.strip().splitlines())
    else:
        reason = (logins.stderr.strip().splitlines() or ["no output"])[-1]
        lines.append(f"(demo logins unavailable: {reason})")
    lines += ["", "Press Ctrl-C to stop everything.", "=" * 72, ""]
    print("\n".join(lines), flush=True)


def process_stop(process: subprocess.Popen | None, *, sig: int = signal.SIGTERM, grace: float = 15.0) -> None:
    """Signal the leader, wait, then SIGKILL whatever is left of its process group."""
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


class Stop(Exception):
    """SIGINT or SIGTERM arrived."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(BASE_DIR / "var" / "prod-local"), help="folder (default var/prod-local)")
    parser.add_argument("--https-port", type=int, default=Ports.https)
    parser.add_argument("--http-port", type=int, default=Ports.http, help="redirects to https")
    parser.add_argument("--asgi-ports", default=",".join(map(str, Ports.asgi)), help="two loopback ports")
    parser.add_argument("--postgres-port", type=int, default=Ports.postgres)
    parser.add_argument("--redis-port", type=int, default=Ports.redis)
    parser.add_argument("--customers", type=int, default=200, help="demo customers to seed (default 200)")
    parser.add_argument("--no-seed", action="store_true", help="no demo data (the demo logins are still made)")
    args = parser.parse_args(argv)
    asgi = tuple(int(port) for port in args.asgi_ports.split(","))
    if len(asgi) != 2:
        parser.error("--asgi-ports takes two ports, e.g. 8001,8002")
    folder = Path(args.dir).resolve()
    layout = Layout(folder=folder, ports=Ports(https=args.https_port, http=args.http_port, asgi=asgi,
                                               postgres=args.postgres_port, redis=args.redis_port))

    def request_stop(signum: int, _frame: object) -> None:
        raise Stop()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    folder.mkdir(parents=True, exist_ok=True)
    # PostgreSQL's user and nginx's workers walk into the folder.
    folder.chmod(0o755)
    redis_process = nginx_process = honcho = None
    postgres_started = False
    exit_code = 0
    try:
        own = environment_build(layout)
        env_file_write(layout.env_file, own)
        env = process_environment(own)
        shutil.rmtree(own["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
        Path(own["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True)
        tls_ensure(layout)
        postgres_started = True
        postgres_start(layout)
        redis_process = redis_start(layout)
        say(f"PostgreSQL on 127.0.0.1:{layout.ports.postgres}, Redis on 127.0.0.1:{layout.ports.redis}")
        release(env, customers=None if args.no_seed else args.customers)
        main_conf = nginx_prepare(layout)
        subprocess.run(nginx_command(main_conf, test=True), check=True)
        nginx_process = subprocess.Popen(nginx_command(main_conf), stdin=subprocess.DEVNULL, start_new_session=True)
        honcho = honcho_start(layout, env)
        started = time.monotonic()
        announced = False
        while True:
            dead = [(name, process) for name, process in
                    (("honcho", honcho), ("nginx", nginx_process), ("redis-server", redis_process))
                    if process.poll() is not None]
            if dead:
                for name, process in dead:
                    say(f"{name} exited with status {process.returncode}; stopping")
                exit_code = 1
                break
            if not announced:
                status, body = readiness(f"{layout.base_url}/readyz/")
                if status == 200:
                    announced = True
                    banner(layout, env)
                elif time.monotonic() - started > READY_TIMEOUT_SECONDS:
                    # Still running (e.g. AMI_HOST names a PBX that does not answer): say what is not ready.
                    say(f"/readyz/ is not 200 after {READY_TIMEOUT_SECONDS:.0f} s: {status} {body[:500]}")
                    announced = True
                    banner(layout, env)
            time.sleep(0.5)
    except Stop:
        say("stopping")
    except (subprocess.CalledProcessError, RuntimeError, ValueError) as failure:
        say(f"failed: {failure}")
        exit_code = 1
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # honcho stops its processes (SIGTERM, then SIGKILL after 5 s) and exits.
        process_stop(honcho, grace=STOP_GRACE_SECONDS)
        process_stop(nginx_process, sig=signal.SIGQUIT)
        process_stop(redis_process)
        if postgres_started:
            postgres_stop(layout)
        say("stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
