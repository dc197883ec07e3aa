#!/bin/bash
# Make a streaming standby of the 95598 primary: pg_basebackup -R into an empty data folder, attached to the
# primary's replication slot (so the primary keeps every WAL segment until the standby has it), with the WAL
# archive as a second source when the archive folder is reachable from here. Idempotent: a folder that already
# holds a standby is left as it is; a folder holding anything else is refused (this script never deletes data).
#
#   standby_setup.sh --pgdata DIR --primary-host HOST [--primary-port 5432] [--role replicator] [--slot standby1]
#                    [--archive-dir DIR]
#
# Run it as the postgres user; the password, if any, comes from ~/.pgpass or PGPASSWORD. Then start the server
# (Debian: pg_ctlcluster 15 main start; or pg_ctl -D DIR start). To promote it when the primary is lost, see
# promote_standby.sh and deploy/postgres/README.md.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
pgdata=""
primary_host=""
primary_port="5432"
role="replicator"
slot="standby1"
archive_dir=""

while [ "$#" -gt 0 ]; do
    case "$1" in
        --pgdata) pgdata=$2; shift 2 ;;
        --primary-host) primary_host=$2; shift 2 ;;
        --primary-port) primary_port=$2; shift 2 ;;
        --role) role=$2; shift 2 ;;
        --slot) slot=$2; shift 2 ;;
        --archive-dir) archive_dir=$2; shift 2 ;;
        *) echo "standby_setup.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$pgdata" ] || [ -z "$primary_host" ]; then
    echo "usage: standby_setup.sh --pgdata DIR --primary-host HOST [--primary-port PORT] [--slot NAME]" >&2
    exit 2
fi

if [ -f "$pgdata/PG_VERSION" ] && [ -f "$pgdata/standby.signal" ]; then
    echo "$pgdata already holds a standby: nothing to do"
    exit 0
fi
if [ -d "$pgdata" ] && [ -n "$(ls -A "$pgdata")" ]; then
    echo "standby_setup.sh: $pgdata is not empty and is not a standby; refusing to touch it" >&2
    exit 1
fi

mkdir -p "$pgdata"
chmod 0700 "$pgdata"
# -R writes primary_conninfo, primary_slot_name and standby.signal; -X stream copies the WAL written meanwhile.
"$PG_BIN/pg_basebackup" --pgdata="$pgdata" --host="$primary_host" --port="$primary_port" --username="$role" \
    --wal-method=stream --slot="$slot" --write-recovery-conf --checkpoint=fast --no-password

# The standby's name on the primary (pg_stat_replication.application_name, synchronous_standby_names): its slot's.
sed -i "s/^primary_conninfo = '/primary_conninfo = 'application_name=$slot /" "$pgdata/postgresql.auto.conf"
if [ -n "$archive_dir" ]; then
    # Should the standby fall further behind than the slot allows, it catches up from the archive, then streams.
    printf "restore_command = 'cp \"%s/%%f\" \"%%p\"'\n" "$archive_dir" >>"$pgdata/postgresql.auto.conf"
fi
echo "standby ready in $pgdata (slot $slot on $primary_host:$primary_port); start it"
