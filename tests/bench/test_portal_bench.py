"""The portal benchmark's pure helpers (the benchmark itself runs with `make bench`, never in the suite)."""
from __future__ import annotations

import urllib.parse

from bench.portal_bench import GuestHeaders, guest_address, lookup_body, p95_verdict


def test_guest_addresses_are_distinct_private_addresses():
    addresses = [guest_address(n) for n in range(70_000)]
    assert addresses[:3] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert guest_address(255) == "10.0.1.0"
    assert len(set(addresses)) == 70_000
    assert all(address.startswith("10.") for address in addresses)


def test_each_guest_request_gets_the_csrf_cookie_and_a_new_address():
    headers = GuestHeaders(csrf_token="t" * 32)
    first, second = headers(), headers()
    assert first == {
        "Cookie": f"csrftoken={'t' * 32}",
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Forwarded-For": "10.0.0.1",
    }
    assert second["X-Forwarded-For"] == "10.0.0.2"


def test_lookup_body_is_the_form_the_page_posts():
    body = lookup_body(csrf_token="abc", account_number="1000000013", holder_name="张三")
    assert urllib.parse.parse_qs(body.decode()) == {
        "csrfmiddlewaretoken": ["abc"], "account_number": ["1000000013"], "holder_name": ["张三"],
    }


def test_p95_target_applies_at_32_connections():
    assert p95_verdict(p95_ms=49.9, concurrency=32) == "PASS"
    assert p95_verdict(p95_ms=50.0, concurrency=32) == "ABOVE TARGET"
    assert p95_verdict(p95_ms=500.0, concurrency=16) == ""
