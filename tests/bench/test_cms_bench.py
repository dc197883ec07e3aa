"""The website benchmark's pure helpers (the benchmark itself runs with `make bench`, never in the suite)."""
from __future__ import annotations

import argparse

import pytest

from bench.cms_bench import percentile, server_command, verdict
from bench.harness import concurrency_list as _concurrency


def test_percentile_by_nearest_rank():
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([], 0.95) == 0.0


def test_verdict_against_half_the_baseline():
    assert verdict(page_per_second=600.0, baseline_per_second=1200.0) == (0.5, "PASS")
    assert verdict(page_per_second=22.0, baseline_per_second=2200.0) == (0.01, "BELOW TARGET")
    assert verdict(page_per_second=10.0, baseline_per_second=0.0) == (0.0, "BELOW TARGET")


def test_server_is_daphne_on_loopback_with_the_bench_urls():
    assert server_command(python="/venv/bin/python", port=8123) == [
        "/venv/bin/python", "-m", "daphne", "-b", "127.0.0.1", "-p", "8123", "bench.cms_bench:application",
    ]
    # The portal bench's reference: the same project through Django's own ASGI handler.
    assert server_command(python="/venv/bin/python", port=8124, application="django_handler_application")[-1] == (
        "bench.cms_bench:django_handler_application")


def test_concurrency_argument():
    assert _concurrency("16,32") == [16, 32]
    with pytest.raises(argparse.ArgumentTypeError):
        _concurrency("0")
    with pytest.raises(argparse.ArgumentTypeError):
        _concurrency("x")
