"""The self-test of an exercise folder (`python -m grader check`, sync_exercises, the test suite).

A folder passes when its reference scores full marks, its starter scores less, and every file in
mistakes/ (named <misconception_id>.py or <misconception_id>__<variant>.py) is graded below full
marks with its own misconception named first. Each problem is one line that says what to fix.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from grader.engine import Grader, reference_submission
from grader.exercise import Exercise, ExerciseError, catalogue_for
from grader.mistakes import mistakes_of

log = logging.getLogger("grader")


@dataclass
class SelfTest:
    slug: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """One line per folder and per problem."""
        if self.ok:
            return [f"ok   {self.slug}: {'; '.join(self.notes)}"]
        return [f"FAIL {self.slug}: {p}" for p in self.problems]


def self_test(grader: Grader, exercise: Exercise) -> SelfTest:
    report = SelfTest(exercise.slug)
    try:
        reference = grader.grade(exercise, reference_submission(exercise))
    except ExerciseError as exc:
        report.problems.append(str(exc))
        return report
    if not reference.full_marks:
        first = next((t for t in reference.tests if t.status == "failed"), None)
        why = f" (failed: {first.name}: {first.output.splitlines()[0] if first.output else ''})" if first else ""
        report.problems.append(
            f"the reference scores {reference.score:g}/{reference.max_score:g}, not full marks"
            f"{why}: the reference or the checks are wrong. {reference.output.splitlines()[0]}"
        )
        return report
    report.notes.append(f"reference {reference.score:g}/{reference.max_score:g}")
    if exercise.kind != "module":
        return report
    report.problems += verify_mistakes(grader, exercise)
    if report.ok:
        report.notes.append(f"starter below full marks; {len(mistakes_of(exercise))} mistake file(s) caught and named")
    return report


# Folders (by content and catalogue) whose starter and mistakes passed: a sync that finds the same
# files again (the service syncs at every start, the tests often) need not grade them again.
_passed: set[tuple[str, str]] = set()


def verify_mistakes(grader: Grader, exercise: Exercise) -> list[str]:
    """The self-test's part after the reference: the starter scores less than full marks and every
    mistake file is caught with its own misconception named first. One string per problem."""
    if exercise.kind != "module":
        return []
    catalogue_path = exercise.path.parent / "misconceptions.toml"
    key = (exercise.content_hash, catalogue_path.read_text(encoding="utf-8") if catalogue_path.is_file() else "")
    if key in _passed:
        return []
    problems: list[str] = []
    starter = grader.grade(exercise, exercise.starter_code.encode())
    if starter.score >= starter.max_score:
        problems.append("the starter scores full marks: it must leave something to do")
    try:
        mistakes = mistakes_of(exercise)
        catalogue = catalogue_for(exercise)
    except ExerciseError as exc:
        return problems + [str(exc)]
    for mistake in mistakes:
        where = f"mistakes/{mistake.path.name}"
        if mistake.misconception not in catalogue:
            problems.append(
                f"{where}: misconception '{mistake.misconception}' is not declared in exercises/misconceptions.toml"
            )
            continue
        result = grader.grade(exercise, mistake.submission(exercise).encode())
        named = result.misconceptions[0] if result.misconceptions else None
        if result.status != "graded" or result.full_marks:
            problems.append(
                f"{where}: not caught (scores {result.score:g}/{result.max_score:g}); add a check "
                f"that this mistake fails"
            )
        elif named != mistake.misconception:
            failed = next((t.name for t in result.tests if t.status == "failed"), "?")
            problems.append(
                f"{where}: caught, but named {named or 'nothing'} first (in '{failed}'), not {mistake.misconception}"
            )
    if not problems:
        _passed.add(key)
    return problems


# ---- what sync_exercises may skip: folders that passed, on disk -------------------------------
# sync_exercises runs at every start of the service (and in many tests); the self-test and the
# reference's measured cost (3 grades) cost minutes for a folder that trains a network. A folder whose
# content, catalogue, grader code and host are all unchanged passes again, so sync records a pass
# under a key made of all of them and skips the work when the key is there. Any change to any part is
# a new key: that folder is tested again. Failures are never recorded.

_GRADER_PACKAGE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def grader_fingerprint() -> str:
    """sha256 over the grader package's sources, Python's version and every installed distribution's
    name and version (torch, numpy, the sentence model's wheel...: whatever grades)."""
    from importlib.metadata import distributions

    installed = sorted({f"{d.metadata['Name']}=={d.version}" for d in distributions()})
    h = hashlib.sha256("\0".join([sys.version, *installed]).encode())
    for p in sorted(_GRADER_PACKAGE.rglob("*.py")):
        h.update(p.relative_to(_GRADER_PACKAGE).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def pass_key(grader: object, exercise: Exercise) -> str | None:
    """The key a pass of this folder is recorded under, or None when `grader` is not the real engine
    (a stand-in or a subclass may grade differently: it is always asked)."""
    if type(grader) is not Grader:
        return None
    catalogue = exercise.path.parent / "misconceptions.toml"
    parts = (
        exercise.content_hash,
        hashlib.sha256(catalogue.read_bytes() if catalogue.is_file() else b"").hexdigest(),
        grader_fingerprint(),
        grader.device,
        str(grader.isolate),
        platform.node(),  # a measured cost holds for the host that measured it
    )
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class PassRecord:
    """One JSON file per key under `directory`: {"slug", "cost": {wall_s, cpu_s, step_s} or absent}."""

    def __init__(self, directory: Path):
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # not there, or unreadable: test the folder again
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Written whole or not at all (a rename), so a reader never sees half a record."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(entry, f)
            os.replace(tmp, self._path(key))
        except OSError as exc:  # a read-only or full disk costs time, never a sync
            log.warning("could not record the self-test pass under %s: %s", self.directory, exc)
