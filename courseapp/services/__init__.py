"""Writes (HackSoft style): every change to the data goes through a function here."""

from courseapp.services.exercises import ExerciseSyncError, SyncedExercise, exercise_sync
from courseapp.services.grading import grading_job_fail, grading_job_record, grading_job_run
from courseapp.services.submissions import grading_job_enqueue, submission_create, submission_validate

__all__ = [
    "ExerciseSyncError",
    "SyncedExercise",
    "exercise_sync",
    "grading_job_enqueue",
    "grading_job_fail",
    "grading_job_record",
    "grading_job_run",
    "submission_create",
    "submission_validate",
]
