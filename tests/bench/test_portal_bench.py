"""The portal benchmark's helpers and its load generator, against a real HTTP server on loopback (the benchmark itself
runs with `make bench`, never in the suite)."""
from __future__ import annotations

import http.server
import threading
import time
import urllib.parse
from decimal import Decimal as D
from http.cookies import SimpleCookie

import pytest

from bench.portal_bench import (
    Connection,
    GuestLookups,
    RequestPool,
    closed_loop,
    guest_address,
    lookup_body,
    p95_verdict,
    paced,
    paced_rate,
    percentile,
    report_lines,
    request_bytes,
    share_verdict,
)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        _Handler.seen.append((self.command, self.path, dict(self.headers), body))
        if self.path == "/chunked/":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"hello ", b"world"):
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        status = 404 if self.path == "/missing/" else 200
        payload = b"x" * 3000 if self.path == "/big/" else b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server_port():
    _Handler.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_guest_addresses_are_distinct_private_addresses():
    addresses = [guest_address(n) for n in range(70_000)]
    assert addresses[:3] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert guest_address(255) == "10.0.1.0"
    assert len(set(addresses)) == 70_000
    assert all(address.startswith("10.") for address in addresses)


def test_lookup_body_is_the_form_the_page_posts():
    body = lookup_body(csrf_token="abc", account_number="1000000013", holder_name="张三")
    assert urllib.parse.parse_qs(body.decode()) == {
        "csrfmiddlewaretoken": ["abc"], "account_number": ["1000000013"], "holder_name": ["张三"],
    }


def test_request_bytes_is_one_keep_alive_request():
    assert request_bytes(method="GET", path="/portal/", headers={"Cookie": "sessionid=s"}) == (
        b"GET /portal/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid=s\r\n\r\n"
    )
    assert request_bytes(method="POST", path="/bill/lookup/", headers={}, body=b"a=1") == (
        b"POST /bill/lookup/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\na=1"
    )


def test_percentile_is_nearest_rank():
    values = [n / 1000 for n in range(1, 101)]
    assert percentile(values, 0.95) == 0.095
    assert percentile(values, 0.5) == 0.05
    assert percentile([], 0.95) == 0.0


def test_share_of_baseline_and_p95_verdicts():
    assert share_verdict(page_per_second=300.0, baseline_per_second=600.0) == (0.5, "PASS")
    assert share_verdict(page_per_second=290.0, baseline_per_second=600.0) == (0.48, "BELOW TARGET")
    assert share_verdict(page_per_second=10.0, baseline_per_second=0.0) == (0.0, "BELOW TARGET")
    assert p95_verdict(p95_ms=49.9, concurrency=32) == "PASS"
    assert p95_verdict(p95_ms=50.0, concurrency=32) == "ABOVE TARGET"
    assert p95_verdict(p95_ms=500.0, concurrency=16) == ""


def test_paced_rate_is_a_share_of_the_capacity_at_32_connections_else_the_highest():
    assert paced_rate({16: 500.0, 32: 600.0}, 0.8) == 480.0
    assert paced_rate({8: 100.0, 16: 250.0}, 0.8) == 200.0
    assert paced_rate({16: 0.5}, 0.8) == 1.0
    with pytest.raises(ValueError):
        paced_rate({}, 0.8)


def test_request_pool_goes_round_and_guests_each_come_from_a_new_address():
    pool = RequestPool([b"a", b"b"])
    assert len(pool) == 2
    assert [pool() for _ in range(5)] == [b"a", b"b", b"a", b"b", b"a"]
    guests = GuestLookups(csrf_token="t" * 32, accounts=[("1000000013", "张三"), ("1000000021", "李四")])
    assert len(guests) == 2
    first, second, third = guests(), guests(), guests()
    assert b"X-Forwarded-For: 10.0.0.1\r\n" in first and b"X-Forwarded-For: 10.0.0.3\r\n" in third
    assert f"Cookie: csrftoken={'t' * 32}\r\n".encode() in first
    assert first.endswith(lookup_body(csrf_token="t" * 32, account_number="1000000013", holder_name="张三"))
    assert second.endswith(lookup_body(csrf_token="t" * 32, account_number="1000000021", holder_name="李四"))


def test_connection_reads_whole_answers_on_one_keep_alive_connection(server_port):
    connection = Connection(server_port)
    try:
        assert connection.exchange(request_bytes(method="GET", path="/big/", headers={})) == 200
        assert connection.exchange(request_bytes(method="GET", path="/chunked/", headers={})) == 200
        assert connection.exchange(request_bytes(method="POST", path="/form/", headers={}, body=b"a=1")) == 200
        assert connection.exchange(request_bytes(method="GET", path="/missing/", headers={})) == 404
        assert connection.buffer == b""
    finally:
        connection.close()
    assert [(method, path, body) for method, path, _headers, body in _Handler.seen] == [
        ("GET", "/big/", b""), ("GET", "/chunked/", b""), ("POST", "/form/", b"a=1"), ("GET", "/missing/", b""),
    ]


def test_closed_loop_counts_answers_and_errors_on_every_port(server_port):
    ok = closed_loop(ports=[server_port, server_port], requests=RequestPool([request_bytes(
        method="GET", path="/ok/", headers={})]), concurrency=4, seconds=0.3).figures()
    assert ok["mode"] == "closed" and ok["concurrency"] == 4 and ok["errors"] == 0
    assert ok["requests"] == len(_Handler.seen) and ok["requests"] > 0
    assert 0 < ok["p50_ms"] <= ok["p95_ms"] <= ok["p99_ms"]
    missing = closed_loop(ports=[server_port], requests=RequestPool([request_bytes(
        method="GET", path="/missing/", headers={})]), concurrency=2, seconds=0.2).figures()
    assert missing["errors"] == missing["requests"] > 0


def test_paced_run_sends_on_schedule_and_no_faster(server_port):
    started = time.monotonic()
    result = paced(ports=[server_port], requests=RequestPool([request_bytes(method="GET", path="/ok/", headers={})]),
                   rate=100.0, seconds=0.5, connections=4).figures()
    assert time.monotonic() - started >= 0.5
    assert result["requests"] == 50 == len(_Handler.seen)
    assert result["mode"] == "paced" and result["paced_rate"] == 100.0 and result["errors"] == 0
    assert result["requests_per_second"] <= 100.0


def test_report_compares_closed_runs_with_the_baseline_and_judges_paced_p95():
    def figures(name, mode, concurrency, rate, p95, **extra):
        return {"name": name, "mode": mode, "concurrency": concurrency, "requests_per_second": rate,
                "p50_ms": 1.0, "p95_ms": p95, "errors": 0, **extra}

    result = {
        "runs": [
            figures("baseline", "closed", 32, 800.0, 60.0),
            figures("baseline_django_handler", "closed", 32, 400.0, 80.0),
            figures("dashboard", "closed", 32, 416.0, 90.0),
            figures("dashboard", "paced", 32, 336.0, 20.0, paced_rate=336.0),
        ],
        "lookups": {"verified": 10, "refused": 0}, "servers": 2, "signed_in": 64, "customers": 1_100_000,
        "database": "postgresql", "cache": "redis", "cpus": 2, "load_average_1min": 1.5,
    }
    lines = report_lines(result)
    # The reference (the minimal view under Django's own handler) is reported, never judged.
    assert "baseline_django_handler" in lines[1] and "target" not in lines[1] and "of baseline" not in lines[1]
    assert "52% of baseline -> PASS" in lines[2] and "p95 ABOVE TARGET (target < 50 ms)" in lines[2]
    assert lines[2].endswith("; 104% of the reference")
    assert "(paced at 336.0 req/s); p95 PASS (target < 50 ms)" in lines[3]
    assert lines[4].startswith("portal reference (baseline_django_handler): the baseline view served by Django's own")
    assert lines[5] == "portal guest lookups answered with the bill: 10, refused: 0"
    assert lines[6].startswith("portal: 2 daphne processes, 64 signed-in customers, 1,100,000 customers")


@pytest.mark.django_db
def test_customers_world_signs_in_customers_spread_over_the_billed_bound_accounts():
    import datetime

    from django.test import Client
    from django.utils import timezone

    from bench.portal_bench import customers_world
    from core.selectors.portal_bills import month_add
    from tests.portal.factories import AccountBindingFactory, billed_months, residential_policy

    residential_policy()
    last_period = month_add(timezone.localdate().replace(day=1), -1)
    billed = [AccountBindingFactory() for _ in range(4)]
    for binding in billed:
        billed_months(binding.account, [D("120")], last_period=last_period, issued_on=timezone.localdate())
    AccountBindingFactory()  # bound, never billed
    AccountBindingFactory(account=billed[0].account, unbound_at=timezone.now() - datetime.timedelta(days=1))
    world = customers_world(signed_in=2)
    assert world["accounts"] == [(billed[0].account.number, billed[0].account.name),
                                 (billed[2].account.number, billed[2].account.name)]
    assert len(world["csrf_token"]) == 32 and len(world["session_cookies"]) == 2
    for cookie, binding in zip(world["session_cookies"], (billed[0], billed[2])):
        client = Client(HTTP_HOST="127.0.0.1")
        client.cookies.load(cookie)
        response = client.get("/portal/")
        assert response.status_code == 200
        assert binding.account.number in response.content.decode()
        # The CSRF cookie a signed-in browser holds: the page keeps its secret (Django only renews its expiry).
        sent = SimpleCookie(cookie)["csrftoken"].value
        assert len(sent) == 32 and response.cookies["csrftoken"].value == sent
