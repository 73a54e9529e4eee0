"""System checks: every exercises/<slug>/ folder loads, and the grading time limits nest.

A broken folder is a warning, not an error: the database keeps serving the revisions synced
before, and sync_exercises refuses the folder until it is fixed. Margins that would not make the
time limits nest are an error: grading would be cut off in the wrong order.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning, register

from grader.exercise import ExerciseError, load_exercise, load_misconceptions


@register("courseapp")
def exercises_are_valid(app_configs=None, **kwargs):
    errors = []
    if settings.GRADING_SOFT_MARGIN_S <= 0 or settings.GRADING_HARD_MARGIN_S <= 0:
        errors.append(
            Error(
                f"GRADING_SOFT_MARGIN_S ({settings.GRADING_SOFT_MARGIN_S}) and GRADING_HARD_MARGIN_S "
                f"({settings.GRADING_HARD_MARGIN_S}) must be positive, so that sandbox < soft < hard time limit",
                id="courseapp.E001",
            )
        )
    root = Path(settings.EXERCISES_DIR)
    if not root.is_dir():
        return errors + [Warning(f"EXERCISES_DIR {root} does not exist", id="courseapp.W001")]
    try:
        load_misconceptions(root / "misconceptions.toml")
    except ExerciseError as exc:
        errors.append(Warning(str(exc), id="courseapp.W002"))
    from courseapp.services.exercises import exercise_folders

    for folder in exercise_folders(root):
        try:
            spec = load_exercise(folder)
        except ExerciseError as exc:
            errors.append(
                Warning(str(exc), hint="Fix the folder, then run `manage.py sync_exercises`.", id="courseapp.W003")
            )
            continue
        if spec.limits.wall_s > settings.GRADING_MAX_WALL_S:
            errors.append(
                Warning(
                    f"{folder / 'exercise.toml'}: [limits] wall_s {spec.limits.wall_s:g} is above GRADING_MAX_WALL_S "
                    f"({settings.GRADING_MAX_WALL_S} s)",
                    id="courseapp.W004",
                )
            )
    return errors
