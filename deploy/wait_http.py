"""Wait until a URL answers 200, for a process manager's "started" (95598-asgi@.service's ExecStartPost).

    python deploy/wait_http.py http://127.0.0.1:8001/healthz/ --timeout 60

Exits 0 as soon as the URL answers 200, 1 when it has not within the timeout. Standard library only."""
from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request


def url_answers_ok(url: str, *, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait at most (default 60)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between tries (default 0.5)")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    while True:
        if url_answers_ok(args.url):
            return 0
        if time.monotonic() >= deadline:
            print(f"{args.url} did not answer 200 within {args.timeout:g} s", file=sys.stderr)
            return 1
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
