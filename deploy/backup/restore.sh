#!/bin/bash
# Restore a 95598 backup (backup.sh): the database to a point in time from the base backup plus the WAL archive,
# and the media folders. Every file of the backup is checked against its manifest before anything is written;
# the database parts are also checked by pg_verifybackup, the media file by file after extraction.
#
#   restore.sh --backup DIR [--pgdata DIR --archive-dir DIR [--target-time TIME] [--start --port PORT]]
#              [--media-to DIR] [--private-media-to DIR]
#
#   --backup            a dated backup folder made by backup.sh
#   --pgdata            a new, empty data folder for the restored cluster (never an existing one)
#   --archive-dir       the WAL archive (read-only here: the restored cluster does not archive until you set it up)
#   --target-time       recover up to this moment, with its UTC offset, e.g. '2026-11-24 06:15:00+08' (commits at or
#                       before it are kept, later ones are not); it must be after the backup was complete
#                       (database_finished in backup_info; choose an older backup otherwise); without it, everything in the archive is replayed
#   --start --port      start the restored cluster on this port (listening on 127.0.0.1, its socket and log in the
#                       folder above --pgdata, which the postgres user must be able to write) and wait until
#                       recovery has finished and it accepts writes
#   --media-to          an empty folder to restore MEDIA_ROOT into
#   --private-media-to  an empty folder to restore PRIVATE_MEDIA_ROOT into
#
# Run the database part as the postgres user (as root, the data folder is handed to PG_OS_USER, default postgres, and
# the server runs as that user) and the media part as the application's user (two runs are fine).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_OS_USER=${PG_OS_USER:-postgres}
# PostgreSQL refuses to run as root.
as_pg_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_OS_USER" -- "$@"
    else
        "$@"
    fi
}
backup=""
pgdata=""
archive_dir=""
target_time=""
start="no"
port=""
media_to=""
private_media_to=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        --backup) backup=$2; shift 2 ;;
        --pgdata) pgdata=$2; shift 2 ;;
        --archive-dir) archive_dir=$2; shift 2 ;;
        --target-time) target_time=$2; shift 2 ;;
        --start) start="yes"; shift ;;
        --port) port=$2; shift 2 ;;
        --media-to) media_to=$2; shift 2 ;;
        --private-media-to) private_media_to=$2; shift 2 ;;
        *) echo "restore.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
fail() {
    echo "restore.sh: $*" >&2
    exit 1
}
if [ -z "$backup" ] || { [ -z "$pgdata" ] && [ -z "$media_to" ] && [ -z "$private_media_to" ]; }; then
    echo "usage: restore.sh --backup DIR [--pgdata DIR --archive-dir DIR [--target-time TIME] [--start --port PORT]]" \
        "[--media-to DIR] [--private-media-to DIR]" >&2
    exit 2
fi
if [ -n "$pgdata" ] && [ -z "$archive_dir" ]; then
    fail "--pgdata needs --archive-dir (the WAL archive)"
fi
if [ "$start" = "yes" ] && { [ -z "$pgdata" ] || [ -z "$port" ]; }; then
    fail "--start needs --pgdata and --port"
fi
if [ -n "$target_time" ]; then
    # PostgreSQL would read a time without a zone in the restored cluster's own time zone: say which one is meant.
    if ! [[ "$target_time" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}[\ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\ ?([+-][0-9]{2}(:?[0-9]{2})?|UTC|Z)$ ]]; then
        fail "--target-time must look like '2026-11-24 06:15:00+08' (date, time and its UTC offset)"
    fi
    target_epoch=$(date -d "$target_time" +%s.%N 2>/dev/null) || fail "--target-time $target_time is not a valid time"
fi
for folder in "$pgdata" "$media_to" "$private_media_to"; do
    if [ -n "$folder" ] && [ -d "$folder" ] && [ -n "$(ls -A "$folder")" ]; then
        fail "$folder is not empty; restore into an empty folder"
    fi
done

[ -d "$backup" ] || fail "$backup is not a folder"
backup=$(cd "$backup" && pwd)
[ -f "$backup/MANIFEST.sha256" ] || fail "$backup has no MANIFEST.sha256: not a complete backup"
if ! (cd "$backup" && sha256sum --check --quiet --strict MANIFEST.sha256); then
    fail "$backup does not match its manifest; nothing restored"
fi
echo "manifest checked: $(grep -c '' "$backup/MANIFEST.sha256" || true) files"

if [ -n "$pgdata" ] && [ -n "$target_time" ]; then
    # Replay starts where the backup started: a target before it would silently give the state at the backup's end.
    # backup.sh notes when the database part had finished (UTC, backup_info): the target must not be earlier.
    finished=$(sed -n 's/^database_finished=//p' "$backup/backup_info")
    [ -n "$finished" ] || fail "$backup/backup_info does not say when the database part finished"
    finished_epoch=$(date -d "$finished" +%s.%N) || fail "database_finished=$finished is not a time"
    if awk -v target="$target_epoch" -v finished="$finished_epoch" 'BEGIN { exit !(target < finished) }'; then
        fail "--target-time $target_time is before this backup was complete ($finished): restore an older backup"
    fi
fi

if [ -n "$pgdata" ]; then
    mkdir -p "$pgdata"
    chmod 0700 "$pgdata"
    tar --extract --gzip --file="$backup/base.tar.gz" --directory="$pgdata"
    tar --extract --gzip --file="$backup/pg_wal.tar.gz" --directory="$pgdata/pg_wal"
    "$PG_BIN/pg_verifybackup" --quiet --manifest-path="$backup/backup_manifest" --wal-directory="$pgdata/pg_wal" \
        "$pgdata" || fail "pg_verifybackup found the base backup damaged"
    archive_dir=$(cd "$archive_dir" && pwd)
    {
        echo "# restore.sh: recovery from $(basename "$backup") and the archive $archive_dir"
        echo "restore_command = 'cp \"$archive_dir/%f\" \"%p\"'"
        if [ -n "$target_time" ]; then
            echo "recovery_target_time = '$target_time'"
            echo "recovery_target_inclusive = on"
        fi
        echo "recovery_target_action = 'promote'"
        # The restored copy must not write into the archive it reads (nor take the primary's place in it).
        echo "archive_mode = off"
        # A standby's settings copied with the base backup would make it stream from the old primary.
        echo "primary_conninfo = ''"
        echo "primary_slot_name = ''"
    } >>"$pgdata/postgresql.auto.conf"
    rm -f "$pgdata/standby.signal" "$pgdata/postmaster.pid"
    touch "$pgdata/recovery.signal"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R "$PG_OS_USER": "$pgdata"
    fi
    echo "database prepared in $pgdata${target_time:+ (recovery target $target_time)}"

    if [ "$start" = "yes" ]; then
        socket_dir=$(cd "$pgdata/.." && pwd)
        log="$socket_dir/$(basename "$pgdata").log"
        as_pg_user "$PG_BIN/pg_ctl" --pgdata="$pgdata" --log="$log" --wait --timeout=120 \
            -o "-p $port -k $socket_dir -c listen_addresses=127.0.0.1" start >/dev/null \
            || { tail -n 20 "$log" >&2; fail "the restored cluster did not start"; }
        for _ in $(seq 1 600); do
            state=$(as_pg_user "$PG_BIN/psql" -X -A -t -U "${PGUSER:-postgres}" -h "$socket_dir" -p "$port" -d postgres \
                -c "SELECT pg_is_in_recovery()" 2>/dev/null || true)
            if [ "$state" = "f" ]; then
                break
            fi
            if ! as_pg_user "$PG_BIN/pg_ctl" --pgdata="$pgdata" status >/dev/null 2>&1; then
                tail -n 20 "$log" >&2
                fail "the restored cluster stopped during recovery (is the archive complete up to the target?)"
            fi
            sleep 0.2
        done
        [ "$state" = "f" ] || { tail -n 20 "$log" >&2; fail "recovery did not finish within two minutes"; }
        # Where replay stopped: before the first commit past the target, or at the end of the archive.
        stopped=$(grep -E 'recovery stopping' "$log" | tail -n 1 || true)
        stopped=${stopped:-$(grep -E 'redo done' "$log" | tail -n 1 || true)}
        echo "database recovered and accepting writes on port $port (${stopped#*LOG:  })"
    fi
fi

media_restore() {
    local stem=$1 folder=$2
    mkdir -p "$folder"
    tar --extract --gzip --file="$backup/$stem.tar.gz" --directory="$folder"
    (cd "$folder" && sha256sum --check --quiet --strict "$backup/$stem-files.sha256") \
        || fail "files restored into $folder do not match $stem-files.sha256"
    echo "$stem restored into $folder: $(grep -c '' "$backup/$stem-files.sha256" || true) files checked"
}
if [ -n "$media_to" ]; then
    media_restore media "$media_to"
fi
if [ -n "$private_media_to" ]; then
    media_restore private-media "$private_media_to"
fi
