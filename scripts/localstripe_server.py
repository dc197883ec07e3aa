#!/usr/bin/env python
"""localstripe, a stateful Stripe stand-in from PyPI, on 127.0.0.1:<port> with its state in memory only.

    python scripts/localstripe_server.py --port 8420

`make run` starts it when no STRIPE_SECRET_KEY is set, so card payments work on a fresh machine (scripts/
run_platform.py); the tests start one per run (tests/portal/localstripe_server.py). localstripe's own entry point
listens on every address and pickles its whole store to one fixed /tmp file after every write, which parallel
servers would race on and a later run would load stale: this one does neither.
"""
from __future__ import annotations

import argparse
import logging


def main() -> None:
    """Serve localstripe on 127.0.0.1:<port>, keeping its state in memory only."""
    from aiohttp import web
    from localstripe import resources, server

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # localstripe pickles its whole store to one fixed /tmp file after every write; parallel servers would race
    # on it and a later run would load a stale one. Memory is all a stand-in needs.
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None
    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.StreamHandler())
    web.run_app(server.app, host="127.0.0.1", port=args.port, access_log=logger, print=None)


if __name__ == "__main__":
    main()
