"""Fixtures for the grader library's tests (no Django, no database)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.engine import Grader
from grader.exercise import Exercise, load_exercise

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = ROOT / "exercises"


@pytest.fixture(scope="session")
def grader() -> Grader:
    """One warm pool for the whole session, as a worker has."""
    g = Grader(device="cpu")
    g.start()
    yield g
    g.close()


@pytest.fixture(scope="session")
def identity_block() -> Exercise:
    return load_exercise(EXERCISES / "identity-block")


@pytest.fixture
def exercise_copy(tmp_path: Path):
    """Copy an exercise folder (with the module's misconception catalogue) so a test can break it."""

    def make(slug: str) -> Path:
        root = tmp_path / "exercises"
        root.mkdir(exist_ok=True)
        shutil.copy(EXERCISES / "misconceptions.toml", root / "misconceptions.toml")
        dst = root / slug
        shutil.copytree(EXERCISES / slug, dst, ignore=shutil.ignore_patterns("__pycache__"))
        return dst

    return make
