"""What can go wrong with a sandbox, as types: the host cannot provide one (retry elsewhere), the
child died (a graded outcome), or the student's code raised while obeying a command (data)."""

from __future__ import annotations

from typing import Any

from grader.results import Outcome

# The outcomes a dead sandbox can have: a closed subset of grader.results.Outcome.
DEATH_OUTCOMES = frozenset({Outcome.TIMEOUT, Outcome.MEMORY, Outcome.CRASHED})


class SandboxUnavailable(Exception):
    """The sandbox could not be set up (infrastructure problem; worth a retry elsewhere)."""


class SandboxDied(Exception):
    """The child stopped answering: it crashed, hit a limit, or was killed for its wall time.

    `outcome` is what the grade records (TIMEOUT, MEMORY or CRASHED); `detail` says why in words,
    naming the limit that stopped it."""

    def __init__(self, outcome: Outcome, detail: str = "") -> None:
        if outcome not in DEATH_OUTCOMES:
            raise ValueError(f"a sandbox cannot die with outcome {outcome!r}")
        self.outcome = outcome
        self.detail = detail
        super().__init__(f"{outcome.value}: {detail}" if detail else outcome.value)


class StudentError(Exception):
    """The student's code raised (or replied something unusable) while obeying a command."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.type = str(info.get("type", "Error"))
        self.message = str(info.get("message", ""))
        self.trace = str(info.get("trace", ""))
        self.memory = bool(info.get("memory", False))
        self.info = info
        super().__init__(f"{self.type}: {self.message}")

    def describe(self) -> str:
        return self.trace or f"{self.type}: {self.message}"
