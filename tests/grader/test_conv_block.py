"""The conv block (projection shortcut W_s): the reference and correct variants score full marks,
every named mistake is caught, named first and costs points, and crashes explain the lesson."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.checklib import collect_checks
from grader.exercise import Exercise, load_exercise, load_misconceptions
from grader.results import Outcome

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "exercises/conv-block"
SUBMISSIONS = sorted((ROOT / "tests/grader/submissions/conv-block").glob("*.py"))
CATALOGUE = load_misconceptions(ROOT / "exercises/misconceptions.toml")


def expected_of(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), path
    return first.removeprefix("# expect: ").strip()


@pytest.fixture(scope="module")
def conv_block() -> Exercise:
    return load_exercise(FOLDER)


def test_exercise_follows_the_contract(conv_block: Exercise) -> None:
    assert conv_block.slug == "conv-block" and conv_block.kind == "module"
    assert conv_block.class_name == "ConvBlock" and conv_block.max_score == 10
    checks = collect_checks(conv_block)  # also enforces that the points add up to max_score
    assert sum(c.points for c in checks) == 10
    visible = [c.name for c in checks if c.visibility == "visible"]
    assert len(visible) == 2
    assert any("ceil(H/s)" in name for name in visible)  # the shape check
    assert any("W_s" in name for name in visible)  # the lecture-level check
    assert "W_s" in conv_block.prompt_markdown and "1x1" in conv_block.prompt_markdown


def test_every_expected_id_is_declared() -> None:
    for path in SUBMISSIONS:
        expected = expected_of(path)
        assert expected == "full" or expected in CATALOGUE, path


def test_reference_scores_full_marks(grader, conv_block: Exercise) -> None:
    result = grader.grade(conv_block, (FOLDER / "solution.py").read_bytes())
    assert result.status == "graded"
    assert result.full_marks, result.output
    assert result.outcome is Outcome.OK
    assert result.misconceptions == []
    assert result.execution.isolated


def test_starter_scores_zero_with_a_clear_message(grader, conv_block: Exercise) -> None:
    result = grader.grade(conv_block, conv_block.starter_code.encode())
    assert result.status == "graded" and result.score == 0
    assert "NotImplementedError" in json.dumps(result.to_json())


@pytest.mark.parametrize("path", SUBMISSIONS, ids=[p.stem for p in SUBMISSIONS])
def test_each_mistake_is_caught_and_named(grader, conv_block: Exercise, path: Path) -> None:
    expected = expected_of(path)
    result = grader.grade(conv_block, path.read_bytes())
    assert result.status == "graded"
    if expected == "full":
        assert result.full_marks, result.output
        assert result.misconceptions == []
        return
    assert result.score < result.max_score
    assert result.outcome is Outcome.WRONG
    # Named, and named first: the summary leads with it, in words from the catalogue.
    assert result.misconceptions and result.misconceptions[0] == expected, (result.misconceptions, result.output)
    assert CATALOGUE[expected].title in result.output
    failed = [t for t in result.tests if t.status == "failed"]
    assert failed and all(t.output and t.output != "Passed." for t in failed)
    assert any(expected in t.misconceptions for t in failed)
    # Every failing check maps to a misconception with a hint that teaches.
    for t in failed:
        assert t.misconceptions, (t.name, t.output)
        assert "Hint: " in t.output


def _failed_output(result, name_part: str) -> str:
    return next(t.output for t in result.tests if name_part in t.name and t.status == "failed")


def test_missing_projection_explains_why_x_cannot_be_added(grader, conv_block: Exercise) -> None:
    src = (ROOT / "tests/grader/submissions/conv-block/no_projection.py").read_bytes()
    result = grader.grade(conv_block, src)
    shape = _failed_output(result, "ceil(H/s)")
    assert "must match the size" in shape  # the student's own error, shown
    assert "cannot be added" in shape and "W_s" in shape and "1x1 convolution" in shape
    assert result.misconceptions == ["projection_missing"]
    assert result.score == 0


def test_shortcut_stride_crash_is_explained(grader, conv_block: Exercise) -> None:
    src = (ROOT / "tests/grader/submissions/conv-block/shortcut_stride_missing.py").read_bytes()
    result = grader.grade(conv_block, src)
    shape = _failed_output(result, "ceil(H/s)")
    assert "stride 1" in shape and "(2, 8, 4, 4)" in shape
    # Stride 1 blocks are right: that check passes.
    assert next(t for t in result.tests if "stride 1" in t.name).status == "passed"


def test_exception_in_forward_is_a_graded_zero(grader, conv_block: Exercise) -> None:
    src = (
        (FOLDER / "solution.py")
        .read_text()
        .replace(
            "return F.relu(out + self.shortcut_bn(self.shortcut_conv(x)))",
            "return F.relu(out + self.shortcut_bn(self.shortcut_conv(x))) + undefined_name",
        )
    )
    assert "undefined_name" in src
    result = grader.grade(conv_block, src.encode())
    assert result.status == "graded" and result.score == 0
    assert "NameError" in result.tests[0].output and "undefined_name" in result.tests[0].output
    assert "forward_crashed" in result.misconceptions


def test_cli_grades_conv_block_files(tmp_path: Path) -> None:
    files = [FOLDER / "solution.py", ROOT / "tests/grader/submissions/conv-block/no_projection.py"]
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(FOLDER), *map(str, files), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    full, wrong = (json.loads(line) for line in proc.stdout.strip().splitlines())
    assert full["score"] == full["max_score"] == 10
    assert wrong["score"] < 10 and wrong["misconceptions"][0] == "projection_missing"
