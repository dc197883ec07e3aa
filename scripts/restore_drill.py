"""The restore drill (`make restore-drill`): proves that nothing committed is lost.

On throwaway clusters on loopback it sets up what deploy/postgres/ documents for production: a primary with WAL
archiving (primary_setup.sh) and a streaming standby on a replication slot (standby_setup.sh). It migrates the real
schema onto the primary, seeds a few demo accounts and documents, takes a backup (deploy/backup/backup.sh), then
posts payments through the real service (core.services.payments.payment_post) in several committed transactions,
notes the time, and posts more after it. It replays the WAL archive on a fresh cluster up to that time
(deploy/backup/restore.sh) and checks that every payment committed before the target is there with its ledger
entry and none after it; that the standby has every committed payment (and how long it took to get them); that the
media came back with the same SHA-256. Prints a report and exits 1 on any loss.

    python scripts/restore_drill.py [--payments N] [--after M] [--json PATH] [--keep]
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

POSTGRES_DIR = BASE_DIR / "deploy" / "postgres"
BACKUP_DIR = BASE_DIR / "deploy" / "backup"
DATABASE = "power95598"
SLOT = "drill_standby"
KEY_PREFIX = "drill-"
# Enough demo accounts that payments land on several rows (and several account locks).
ACCOUNTS = 4
# A payment batch is one transaction: 1, 2 or 3 payments committed together.
BATCH_SIZES = (1, 2, 3)


class DrillError(RuntimeError):
    """A step of the drill itself failed (a cluster did not start, a script refused): not a finding about data."""


@dataclass
class DrillReport:
    """What the drill wrote, what came back, and how long each step took."""

    payments_before_target: int = 0
    payments_after_target: int = 0
    transactions_before_target: int = 0
    restored: int = 0
    missing: list[str] = field(default_factory=list)
    extra_after_target: list[str] = field(default_factory=list)
    restored_without_ledger: list[str] = field(default_factory=list)
    restored_amount: str = "0.00"
    expected_amount: str = "0.00"
    standby_missing: list[str] = field(default_factory=list)
    standby_catch_up_seconds: float = 0.0
    standby_replay_lag: str = ""
    media_files: int = 0
    media_mismatched: list[str] = field(default_factory=list)
    target_time: str = ""
    backup_bytes: int = 0
    wal_segments_archived: int = 0
    durations: dict[str, float] = field(default_factory=dict)


def report_failures(report: DrillReport) -> list[str]:
    """Every way the drill found data lost or wrong; empty when the restore kept exactly what it should."""
    failures = []
    if report.missing:
        failures.append(f"{len(report.missing)} payment(s) committed before the target are missing after the restore")
    if report.extra_after_target:
        failures.append(f"{len(report.extra_after_target)} payment(s) committed after the target were restored")
    if report.restored_without_ledger:
        failures.append(f"{len(report.restored_without_ledger)} restored payment(s) have no ledger entry")
    if report.restored_amount != report.expected_amount:
        failures.append(f"restored amount {report.restored_amount} differs from the {report.expected_amount} posted")
    if report.standby_missing:
        failures.append(f"{len(report.standby_missing)} committed payment(s) never reached the standby")
    if report.media_mismatched:
        failures.append(f"{len(report.media_mismatched)} media file(s) missing or different after the restore")
    if report.payments_before_target and not report.restored:
        failures.append("nothing was restored")
    return failures


def _pg():
    """bench/pg.py: where PostgreSQL's programs are, free ports, and running them as the postgres user under root."""
    from bench import pg

    return pg


def program_run(command: list[str], *, env: dict[str, str] | None = None, as_postgres: bool = False) -> str:
    """Run one program (as the postgres user when asked and we are root); its output, or DrillError with it."""
    env = {**os.environ, **(env or {})}
    full = _pg()._as_postgres(["env", f"PATH={env['PATH']}", *_libpq(env), *command]) if as_postgres else command
    result = subprocess.run(full, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise DrillError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _libpq(env: dict[str, str]) -> list[str]:
    """libpq's variables as env(1) arguments: runuser does not pass them on."""
    return [f"{name}={value}" for name, value in env.items() if name.startswith("PG")]


@dataclass
class Cluster:
    """One PostgreSQL cluster of the drill, in its own folder under the drill's folder."""

    name: str
    root: Path
    port: int = field(default_factory=lambda: _pg().free_port())

    @property
    def data(self) -> Path:
        return self.root / self.name

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def libpq_env(self) -> dict[str, str]:
        return {"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": "postgres"}

    def initdb(self) -> None:
        # --no-sync: initdb's flush of a folder made a moment ago proves nothing; the server runs with fsync on.
        program_run([f"{_pg().PG_BIN}/initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                     "--locale=C.UTF-8", "--data-checksums", "--no-sync"], as_postgres=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        try:
            program_run([f"{_pg().PG_BIN}/pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                         "-o", options, "start"], as_postgres=True)
        except DrillError as error:
            log = self.log.read_text() if self.log.exists() else ""
            raise DrillError(f"{error}\n{log[-3000:]}") from None

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            # Immediate: every cluster of the drill is thrown away (or kept only to look at: it recovers on start).
            command = [f"{_pg().PG_BIN}/pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"]
            subprocess.run(_pg()._as_postgres(command), capture_output=True)

    def query(self, sql: str, params: tuple = (), *, database: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str, *, database: str = "postgres") -> None:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql)


def primary_setup_command(*, primary: Cluster, archive: Path) -> list[str]:
    return [str(POSTGRES_DIR / "primary_setup.sh"), "--config-dir", str(primary.data), "--archive-dir", str(archive),
            "--slot", SLOT, "--standby-cidr", "127.0.0.1/32", "--hba-method", "trust"]


def standby_setup_command(*, primary: Cluster, standby: Cluster, archive: Path) -> list[str]:
    return [str(POSTGRES_DIR / "standby_setup.sh"), "--pgdata", str(standby.data), "--primary-host", "127.0.0.1",
            "--primary-port", str(primary.port), "--slot", SLOT, "--archive-dir", str(archive)]


def replication_pair_start(*, primary: Cluster, standby: Cluster, archive: Path) -> None:
    """A primary archiving into `archive` and a standby streaming from it, made by deploy/postgres/'s scripts."""
    primary.initdb()
    program_run(primary_setup_command(primary=primary, archive=archive), env=primary.libpq_env, as_postgres=True)
    primary.start()
    # Again with the server up: the replication role and the slot.
    program_run(primary_setup_command(primary=primary, archive=archive), env=primary.libpq_env, as_postgres=True)
    program_run(standby_setup_command(primary=primary, standby=standby, archive=archive), as_postgres=True)
    standby.start()


def drill_folder_make() -> Path:
    """A folder for the drill's clusters that the postgres user owns (PostgreSQL refuses to run as root)."""
    if os.geteuid() == 0:
        _pg()._postgres_user_ensure()
    root = Path(tempfile.mkdtemp(prefix="power95598-restore-drill-"))
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    return root


def _django_setup(*, primary: Cluster, root: Path) -> None:
    """Django on the primary, with the drill's own media folders and nothing of the machine's (no Redis, no var/)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    os.environ["DATABASE_URL"] = primary.url(DATABASE)
    os.environ["REDIS_URL"] = ""
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ["VAR_DIR"] = str(root / "var")
    os.environ["MEDIA_ROOT"] = str(root / "media")
    os.environ["PRIVATE_MEDIA_ROOT"] = str(root / "private")
    for folder in ("var", "media", "private"):
        (root / folder).mkdir(exist_ok=True)
    import django

    django.setup()


def _schema_and_accounts() -> list:
    from django.core.management import call_command
    from django.utils import timezone

    from core.demo.seeding import demo_seed
    from core.models import Account

    call_command("migrate", verbosity=0, interactive=False)
    demo_seed(customers=ACCOUNTS, seed=95598, today=timezone.localdate())
    return list(Account.objects.order_by("id")[:ACCOUNTS])


def _documents_write(count: int) -> None:
    """Uploaded documents: private ones (a customer's proof of identity, a ticket photo) and public CMS images."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from core.storage import private_storage

    for index in range(count):
        body = hashlib.sha256(f"private-{index}".encode()).digest() * (64 + index)
        private_storage().save(f"tickets/drill/身份证明 {index}.pdf", ContentFile(body))
    for index in range(max(1, count // 2)):
        body = hashlib.sha256(f"public-{index}".encode()).digest() * (32 + index)
        default_storage.save(f"cms/drill/notice-{index}.png", ContentFile(body))


def _payments_post(*, accounts: list, prefix: str, count: int) -> tuple[list[str], Decimal, int]:
    """`count` payments through the real service, in transactions of 1 to 3; returns their keys, sum, commits."""
    from django.db import transaction
    from django.utils import timezone

    from core.models import Payment
    from core.services.payments import payment_post

    keys: list[str] = []
    total = Decimal("0.00")
    commits = 0
    channels = [Payment.Channel.ONLINE, Payment.Channel.MOBILE, Payment.Channel.COUNTER, Payment.Channel.IVR]
    while len(keys) < count:
        size = min(BATCH_SIZES[commits % len(BATCH_SIZES)], count - len(keys))
        with transaction.atomic():
            for _ in range(size):
                index = len(keys)
                amount = Decimal(f"{20 + index % 180}.{index * 7 % 100:02d}")
                key = f"{KEY_PREFIX}{prefix}-{index:05d}"
                result = payment_post(account=accounts[index % len(accounts)], amount=amount,
                                      channel=channels[index % len(channels)], idempotency_key=key,
                                      received_at=timezone.now(), external_reference=key)
                if not result.created:
                    raise DrillError(f"payment {key} was not new")
                keys.append(key)
                total += amount
        commits += 1
    return keys, total, commits


def _archive_wait(primary: Cluster, *, timeout: float = 60.0) -> int:
    """Close the current WAL segment and wait until the archive holds it: the restore needs the WAL past the target."""
    (segment,) = primary.query("SELECT pg_walfile_name(pg_switch_wal())")[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last, failed, archived = primary.query(
            "SELECT last_archived_wal, failed_count, archived_count FROM pg_stat_archiver")[0]
        if last and last >= segment:
            return archived
        time.sleep(0.05)
    raise DrillError(f"WAL segment {segment} was not archived within {timeout:.0f} s ({failed} archive failures)")


def _standby_catch_up(primary: Cluster, standby: Cluster, *, timeout: float = 60.0) -> tuple[float, str]:
    """Seconds until the standby has replayed everything the primary had written, and the primary's replay_lag."""
    started = time.monotonic()
    (lsn,) = primary.query("SELECT pg_current_wal_lsn()::text")[0]
    while time.monotonic() - started < timeout:
        (caught_up,) = standby.query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))[0]
        if caught_up:
            elapsed = time.monotonic() - started
            rows = primary.query("SELECT coalesce(replay_lag::text, '') FROM pg_stat_replication "
                                 "WHERE application_name = %s", (SLOT,))
            return elapsed, rows[0][0] if rows else ""
        time.sleep(0.01)
    raise DrillError(f"the standby did not replay up to {lsn} within {timeout:.0f} s")


def _files_digest(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _payment_keys(cluster: Cluster) -> set[str]:
    rows = cluster.query("SELECT idempotency_key FROM core_payment WHERE idempotency_key LIKE %s", (f"{KEY_PREFIX}%",),
                         database=DATABASE)
    return {key for (key,) in rows}


@contextlib.contextmanager
def _lap(report: DrillReport, name: str):
    """Time one phase of the drill into report.durations."""
    started = time.monotonic()
    yield
    report.durations[name] = round(time.monotonic() - started, 2)


def drill_run(*, payments: int, after: int, root: Path) -> DrillReport:
    report = DrillReport()
    primary, standby, restored = Cluster("primary", root), Cluster("standby", root), Cluster("restored", root)
    archive, backups = root / "archive", root / "backups"
    clusters = [primary, standby, restored]
    try:
        with _lap(report, "primary and standby set up"):
            replication_pair_start(primary=primary, standby=standby, archive=archive)
            primary.execute(f"CREATE DATABASE {DATABASE}")
        with _lap(report, "schema migrated and accounts seeded"):
            _django_setup(primary=primary, root=root)
            accounts = _schema_and_accounts()
            _documents_write(max(3, min(20, payments // 10)))
        with _lap(report, "backup (database and media)"):
            out = program_run([str(BACKUP_DIR / "backup.sh"), "--dest", str(backups), "--media", str(root / "media"),
                        "--private-media", str(root / "private")], env={**primary.libpq_env, "PGUSER": "replicator"})
            backup = Path(out.strip().splitlines()[-1])
            report.backup_bytes = sum(path.stat().st_size for path in backup.iterdir())
        with _lap(report, "payments before the target"):
            before, expected_amount, commits = _payments_post(accounts=accounts, prefix="before", count=payments)
        report.payments_before_target = len(before)
        report.transactions_before_target = commits
        report.expected_amount = f"{expected_amount:.2f}"
        (target,) = primary.query("SELECT clock_timestamp()")[0]
        report.target_time = target.isoformat(sep=" ")
        with _lap(report, "payments after the target"):
            after_keys, _amount, _commits = _payments_post(accounts=accounts, prefix="after", count=after)
        report.payments_after_target = len(after_keys)

        with _lap(report, "standby catch-up"):
            report.standby_catch_up_seconds, report.standby_replay_lag = _standby_catch_up(primary, standby)
        report.standby_missing = sorted(set(before + after_keys) - _payment_keys(standby))
        with _lap(report, "WAL archived past the target"):
            report.wal_segments_archived = _archive_wait(primary)

        from bench.harness import connections_release

        connections_release()
        with _lap(report, "restore to the target (RTO)"):
            program_run([str(BACKUP_DIR / "restore.sh"), "--backup", str(backup), "--pgdata", str(restored.data),
                  "--archive-dir", str(archive), "--target-time", report.target_time, "--start", "--port",
                  str(restored.port), "--media-to", str(root / "restored-media"), "--private-media-to",
                  str(root / "restored-private")])
        keys = _payment_keys(restored)
        report.restored = len(keys & set(before))
        report.missing = sorted(set(before) - keys)
        report.extra_after_target = sorted(keys - set(before))
        report.restored_without_ledger = [key for (key,) in restored.query(
            "SELECT p.idempotency_key FROM core_payment p WHERE p.idempotency_key LIKE %s AND NOT EXISTS "
            "(SELECT 1 FROM core_ledgerentry l WHERE l.payment_id = p.id AND l.kind = 'payment') "
            "ORDER BY p.idempotency_key", (f"{KEY_PREFIX}%",), database=DATABASE)]
        (amount,) = restored.query("SELECT coalesce(sum(amount), 0) FROM core_payment WHERE idempotency_key LIKE %s",
                                   (f"{KEY_PREFIX}%",), database=DATABASE)[0]
        report.restored_amount = f"{amount:.2f}"

        for original, copy in (("media", "restored-media"), ("private", "restored-private")):
            wanted, got = _files_digest(root / original), _files_digest(root / copy)
            report.media_files += len(wanted)
            report.media_mismatched += sorted(f"{original}/{name}" for name, digest in wanted.items()
                                              if got.get(name) != digest)
        return report
    finally:
        if "django.db" in sys.modules:
            from bench.harness import connections_release

            connections_release()
        for cluster in clusters:
            cluster.stop()


def report_print(report: DrillReport, failures: list[str]) -> None:
    rows = [
        ("payments written before the target", f"{report.payments_before_target} in "
                                               f"{report.transactions_before_target} transactions"),
        ("payments written after the target", report.payments_after_target),
        ("target time", report.target_time),
        ("payments restored", report.restored),
        ("missing (must be 0)", len(report.missing)),
        ("extra after target (must be 0)", len(report.extra_after_target)),
        ("restored without ledger entry (must be 0)", len(report.restored_without_ledger)),
        ("amount posted / restored", f"{report.expected_amount} / {report.restored_amount}"),
        ("standby missing (must be 0)", len(report.standby_missing)),
        ("standby catch-up (replication lag)", f"{report.standby_catch_up_seconds * 1000:.0f} ms"
                                               + (f"; replay_lag {report.standby_replay_lag}"
                                                  if report.standby_replay_lag else "")),
        ("media files restored / mismatched", f"{report.media_files} / {len(report.media_mismatched)}"),
        ("backup size", f"{report.backup_bytes / 1e6:.1f} MB"),
        ("WAL segments archived", report.wal_segments_archived),
    ]
    print("\nRestore drill")
    for label, value in rows:
        print(f"  {label:<44} {value}")
    print("Durations")
    for label, seconds in report.durations.items():
        print(f"  {label:<44} {seconds:6.2f} s")
    if failures:
        print("\nFAILED:")
        for failure in failures:
            print(f"  - {failure}")
    else:
        print("\nOK: every payment committed before the target was restored, none after it; the standby has them all.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Back up, write payments, restore to a point in time, compare.")
    parser.add_argument("--payments", type=int, default=300, help="payments committed before the target (300)")
    parser.add_argument("--after", type=int, default=None, help="payments committed after it (default N/5, >= 2)")
    parser.add_argument("--json", default="", help="also write the report as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the drill's folder (clusters stopped) to inspect")
    args = parser.parse_args(argv)
    if args.payments < 1 or (args.after is not None and args.after < 1):
        parser.error("--payments and --after must be at least 1")
    after = args.after if args.after is not None else max(2, args.payments // 5)

    root = drill_folder_make()
    started = time.monotonic()
    try:
        report = drill_run(payments=args.payments, after=after, root=root)
    except DrillError as error:
        print(f"restore drill could not run: {error}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"drill folder kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    report.durations["whole drill"] = round(time.monotonic() - started, 2)
    failures = report_failures(report)
    report_print(report, failures)
    if args.json:
        Path(args.json).write_text(json.dumps({**asdict(report), "failures": failures}, ensure_ascii=False, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
