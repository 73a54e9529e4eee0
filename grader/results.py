"""Result types: the Gradescope results.json shape fixed by contracts.md §2.

A grade is always one of a closed set of outcomes (after CMS's sandbox outcomes), so callers
never have to parse feedback text to know what happened.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Visibility = Literal["visible", "hidden", "after_due_date"]
CheckStatus = Literal["passed", "failed"]
ResultStatus = Literal["graded", "error", "rejected"]


class Outcome(str, enum.Enum):
    """What happened to a submission, as a machine-readable fact."""

    OK = "ok"  # ran to the end; the score says how well it did
    WRONG = "wrong"  # ran, but at least one check failed (still a graded result)
    TIMEOUT = "timeout"  # wall or CPU limit reached
    MEMORY = "memory"  # memory limit reached
    CRASHED = "crashed"  # the sandboxed process died (segfault, os._exit, killed itself)
    REJECTED = "rejected"  # the input could not be run at all (syntax error, not UTF-8, too big...)
    ERROR = "error"  # the grader's or the exercise's fault, not the student's


@dataclass
class CheckResult:
    name: str
    score: float
    max_score: float
    status: CheckStatus
    output: str = ""
    visibility: Visibility = "hidden"
    misconceptions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = {
            "name": self.name,
            "score": round(self.score, 4),
            "max_score": round(self.max_score, 4),
            "status": self.status,
            "output": self.output,
            "visibility": self.visibility,
        }
        if self.misconceptions:
            d["misconceptions"] = list(self.misconceptions)
        return d


@dataclass
class Execution:
    wall_s: float = 0.0
    cpu_s: float = 0.0
    device: str = "cpu"
    peak_rss_mb: float = 0.0
    isolated: bool = True
    max_step_s: float = 0.0  # the slowest command of the grade (measuring references; not reported)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        del d["max_step_s"]
        d["wall_s"] = round(self.wall_s, 4)
        d["cpu_s"] = round(self.cpu_s, 4)
        d["peak_rss_mb"] = round(self.peak_rss_mb, 1)
        return d


@dataclass
class GradeResult:
    score: float
    max_score: float
    status: ResultStatus
    output: str
    outcome: Outcome
    tests: list[CheckResult] = field(default_factory=list)
    misconceptions: list[str] = field(default_factory=list)
    execution: Execution = field(default_factory=Execution)
    # Text the submission printed (stdout/stderr), capped; shown to the student, never trusted.
    stdout: str = ""
    # Extra data an exercise wants to show (e.g. training curves); plain JSON values only.
    extra: dict[str, Any] = field(default_factory=dict)
    # Free-text grades (contracts.md §1 why-skip-helps): how sure the grader is (0..1), and whether
    # the grade waits for an instructor's review. None: the exercise's grader does not estimate it.
    confidence: float | None = None
    provisional: bool = False

    @property
    def full_marks(self) -> bool:
        return self.status == "graded" and abs(self.score - self.max_score) < 1e-9

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "score": round(self.score, 4),
            "max_score": round(self.max_score, 4),
            "status": self.status,
            "output": self.output,
            "tests": [t.to_json() for t in self.tests],
            "misconceptions": list(dict.fromkeys(self.misconceptions)),
            "execution": self.execution.to_json(),
            "outcome": self.outcome.value,
        }
        if self.stdout:
            d["stdout"] = self.stdout
        if self.extra:
            d["extra"] = self.extra
        if self.confidence is not None:
            d["confidence"] = round(self.confidence, 4)
            d["provisional"] = self.provisional
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "GradeResult":
        tests = [
            CheckResult(
                name=t["name"],
                score=float(t["score"]),
                max_score=float(t["max_score"]),
                status=t["status"],
                output=t.get("output", ""),
                visibility=t.get("visibility", "hidden"),
                misconceptions=list(t.get("misconceptions", [])),
            )
            for t in d.get("tests", [])
        ]
        ex = d.get("execution", {})
        return cls(
            score=float(d["score"]),
            max_score=float(d["max_score"]),
            status=d["status"],
            output=d.get("output", ""),
            outcome=Outcome(d.get("outcome", "ok")),
            tests=tests,
            misconceptions=list(d.get("misconceptions", [])),
            execution=Execution(
                wall_s=float(ex.get("wall_s", 0.0)),
                cpu_s=float(ex.get("cpu_s", 0.0)),
                device=str(ex.get("device", "cpu")),
                peak_rss_mb=float(ex.get("peak_rss_mb", 0.0)),
                isolated=bool(ex.get("isolated", True)),
            ),
            stdout=d.get("stdout", ""),
            extra=dict(d.get("extra", {})),
            confidence=None if d.get("confidence") is None else float(d["confidence"]),
            provisional=bool(d.get("provisional", False)),
        )


def zero_result(
    max_score: float,
    outcome: Outcome,
    message: str,
    *,
    status: ResultStatus = "graded",
    execution: Execution | None = None,
    stdout: str = "",
) -> GradeResult:
    """A graded 0 (or an error) with one clear message: the shape every early exit takes."""
    return GradeResult(
        score=0.0,
        max_score=max_score,
        status=status,
        output=message,
        outcome=outcome,
        execution=execution or Execution(),
        stdout=stdout,
    )
