"""deploy/postgres/: a primary archiving its WAL and a standby streaming from it on a slot, made by the scripts an
operator runs; the scripts are idempotent, the archive never holds a partial or overwritten segment, and the
standby can be promoted."""
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from tests.deploy.drill_support import pair_start, pair_stop, restore_drill

drill = restore_drill()
ARCHIVE_WAL = drill.POSTGRES_DIR / "archive_wal.sh"
PROMOTE = drill.POSTGRES_DIR / "promote_standby.sh"


@pytest.fixture(scope="module")
def pair():
    """One primary and standby for the tests that leave them as they were (each writes its own table)."""
    primary, standby, archive = pair_start()
    yield primary, standby, archive
    pair_stop(primary, standby)


@pytest.fixture
def fresh_pair():
    """A pair of its own, for a test that ends it (promotion)."""
    primary, standby, archive = pair_start()
    yield primary, standby, archive
    pair_stop(primary, standby)


def _as_postgres(command, *, env=None):
    env = env or {}
    return subprocess.run(drill._pg()._as_postgres(["env", *[f"{k}={v}" for k, v in env.items()], *command]),
                          capture_output=True, text=True)


def _replayed(primary, standby) -> None:
    drill._standby_catch_up(primary, standby, timeout=30)


def test_a_committed_row_reaches_the_standby_through_the_slot_and_the_standby_refuses_writes(pair):
    primary, standby, _archive = pair
    primary.execute("CREATE TABLE receipts (id serial PRIMARY KEY, amount numeric(12, 2) NOT NULL)")
    primary.execute("INSERT INTO receipts (amount) VALUES (12.34), (56.78)")
    _replayed(primary, standby)

    assert standby.query("SELECT amount::text FROM receipts ORDER BY id") == [("12.34",), ("56.78",)]
    assert standby.query("SELECT pg_is_in_recovery()") == [(True,)]
    assert primary.query("SELECT slot_name, slot_type, active FROM pg_replication_slots") == [
        (drill.SLOT, "physical", True)
    ]
    assert primary.query("SELECT application_name, state FROM pg_stat_replication") == [(drill.SLOT, "streaming")]
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        standby.execute("INSERT INTO receipts (amount) VALUES (1.00)")
    assert primary.query("SELECT count(*) FROM receipts") == [(2,)]


def test_the_primary_runs_with_the_settings_of_primary_conf(pair):
    primary, _standby, archive = pair
    settings = dict(primary.query(
        "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'archive_mode', 'max_wal_senders', "
        "'max_replication_slots', 'hot_standby', 'archive_timeout')"))

    assert settings == {"wal_level": "replica", "archive_mode": "on", "max_wal_senders": "10",
                        "max_replication_slots": "10", "hot_standby": "on", "archive_timeout": "60"}
    (command,) = primary.query("SHOW archive_command")[0]
    assert command == f'{primary.data}/conf.d/95598-archive-wal.sh "%p" "%f" "{archive}"'


def test_completed_segments_are_archived_whole(pair):
    primary, _standby, archive = pair
    primary.execute("CREATE TABLE bulk AS SELECT 1.00 AS amount FROM generate_series(1, 1000)")
    (segment,) = primary.query("SELECT pg_walfile_name(pg_switch_wal())")[0]
    drill._archive_wait(primary, timeout=30)

    archived = sorted(path.name for path in archive.iterdir())
    assert segment in archived
    assert (archive / segment).stat().st_size == 16 * 1024 * 1024
    assert [name for name in archived if name.startswith(".")] == []
    assert primary.query("SELECT failed_count FROM pg_stat_archiver") == [(0,)]


def test_setting_up_again_changes_nothing(pair):
    primary, standby, archive = pair
    conf_before = (primary.data / "postgresql.conf").read_text()
    hba_before = (primary.data / "pg_hba.conf").read_text()

    again = _as_postgres(drill.primary_setup_command(primary=primary, archive=archive), env=primary.libpq_env)
    standby_again = _as_postgres(drill.standby_setup_command(primary=primary, standby=standby, archive=archive))

    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert (primary.data / "postgresql.conf").read_text() == conf_before
    assert (primary.data / "pg_hba.conf").read_text() == hba_before
    assert conf_before.count("include_dir = 'conf.d'") == 1
    assert hba_before.count("host replication replicator 127.0.0.1/32 trust") == 1
    assert primary.query("SELECT count(*) FROM pg_replication_slots") == [(1,)]
    assert (standby_again.returncode, standby_again.stdout.strip()) == (
        0, f"{standby.data} already holds a standby: nothing to do"
    )


def test_standby_setup_refuses_a_folder_that_holds_something_else(pair):
    primary, _standby, archive = pair
    occupied = Path(primary.root) / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    other = drill.Cluster("occupied", primary.root)

    result = _as_postgres(drill.standby_setup_command(primary=primary, standby=other, archive=archive))

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"standby_setup.sh: {occupied} is not empty and is not a standby; refusing to touch it"
    )
    assert sorted(path.name for path in occupied.iterdir()) == ["keep.txt"]


def test_the_promoted_standby_accepts_writes_and_has_every_committed_row(fresh_pair):
    primary, standby, _archive = fresh_pair
    primary.execute("CREATE TABLE receipts (id serial PRIMARY KEY, amount numeric(12, 2) NOT NULL)")
    primary.execute("INSERT INTO receipts (amount) VALUES (99.99)")
    _replayed(primary, standby)
    primary.stop()

    refused = _as_postgres([str(PROMOTE), "--pgdata", str(primary.data)], env=primary.libpq_env)
    promoted = _as_postgres([str(PROMOTE), "--pgdata", str(standby.data)], env=standby.libpq_env)

    assert refused.returncode != 0
    assert promoted.returncode == 0, promoted.stderr
    assert promoted.stdout.strip().endswith(f"promoted: {standby.data} accepts writes")
    standby.execute("INSERT INTO receipts (amount) VALUES (0.01)")
    assert standby.query("SELECT amount::text FROM receipts ORDER BY id") == [
        ("99.99",), ("0.01",)
    ]


def test_promote_refuses_a_server_that_is_not_a_standby(pair):
    primary, _standby, _archive = pair

    result = _as_postgres([str(PROMOTE), "--pgdata", str(primary.data)], env=primary.libpq_env)

    assert result.returncode == 1
    assert result.stderr.strip() == "promote_standby.sh: this server is not a standby (not in recovery); nothing promoted"


class TestArchiveWal:
    """archive_wal.sh on its own: the copy appears whole under its name; a retry of the same segment succeeds;
    a different file under an archived name is never overwritten."""

    def _archive(self, source: Path, name: str, archive: Path):
        return subprocess.run([str(ARCHIVE_WAL), str(source), name, str(archive)], capture_output=True, text=True)

    def test_copies_then_accepts_the_same_segment_again_and_refuses_a_different_one(self, tmp_path):
        archive = tmp_path / "archive"
        archive.mkdir()
        segment = tmp_path / "000000010000000000000003"
        segment.write_bytes(b"wal" * 1000)

        first = self._archive(segment, segment.name, archive)
        retry = self._archive(segment, segment.name, archive)
        segment.write_bytes(b"other" * 10)
        clash = self._archive(segment, segment.name, archive)

        assert (first.returncode, retry.returncode, clash.returncode) == (0, 0, 1)
        assert (archive / segment.name).read_bytes() == b"wal" * 1000
        assert clash.stderr.strip() == (
            f"archive_wal.sh: {archive / segment.name} already exists with different content; refusing to overwrite"
        )
        assert sorted(path.name for path in archive.iterdir()) == [segment.name]

    def test_a_failed_copy_leaves_nothing_in_the_archive(self, tmp_path):
        archive = tmp_path / "archive"
        archive.mkdir()

        result = self._archive(tmp_path / "missing", "000000010000000000000004", archive)

        assert result.returncode != 0
        assert list(archive.iterdir()) == []


def test_backups_kept_are_the_newest_and_the_archive_keeps_only_the_wal_they_need(pair, tmp_path):
    primary, _standby, archive = pair
    media, private, dest = tmp_path / "media", tmp_path / "private", tmp_path / "backups"
    media.mkdir()
    private.mkdir()
    backup = [str(drill.BACKUP_DIR / "backup.sh"), "--dest", str(dest), "--media", str(media), "--private-media",
              str(private), "--keep", "1", "--archive-dir", str(archive)]
    env = {**os.environ, **primary.libpq_env, "PGUSER": "replicator"}
    primary.execute("CREATE TABLE before_backups AS SELECT generate_series(1, 1000) AS n")
    drill._archive_wait(primary, timeout=30)

    first = subprocess.run(backup, capture_output=True, text=True, env=env)
    time.sleep(1.1)  # backup folders are named to the second
    second = subprocess.run(backup, capture_output=True, text=True, env=env)

    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    first_folder, second_folder = Path(first.stdout.strip()), Path(second.stdout.strip())
    assert sorted(path.name for path in dest.iterdir()) == [second_folder.name]
    assert f"deleted old backup {first_folder.name}" in second.stderr
    info = dict(line.split("=", 1) for line in (second_folder / "backup_info").read_text().splitlines())
    start_wal = info["start_wal"]
    assert len(start_wal) == 24
    segments = sorted(path.name for path in archive.iterdir() if len(path.name) == 24)
    assert segments and segments[0] >= start_wal
    assert f"archive pruned: WAL before {start_wal} (needed by {second_folder.name}) deleted" in second.stderr
