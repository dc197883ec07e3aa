"""The fault runs' judgements and client behaviour: how an answer is classified, the console's reconnect backoff,
how calls are split between drops."""
from __future__ import annotations

from bench.chaos.ami_drop import groups_split
from bench.chaos.traffic import outage_seconds, response_classify
from bench.chaos.websockets import retry_delays

RETRY_PAGE = "<html><h1>系统繁忙，请稍后重试</h1></html>".encode()
RETRY_JSON = b'{"error": {"code": "service_unavailable", "message": "x", "fields": {}}}'


def test_answers_are_ok_retry_or_error():
    assert response_classify(status=200, body=b"<html>ok</html>") == "ok"
    assert response_classify(status=302, body=b"") == "ok"
    assert response_classify(status=503, body=RETRY_PAGE) == "retry"
    assert response_classify(status=503, body=RETRY_JSON) == "retry"
    assert response_classify(status=503, body=b"Service Unavailable") == "error"
    assert response_classify(status=500, body=b"<h1>Server Error (500)</h1>") == "error"
    assert response_classify(status=502, body=b"bad gateway") == "error"
    assert response_classify(status=429, body=b"{}") == "error"
    assert response_classify(status=200, body=b"Traceback (most recent call last):") == "error"


def test_how_long_answers_kept_failing_after_the_fault():
    timeline = [(9.0, "error"), (10.0, "ok"), (11.5, "retry"), (12.0, "ok"), (13.25, "error"), (14.0, "ok")]
    assert outage_seconds(timeline, since=10.0) == 3.2
    assert outage_seconds([(11.0, "ok")], since=10.0) == 0.0


def test_the_console_reconnects_after_half_a_second_doubling_up_to_fifteen():
    assert retry_delays(7) == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]


def test_calls_are_split_into_consecutive_groups_as_equal_as_can_be():
    assert groups_split(list(range(10)), 4) == [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]
    assert groups_split(list(range(3)), 3) == [[0], [1], [2]]
