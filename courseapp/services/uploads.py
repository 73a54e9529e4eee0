"""Uploaded files as submissions, for the exercise page and the API alike: a `.py` file as it is, a
`.ipynb` notebook reduced to the cells that define the exercise's interface (grader.notebook)."""

from __future__ import annotations

import tomllib

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from courseapp.models import Exercise
from grader.notebook import MAX_NOTEBOOK_BYTES, NotebookError, extract_code, is_notebook


def exercise_interface(exercise: Exercise) -> list[str]:
    """The class or function names a submission must define (from the revision's exercise.toml)."""
    revision = exercise.current_revision
    text = (revision.files or {}).get("exercise.toml", "") if revision else ""
    try:
        interface = tomllib.loads(text).get("interface", {}) if text else {}
    except tomllib.TOMLDecodeError:
        return []
    if not isinstance(interface, dict):
        return []
    return [str(interface[k]) for k in ("class_name", "function_name") if interface.get(k)]


def source_from_upload(exercise: Exercise, filename: str, data: bytes) -> str:
    """The submission source for an uploaded file: a `.py` (or text) file as it is, a `.ipynb`
    reduced to the cells that define the exercise's interface (grader.notebook); the first line of
    that source names the graded cells. ValidationError (a message for the student) otherwise."""
    revision = exercise.current_revision
    if revision is None:
        raise ValidationError("This exercise is not open for submissions yet.")
    if is_notebook(filename, data):
        if exercise.kind != Exercise.Kind.MODULE:
            raise ValidationError("Notebooks are accepted for code exercises only.")
        try:
            return extract_code(
                data,
                names=exercise_interface(exercise),
                tag=exercise.slug,
                max_bytes=MAX_NOTEBOOK_BYTES,
                max_source_bytes=revision.max_source_bytes,
            ).source
        except NotebookError as exc:
            raise ValidationError(str(exc)) from None
    limit = revision.max_source_bytes if exercise.kind == Exercise.Kind.MODULE else revision.max_chars * 4
    if len(data) > limit:
        raise ValidationError(f"Your file is {len(data)} bytes; the limit is {limit} bytes.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"Your file is not UTF-8 text (byte {exc.start} cannot be decoded); "
            f"submit the Python source (.py) or a notebook (.ipynb)."
        ) from None


def read_upload(upload: UploadedFile, limit: int = MAX_NOTEBOOK_BYTES) -> bytes:
    """An uploaded file's bytes, refusing (ValidationError) more than `limit` without reading it all."""
    if upload.size is not None and upload.size > limit:
        raise ValidationError(
            f"The file is {upload.size / 1024 / 1024:.1f} MiB; the limit is {limit / 1024 / 1024:.0f} MiB."
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(f"The file is larger than {limit / 1024 / 1024:.0f} MiB.")
    return bytes(data)
