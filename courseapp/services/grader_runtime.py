"""What grading needs at run time: the worker process's one Grader, and an exercise revision turned back into
a folder to grade against. (The grading library itself is grader.engine.)

A Grader keeps a warm sandbox pool, so each worker process creates one (lazily, on its first job)
and reuses it; celery.py closes it when the process shuts down.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from grader.engine import Grader

    from courseapp.models import ExerciseRevision

_grader: "Grader | None" = None
_lock = threading.Lock()


def new_grader() -> "Grader":
    from grader.engine import Grader

    return Grader(device=settings.GRADER_DEVICE)


def get_grader() -> "Grader":
    global _grader
    with _lock:
        if _grader is None:
            _grader = new_grader()
        return _grader


def close_grader() -> None:
    global _grader
    with _lock:
        grader, _grader = _grader, None
    if grader is not None:
        grader.close()


CATALOGUE = "misconceptions.toml"


def revision_folder(revision: "ExerciseRevision") -> Path:
    """The revision's files, unpacked once under EXERCISE_CACHE_DIR/<hash>/<slug>/ (beside a copy of
    the module's misconception catalogue, which the grader looks for in the parent folder)."""
    slug = revision.exercise.slug
    root = Path(settings.EXERCISE_CACHE_DIR) / revision.content_hash
    folder = root / slug
    if folder.is_dir():
        return folder
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{revision.content_hash[:12]}-", dir=root.parent))
    try:
        for rel, text in revision.files.items():
            target = (tmp / slug / rel).resolve()
            if not target.is_relative_to((tmp / slug).resolve()):
                raise ValueError(f"revision {revision.pk}: file path {rel!r} leaves the exercise folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        catalogue = Path(settings.EXERCISES_DIR) / CATALOGUE
        if catalogue.is_file():
            shutil.copyfile(catalogue, tmp / CATALOGUE)
        try:
            os.rename(tmp, root)
        except OSError:
            if not folder.is_dir():  # not a lost race with another process: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
