"""PostgreSQL for the benchmark: a fresh database on the server of DATABASE_URL, or a throwaway cluster.

The throwaway cluster keeps fsync on (a billing benchmark on a server that may lose committed bills would
flatter it); synchronous_commit=off is allowed and printed, as are the other bulk-load settings."""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
CLUSTER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "on",
    "synchronous_commit": "off",
    "shared_buffers": "2GB",
    "maintenance_work_mem": "512MB",
    "work_mem": "32MB",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "30min",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "wal_compression": "on",
}
REPORTED_SETTINGS = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers",
                     "max_wal_size", "wal_level")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _postgres_user_ensure() -> None:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"],
                       check=True)


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres system user then."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@dataclass
class PostgresServer:
    """A server the benchmark may create and drop databases on; `stop` cleans up whatever was made."""

    admin_url: str
    description: str
    cluster_dir: str | None = None
    databases: list[str] = field(default_factory=list)

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True)

    def database_create(self, name: str, *, template: str | None = None) -> str:
        """A fresh database (optionally copied from a template); returns its URL."""
        with self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            if template:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                               sql.Identifier(template)))
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.databases.append(name)
        return _with_database(self.admin_url, name)

    def database_drop(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if name in self.databases:
            self.databases.remove(name)

    def settings(self) -> dict[str, str]:
        with self._admin() as conn:
            return {name: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]
                    for name in REPORTED_SETTINGS}

    def stop(self) -> None:
        for name in list(self.databases):
            try:
                self.database_drop(name)
            except psycopg.Error:
                pass
        if self.cluster_dir:
            subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", f"{self.cluster_dir}/data", "-m", "fast", "-w",
                                         "stop"]), capture_output=True)
            shutil.rmtree(self.cluster_dir, ignore_errors=True)
            self.cluster_dir = None


def server_from_env(database_url: str | None) -> PostgresServer | None:
    if not database_url or not database_url.startswith(("postgres://", "postgresql://")):
        return None
    return PostgresServer(admin_url=database_url, description=f"DATABASE_URL server {urlsplit(database_url).hostname}")


def server_for_bench() -> PostgresServer:
    """DATABASE_URL's PostgreSQL server when it names one, else a throwaway cluster started now (and said so)."""
    server = server_from_env(os.environ.get("DATABASE_URL"))
    if server is None:
        print("Starting a throwaway PostgreSQL cluster (fsync on, synchronous_commit off)")
        server = cluster_start()
    return server


def cluster_start() -> PostgresServer:
    """initdb a cluster in a temporary folder and start it on a free loopback port."""
    folder = tempfile.mkdtemp(prefix="power95598-bench-")
    os.chmod(folder, 0o755)
    server = PostgresServer(admin_url="", description="throwaway cluster", cluster_dir=folder)
    try:
        if os.geteuid() == 0:
            _postgres_user_ensure()
            shutil.chown(folder, "postgres")
        data = f"{folder}/data"
        subprocess.run(_as_postgres([f"{PG_BIN}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                                     "--locale=C.UTF-8"]), check=True, capture_output=True)
        port = free_port()
        options = " ".join([f"-p {port}", f"-k {folder}"] + [f"-c {k}={v}" for k, v in CLUSTER_SETTINGS.items()])
        result = subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", data, "-l", f"{folder}/server.log", "-w",
                                              "-t", "60", "-o", options, "start"]), capture_output=True, text=True)
        if result.returncode != 0:
            log = open(f"{folder}/server.log").read() if os.path.exists(f"{folder}/server.log") else ""
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr}\n{log}")
        server.admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        server.description = f"throwaway cluster 127.0.0.1:{port} ({folder})"
        return server
    except BaseException:
        server.stop()
        raise

