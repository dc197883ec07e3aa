"""The restore drill and deploy/backup/: every payment committed before the target comes back after a
point-in-time restore on a fresh cluster, none after it, the standby has them all, the media match; a backup that
does not match its manifest, or a failed backup, never passes for a good one."""
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

import pytest

from tests.deploy.drill_support import SCRIPT, pair_start, pair_stop, restore_drill

drill = restore_drill()
BACKUP = drill.BACKUP_DIR / "backup.sh"
RESTORE = drill.BACKUP_DIR / "restore.sh"


def _drill_folders() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("power95598-restore-drill-")}


def test_the_drill_restores_every_payment_committed_before_the_target_and_none_after(tmp_path):
    report_path = tmp_path / "report.json"
    folders_before = _drill_folders()

    result = subprocess.run([sys.executable, str(SCRIPT), "--payments", "12", "--after", "3", "--json",
                             str(report_path)], capture_output=True, text=True, timeout=280)

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(report_path.read_text())
    assert report["failures"] == []
    assert (report["payments_before_target"], report["payments_after_target"], report["restored"]) == (12, 3, 12)
    # Batches of 1, 2, 3, 1, 2, 3 payments: six committed transactions before the target.
    assert report["transactions_before_target"] == 6
    assert (report["missing"], report["extra_after_target"], report["restored_without_ledger"]) == ([], [], [])
    assert report["standby_missing"] == []
    # 12 payments of 20.00 + i yuan and 7i fen (i = 0..11): 20*12 + 66 yuan + 462 fen.
    assert report["expected_amount"] == report["restored_amount"] == "310.62"
    # Three private documents and one public image, each back with the same SHA-256.
    assert (report["media_files"], report["media_mismatched"]) == (4, [])
    assert report["wal_segments_archived"] >= 1
    assert set(report["durations"]) == {
        "primary and standby set up", "schema migrated and accounts seeded", "backup (database and media)",
        "payments before the target", "payments after the target", "standby catch-up",
        "WAL archived past the target", "restore to the target (RTO)", "whole drill",
    }
    assert "  missing (must be 0)                          0\n" in result.stdout
    assert "  extra after target (must be 0)               0\n" in result.stdout
    assert "OK: every payment committed before the target was restored, none after it" in result.stdout
    # Its clusters stopped and its folder removed.
    assert _drill_folders() == folders_before


def test_the_report_names_every_kind_of_loss():
    report = drill.DrillReport(
        payments_before_target=5, restored=3, missing=["drill-before-00003", "drill-before-00004"],
        extra_after_target=["drill-after-00000"], restored_without_ledger=["drill-before-00001"],
        expected_amount="100.00", restored_amount="60.00", standby_missing=["drill-after-00001"],
        media_mismatched=["private/tickets/a.pdf"],
    )

    assert drill.report_failures(report) == [
        "2 payment(s) committed before the target are missing after the restore",
        "1 payment(s) committed after the target were restored",
        "1 restored payment(s) have no ledger entry",
        "restored amount 60.00 differs from the 100.00 posted",
        "1 committed payment(s) never reached the standby",
        "1 media file(s) missing or different after the restore",
    ]
    assert drill.report_failures(drill.DrillReport(payments_before_target=2, restored=0)) == [
        "nothing was restored"
    ]
    assert drill.report_failures(drill.DrillReport(payments_before_target=2, restored=2)) == []


def _backup_folder(tmp_path):
    """A backup folder as backup.sh leaves it, with a media archive and its manifests (no database part)."""
    media = tmp_path / "media"
    media.mkdir()
    (media / "notice.png").write_bytes(b"png" * 100)
    folder = tmp_path / "95598-20261124T060000Z"
    folder.mkdir()
    subprocess.run(["tar", "--create", "--gzip", f"--file={folder / 'media.tar.gz'}", f"--directory={media}", "."],
                   check=True)
    digest = hashlib.sha256(b"png" * 100).hexdigest()
    (folder / "media-files.sha256").write_text(f"{digest}  ./notice.png\n")
    manifest = "".join(f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n"
                       for name in ("media-files.sha256", "media.tar.gz"))
    (folder / "MANIFEST.sha256").write_text(manifest)
    return folder


def test_restore_puts_the_media_back_and_checks_every_file(tmp_path):
    folder = _backup_folder(tmp_path)
    target = tmp_path / "restored-media"

    result = subprocess.run([str(RESTORE), "--backup", str(folder), "--media-to", str(target)],
                            capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "manifest checked: 2 files",
        f"media restored into {target}: 1 files checked",
    ]
    assert (target / "notice.png").read_bytes() == b"png" * 100


def test_restore_refuses_a_backup_that_does_not_match_its_manifest_and_writes_nothing(tmp_path):
    folder = _backup_folder(tmp_path)
    with open(folder / "media.tar.gz", "ab") as damaged:
        damaged.write(b"\0")
    pgdata, media = tmp_path / "pgdata", tmp_path / "restored-media"

    result = subprocess.run([str(RESTORE), "--backup", str(folder), "--pgdata", str(pgdata), "--archive-dir",
                             str(tmp_path), "--media-to", str(media)], capture_output=True, text=True)

    assert result.returncode == 1
    assert result.stderr.strip().endswith(f"restore.sh: {folder} does not match its manifest; nothing restored")
    assert (pgdata.exists(), media.exists()) == (False, False)


def test_restore_refuses_a_folder_without_a_manifest_and_a_target_that_is_not_empty(tmp_path):
    folder = _backup_folder(tmp_path)
    (folder / "MANIFEST.sha256").unlink()
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")

    no_manifest = subprocess.run([str(RESTORE), "--backup", str(folder), "--media-to", str(tmp_path / "new")],
                                 capture_output=True, text=True)
    not_empty = subprocess.run([str(RESTORE), "--backup", str(folder), "--media-to", str(occupied)],
                               capture_output=True, text=True)

    assert (no_manifest.returncode, no_manifest.stderr.strip()) == (
        1, f"restore.sh: {folder} has no MANIFEST.sha256: not a complete backup"
    )
    assert (not_empty.returncode, not_empty.stderr.strip()) == (
        1, f"restore.sh: {occupied} is not empty; restore into an empty folder"
    )
    assert sorted(path.name for path in occupied.iterdir()) == ["keep.txt"]


def test_a_backup_that_fails_leaves_nothing_that_looks_complete(tmp_path):
    media, private, dest = tmp_path / "media", tmp_path / "private", tmp_path / "backups"
    media.mkdir()
    private.mkdir()
    closed_port = str(drill._pg().free_port())

    result = subprocess.run([str(BACKUP), "--dest", str(dest), "--media", str(media), "--private-media", str(private)],
                            capture_output=True, text=True, env={**os.environ, "PGHOST": "127.0.0.1",
                                                                 "PGPORT": closed_port, "PGCONNECT_TIMEOUT": "2"})

    assert result.returncode != 0
    assert "pg_basebackup" in result.stderr
    assert list(dest.iterdir()) == []


def test_backup_refuses_a_keep_that_is_not_a_positive_number(tmp_path):
    (tmp_path / "media").mkdir()

    result = subprocess.run([str(BACKUP), "--dest", str(tmp_path / "backups"), "--media", str(tmp_path / "media"),
                             "--private-media", str(tmp_path / "media"), "--keep", "0"], capture_output=True, text=True)

    assert (result.returncode, result.stderr.strip()) == (2, "backup.sh: --keep takes a number of backups, at least 1")
    assert not (tmp_path / "backups").exists()


def test_the_backup_unit_and_its_environment_example_agree():
    unit = (drill.BACKUP_DIR / "95598-backup.service").read_text()
    example = dict(line.split("=", 1) for line in (drill.BACKUP_DIR / "backup.env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    exec_start = unit.split("ExecStart=", 1)[1].split("\nSyslogIdentifier", 1)[0]
    used = set(re.findall(r"\$\{([A-Z_]+)\}", exec_start))
    writable = next(line for line in unit.splitlines() if line.startswith("ReadWritePaths=")).split("=", 1)[1]

    assert used == {"BACKUP_DIR", "MEDIA_ROOT", "PRIVATE_MEDIA_ROOT", "BACKUP_KEEP", "WAL_ARCHIVE_DIR"}
    assert used <= set(example)
    assert {"PGHOST", "PGPORT", "PGUSER", "PGPASSFILE"} <= set(example)
    assert writable.split() == [example["BACKUP_DIR"], example["WAL_ARCHIVE_DIR"]]
    assert "EnvironmentFile=/etc/95598/backup.env" in unit
    timer = (drill.BACKUP_DIR / "95598-backup.timer").read_text()
    assert ("OnCalendar=*-*-* 02:30:00 Asia/Shanghai" in timer, "Persistent=true" in timer) == (True, True)


def test_systemd_accepts_the_backup_service_and_timer(tmp_path):
    """systemd-analyze verify, with the units pointed at this checkout: no unknown keys, the program exists."""
    for name in ("95598-backup.service", "95598-backup.timer"):
        text = (drill.BACKUP_DIR / name).read_text().replace("/srv/95598", str(drill.BASE_DIR))
        (tmp_path / name).write_text(text)

    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "95598-backup.service"),
                             str(tmp_path / "95598-backup.timer")], capture_output=True, text=True)

    assert (result.returncode, result.stderr.strip()) == (0, "")


@pytest.fixture(scope="module")
def backed_up(tmp_path_factory):
    """A primary with its archive and one backup: a row before the backup, one after it before a noted time, one
    after that time; the WAL archived past all three."""
    primary, standby, archive = pair_start()
    try:
        folder = tmp_path_factory.mktemp("backup")
        (folder / "media").mkdir()
        (folder / "private").mkdir()
        primary.execute("CREATE TABLE receipts (note text NOT NULL)")
        primary.execute("INSERT INTO receipts VALUES ('before the backup')")
        (before_backup,) = primary.query("SELECT clock_timestamp()")[0]
        made = subprocess.run([str(BACKUP), "--dest", str(folder / "backups"), "--media", str(folder / "media"),
                               "--private-media", str(folder / "private")], capture_output=True, text=True,
                              env={**os.environ, **primary.libpq_env, "PGUSER": "replicator"}, check=True)
        primary.execute("INSERT INTO receipts VALUES ('after the backup, before the target')")
        (target,) = primary.query("SELECT clock_timestamp()")[0]
        primary.execute("INSERT INTO receipts VALUES ('after the target')")
        drill._archive_wait(primary, timeout=30)
        yield {"primary": primary, "archive": archive, "backup": made.stdout.strip(), "target": target,
               "before_backup": before_backup}
    finally:
        pair_stop(primary, standby)


def _restore(backed_up, name: str, *extra: str):
    cluster = drill.Cluster(name, backed_up["primary"].root)
    result = subprocess.run([str(RESTORE), "--backup", backed_up["backup"], "--pgdata", str(cluster.data),
                             "--archive-dir", str(backed_up["archive"]), "--start", "--port", str(cluster.port),
                             *extra], capture_output=True, text=True)
    return cluster, result


def test_restore_to_a_point_in_time_keeps_the_commits_before_it_and_none_after(backed_up):
    target = backed_up["target"].isoformat(sep=" ")
    cluster, result = _restore(backed_up, "to-target", "--target-time", target)
    try:
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[:2] == ["manifest checked: 8 files",
                             f"database prepared in {cluster.data} (recovery target {target})"]
        assert lines[2].startswith(f"database recovered and accepting writes on port {cluster.port} "
                                   "(recovery stopping before commit of transaction ")
        assert cluster.query("SELECT note FROM receipts ORDER BY note") == [
            ("after the backup, before the target",), ("before the backup",)
        ]
        assert cluster.query("SELECT pg_is_in_recovery(), current_setting('archive_mode')") == [(False, "off")]
    finally:
        cluster.stop()


def test_restore_without_a_target_replays_the_whole_archive(backed_up):
    cluster, result = _restore(backed_up, "to-end")
    try:
        assert result.returncode == 0, result.stderr
        assert cluster.query("SELECT count(*) FROM receipts") == [(3,)]
    finally:
        cluster.stop()


def test_restore_to_a_time_before_the_backup_is_refused_and_writes_nothing(backed_up):
    too_early = backed_up["before_backup"].isoformat(sep=" ")
    cluster, result = _restore(backed_up, "too-early", "--target-time", too_early)

    assert result.returncode == 1
    message = result.stderr.strip()
    assert message.startswith(f"restore.sh: --target-time {too_early} is before this backup was complete (")
    assert message.endswith("Z): restore an older backup")
    assert not cluster.data.exists()


def test_restore_to_a_time_the_archive_does_not_reach_fails_and_says_so(backed_up):
    beyond = (backed_up["target"] + datetime.timedelta(days=1)).isoformat(sep=" ")
    cluster, result = _restore(backed_up, "too-late", "--target-time", beyond)
    try:
        assert result.returncode == 1
        assert "recovery ended before configured recovery target was reached" in result.stderr
        assert result.stderr.strip().splitlines()[-1] in (
            "restore.sh: the restored cluster did not start",
            "restore.sh: the restored cluster stopped during recovery (is the archive complete up to the target?)",
        )
    finally:
        cluster.stop()


@pytest.mark.parametrize("target", ["2026-11-24 06:15:00", "yesterday", "2026-11-24 06:15:00+08'; DROP"])
def test_restore_refuses_a_target_time_without_its_offset_or_that_is_no_time(tmp_path, target):
    result = subprocess.run([str(RESTORE), "--backup", str(tmp_path), "--pgdata", str(tmp_path / "pgdata"),
                             "--archive-dir", str(tmp_path), "--target-time", target], capture_output=True, text=True)

    assert (result.returncode, result.stderr.strip()) == (
        1, "restore.sh: --target-time must look like '2026-11-24 06:15:00+08' (date, time and its UTC offset)"
    )
    assert not (tmp_path / "pgdata").exists()
