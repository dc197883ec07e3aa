#!/bin/bash
# Configure a PostgreSQL 15 cluster as the 95598 primary: WAL archiving, streaming replication, the standby's
# replication role, pg_hba line and physical replication slot. Idempotent: run it again at any time; it changes
# only what differs and says what it did.
#
#   primary_setup.sh --config-dir DIR --archive-dir DIR [--slot NAME] [--standby-cidr CIDR] [--role NAME]
#                    [--hba-method scram-sha-256|trust]
#
#   --config-dir    the folder holding postgresql.conf and pg_hba.conf (Debian: /etc/postgresql/15/main; a cluster
#                   made by initdb: its data folder)
#   --archive-dir   where archive_wal.sh copies completed WAL segments (a different disk or a mounted backup volume;
#                   the postgres user must be able to write it)
#   --slot          the standby's physical replication slot (default standby1)
#   --standby-cidr  address(es) the standby connects from (default 127.0.0.1/32)
#   --role          the replication login (default replicator); its password is REPLICATION_PASSWORD when set
#   --hba-method    pg_hba authentication for that role (default scram-sha-256)
#
# Run it as the postgres user. The role and the slot need the server running (libpq's PGHOST/PGPORT/PGUSER say
# where); when it is not, the files are written and the rest is done by the next run. Changing wal_level or
# archive_mode needs a restart: the script prints RESTART REQUIRED when the running server is waiting for one.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
here=$(cd "$(dirname "$0")" && pwd)
config_dir=""
archive_dir=""
slot="standby1"
standby_cidr="127.0.0.1/32"
role="replicator"
hba_method="scram-sha-256"

while [ "$#" -gt 0 ]; do
    case "$1" in
        --config-dir) config_dir=$2; shift 2 ;;
        --archive-dir) archive_dir=$2; shift 2 ;;
        --slot) slot=$2; shift 2 ;;
        --standby-cidr) standby_cidr=$2; shift 2 ;;
        --role) role=$2; shift 2 ;;
        --hba-method) hba_method=$2; shift 2 ;;
        *) echo "primary_setup.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$config_dir" ] || [ -z "$archive_dir" ]; then
    echo "usage: primary_setup.sh --config-dir DIR --archive-dir DIR [--slot NAME] [--standby-cidr CIDR]" >&2
    exit 2
fi
if ! [[ "$slot" =~ ^[a-z0-9_]+$ ]] || ! [[ "$role" =~ ^[a-z_][a-z0-9_]*$ ]]; then
    echo "primary_setup.sh: the slot and role names are lower-case letters, digits and _" >&2
    exit 2
fi
if [ ! -f "$config_dir/postgresql.conf" ] || [ ! -f "$config_dir/pg_hba.conf" ]; then
    echo "primary_setup.sh: no postgresql.conf and pg_hba.conf in $config_dir" >&2
    exit 2
fi

mkdir -p "$archive_dir" "$config_dir/conf.d"
archive_dir=$(cd "$archive_dir" && pwd)

# The archive script beside the configuration (include_dir reads only *.conf, so conf.d may hold it): a new release
# of the application never changes the command the server runs.
installed_script="$config_dir/conf.d/95598-archive-wal.sh"
if ! cmp -s "$here/archive_wal.sh" "$installed_script"; then
    install -m 0755 "$here/archive_wal.sh" "$installed_script"
    echo "installed $installed_script"
fi

archive_command="$installed_script \"%p\" \"%f\" \"$archive_dir\""
wanted=$(sed "s|@ARCHIVE_COMMAND@|${archive_command//|/\\|}|" "$here/primary.conf")
snippet="$config_dir/conf.d/95598-primary.conf"
if [ ! -f "$snippet" ] || [ "$(cat "$snippet")" != "$wanted" ]; then
    printf '%s\n' "$wanted" >"$snippet"
    echo "wrote $snippet"
fi

if ! grep -Eq "^[[:space:]]*include_dir[[:space:]]*=[[:space:]]*'conf\.d'" "$config_dir/postgresql.conf"; then
    printf "\n# The 95598 settings (deploy/postgres/primary_setup.sh)\ninclude_dir = 'conf.d'\n" \
        >>"$config_dir/postgresql.conf"
    echo "added include_dir 'conf.d' to $config_dir/postgresql.conf"
fi

hba_line="host replication $role $standby_cidr $hba_method"
if ! grep -Fxq "$hba_line" "$config_dir/pg_hba.conf"; then
    printf '%s\n' "$hba_line" >>"$config_dir/pg_hba.conf"
    echo "added to pg_hba.conf: $hba_line"
fi

if ! "$PG_BIN/psql" -X -q -d postgres -c "SELECT 1" >/dev/null 2>&1; then
    echo "the server is not running: start it, then run this script again for the role and the slot"
    exit 0
fi

"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -v role="$role" -v slot="$slot" \
    -v password="${REPLICATION_PASSWORD:-}" <<'SQL'
SELECT pg_reload_conf() \gset ignored_
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') AS role_missing \gset
\if :role_missing
    CREATE ROLE :"role" WITH REPLICATION LOGIN;
    \echo created role :role
\endif
SELECT :'password' <> '' AS password_given \gset
\if :password_given
    ALTER ROLE :"role" WITH PASSWORD :'password';
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot') AS slot_missing \gset
\if :slot_missing
    SELECT pg_create_physical_replication_slot(:'slot', true) \gset ignored_
    \echo created replication slot :slot
\endif
SQL

pending=$("$PG_BIN/psql" -X -A -t -d postgres \
    -c "SELECT string_agg(name, ', ' ORDER BY name) FROM pg_settings WHERE pending_restart")
if [ -n "$pending" ]; then
    echo "RESTART REQUIRED for: $pending"
fi
