"""System checks: every exercises/<slug>/ folder loads, and the grading time limits nest.

A broken folder is a warning, not an error: the database keeps serving the revisions synced
before, and sync_exercises refuses the folder until it is fixed. Time limits that do not nest are an
error: grading would be cut off in the wrong order.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning, register

from grader.exercise import ExerciseError, load_exercise, load_misconceptions


@register("courseapp")
def exercises_are_valid(app_configs=None, **kwargs):
    errors = []
    soft, hard = settings.GRADING_SOFT_TIME_LIMIT_S, settings.GRADING_HARD_TIME_LIMIT_S
    if not soft < hard:
        errors.append(Error(f"GRADING_SOFT_TIME_LIMIT_S ({soft}) must be below GRADING_HARD_TIME_LIMIT_S ({hard})",
                            id="courseapp.E001"))
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
            errors.append(Warning(str(exc), hint="Fix the folder, then run `manage.py sync_exercises`.",
                                  id="courseapp.W003"))
            continue
        if spec.limits.wall_s >= soft:
            errors.append(Warning(
                f"{folder / 'exercise.toml'}: [limits] wall_s {spec.limits.wall_s:g} is not below the task's soft "
                f"time limit {soft} s", id="courseapp.W004"))
    return errors
