"""The identity block: the reference scores full marks, every named mistake is caught and named,
and broken submissions get a graded 0 with a clear message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.exercise import Exercise, load_misconceptions
from grader.results import Outcome

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = sorted((ROOT / "tests/grader/submissions/identity-block").glob("*.py"))
CATALOGUE = load_misconceptions(ROOT / "exercises/misconceptions.toml")


def expected_of(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), path
    return first.removeprefix("# expect: ").strip()


def test_reference_scores_full_marks(grader, identity_block: Exercise) -> None:
    result = grader.grade(identity_block, (identity_block.path / "solution.py").read_bytes())
    assert result.status == "graded"
    assert result.full_marks, result.output
    assert result.outcome is Outcome.OK
    assert result.misconceptions == []
    assert result.execution.isolated


def test_starter_scores_zero_with_a_clear_message(grader, identity_block: Exercise) -> None:
    result = grader.grade(identity_block, identity_block.starter_code.encode())
    assert result.score == 0
    assert "NotImplementedError" in json.dumps(result.to_json())


@pytest.mark.parametrize("path", SUBMISSIONS, ids=[p.stem for p in SUBMISSIONS])
def test_each_mistake_is_caught_and_named(grader, identity_block: Exercise, path: Path) -> None:
    expected = expected_of(path)
    result = grader.grade(identity_block, path.read_bytes())
    assert result.status == "graded"
    if expected == "full":
        assert result.full_marks, result.output
        return
    assert result.score < result.max_score
    assert result.outcome is Outcome.WRONG
    assert expected in result.misconceptions, (result.misconceptions, result.output)
    # The summary leads with the most likely mistake, in words from the catalogue.
    assert CATALOGUE[result.misconceptions[0]].title in result.output
    failed = [t for t in result.tests if t.status == "failed"]
    assert failed and all(t.output and t.output != "Passed." for t in failed)
    assert any(expected in t.misconceptions for t in failed)


BAD_INPUTS = {
    "syntax_error": (b"import torch\nclass IdentityBlock(torch.nn.Module)\n    pass\n", "syntax error on line 2"),
    "missing_class": (
        b"import torch\nclass ResidualBlock(torch.nn.Module):\n    pass\n",
        "does not define a class named IdentityBlock",
    ),
    "not_a_module": (b"class IdentityBlock:\n    pass\n", "subclasses torch.nn.Module"),
    "wrong_signature": (
        b"import torch\nclass IdentityBlock(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n",
        "TypeError",
    ),
    "import_error": (b"import numpy_does_not_exist\n", "could not be imported"),
    "raises_at_import": (b"raise RuntimeError('boom at import')\n", "boom at import"),
    "empty": (b"   \n", "empty"),
    "not_utf8": ("class IdentityBlock: pass  # caf\u00e9\n".encode("latin-1"), "not UTF-8"),
    "too_big": (b"# " + b"x" * (1024 * 1024) + b"\n", "limit is 64 KiB"),
    "nul_bytes": (b"import torch\x00\n", "NUL"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_a_graded_zero_with_a_clear_message(grader, identity_block: Exercise, name: str) -> None:
    data, phrase = BAD_INPUTS[name]
    result = grader.grade(identity_block, data)
    assert result.status == "graded"
    assert result.score == 0
    text = result.output + "\n".join(t.output for t in result.tests)
    assert phrase in text, text


def test_exception_in_forward_is_a_graded_zero(grader, identity_block: Exercise) -> None:
    src = (
        (identity_block.path / "solution.py")
        .read_text()
        .replace("return F.relu(out + x)", "return F.relu(out + x) + undefined_name")
    )
    result = grader.grade(identity_block, src.encode())
    assert result.score == 0
    assert "NameError" in result.tests[0].output and "undefined_name" in result.tests[0].output
    assert "forward_crashed" in result.misconceptions


def test_timeout_is_a_graded_zero(grader, exercise_copy) -> None:
    from grader.exercise import load_exercise

    folder = exercise_copy("identity-block")
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace("wall_s = 20", "wall_s = 2"))
    exercise = load_exercise(folder)
    src = (
        (folder / "solution.py")
        .read_text()
        .replace("out = F.relu(self.bn1", "while True: pass\n        out = F.relu(self.bn1")
    )
    result = grader.grade(exercise, src.encode())
    assert result.status == "graded" and result.score == 0
    assert result.outcome is Outcome.TIMEOUT
    assert "took too long" in result.output
    # The pool recovers: the next grade is normal.
    assert grader.grade(exercise, (folder / "solution.py").read_bytes()).full_marks


def test_cli_prints_one_json_object_per_file(tmp_path: Path) -> None:
    buggy = ROOT / "tests/grader/submissions/identity-block/no_shortcut.py"
    broken = tmp_path / "broken.py"
    broken.write_bytes(b"def (:\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            str(ROOT / "exercises/identity-block"),
            str(ROOT / "exercises/identity-block/solution.py"),
            str(buggy),
            str(broken),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 3
    full, no_shortcut, syntax = (json.loads(line) for line in lines)
    for obj in (full, no_shortcut, syntax):
        assert set(obj) >= {"score", "max_score", "status", "output", "tests", "misconceptions", "execution"}
        assert obj["status"] == "graded"
        for t in obj["tests"]:
            assert t["status"] in ("passed", "failed") and t["visibility"] in ("visible", "hidden", "after_due_date")
    assert full["score"] == full["max_score"] == 10
    assert no_shortcut["score"] < 10 and "shortcut_missing" in no_shortcut["misconceptions"]
    assert "shortcut" in no_shortcut["output"].lower()
    assert syntax["score"] == 0 and "syntax error" in syntax["output"]


def test_cli_exit_status_is_nonzero_when_grading_cannot_run(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(tmp_path), str(tmp_path / "x.py"), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "exercise.toml" in proc.stderr
