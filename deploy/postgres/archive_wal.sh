#!/bin/bash
# archive_command for the 95598 primary: copy one completed WAL segment into the archive folder atomically.
#   archive_wal.sh <%p: path of the segment> <%f: its file name> <archive folder>
# The copy is written under a temporary name, flushed to disk, then renamed, so the archive never holds a partial
# segment under its real name. A segment already archived with the same content (PostgreSQL retries after a crash
# between the copy and its bookkeeping) succeeds; one with different content fails: never overwrite history.
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: archive_wal.sh <%p> <%f> <archive folder>" >&2
    exit 2
fi
source_path=$1
name=$2
archive=$3
target="$archive/$name"

if [ -e "$target" ]; then
    if cmp -s "$source_path" "$target"; then
        exit 0
    fi
    echo "archive_wal.sh: $target already exists with different content; refusing to overwrite" >&2
    exit 1
fi

temporary="$archive/.$name.partial.$$"
trap 'rm -f "$temporary"' EXIT
cp "$source_path" "$temporary"
sync "$temporary"
mv "$temporary" "$target"
trap - EXIT
# The rename itself is durable only once the folder is flushed.
sync "$archive"
