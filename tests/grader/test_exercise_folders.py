"""The self-test of every exercise folder (grader.selftest, `python -m grader check`): the reference
scores full marks, the starter less, and every file in mistakes/ fails with its own misconception
named first. New folders are picked up automatically; the library's failure modes are shown on
broken copies of a folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader.exercise import discover_exercises, load_exercise
from grader.engine import Grader
from grader.selftest import PassRecord, grader_fingerprint, pass_key, self_test

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = [p for p in discover_exercises(ROOT / "exercises")]


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_exercise_folder_passes_its_self_test(grader, folder: Path) -> None:
    report = self_test(grader, load_exercise(folder))
    assert report.ok, "\n".join(report.lines())


def test_module_exercises_have_mistake_files() -> None:
    for folder in FOLDERS:
        if load_exercise(folder).kind == "module" and folder.name != "degradation":
            assert len(list((folder / "mistakes").glob("*.py"))) >= 6, folder


def test_wrong_reference_fails_clearly(grader, exercise_copy) -> None:
    folder = exercise_copy("identity-block")
    solution = folder / "solution.py"
    solution.write_text(solution.read_text().replace("return F.relu(out + x)", "return F.relu(out) + x"))
    report = self_test(grader, load_exercise(folder))
    assert not report.ok and "the reference scores" in report.lines()[0]


def test_uncaught_mistake_fails_clearly(grader, exercise_copy) -> None:
    folder = exercise_copy("identity-block")
    (folder / "mistakes" / "main_path_wrong__harmless.py").write_text(
        "# Not a mistake at all: the reference under another name.\nclass IdentityBlock(IdentityBlock):\n    pass\n"
    )
    report = self_test(grader, load_exercise(folder))
    assert report.lines() == [
        "FAIL identity-block: mistakes/main_path_wrong__harmless.py: not caught (scores 10/10); "
        "add a check that this mistake fails"
    ]


def test_mistake_named_under_another_name_fails_clearly(grader, exercise_copy) -> None:
    # A second file with the same behaviour as shortcut_missing.py: the grader names the first one it
    # finds, so the new file's misconception is never the one a student is told.
    folder = exercise_copy("identity-block")
    mistakes = folder / "mistakes"
    (mistakes / "skip_can_hurt.py").write_text((mistakes / "shortcut_missing.py").read_text())
    report = self_test(grader, load_exercise(folder))
    assert not report.ok
    [line] = report.lines()
    assert line.startswith("FAIL identity-block: mistakes/skip_can_hurt.py: caught, but named shortcut_missing first")
    assert line.endswith("not skip_can_hurt")


def test_check_command_prints_one_line_per_folder_and_problem(exercise_copy) -> None:
    good = ROOT / "exercises" / "identity-block"
    broken = exercise_copy("identity-block")
    (broken / "mistakes" / "no_such_misconception.py").write_text("# unknown id\n")
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", str(good), str(broken)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("ok   identity-block:")
    assert lines[1:] == [
        "FAIL identity-block: mistakes/no_such_misconception.py: misconception "
        "'no_such_misconception' is not declared in exercises/misconceptions.toml"
    ]


# ---- the pass record sync_exercises keeps (grader.selftest.pass_key, PassRecord) --------------------


def test_the_pass_key_changes_with_the_content_the_catalogue_and_the_grader(grader, exercise_copy) -> None:
    folder = exercise_copy("identity-block")
    key = pass_key(grader, load_exercise(folder))
    assert key is not None and key == pass_key(grader, load_exercise(folder))
    assert pass_key(object(), load_exercise(folder)) is None  # not the real engine: no key, always asked

    (folder / "mistakes" / "conv_bias.py").write_text((folder / "mistakes" / "conv_bias.py").read_text() + "\n")
    changed = pass_key(grader, load_exercise(folder))
    assert changed not in (None, key)
    catalogue = folder.parent / "misconceptions.toml"
    catalogue.write_text(catalogue.read_text() + "\n# edited\n")
    assert pass_key(grader, load_exercise(folder)) not in (None, key, changed)

    insecure = Grader.__new__(Grader)  # the same engine with isolation off: graded differently
    insecure.device, insecure.isolate = grader.device, not grader.isolate
    assert pass_key(insecure, load_exercise(folder)) != pass_key(grader, load_exercise(folder))


def test_the_grader_fingerprint_changes_with_any_grader_source(tmp_path: Path, monkeypatch) -> None:
    import shutil

    import grader.selftest as selftest

    copy = tmp_path / "grader"
    shutil.copytree(selftest._GRADER_PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(selftest, "_GRADER_PACKAGE", copy)
    same = selftest.grader_fingerprint.__wrapped__()
    assert same == grader_fingerprint() and len(same) == 64  # an identical copy: the same fingerprint
    runner = copy / "inside" / "runner.py"
    runner.write_text(runner.read_text() + "\n# edited\n")
    assert selftest.grader_fingerprint.__wrapped__() != same


def test_a_pass_record_reads_back_what_was_written_and_nothing_unreadable(tmp_path: Path) -> None:
    record = PassRecord(tmp_path / "record")
    assert record.get("k1") is None
    record.put("k1", {"slug": "identity-block", "cost": {"wall_s": 1.0, "cpu_s": 0.5, "step_s": 0.1}})
    assert record.get("k1") == {"slug": "identity-block", "cost": {"wall_s": 1.0, "cpu_s": 0.5, "step_s": 0.1}}
    (tmp_path / "record" / "k2.json").write_text('{"slug": ')
    (tmp_path / "record" / "k3.json").write_text("[1, 2]")
    assert record.get("k2") is None and record.get("k3") is None
    assert sorted(p.name for p in (tmp_path / "record").iterdir()) == ["k1.json", "k2.json", "k3.json"]
