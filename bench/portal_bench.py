#!/usr/bin/env python
"""Portal benchmark: the account dashboard and the guest bill lookup under load beside a minimal Django view, on
PostgreSQL with the 1.1 M-customer data set.

    python bench/portal_bench.py                  1,100,000 customers, 6 months; closed loop at 16 and 32
                                                  connections, 10 s each; then paced at 80 % of capacity, 10 s
    python bench/portal_bench.py --smoke          10,000 customers, 2 months; 16 connections, 2 s; paced 2 s

Database: a fresh database on the server of DATABASE_URL when it is PostgreSQL, else a throwaway cluster
(bench/pg.py), filled by bench/dataset.py (customers, accounts, bills, payments, the ledger, portal users bound to
every fourth account, tickets, a month of guest lookups). Redis, Django and daphne come from bench/harness.py.
The production layout runs N ASGI processes; this bench runs --servers of them (default 2) and spreads the
connections over them, for the baseline (cms_bench's /bench/minimal/, a view returning two bytes) as for the
pages.

- dashboard: GET /portal/ with the session and CSRF cookies of one of --customers-signed-in customers (each a
  data-set user, signed in once before the run), request by request round the pool: every account's panel is built once,
  then served from the cache while its data does not change.
- bill_lookup: the real POST of /bill/lookup/ (CSRF cookie and token, account number and holder's name of one of
  the pool's accounts), each from a new guest address (daphne takes it from X-Forwarded-For), so the per-address
  limit holds for every request as in production; afterwards the attempts recorded during the run must all be
  answered with the bill, or the figures do not count.

Two measures, printed side by side, never asserted:
- closed loop: C connections each sending the next request when the last is answered: the capacity
  (requests/s, compared with half the baseline's) and the p95 at that saturation. By Little's law 32 connections
  at p95 < 50 ms need more than 640 requests/s, which a 2-core machine running the database, the servers and this
  load generator may not have: the p95 target is judged on the paced run too.
- paced (open loop): requests sent on a fixed schedule at --paced-share (80 %) of each page's own closed-loop
  capacity at 32 connections (or the highest measured), from enough connections that none waits for another;
  latency counts from the scheduled moment, so a server falling behind shows in the p95.
- reference: the baseline view on as many servers running Django's own ASGI handler (a thread started per
  request, the middleware in async mode) instead of config/asgi_handler.py's, closed loop only: what a minimal
  view cost before that handler, printed beside each page's share; no target is judged against it.
The load generator is raw keep-alive sockets (prepared request bytes, a minimal response reader) in threads of this
process: the same cost for the baseline and the pages.
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_P95_MS = 50.0
TARGET_P95_CONCURRENCY = 32
TARGET_SHARE_OF_BASELINE = 0.5
DEFAULT_CUSTOMERS = 1_100_000
DEFAULT_MONTHS = 6
SMOKE_CUSTOMERS = 10_000
SMOKE_MONTHS = 2
SIGNED_IN = 64
PACED_SHARE = 0.8
PACED_CONNECTIONS = 32
# The baseline view under Django's own ASGI handler (bench.cms_bench.django_handler_application), for reference: what
# a minimal view cost before config/asgi_handler.py, in the same run. No target is judged against it.
REFERENCE = "baseline_django_handler"
LOOKUP_PATH = "/bill/lookup/"
DASHBOARD_PATH = "/portal/"
MINIMAL_PATH = "/bench/minimal/"


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


# --- pure helpers -----------------------------------------------------------------------------------------------


def guest_address(index: int) -> str:
    """The index-th guest's address, 10.0.0.1 upwards: distinct for the first 16 million requests."""
    number = index % (2 ** 24 - 2) + 1
    return f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"


def lookup_body(*, csrf_token: str, account_number: str, holder_name: str) -> bytes:
    return urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf_token, "account_number": account_number, "holder_name": holder_name}
    ).encode()


def request_bytes(*, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """One HTTP/1.1 keep-alive request as sent on the wire."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def percentile(values: list[float], share: float) -> float:
    """The `share` percentile (0..1) of `values` by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def share_verdict(*, page_per_second: float, baseline_per_second: float) -> tuple[float, str]:
    """Share of the baseline's rate (2 places) and PASS / BELOW TARGET against TARGET_SHARE_OF_BASELINE."""
    share = round(page_per_second / baseline_per_second, 2) if baseline_per_second else 0.0
    return share, "PASS" if share >= TARGET_SHARE_OF_BASELINE else "BELOW TARGET"


def p95_verdict(*, p95_ms: float, concurrency: int) -> str:
    """PASS / ABOVE TARGET for the p95 target at TARGET_P95_CONCURRENCY connections; '' at other levels."""
    if concurrency != TARGET_P95_CONCURRENCY:
        return ""
    return "PASS" if p95_ms < TARGET_P95_MS else "ABOVE TARGET"


def paced_rate(capacities: dict[int, float], share: float) -> float:
    """The paced run's rate: `share` of the closed-loop capacity at TARGET_P95_CONCURRENCY connections, else at the
    highest concurrency measured (requests/s, 1 place, at least 1)."""
    if not capacities:
        raise ValueError("no closed-loop capacity measured")
    capacity = capacities.get(TARGET_P95_CONCURRENCY, capacities[max(capacities)])
    return max(1.0, round(capacity * share, 1))


class RequestPool:
    """Prepared requests handed out round the pool, thread-safe: each call gives the next one."""

    def __init__(self, requests: list[bytes]) -> None:
        if not requests:
            raise ValueError("no requests")
        self._requests = requests
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._requests)

    def __call__(self) -> bytes:
        with self._lock:
            index = next(self._counter)
        return self._requests[index % len(self._requests)]


class GuestLookups:
    """The guest lookup's requests: round the pool of accounts, each from a new guest address."""

    def __init__(self, *, csrf_token: str, accounts: list[tuple[str, str]]) -> None:
        if not accounts:
            raise ValueError("no accounts")
        self._csrf_token = csrf_token
        self._bodies = [lookup_body(csrf_token=csrf_token, account_number=number, holder_name=name)
                        for number, name in accounts]
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._bodies)

    def __call__(self) -> bytes:
        with self._lock:
            index = next(self._counter)
        headers = {"Cookie": f"csrftoken={self._csrf_token}", "Content-Type": "application/x-www-form-urlencoded",
                   "X-Forwarded-For": guest_address(index)}
        return request_bytes(method="POST", path=LOOKUP_PATH, headers=headers,
                             body=self._bodies[index % len(self._bodies)])


# --- the load generator -----------------------------------------------------------------------------------------


class Connection:
    """One keep-alive connection that sends prepared requests and reads each answer (Content-Length or chunked)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buffer += chunk

    def _take(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def exchange(self, request: bytes) -> int:
        """Send one request, read its whole answer; the status code."""
        if self.sock is None:
            self.sock = self._open()
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            self._take(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            while True:
                size = int(self._line().split(b";")[0], 16)
                self._take(size + 2)
                if size == 0:
                    break
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status


@dataclass
class LoadResult:
    mode: str
    concurrency: int
    seconds: float
    requests: int
    errors: int
    latencies: list[float]
    rate: float = 0.0

    def figures(self) -> dict:
        return {
            "mode": self.mode, "concurrency": self.concurrency, "requests": self.requests, "errors": self.errors,
            "requests_per_second": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(statistics.median(self.latencies) * 1000, 1) if self.latencies else 0.0,
            "p95_ms": round(percentile(self.latencies, 0.95) * 1000, 1),
            "p99_ms": round(percentile(self.latencies, 0.99) * 1000, 1),
            **({"paced_rate": self.rate} if self.mode == "paced" else {}),
        }


def _run_threads(count: int, worker: Callable[[int], None]) -> float:
    threads = [threading.Thread(target=worker, args=(index,), daemon=True) for index in range(count)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - began


def _answered(connection: Connection, request: bytes, *, errors: list[int], index: int) -> bool:
    """One exchange; a status other than 200 or a broken connection (closed here, reopened on its next use) counts
    in errors[index]. True when an answer came back, whatever its status."""
    try:
        if connection.exchange(request) != 200:
            errors[index] += 1
        return True
    except (OSError, ValueError, IndexError):
        errors[index] += 1
        connection.close()
        return False


def closed_loop(*, ports: list[int], requests: Callable[[], bytes], concurrency: int, seconds: float) -> LoadResult:
    """`concurrency` connections, spread over the servers' ports, each sending the next request as soon as the
    last one is answered, until `seconds` pass."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop_at = time.monotonic() + seconds

    def worker(index: int) -> None:
        connection = Connection(ports[index % len(ports)])
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            if _answered(connection, requests(), errors=errors, index=index):
                latencies[index].append(time.perf_counter() - started)
        connection.close()

    elapsed = _run_threads(concurrency, worker)
    flat = [value for chunk in latencies for value in chunk]
    return LoadResult(mode="closed", concurrency=concurrency, seconds=elapsed, requests=len(flat),
                      errors=sum(errors), latencies=flat)


def paced(*, ports: list[int], requests: Callable[[], bytes], rate: float, seconds: float,
          connections: int = PACED_CONNECTIONS) -> LoadResult:
    """Requests on a fixed schedule, `rate` a second for `seconds`, taken by whichever of `connections` is free;
    each latency counts from its scheduled moment (a late start is the server's delay too)."""
    total = int(rate * seconds)
    slots = itertools.count()
    lock = threading.Lock()
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    start = time.perf_counter() + 0.2

    def worker(index: int) -> None:
        connection = Connection(ports[index % len(ports)])
        while True:
            with lock:
                slot = next(slots)
            if slot >= total:
                break
            scheduled = start + slot / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            if _answered(connection, requests(), errors=errors, index=index):
                latencies[index].append(time.perf_counter() - scheduled)
        connection.close()

    _run_threads(connections, worker)
    flat = [value for chunk in latencies for value in chunk]
    elapsed = max(time.perf_counter() - start, seconds)
    return LoadResult(mode="paced", concurrency=connections, seconds=elapsed, requests=len(flat),
                      errors=sum(errors), latencies=flat, rate=rate)


# --- setup ------------------------------------------------------------------------------------------------------


def data_build(*, customers: int, months: int) -> dict:
    """bench/dataset.py's data set with what the portal reads (payments, ledger, bound users, guest lookups)."""
    from django.utils import timezone

    from bench.dataset import portal_data_load

    started = time.monotonic()
    steps = portal_data_load(customers=customers, months=months, today=timezone.localdate())
    load = steps["data"] | steps["portal"]
    seconds = time.monotonic() - started
    print(f"   data set built in {seconds:,.1f} s")
    return {"seconds": round(seconds, 1), "steps": load}


def customers_world(*, signed_in: int) -> dict:
    """Signed-in sessions of `signed_in` data-set users whose bound account is a billed residential one, spread
    over the data set, and their accounts (number, holder's name) for the guest lookup."""
    from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
    from django.test import Client
    from django.utils.crypto import get_random_string

    from core.models import Account, AccountBinding, Bill

    bound = (AccountBinding.objects.filter(unbound_at__isnull=True, account__category="residential",
                                           account__billing_mode=Account.BillingMode.POSTPAID,
                                           account__status=Account.Status.ACTIVE,
                                           account__in=Bill.objects.values("account_id"))
             .select_related("user", "account"))
    ids = list(bound.order_by("pk").values_list("pk", flat=True))
    if not ids:
        raise RuntimeError("the data set has no bound, billed residential account")
    chosen = ids[::max(1, len(ids) // signed_in)][:signed_in]
    picked = list(bound.filter(pk__in=chosen).order_by("pk"))
    cookies = []
    for binding in picked:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(binding.user)
        cookie = client.cookies["sessionid"]
        # The cookies a browser holds after signing in through the login form: the session's and the CSRF one that
        # form set (without it every page with a form would mint a new CSRF secret and set the cookie again).
        csrf_secret = get_random_string(CSRF_SECRET_LENGTH, allowed_chars=CSRF_ALLOWED_CHARS)
        cookies.append(f"csrftoken={csrf_secret}; {cookie.key}={cookie.value}")
    # An unmasked secret is a valid form token (Django accepts both forms), so one value serves cookie and form.
    csrf_token = get_random_string(CSRF_SECRET_LENGTH, allowed_chars=CSRF_ALLOWED_CHARS)
    return {
        "session_cookies": cookies,
        "accounts": [(binding.account.number, binding.account.name) for binding in picked],
        "csrf_token": csrf_token,
    }


def lookups_answered(*, since) -> dict[str, int]:
    """Guest lookups recorded since the run began, by outcome (a refused one would make the figures meaningless)."""
    from core.models import BindingAttempt

    guest = BindingAttempt.objects.filter(user__isnull=True, attempted_at__gte=since)
    return {"verified": guest.filter(succeeded=True).count(), "refused": guest.filter(succeeded=False).count()}


def pages_check(*, ports: list[int], pages: dict[str, RequestPool | GuestLookups]) -> None:
    """Every request of every page answers 200 once before anything is measured, on each server in turn: a redirect
    to sign-in would measure the wrong page, and each signed-in account's panel is built (and kept) here, so the
    runs measure the steady state of customers coming back to an unchanged account."""
    connections = [Connection(port) for port in ports]
    try:
        for name, requests in pages.items():
            for index in range(len(requests)):
                status = connections[index % len(connections)].exchange(requests())
                if status != 200:
                    raise RuntimeError(f"{name} answered {status} before the run")
    finally:
        for connection in connections:
            connection.close()


def run(args: argparse.Namespace, folder: str) -> dict:
    from django.utils import timezone

    from bench.harness import bench_services

    with bench_services(folder) as services:
        from django.db import connection

        data = data_build(customers=args.customers, months=args.months)
        world = customers_world(signed_in=args.signed_in)
        ports = [services.daphne_start(proxy_headers=True) for _ in range(args.servers)]
        # The reference: the baseline view on as many servers running Django's own ASGI handler.
        page_ports = {REFERENCE: [services.daphne_start(proxy_headers=True, application="django_handler_application")
                                  for _ in range(args.servers)]}
        minimal = request_bytes(method="GET", path=MINIMAL_PATH, headers={})
        pages: dict[str, RequestPool | GuestLookups] = {
            "baseline": RequestPool([minimal]),
            REFERENCE: RequestPool([minimal]),
            "dashboard": RequestPool([request_bytes(method="GET", path=DASHBOARD_PATH, headers={"Cookie": cookie})
                                      for cookie in world["session_cookies"]]),
            "bill_lookup": GuestLookups(csrf_token=world["csrf_token"], accounts=world["accounts"]),
        }
        for name, requests in pages.items():
            pages_check(ports=page_ports.get(name, ports), pages={name: requests})
        result: dict = {"database": connection.vendor, "cache": services.cache, "customers": args.customers,
                        "months": args.months, "servers": args.servers, "signed_in": len(world["session_cookies"]),
                        "data_set": data, "cpus": os.cpu_count()}
        since = timezone.now()
        runs = []
        capacities: dict[str, dict[int, float]] = {name: {} for name in pages}
        for concurrency in args.concurrency:
            for name, requests in pages.items():
                servers = page_ports.get(name, ports)
                # Warm: the connections and each process's templates and frame.
                closed_loop(ports=servers, requests=requests, concurrency=4, seconds=args.warm_seconds)
                figures = closed_loop(ports=servers, requests=requests, concurrency=concurrency,
                                      seconds=args.seconds).figures()
                capacities[name][concurrency] = figures["requests_per_second"]
                runs.append({"name": name, **figures})
                print(f"   closed {name:11} c={concurrency:<3} {figures['requests_per_second']:8.1f} req/s  "
                      f"p95 {figures['p95_ms']:7.1f} ms", flush=True)
        for name, requests in pages.items():
            if name == REFERENCE:
                continue
            rate = paced_rate(capacities[name], args.paced_share)
            figures = paced(ports=ports, requests=requests, rate=rate, seconds=args.seconds).figures()
            runs.append({"name": name, **figures})
            print(f"   paced  {name:11} {rate:8.1f} req/s asked, {figures['requests_per_second']:8.1f} done  "
                  f"p95 {figures['p95_ms']:7.1f} ms", flush=True)
        result["runs"] = runs
        result["lookups"] = lookups_answered(since=since)
        result["load_average_1min"] = round(os.getloadavg()[0], 2)
    return result


def report_lines(result: dict) -> list[str]:
    """The printed table: each run against the baseline's closed loop at the same concurrency, and the p95 target."""
    baselines = {r["concurrency"]: r for r in result["runs"] if r["name"] == "baseline" and r["mode"] == "closed"}
    references = {r["concurrency"]: r for r in result["runs"] if r["name"] == REFERENCE}
    lines = []
    for run_ in result["runs"]:
        line = (f"portal {run_['mode']:6} {run_['name']:11} c={run_['concurrency']:<3} "
                f"{run_['requests_per_second']:8.1f} req/s  p50 {run_['p50_ms']:6.1f} ms  p95 {run_['p95_ms']:7.1f} ms"
                f"  errors {run_['errors']}")
        if run_["mode"] == "paced":
            line += f"  (paced at {run_['paced_rate']:.1f} req/s)"
            p95 = "PASS" if run_["p95_ms"] < TARGET_P95_MS else "ABOVE TARGET"
            if run_["name"] != "baseline":
                run_["p95_verdict"] = p95
                line += f"; p95 {p95} (target < {TARGET_P95_MS:.0f} ms)"
        elif run_["name"] not in ("baseline", REFERENCE):
            base = baselines[run_["concurrency"]]
            share, outcome = share_verdict(page_per_second=run_["requests_per_second"],
                                           baseline_per_second=base["requests_per_second"])
            run_["share_of_baseline"] = share
            line += f"  {share:.0%} of baseline -> {outcome} (target >= {TARGET_SHARE_OF_BASELINE:.0%})"
            p95 = p95_verdict(p95_ms=run_["p95_ms"], concurrency=run_["concurrency"])
            if p95:
                run_["p95_verdict"] = p95
                line += f"; p95 {p95} (target < {TARGET_P95_MS:.0f} ms)"
            reference = references.get(run_["concurrency"])
            if reference and reference["requests_per_second"]:
                run_["share_of_reference"] = round(run_["requests_per_second"] / reference["requests_per_second"], 2)
                line += f"; {run_['share_of_reference']:.0%} of the reference"
        lines.append(line)
    lines.append(f"portal reference ({REFERENCE}): the baseline view served by Django's own ASGI handler instead of "
                 "config/asgi_handler.py's, on as many servers")
    lookups = result["lookups"]
    lines.append(f"portal guest lookups answered with the bill: {lookups['verified']:,}, refused: {lookups['refused']:,}")
    lines.append(f"portal: {result['servers']} daphne processes, {result['signed_in']} signed-in customers, "
                 f"{result['customers']:,} customers on {result['database']}, cache {result['cache']}, "
                 f"{result['cpus']} CPUs, load average {result['load_average_1min']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    from bench.harness import concurrency_list

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=None, help=f"default {DEFAULT_CUSTOMERS:,}")
    parser.add_argument("--months", type=int, default=None, help=f"billing months (default {DEFAULT_MONTHS})")
    parser.add_argument("--concurrency", type=concurrency_list, default=None, help="closed-loop connections (16,32)")
    parser.add_argument("--seconds", type=float, default=None, help="each run (default 10)")
    parser.add_argument("--servers", type=int, default=2, help="daphne processes (default 2)")
    parser.add_argument("--signed-in", type=int, default=SIGNED_IN, help=f"customers signed in (default {SIGNED_IN})")
    parser.add_argument("--paced-share", type=float, default=PACED_SHARE, help="paced rate, share of capacity")
    parser.add_argument("--smoke", action="store_true",
                        help=f"{SMOKE_CUSTOMERS:,} customers, {SMOKE_MONTHS} months, 16 connections, 2 s runs")
    parser.add_argument("--results-dir", default=str(ROOT / "bench-results"))
    args = parser.parse_args(argv)
    args.customers = args.customers or (SMOKE_CUSTOMERS if args.smoke else DEFAULT_CUSTOMERS)
    args.months = args.months or (SMOKE_MONTHS if args.smoke else DEFAULT_MONTHS)
    args.concurrency = args.concurrency or ([16] if args.smoke else [16, 32])
    args.seconds = args.seconds or (2.0 if args.smoke else 10.0)
    args.warm_seconds = 0.5 if args.smoke else 2.0
    if args.customers <= 0 or not 1 <= args.months <= 24 or args.servers <= 0 or not 0 < args.paced_share <= 1:
        parser.error("--customers and --servers must be positive, --months 1 to 24, --paced-share in (0, 1]")

    from bench.harness import results_write, server_release
    from bench.pg import server_for_bench

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    server = server_for_bench()
    try:
        print(f"PostgreSQL: {server.description}")
        # bench_services makes its scratch database on this server, and drops it at the end.
        os.environ["DATABASE_URL"] = server.admin_url
        with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder:
            result = run(args, folder)
        result["server"] = server.description
    finally:
        server_release(server)
    for line in report_lines(result):
        print(line)
    results_write(args.results_dir, "portal", smoke=args.smoke, figures=result)
    return 0 if result["lookups"]["refused"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
