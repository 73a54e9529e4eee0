"""The degradation experiment: the reference scores full marks with the shipped budget and shows the
effect, the curves and progress events are produced, the budget comes from exercise.toml, grades are
deterministic, and each named mistake is caught (on a smaller budget, for speed)."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest

from grader.checklib import collect_checks
from grader.exercise import Exercise, load_exercise, load_misconceptions
from grader.results import Outcome

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "exercises/degradation"
SUBMISSIONS = sorted((ROOT / "tests/grader/submissions/degradation").glob("*.py"))
CATALOGUE = load_misconceptions(ROOT / "exercises/misconceptions.toml")
# Small enough for the test suite, still a clear effect (measured: plain 1.27-1.62, residual 0.21-0.38
# over four seed pairs on this budget).
SMALL = {"depth": 8, "steps": 60, "chunk": 20}


def expected_of(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), path
    return first.removeprefix("# expect: ").strip()


def copy_exercise(root: Path, overrides: dict[str, object]) -> Path:
    """A copy of the exercise (with the module's catalogue) whose [train] table is overridden."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "exercises/misconceptions.toml", root / "misconceptions.toml")
    dst = root / "degradation"
    shutil.copytree(FOLDER, dst, ignore=shutil.ignore_patterns("__pycache__"))
    toml = dst / "exercise.toml"
    text = toml.read_text()
    for key, value in overrides.items():
        text = re.sub(rf"(?m)^{key}\s*=.*\n", "", text)
        text = text.rstrip("\n") + f"\n{key} = {json.dumps(value)}\n"  # [train] is the last table
    toml.write_text(text)
    return dst


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def __call__(self, event: str, data: dict) -> None:
        json.dumps(data)  # progress data must be plain JSON
        self.events.append((event, data))

    def of(self, kind: str) -> list[dict]:
        return [d for e, d in self.events if e == kind]


@pytest.fixture(scope="module")
def degradation() -> Exercise:
    return load_exercise(FOLDER)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Exercise:
    return load_exercise(copy_exercise(tmp_path_factory.mktemp("small"), SMALL))


@pytest.fixture(scope="module")
def reference_run(grader, degradation: Exercise):
    """One full grade of the reference with the shipped budget (what a worker does)."""
    rec = Recorder()
    result = grader.grade(degradation, (FOLDER / "solution.py").read_bytes(), progress=rec)
    return result, rec


def test_exercise_follows_the_issue(degradation: Exercise) -> None:
    assert degradation.slug == "degradation" and degradation.kind == "module"
    assert degradation.function_name == "make_net" and degradation.class_name == ""
    assert degradation.queue == "gpu" and degradation.max_score == 10
    assert sum(c.points for c in collect_checks(degradation)) == 10
    train = degradation.extra["train"]
    assert train["depth"] >= 12 and train["steps"] > 0 and 0 < train["max_ratio"] < 1
    assert degradation.limits.wall_s >= 60
    assert "make_net(depth: int, residual: bool)" in degradation.prompt_markdown
    assert "training" in degradation.prompt_markdown.lower()


def test_every_expected_id_is_declared() -> None:
    assert SUBMISSIONS
    for path in SUBMISSIONS:
        expected = expected_of(path)
        assert expected == "full" or expected in CATALOGUE, path


def test_reference_scores_full_marks_with_the_shipped_budget(reference_run, degradation: Exercise) -> None:
    result, _ = reference_run
    assert result.status == "graded"
    assert result.full_marks, result.output
    assert result.outcome is Outcome.OK and result.misconceptions == []
    assert result.execution.isolated
    train = degradation.extra["train"]
    final = result.extra["final_loss"]
    # The effect, clearly: measured here and in bench/degradation.py at about plain 0.95, residual 0.05.
    assert final["residual"] < train["max_ratio"] * final["plain"]
    assert final["plain"] - final["residual"] >= train["min_gap"]


def test_curves_and_progress_are_produced(reference_run, degradation: Exercise) -> None:
    result, rec = reference_run
    train = degradation.extra["train"]
    steps, chunk = train["steps"], train["chunk"]
    curves = result.extra["curves"]
    assert set(curves) == {"plain", "residual"}
    for name in ("plain", "residual"):
        assert len(curves[name]) == steps
        assert all(v is not None and math.isfinite(v) and v >= 0 for v in curves[name])
        assert curves[name][-1] < curves[name][0]  # both nets learn something
    info = result.extra["experiment"]
    assert info["depth"] == train["depth"] and info["steps"] == steps and info["device"] == "cpu"
    # Live progress: one event per net per chunk, in order, then the measured losses.
    events = rec.of("train")
    assert len(events) == 2 * math.ceil(steps / chunk)
    for name in ("plain", "residual"):
        mine = [e for e in events if e["net"] == name]
        assert [e["step"] for e in mine] == [min(steps, chunk * (i + 1)) for i in range(len(mine))]
        assert all(e["total"] == steps and isinstance(e["loss"], float) for e in mine)
        assert mine[-1]["loss"] == curves[name][-1]
    assert rec.of("measured") == [{"final_loss": result.extra["final_loss"]}]
    assert len(rec.of("check")) == len(result.tests)
    # What the web page reads: plain JSON in the result.
    d = json.loads(json.dumps(result.to_json()))
    assert d["extra"]["curves"]["residual"] == curves["residual"]


def test_small_budget_comes_from_the_toml_and_grades_are_deterministic(grader, small: Exercise) -> None:
    src = (FOLDER / "solution.py").read_bytes()
    first, second = grader.grade(small, src), grader.grade(small, src)
    assert first.full_marks, first.output
    assert len(first.extra["curves"]["plain"]) == SMALL["steps"]
    assert first.extra["experiment"]["depth"] == SMALL["depth"]
    # Initial weights and mini-batches come from fixed seeds on the trusted side: the same numbers.
    assert first.extra["final_loss"] == second.extra["final_loss"]
    assert first.extra["curves"] == second.extra["curves"]


@pytest.mark.parametrize("path", SUBMISSIONS, ids=[p.stem for p in SUBMISSIONS])
def test_each_mistake_is_caught_and_named(grader, small: Exercise, path: Path) -> None:
    expected = expected_of(path)
    result = grader.grade(small, path.read_bytes())
    assert result.status == "graded"
    if expected == "full":
        assert result.full_marks, result.output
        assert result.misconceptions == []
        return
    assert result.score < result.max_score and result.outcome is Outcome.WRONG
    assert result.misconceptions and result.misconceptions[0] == expected, (result.misconceptions, result.output)
    assert CATALOGUE[expected].title in result.output
    failed = [t for t in result.tests if t.status == "failed"]
    for t in failed:  # every failing check names a mistake and teaches with a hint
        assert t.misconceptions, (t.name, t.output)
        assert "Hint: " in t.output


@pytest.mark.parametrize("name", ["ignores_flag", "plain_only"])
def test_same_net_twice_fails_the_experiment_without_training(grader, small: Exercise, name: str) -> None:
    result = grader.grade(small, (ROOT / f"tests/grader/submissions/degradation/{name}.py").read_bytes())
    experiment = [t for t in result.tests if "training loss" in t.name or "train under" in t.name]
    assert len(experiment) == 2 and all(t.status == "failed" for t in experiment)
    assert all("residual_flag_ignored" in t.misconceptions for t in experiment)
    assert "curves" not in result.extra  # nothing was trained: the two nets are the same function
    flag = next(t for t in result.tests if "residual=True" in t.name)
    assert flag.status == "failed" and "g(0 + a[l]) = a[l]" in flag.output
    assert "residual_flag_ignored" in result.misconceptions
    if name == "plain_only":
        assert result.misconceptions[0] == "shortcut_missing"


def test_starter_scores_zero_with_a_clear_message(grader, small: Exercise) -> None:
    result = grader.grade(small, small.starter_code.encode())
    assert result.status == "graded" and result.score == 0
    assert "NotImplementedError" in json.dumps(result.to_json())


def test_unknown_budget_key_is_the_authors_error(grader, tmp_path: Path) -> None:
    broken = load_exercise(copy_exercise(tmp_path, {"epochs": 3}))
    result = grader.grade(broken, (FOLDER / "solution.py").read_bytes())
    assert result.status == "error" and "epochs" in result.output
