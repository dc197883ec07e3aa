"""The fault runs' arithmetic: what counts as lost and as duplicated, the table printed, the exit code."""
from __future__ import annotations

from bench.chaos.__main__ import scenarios_chosen
from bench.chaos.report import ScenarioReport, WorkTally, exit_code, report_table, summary_table


def test_an_item_done_three_times_is_two_duplicates_and_one_never_done_is_lost():
    tally = WorkTally.from_counts("SMS", expected=["a", "b", "c"], effects=["a", "a", "a", "b"])
    assert (tally.expected, tally.done, tally.lost, tally.extra) == (3, 2, 1, 2)


def test_work_nobody_asked_for_counts_as_duplicated():
    tally = WorkTally.from_counts("payments", expected=[1, 2], effects=[1, 2, 3, 3])
    assert (tally.done, tally.lost, tally.extra) == (2, 0, 2)


def test_expected_items_are_counted_once_each_even_when_listed_twice():
    tally = WorkTally.from_counts("calls", expected=["k1", "k1", "k2"], effects=["k1", "k2"])
    assert (tally.expected, tally.done, tally.lost, tally.extra) == (2, 2, 0, 0)


def test_a_report_sums_its_tallies_and_passes_only_with_nothing_lost_duplicated_or_wrong():
    clean = ScenarioReport(name="celery_kill", load="10 payments", faults="1 kill",
                           work=[WorkTally("payments posted", 10, 10, 0), WorkTally("SMS", 5, 5, 0)])
    assert (clean.lost, clean.duplicates, clean.passed) == (0, 0, True)
    lossy = ScenarioReport(name="redis_outage", load="x", faults="y",
                           work=[WorkTally("SMS", 5, 4, 0), WorkTally("payments", 3, 3, 2)])
    assert (lossy.lost, lossy.duplicates, lossy.passed) == (1, 2, False)
    wrong = ScenarioReport(name="postgres_restart", load="x", faults="y", work=[WorkTally("rows", 1, 1, 0)],
                           problems=["GET / answered 500"])
    assert (wrong.lost, wrong.duplicates, wrong.passed) == (0, 0, False)


def test_the_exit_code_is_zero_only_when_every_scenario_passed():
    passed = ScenarioReport(name="a", load="", faults="", work=[WorkTally("w", 1, 1, 0)])
    failed = ScenarioReport(name="b", load="", faults="", work=[WorkTally("w", 1, 0, 0)])
    assert exit_code([passed]) == 0
    assert exit_code([passed, failed]) == 1
    assert exit_code([]) == 1


def test_the_table_shows_load_faults_each_kind_of_work_and_the_verdict():
    report = ScenarioReport(name="celery_kill", load="300 payments", faults="1 worker SIGKILL",
                            work=[WorkTally("payments posted", 300, 299, 0)], figures={"seconds": 4.5})
    assert report_table(report).splitlines() == [
        "== celery_kill",
        "   load applied    : 300 payments",
        "   faults injected : 1 worker SIGKILL",
        "   work                                expected      done    lost     dup",
        "   payments posted                          300       299       1       0",
        "   total                                                        1       0",
        "   seconds                                   4.5",
        "   work lost 1, duplicates 0: FAIL",
    ]
    assert summary_table([report]).splitlines()[1] == "celery_kill                1       0         0  FAIL"


def test_the_report_as_json_figures():
    report = ScenarioReport(name="ami_drop", load="40 calls", faults="3 drops",
                            work=[WorkTally("calls recorded", 40, 40, 1)])
    assert report.as_dict() == {
        "name": "ami_drop", "load": "40 calls", "faults": "3 drops", "lost": 0, "duplicates": 1, "passed": False,
        "figures": {}, "problems": [],
        "work": [{"kind": "calls recorded", "expected": 40, "done": 40, "lost": 0, "duplicates": 1}],
    }


def test_scenarios_are_chosen_by_name_and_an_unknown_name_is_refused():
    assert scenarios_chosen("") == ["celery_kill", "redis_outage", "postgres_restart", "ami_drop"]
    assert scenarios_chosen("ami_drop, celery_kill") == ["ami_drop", "celery_kill"]
    try:
        scenarios_chosen("celery_kill,flood")
    except SystemExit as refused:
        assert str(refused) == ("unknown scenario(s): flood; choose from celery_kill, redis_outage, "
                                "postgres_restart, ami_drop")
    else:
        raise AssertionError("an unknown scenario was accepted")
