"""Writes (HackSoft style): every change to the data goes through a function here.

Submodules import each other by full path and never this package's names, so importing one never
runs in a circle; this module only re-exports the most used entry points.
"""

from courseapp.services.exercises import ExerciseSyncError, SyncedExercise, exercise_sync
from courseapp.services.grading import grading_job_fail, grading_job_record, grading_job_run
from courseapp.services.jobs import job_enqueue
from courseapp.services.submissions import submission_create, submission_validate

__all__ = [
    "ExerciseSyncError",
    "SyncedExercise",
    "exercise_sync",
    "grading_job_fail",
    "grading_job_record",
    "grading_job_run",
    "job_enqueue",
    "submission_create",
    "submission_validate",
]
