#!/bin/bash
# One 95598 backup: a base backup of the PostgreSQL cluster and the public and private media folders, in one dated
# folder with a SHA-256 manifest. With the WAL archive (deploy/postgres/primary_setup.sh) it restores the database to
# any moment after it was taken (restore.sh); the media as they were when it was taken.
#
#   backup.sh --dest DIR --media DIR --private-media DIR [--keep N --archive-dir DIR]
#
#   --dest           where the dated folders go: DIR/95598-<UTC time>/ (a different disk or a mounted volume)
#   --media          MEDIA_ROOT (public uploads)
#   --private-media  PRIVATE_MEDIA_ROOT (customers' documents: keep the backup as private as the folder)
#   --keep N         after a good backup, keep only the newest N (older ones are deleted) and, with --archive-dir,
#                    delete archived WAL older than the oldest kept backup needs (pg_archivecleanup): the window
#                    of points in time you can restore to starts at the oldest kept backup
#
# The cluster is reached through libpq's PGHOST/PGPORT/PGUSER (a role with REPLICATION, e.g. replicator). Run it as a
# user that can read both media folders (e.g. from a systemd timer: 95598-backup.timer). The folder appears under its
# real name only when everything in it is written and checked; a failed run leaves nothing that looks complete.
#
# Contents: base.tar.gz and pg_wal.tar.gz (pg_basebackup -Ft -z -X stream: the WAL to make the copy consistent),
# backup_manifest (PostgreSQL's own, checked by pg_verifybackup at restore), media.tar.gz, private-media.tar.gz,
# media-files.sha256 and private-media-files.sha256 (every file, checked after a restore), backup_info, and
# MANIFEST.sha256 over all of them.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
dest=""
media=""
private_media=""
keep=""
archive_dir=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        --dest) dest=$2; shift 2 ;;
        --media) media=$2; shift 2 ;;
        --private-media) private_media=$2; shift 2 ;;
        --keep) keep=$2; shift 2 ;;
        --archive-dir) archive_dir=$2; shift 2 ;;
        *) echo "backup.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$dest" ] || [ -z "$media" ] || [ -z "$private_media" ]; then
    echo "usage: backup.sh --dest DIR --media DIR --private-media DIR" >&2
    exit 2
fi
if [ -n "$keep" ] && ! [[ "$keep" =~ ^[1-9][0-9]*$ ]]; then
    echo "backup.sh: --keep takes a number of backups, at least 1" >&2
    exit 2
fi
if [ -n "$archive_dir" ] && [ -z "$keep" ]; then
    echo "backup.sh: --archive-dir is for pruning and needs --keep" >&2
    exit 2
fi
for folder in "$media" "$private_media"; do
    if [ ! -d "$folder" ]; then
        echo "backup.sh: media folder $folder does not exist" >&2
        exit 2
    fi
done

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
name="95598-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$dest"
partial="$dest/.$name.partial"
final="$dest/$name"
if [ -e "$final" ]; then
    echo "backup.sh: $final already exists" >&2
    exit 1
fi
trap 'rm -rf "$partial"' EXIT
mkdir -m 0700 "$partial"

"$PG_BIN/pg_basebackup" --pgdata="$partial" --format=tar --gzip --wal-method=stream --checkpoint=fast \
    --label="$name" --no-password
# Restores to a point in time must aim after this moment (restore.sh checks): replay starts at the backup.
database_finished=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)

media_archive() {
    local folder=$1 stem=$2 status=0
    # Uploads go on while this runs: a file written meanwhile is archived as tar read it (GNU tar says so and exits
    # 1); 2 is a real failure.
    tar --create --gzip --file="$partial/$stem.tar.gz" --directory="$folder" . || status=$?
    if [ "$status" -gt 1 ]; then
        echo "backup.sh: archiving $folder failed" >&2
        exit 1
    fi
    # Each file's SHA-256 as it is in the archive (not as it is on disk a moment later): restore.sh checks every
    # file it extracts against this list. (The single quotes are on purpose: the shell tar starts for each file
    # expands $TAR_FILENAME.)
    tar --extract --gzip --file="$partial/$stem.tar.gz" \
        --to-command='printf "%s  %s\n" "$(sha256sum | cut -d " " -f 1)" "$TAR_FILENAME"' >"$partial/$stem-files.sha256"
}
media_archive "$media" media
media_archive "$private_media" private-media

# The first WAL segment this backup needs, from its backup_label: what the archive must keep for it.
start_wal=$(tar --extract --gzip --to-stdout --file="$partial/base.tar.gz" backup_label \
    | sed -n -E 's/^START WAL LOCATION: .*\(file ([0-9A-F]{24})\)$/\1/p')
{
    echo "name=$name"
    echo "database_finished=$database_finished"
    echo "start_wal=$start_wal"
    echo "started=$started"
    echo "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "server_version=$("$PG_BIN/psql" -X -A -t -d postgres -c 'SHOW server_version' 2>/dev/null || echo unknown)"
    echo "media_files=$(grep -c '' "$partial/media-files.sha256" || true)"
    echo "private_media_files=$(grep -c '' "$partial/private-media-files.sha256" || true)"
} >"$partial/backup_info"

(cd "$partial" && find . -maxdepth 1 -type f ! -name MANIFEST.sha256 -printf '%f\n' | LC_ALL=C sort \
    | xargs sha256sum >MANIFEST.sha256)
(cd "$partial" && sha256sum --check --quiet MANIFEST.sha256)
sync "$partial"/*
mv "$partial" "$final"
trap - EXIT
sync "$dest"
echo "$final"

if [ -n "$keep" ]; then
    mapfile -t complete < <(find "$dest" -mindepth 1 -maxdepth 1 -type d -name '95598-*' -printf '%f\n' | LC_ALL=C sort)
    old_count=$(( ${#complete[@]} - keep ))
    for (( i = 0; i < old_count; i++ )); do
        rm -rf "${dest:?}/${complete[$i]}"
        echo "deleted old backup ${complete[$i]}" >&2
    done
    if [ -n "$archive_dir" ]; then
        oldest_kept=${complete[$(( old_count > 0 ? old_count : 0 ))]}
        oldest_wal=$(sed -n 's/^start_wal=//p' "$dest/$oldest_kept/backup_info")
        if [ -n "$oldest_wal" ]; then
            "$PG_BIN/pg_archivecleanup" "$archive_dir" "$oldest_wal"
            echo "archive pruned: WAL before $oldest_wal (needed by $oldest_kept) deleted" >&2
        fi
    fi
fi
