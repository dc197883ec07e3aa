#!/usr/bin/env python
"""Website benchmark: the home page and an outage notice page under load beside a minimal Django view.

    python bench/cms_bench.py                     concurrency 16 and 32, 10 s each
    python bench/cms_bench.py --smoke             concurrency 16, 2 s

One real server process (daphne, the project's ASGI server) serves the project's URLs plus /bench/minimal/ (a
view returning a few bytes, the baseline). Database: a scratch database on the server of DATABASE_URL when it is
PostgreSQL (created and dropped), else a temporary SQLite file; cache: Redis (REDIS_URL, or a redis-server started
on a free 127.0.0.1 port). The site is a home page with an English translation, an outage notice index and one
published planned notice; each URL is requested once before timing (warm page cache). Load comes from threads on
keep-alive connections in this process. requests/s and p95 are printed and compared with the target (CMS pages
>= half of the baseline's requests/s), never asserted.
"""
from __future__ import annotations

import argparse
import datetime
import http.client
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_SHARE_OF_BASELINE = 0.5
MINIMAL_PATH = "/bench/minimal/"


# --- the server process's URLs and ASGI application -------------------------------------------------------------


def minimal_view(request):
    from django.http import HttpResponse

    return HttpResponse(b"ok", content_type="text/plain")


def _urlpatterns():
    from django.urls import path

    from config.urls import urlpatterns

    return [path(MINIMAL_PATH.strip("/") + "/", minimal_view), *urlpatterns]


def __getattr__(name: str):
    """`urlpatterns` and `application` for the server process (built on first use, after Django is set up)."""
    if name == "urlpatterns":
        return _urlpatterns()
    if name in ("application", "django_handler_application"):
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
        import django
        from django.conf import settings

        django.setup()
        settings.ROOT_URLCONF = "bench.cms_bench"
        if name == "application":
            # The production application (config/asgi.py: HTTP through Django as it is served, websockets through
            # Channels), with this module's URLs.
            from config.asgi import application

            return application
        # For reference only: the same project served through Django's own ASGI handler (a thread started per
        # request, the middleware chain in async mode) instead of config/asgi_handler.py's.
        import gc

        from django.core.asgi import get_asgi_application

        application = get_asgi_application()
        gc.collect()
        gc.freeze()
        return application
    raise AttributeError(name)


# --- pure helpers -----------------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """The `share` percentile (0..1) of `values` by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def verdict(*, page_per_second: float, baseline_per_second: float) -> tuple[float, str]:
    """Share of the baseline's rate (2 places) and PASS / BELOW TARGET against TARGET_SHARE_OF_BASELINE."""
    share = round(page_per_second / baseline_per_second, 2) if baseline_per_second else 0.0
    return share, "PASS" if share >= TARGET_SHARE_OF_BASELINE else "BELOW TARGET"


def server_command(*, python: str, port: int, proxy_headers: bool = False,
                   application: str = "application") -> list[str]:
    """The daphne command; with proxy_headers, X-Forwarded-For sets the client address (many simulated guests);
    `application` is this module's application (the production one) or django_handler_application."""
    options = ["--proxy-headers"] if proxy_headers else []
    return [python, "-m", "daphne", *options, "-b", "127.0.0.1", "-p", str(port), f"bench.cms_bench:{application}"]


# --- load -------------------------------------------------------------------------------------------------------


def load(
    *,
    port: int,
    path: str,
    concurrency: int,
    seconds: float,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | Callable[[], dict[str, str]] | None = None,
) -> dict:
    """`concurrency` threads, each on one keep-alive connection, send `method path` until `seconds` pass; `headers`
    may be a callable giving each request its own (e.g. a client address per simulated guest)."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop_at = time.monotonic() + seconds

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                request_headers = headers() if callable(headers) else (headers or {})
                connection.request(method, path, body=body, headers=request_headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors[index] += 1
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            latencies[index].append(time.perf_counter() - started)
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    flat = [value for chunk in latencies for value in chunk]
    return {
        "path": path,
        "concurrency": concurrency,
        "requests": len(flat),
        "errors": sum(errors),
        "requests_per_second": round(len(flat) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(statistics.median(flat) * 1000, 1) if flat else 0.0,
        "p95_ms": round(percentile(flat, 0.95) * 1000, 1),
    }


# --- setup ------------------------------------------------------------------------------------------------------


def site_build() -> dict[str, str]:
    """Home (+ English), outage notice index and one published planned notice; returns the paths to measure."""
    from django.utils import timezone
    from wagtail.models import Locale

    from cms.models import OutageNoticeIndexPage, OutageNoticePage, OutageNoticeTransformerArea
    from cms.services import cms_site_ensure
    from tests.factories import TransformerAreaFactory

    home = cms_site_ensure()
    english = home.copy_for_translation(Locale.objects.get(language_code="en"))
    english.title = "State Grid 95598 Power Service"
    english.save_revision().publish()
    index = home.add_child(instance=OutageNoticeIndexPage(title="停电公告", slug="outages", show_in_menus=True))
    index.save_revision().publish()
    area = TransformerAreaFactory()
    now = timezone.now()
    notice = OutageNoticePage(
        title="解放路10kV线路计划检修停电", slug="planned-1", kind="planned", branch=area.feeder.substation.branch,
        starts_at=now + datetime.timedelta(days=8), ends_at=now + datetime.timedelta(days=8, hours=6),
        reason="线路计划检修", streets="解放路、舞阳大道",
    )
    notice.transformer_areas = [OutageNoticeTransformerArea(transformer_area=area)]
    index.add_child(instance=notice)
    notice.save_revision().publish()
    return {"home": "/", "home_en": "/en/", "notice": notice.get_url()}


def wait_for(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", MINIMAL_PATH)
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def run(args: argparse.Namespace, folder: str) -> dict:
    from bench.harness import bench_services

    with bench_services(folder) as services:
        from django.core.cache import cache
        from django.db import connection

        paths = site_build()
        cache.clear()
        result: dict = {"database": connection.vendor, "cache": services.cache, "paths": paths}
        port = services.daphne_start()
        runs = []
        for concurrency in args.concurrency:
            for name, path in [("baseline", MINIMAL_PATH), *paths.items()]:
                load(port=port, path=path, concurrency=2, seconds=0.3)  # warm: fills the page cache
                figures = load(port=port, path=path, concurrency=concurrency, seconds=args.seconds)
                runs.append({"name": name, **figures})
        result["runs"] = runs
    return result


def main(argv: list[str] | None = None) -> int:
    from bench.harness import concurrency_list

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=concurrency_list, default=[16, 32])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--smoke", action="store_true", help="concurrency 16 for 2 s")
    args = parser.parse_args(argv)
    if args.smoke:
        args.concurrency, args.seconds = [16], 2.0
    with tempfile.TemporaryDirectory(prefix="cms-bench-") as folder:
        result = run(args, folder)
    baselines = {run["concurrency"]: run for run in result["runs"] if run["name"] == "baseline"}
    for run_ in result["runs"]:
        base = baselines[run_["concurrency"]]
        line = (f"cms {run_['name']:9} {run_['path']:28} c={run_['concurrency']:<3} "
                f"{run_['requests_per_second']:8.1f} req/s  p95 {run_['p95_ms']:7.1f} ms  errors {run_['errors']}")
        if run_["name"] != "baseline":
            share, outcome = verdict(page_per_second=run_["requests_per_second"],
                                     baseline_per_second=base["requests_per_second"])
            run_["share_of_baseline"] = share
            line += f"  {share:.0%} of baseline -> {outcome} (target >= {TARGET_SHARE_OF_BASELINE:.0%})"
        print(line)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
