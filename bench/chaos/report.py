"""A scenario's report: what load it applied, which faults it injected, and per kind of work how much was expected,
done, lost and done twice. Pure arithmetic and formatting (tests/chaos/test_report.py)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WorkTally:
    """One kind of work (payments posted, SMS delivered, calls recorded...): `expected` items were asked for;
    `done` of them happened at least once; `extra` more times than once in all (an item done 3 times adds 2)."""

    kind: str
    expected: int
    done: int
    extra: int

    @property
    def lost(self) -> int:
        return self.expected - self.done

    @classmethod
    def from_counts(cls, kind: str, *, expected: Iterable, effects: Iterable) -> WorkTally:
        """Count each expected item's effects (an item may appear in `effects` any number of times; effects of
        items nobody asked for are counted as extra too, as work done that should not have been)."""
        wanted = set(expected)
        seen = Counter(effects)
        done = sum(1 for item in wanted if seen[item] > 0)
        extra = sum(count - 1 for item, count in seen.items() if item in wanted and count > 1)
        extra += sum(count for item, count in seen.items() if item not in wanted)
        return cls(kind=kind, expected=len(wanted), done=done, extra=extra)


@dataclass
class ScenarioReport:
    name: str
    load: str
    faults: str
    work: list[WorkTally] = field(default_factory=list)
    # Other figures worth printing (requests served during the fault, reconnect times...), and failed checks that
    # are not a count of work (a 500 answered, a traceback shown): each one fails the scenario.
    figures: dict[str, object] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return sum(tally.lost for tally in self.work)

    @property
    def duplicates(self) -> int:
        return sum(tally.extra for tally in self.work)

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and not self.problems

    def as_dict(self) -> dict:
        return {
            "name": self.name, "load": self.load, "faults": self.faults, "lost": self.lost,
            "duplicates": self.duplicates, "passed": self.passed, "figures": self.figures,
            "problems": self.problems,
            "work": [{"kind": t.kind, "expected": t.expected, "done": t.done, "lost": t.lost, "duplicates": t.extra}
                     for t in self.work],
        }


def report_table(report: ScenarioReport) -> str:
    """The scenario's table as printed: header lines, one row per kind of work, the figures, the verdict."""
    lines = [
        f"== {report.name}",
        f"   load applied    : {report.load}",
        f"   faults injected : {report.faults}",
        f"   {'work':<34}{'expected':>10}{'done':>10}{'lost':>8}{'dup':>8}",
    ]
    for tally in report.work:
        lines.append(f"   {tally.kind:<34}{tally.expected:>10}{tally.done:>10}{tally.lost:>8}{tally.extra:>8}")
    lines.append(f"   {'total':<34}{'':>10}{'':>10}{report.lost:>8}{report.duplicates:>8}")
    for name, value in report.figures.items():
        lines.append(f"   {name:<42}{value}")
    for problem in report.problems:
        lines.append(f"   PROBLEM: {problem}")
    verdict = "PASS" if report.passed else "FAIL"
    lines.append(f"   work lost {report.lost}, duplicates {report.duplicates}: {verdict}")
    return "\n".join(lines)


def summary_table(reports: list[ScenarioReport]) -> str:
    lines = [f"{'scenario':<20}{'lost':>8}{'dup':>8}{'problems':>10}  verdict"]
    for report in reports:
        lines.append(f"{report.name:<20}{report.lost:>8}{report.duplicates:>8}{len(report.problems):>10}  "
                     f"{'PASS' if report.passed else 'FAIL'}")
    return "\n".join(lines)


def exit_code(reports: list[ScenarioReport]) -> int:
    """0 only when every scenario ran and lost nothing, duplicated nothing and had no problem."""
    return 0 if reports and all(report.passed for report in reports) else 1
