"""python -m bench.chaos [--smoke] [--only name[,name]]: run the fault scenarios on one platform started for the
run (bench/chaos/stack.py), print each scenario's report table and a summary, write the figures to
bench-results/chaos[-smoke]-<time>.json, and exit 1 if any scenario lost or duplicated work or had a problem."""
from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCENARIOS = ("celery_kill", "redis_outage", "postgres_restart", "ami_drop")


def scenarios_chosen(only: str) -> list[str]:
    if not only:
        return list(SCENARIOS)
    chosen = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    return chosen


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="reduced counts and a 5 s Redis outage (CI)")
    parser.add_argument("--only", default="", help=f"comma-separated scenarios among {', '.join(SCENARIOS)}")
    parser.add_argument("--results", default=str(ROOT / "bench-results"))
    parser.add_argument("--folder", default="", help="keep the processes' logs in this folder (default: a "
                                                     "temporary one, removed afterwards)")
    args = parser.parse_args(argv)
    chosen = scenarios_chosen(args.only)
    # A run stopped from outside (timeout, CI cancelling) still stops its processes and removes its cluster.
    signal.signal(signal.SIGTERM, _interrupted)

    from bench.chaos.report import ScenarioReport, exit_code, report_table, summary_table
    from bench.chaos.stack import stack_up

    reports: list[ScenarioReport] = []
    started = time.monotonic()
    with contextlib.ExitStack() as cleanup:
        folder = args.folder or cleanup.enter_context(tempfile.TemporaryDirectory(prefix="power95598-chaos-"))
        stack = cleanup.enter_context(stack_up(folder))
        from django.conf import settings

        print(f"== platform: PostgreSQL {stack.pg.description}, redis-server 127.0.0.1:{stack.redis_port} "
              f"(append-only file), fake Twilio {stack.twilio.base_url}")
        print("== compressed recovery clocks: "
              + ", ".join(f"{name} {value}" for name, value in settings.CHAOS_COMPRESSED_CLOCKS.items()))
        for name in chosen:
            module = importlib.import_module(f"bench.chaos.{name}")
            print(f"\n-- {name} ({'smoke' if args.smoke else 'full'})", flush=True)
            scenario_started = time.monotonic()
            try:
                report = module.run(stack, smoke=args.smoke)
            except Exception as error:  # a scenario that cannot finish is a failed scenario, reported as such
                traceback.print_exc()
                report = ScenarioReport(name=name, load="(did not finish)", faults="(did not finish)",
                                        problems=[f"the scenario raised {type(error).__name__}: {error}"])
            finally:
                stack.processes_stop()
            report.figures["scenario seconds"] = round(time.monotonic() - scenario_started, 1)
            reports.append(report)
            print(report_table(report), flush=True)
    print(f"\n== fault tests ({'smoke' if args.smoke else 'full'}) in {time.monotonic() - started:.0f} s")
    print(summary_table(reports))

    from bench.harness import results_write

    results_write(args.results, "chaos", smoke=args.smoke,
                  figures={"scenarios": [report.as_dict() for report in reports]})
    return exit_code(reports)


if __name__ == "__main__":
    sys.exit(main())
