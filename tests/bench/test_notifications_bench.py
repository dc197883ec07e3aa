"""The notifications benchmark's pure helpers (the benchmark itself runs with `make bench`, never in the suite)."""
from __future__ import annotations

from bench.notifications_bench import (
    delivery_verdict,
    per_second,
    redis_command,
    scratch_database_name,
    worker_command,
)


def test_per_second_rounds_to_one_place_and_survives_zero_time():
    assert per_second(200, 3.82) == 52.4
    assert per_second(2000, 8.0) == 250.0
    assert per_second(5, 0.0) == 0.0


def test_delivery_is_the_bottleneck_below_half_the_fake_rate():
    assert delivery_verdict(pipeline_per_second=52.0, fake_per_second=227.2) == (0.23, "delivery IS the bottleneck")
    assert delivery_verdict(pipeline_per_second=120.0, fake_per_second=240.0) == (0.5, "delivery not the bottleneck")
    assert delivery_verdict(pipeline_per_second=300.0, fake_per_second=250.0) == (1.2, "delivery not the bottleneck")
    assert delivery_verdict(pipeline_per_second=10.0, fake_per_second=0.0) == (0.0, "delivery IS the bottleneck")


def test_worker_runs_one_task_at_a_time_under_its_own_name():
    assert worker_command(python="/venv/bin/python", index=2, logfile="/tmp/w2.log") == [
        "/venv/bin/python", "-m", "celery", "-A", "config", "worker", "-P", "solo", "-c", "1", "-n", "bench2@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
        "--logfile", "/tmp/w2.log", "--queues", "default,notifications,tickets,payments,reports,callcenter",
    ]
    assert worker_command(python="p", index=1, logfile="l", queues=("notifications",))[-2:] == [
        "--queues", "notifications"]


def test_redis_listens_on_loopback_only_and_keeps_nothing_on_disk():
    assert redis_command(port=6390, folder="/tmp/x") == [
        "redis-server", "--bind", "127.0.0.1", "--port", "6390", "--save", "", "--appendonly", "no",
        "--dir", "/tmp/x", "--logfile", "/tmp/x/redis.log",
    ]


def test_scratch_database_is_named_after_the_process():
    assert scratch_database_name(4242) == "bench_notifications_4242"
