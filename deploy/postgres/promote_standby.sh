#!/bin/bash
# Promote the 95598 standby to primary after the primary is lost (see README.md "Fail over"). Refuses a server
# that is not in recovery; waits until it accepts writes.
#
#   promote_standby.sh --pgdata DIR
#
# Run it as the postgres user on the standby's machine, with PGHOST/PGPORT naming the standby. Afterwards: point
# DATABASE_URL at it, run primary_setup.sh on it (archiving into the archive, a slot for the next standby), and
# rebuild the old primary as a standby (pg_rewind, or standby_setup.sh into an emptied folder).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
pgdata=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        --pgdata) pgdata=$2; shift 2 ;;
        *) echo "promote_standby.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$pgdata" ]; then
    echo "usage: promote_standby.sh --pgdata DIR" >&2
    exit 2
fi

in_recovery=$("$PG_BIN/psql" -X -A -t -d postgres -c "SELECT pg_is_in_recovery()")
if [ "$in_recovery" != "t" ]; then
    echo "promote_standby.sh: this server is not a standby (not in recovery); nothing promoted" >&2
    exit 1
fi
"$PG_BIN/pg_ctl" --pgdata="$pgdata" promote --wait --timeout=60
if [ "$("$PG_BIN/psql" -X -A -t -d postgres -c "SELECT pg_is_in_recovery()")" != "f" ]; then
    echo "promote_standby.sh: the server is still in recovery after the promotion" >&2
    exit 1
fi
echo "promoted: $pgdata accepts writes"
