"""Known mistakes as files: exercises/<slug>/mistakes/<misconception_id>[__<variant>].py.

A mistake file is Python source executed in the namespace of the exercise's solution.py, as if
appended to it; it redefines the interface (usually a 3-10 line subclass of the reference). The
trusted side builds each mistake's module here, runs it with the student's weights and inputs
(grader.blocks) and names the mistake whose behaviour the student's matches. The self-test
(grader.selftest) submits `solution.py + "\\n" + mistake` as a student file and expects that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from grader.exercise import Exercise, ExerciseError

MISTAKES_DIR = "mistakes"


@dataclass(frozen=True)
class Mistake:
    misconception: str  # the id in exercises/misconceptions.toml
    variant: str  # "" or the part after "__"
    path: Path
    source: str

    @property
    def label(self) -> str:
        return self.path.stem

    def submission(self, exercise: Exercise) -> str:
        """What a student who made this mistake would submit."""
        return (exercise.path / "solution.py").read_text(encoding="utf-8") + "\n" + self.source


_files: dict[str, list[Mistake]] = {}
_namespaces: dict[tuple[str, str], dict[str, Any] | None] = {}
_instances: dict[tuple[str, str, str], torch.nn.Module | None] = {}


def mistakes_of(exercise: Exercise) -> list[Mistake]:
    """The exercise's mistake files, sorted by name (read once per revision of the folder)."""
    if exercise.content_hash not in _files:
        found = []
        for path in sorted((exercise.path / MISTAKES_DIR).glob("*.py")):
            mid, _, variant = path.stem.partition("__")
            try:
                source = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise ExerciseError(path, "is not UTF-8 text") from None
            found.append(Mistake(mid, variant, path, source))
        _files[exercise.content_hash] = found
    return _files[exercise.content_hash]


def _namespace(exercise: Exercise, mistake: Mistake) -> dict[str, Any] | None:
    key = (exercise.content_hash, mistake.label)
    if key not in _namespaces:
        solution = (exercise.path / "solution.py").read_text(encoding="utf-8")
        namespace: dict[str, Any] = {"__name__": f"_mistake_{exercise.slug.replace('-', '_')}_{mistake.label}"}
        try:
            exec(
                compile(solution, str(exercise.path / "solution.py"), "exec"), namespace
            )  # trusted: the author's files
            exec(compile(mistake.source, str(mistake.path), "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - an author's bug, reported by the self-test
            raise ExerciseError(mistake.path, f"raised {type(exc).__name__}: {exc}") from None
        _namespaces[key] = namespace
    return _namespaces[key]


def build(
    exercise: Exercise, mistake: Mistake, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> torch.nn.Module | None:
    """The mistake's `name(*args, **kwargs)`, built once per arguments and reused (callers load the
    state they compare with into it). None when the mistake cannot be built with these arguments."""
    key = (exercise.content_hash, mistake.label, repr((name, args, sorted(kwargs.items()))))
    if key not in _instances:
        namespace = _namespace(exercise, mistake)
        module: torch.nn.Module | None = None
        try:
            built = namespace[name](*args, **kwargs) if namespace else None
            module = built if isinstance(built, torch.nn.Module) else None
        except Exception:  # noqa: BLE001 - this mistake does not exist for these arguments
            module = None
        _instances[key] = module
    return _instances[key]
