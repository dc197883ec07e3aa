#!/usr/bin/env bash
# Install the named Debian packages when they are missing; quiet on success, the apt log on failure.
# Usage: scripts/apt_ensure.sh PACKAGE...
set -euo pipefail

missing=()
for package in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$package")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo -n)
    else
        echo "apt_ensure: missing Debian packages ${missing[*]} and not root (no sudo): install them first." >&2
        exit 1
    fi
fi

echo "Installing Debian packages: ${missing[*]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
# The package lists of a fresh machine are empty or stale: refresh them once, only when something is missing.
if ! "${sudo[@]}" apt-get update -qq >"$log" 2>&1 \
    || ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    cat "$log" >&2
    echo "apt_ensure: could not install ${missing[*]}" >&2
    exit 1
fi
