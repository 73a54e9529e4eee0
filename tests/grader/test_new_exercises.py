"""The three exercises built only on the check library (issue 10, item 4): bottleneck-block,
preact-block and resnet-assembly. Their self-test (reference, starter, every mistake file named
first) runs in test_exercise_folders.py with every other folder; here: correct submissions in many
styles score full marks, student-written bugs are named, and each folder keeps to the issue's
limits (checks.py short and built on the public API, at least 6 named misconceptions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from grader.exercise import load_exercise, load_misconceptions
from grader.mistakes import mistakes_of

ROOT = Path(__file__).resolve().parents[2]
SLUGS = ("bottleneck-block", "preact-block", "resnet-assembly")
CATALOGUE = load_misconceptions(ROOT / "exercises/misconceptions.toml")
SUBMISSIONS = [(slug, p) for slug in SLUGS for p in sorted((ROOT / "tests/grader/submissions" / slug).glob("*.py"))]


def expected_of(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), path
    return first.removeprefix("# expect: ").strip()


@pytest.mark.parametrize("slug,path", SUBMISSIONS, ids=[f"{s}/{p.stem}" for s, p in SUBMISSIONS])
def test_submission_gets_its_expected_grade(grader, slug: str, path: Path) -> None:
    result = grader.grade(load_exercise(ROOT / "exercises" / slug), path.read_bytes())
    assert result.status == "graded", result.output
    expected = expected_of(path)
    failed = [f"{t.name}: {t.output}" for t in result.tests if t.status == "failed"]
    if expected == "full":
        assert result.full_marks, "\n".join(failed)
        assert result.misconceptions == []
    else:
        assert not result.full_marks
        assert result.misconceptions[:1] == [expected], "\n".join(failed)


def test_every_style_is_covered() -> None:
    for slug in SLUGS:
        styles = [p for s, p in SUBMISSIONS if s == slug and expected_of(p) == "full"]
        bugs = [p for s, p in SUBMISSIONS if s == slug and expected_of(p) != "full"]
        assert len(styles) >= 5 and len(bugs) >= 5, slug
        assert all(expected_of(p) in CATALOGUE for p in bugs)


@pytest.mark.parametrize("slug", SLUGS)
def test_folder_keeps_to_the_issue(slug: str) -> None:
    exercise = load_exercise(ROOT / "exercises" / slug)
    checks = (exercise.path / "checks.py").read_text()
    assert len(checks.splitlines()) <= 150
    imported = {node.module for node in ast.walk(ast.parse(checks)) if isinstance(node, ast.ImportFrom)}
    assert {m for m in imported if m and m.startswith("grader")} <= {"grader.blocks", "grader.checklib"}
    named = {m.misconception for m in mistakes_of(exercise)}
    assert len(named) >= 6 and named <= set(CATALOGUE)
    for mistake in mistakes_of(exercise):
        lines = mistake.source.splitlines()
        assert lines[0].startswith("# ") and 2 <= len(lines) <= 12, mistake.path
