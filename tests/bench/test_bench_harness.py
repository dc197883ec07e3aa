"""The benchmark harness's own logic (the benchmark itself runs with `make bench`, never in the suite)."""
from __future__ import annotations

import argparse

import pytest

from bench.pg import _with_database, server_from_env
from bench.run import _sizes, table_print


def test_sizes_parse_and_refuse_nonsense():
    assert _sizes("10000, 100000,1100000") == [10000, 100000, 1100000]
    for bad in ("abc", "0", "-5", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            _sizes(bad)


def test_database_url_of_a_benchmark_database_keeps_the_server():
    assert _with_database("postgres://bench:pw@127.0.0.1:5433/power95598?sslmode=disable", "bench_42") == (
        "postgres://bench:pw@127.0.0.1:5433/bench_42?sslmode=disable"
    )
    assert server_from_env("sqlite:////tmp/db.sqlite3") is None
    assert server_from_env(None) is None
    assert server_from_env("postgresql://u@h:5432/x").admin_url == "postgresql://u@h:5432/x"


def test_final_table_shows_verdicts_and_skipped_sizes(capsys):
    table_print(
        [{"size": 10000, "seed_seconds": 50.0, "seed_customers_per_second": 200.0,
          "billing_accounts_per_second": 2500.0, "billing_verdict": "PASS", "peak_rss_mb": 400.0}],
        [{"size": 1100000, "estimated_seconds": 5500.0}],
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].split() == ["10,000", "50.0", "200", "2,500", "PASS", "400"]
    assert lines[-1].split() == ["1,100,000", "skipped:", "would", "take", "~5,500", "s"]
