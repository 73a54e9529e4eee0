"""exercise_sync: load every exercise folder into the database, all or nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction

from courseapp.models import Course, Exercise, ExerciseRevision
from courseapp.services.grader_runtime import CATALOGUE, new_grader
from grader.exercise import Exercise as ExerciseSpec
from grader.exercise import ExerciseError, load_exercise, load_misconceptions

if TYPE_CHECKING:
    from grader.engine import Grader
    from grader.selftest import PassRecord

log = logging.getLogger(__name__)

# The file that holds each kind's reference answer (named when the reference does not score full marks).
REFERENCE_FILE = {"module": "solution.py", "freetext": "solution.md", "quiz": "questions.toml"}


class ExerciseSyncError(CommandError):
    """A folder cannot be loaded. The message names the file and the problem; nothing was written."""


@dataclass(frozen=True)
class SyncedExercise:
    slug: str
    content_hash: str
    created: bool  # a new revision was written


def _folder_files(folder: Path) -> dict[str, str]:
    """Every file of the folder as text, keyed by relative path (what content_hash covers)."""
    files: dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc"):
            try:
                files[p.relative_to(folder).as_posix()] = p.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise ExerciseSyncError(f"{p}: is not UTF-8 text (exercise folders hold text files only)") from None
    return files


def exercise_folders(root: Path) -> list[Path]:
    """Every sub-folder of root is an exercise folder (a folder without exercise.toml is an error)."""
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _verify_reference(spec: ExerciseSpec, grader: "Grader") -> None:
    from grader.engine import verify_reference
    from grader.selftest import verify_mistakes

    reference = spec.file(REFERENCE_FILE.get(spec.kind, "exercise.toml"))
    try:
        result = verify_reference(grader, spec)
    except Exception as exc:  # the grader could not run at all: still a refusal that names the file
        raise ExerciseSyncError(f"{reference}: grading the reference failed: {type(exc).__name__}: {exc}") from exc
    if not result.full_marks:
        failed = [f"'{t.name}': {t.output.strip()[:300]}" for t in result.tests if t.status == "failed"]
        detail = "; ".join(failed) or result.output.strip()[:500]
        raise ExerciseSyncError(
            f"{reference}: the reference scores {result.score:g}/{result.max_score:g}, not full marks "
            f"(status {result.status}, outcome {result.outcome.value}): {detail}"
        )
    problems = verify_mistakes(grader, spec)  # the rest of `python -m grader check`: starter, mistakes/
    if problems:
        raise ExerciseSyncError(f"{spec.path}: the self-test failed: {'; '.join(problems)}")


def _stored_limits(spec: ExerciseSpec) -> bool:
    """Whether this content's revision already has derived limits (they stay fixed for a revision, so
    every grade of it runs under the same limits and re-syncing measures nothing)."""
    return (
        ExerciseRevision.objects.filter(
            exercise__course__slug=settings.COURSE_SLUG, exercise__slug=spec.slug, content_hash=spec.content_hash
        )
        .exclude(limits={})
        .exists()
    )


def _derive_limits(spec: ExerciseSpec, grader: "Grader", passed: dict[str, Any]) -> dict[str, Any]:
    """The revision's limits: a multiple of the reference's measured cost with a floor, each capped by
    the TOML value (grader.engine.derive_limits), and the TOML's ceilings to show beside them. The
    cost comes from `passed` (this folder's pass record) when it was measured before on this host,
    and is put there when it is measured now."""
    from grader.engine import JobLimits, derive_limits, measure_reference_cost
    from grader.sandbox.limits import ReferenceCost

    cost = None
    if spec.kind == "module":
        if isinstance(passed.get("cost"), dict):
            cost = ReferenceCost(**passed["cost"])
        else:
            try:
                cost = measure_reference_cost(grader, spec)
            except ExerciseError as exc:
                raise ExerciseSyncError(f"{spec.path}: measuring the reference's grading cost failed: {exc}") from None
            passed["cost"] = {"wall_s": cost.wall_s, "cpu_s": cost.cpu_s, "step_s": cost.step_s}
    derived = derive_limits(grader, spec, cost=cost)
    return {**derived.to_json(), "toml": JobLimits.of(spec.limits).to_json()}


def _pass_record() -> "PassRecord | None":
    """Where passes of the self-test are recorded (settings.GRADER_SELFTEST_CACHE_DIR; empty: nowhere)."""
    from grader.selftest import PassRecord

    directory = settings.GRADER_SELFTEST_CACHE_DIR
    return PassRecord(Path(directory)) if directory else None


def exercise_sync(exercises_dir: str | Path | None = None, *, grader: "Grader | None" = None) -> list[SyncedExercise]:
    """Load every folder under exercises_dir; write a new ExerciseRevision for each folder whose
    content changed. Each folder must be valid and its reference must score full marks with the real
    grader. On any problem raise ExerciseSyncError and write nothing."""
    root = Path(exercises_dir or settings.EXERCISES_DIR).resolve()
    if not root.is_dir():
        raise ExerciseSyncError(f"{root}: the exercises folder does not exist")
    try:
        load_misconceptions(root / CATALOGUE)
    except ExerciseError as exc:
        raise ExerciseSyncError(str(exc)) from None

    loaded: list[tuple[ExerciseSpec, dict[str, str]]] = []
    for folder in exercise_folders(root):
        try:
            spec = load_exercise(folder)
        except ExerciseError as exc:
            raise ExerciseSyncError(str(exc)) from None
        if spec.queue not in settings.GRADING_QUEUES:
            raise ExerciseSyncError(f"{folder / 'exercise.toml'}: queue '{spec.queue}' has no workers")
        if spec.limits.wall_s > settings.GRADING_MAX_WALL_S:
            raise ExerciseSyncError(
                f"{folder / 'exercise.toml'}: [limits] wall_s = {spec.limits.wall_s:g} is above the "
                f"{settings.GRADING_MAX_WALL_S} s a grade may take (GRADING_MAX_WALL_S)"
            )
        loaded.append((spec, _folder_files(folder)))

    from grader.selftest import pass_key

    own_grader = grader is None
    grader = grader or new_grader()
    limits: dict[str, dict[str, Any]] = {}
    record = _pass_record()
    try:
        for spec, _files in loaded:
            # A folder that passed before with this content, catalogue, grader and host is not
            # graded again (grader.selftest.pass_key); a stand-in grader has no key and is always asked.
            key = pass_key(grader, spec) if record is not None else None
            recorded = record.get(key) if record is not None and key is not None else None
            passed = dict(recorded) if recorded is not None else {"slug": spec.slug}
            if recorded is None:
                _verify_reference(spec, grader)
            if settings.GRADING_LIMITS_FROM_REFERENCE and not _stored_limits(spec):
                limits[spec.slug] = _derive_limits(spec, grader, passed)
            if record is not None and key is not None and passed != recorded:
                record.put(key, passed)
    finally:
        if own_grader:
            grader.close()

    synced: list[SyncedExercise] = []
    with transaction.atomic():
        course, _ = Course.objects.get_or_create(slug=settings.COURSE_SLUG, defaults={"title": settings.COURSE_TITLE})
        for spec, files in loaded:
            exercise, _ = Exercise.objects.update_or_create(
                course=course,
                slug=spec.slug,
                defaults={"title": spec.title, "kind": spec.kind, "order": spec.order, "queue": spec.queue},
            )
            revision, created = ExerciseRevision.objects.get_or_create(
                exercise=exercise,
                content_hash=spec.content_hash,
                defaults={
                    "max_score": spec.max_score,
                    "prompt": spec.prompt_markdown,
                    "starter": spec.starter_code,
                    "max_chars": spec.max_chars,
                    "max_source_bytes": spec.limits.max_source_bytes,
                    "wall_s": limits.get(spec.slug, {}).get("wall_s", spec.limits.wall_s),
                    "limits": limits.get(spec.slug, {}),
                    "files": files,
                },
            )
            if not created and spec.slug in limits:  # a revision synced before limits were derived
                revision.limits, revision.wall_s = limits[spec.slug], limits[spec.slug]["wall_s"]
                revision.save(update_fields=["limits", "wall_s"])
            if exercise.current_revision_id != revision.pk:
                exercise.current_revision = revision
                exercise.save(update_fields=["current_revision"])
            synced.append(SyncedExercise(slug=spec.slug, content_hash=spec.content_hash, created=created))
            log.debug("exercise %s: %s", spec.slug, "new revision" if created else "unchanged")
    return synced
