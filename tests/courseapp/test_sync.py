"""exercise_sync: all or nothing; a new revision only when the content changed."""

import shutil

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from courseapp.models import Course, Exercise, ExerciseRevision
from courseapp.services import exercise_sync
from tests.conftest import IDENTITY_BLOCK, IDENTITY_NO_SHORTCUT, StandInGrader, write_module_folder


def test_sync_creates_revisions_only_when_content_changes(db, exercises_root):
    folder = write_module_folder(exercises_root)
    first = exercise_sync(exercises_root, grader=StandInGrader())
    assert [(s.slug, s.created) for s in first] == [("mini-block", True)]
    ex = Exercise.objects.get(slug="mini-block")
    rev1 = ex.current_revision
    assert rev1.max_score == 10 and rev1.prompt.startswith("# Mini block") and "class Mini" in rev1.starter
    assert set(rev1.files) == {"exercise.toml", "prompt.md", "starter.py", "solution.py", "checks.py"}

    assert [s.created for s in exercise_sync(exercises_root, grader=StandInGrader())] == [False]
    assert ExerciseRevision.objects.count() == 1

    (folder / "prompt.md").write_text("# Mini block, clearer\n")
    assert [s.created for s in exercise_sync(exercises_root, grader=StandInGrader())] == [True]
    ex.refresh_from_db()
    assert ex.current_revision != rev1 and ex.current_revision.prompt == "# Mini block, clearer\n"

    (folder / "prompt.md").write_text("# Mini block\n\nWrite `Mini`.\n")  # back to the first content
    assert [s.created for s in exercise_sync(exercises_root, grader=StandInGrader())] == [False]
    ex.refresh_from_db()
    assert ex.current_revision == rev1 and ExerciseRevision.objects.count() == 2


def test_sync_grades_each_reference(db, exercises_root):
    write_module_folder(exercises_root)
    grader = StandInGrader()
    exercise_sync(exercises_root, grader=grader)
    # graded once to verify it, then a few times more to measure its cost (the derived limits)
    assert set(grader.calls) == {("mini-block", (exercises_root / "mini-block" / "solution.py").read_bytes())}


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (
            lambda f: (f / "exercise.toml").write_text('slug = "mini-block"\ntitle = \n'),
            r"exercise\.toml: is not valid TOML",
        ),
        (lambda f: (f / "checks.py").unlink(), r"checks\.py: is missing"),
        (lambda f: (f / "solution.py").write_text("def broken(:\n"), r"solution\.py: has a syntax error on line 1"),
        (
            lambda f: (f / "exercise.toml").write_text("colour = 1\n" + (f / "exercise.toml").read_text()),
            r"unknown key\(s\): colour",
        ),
        (lambda f: (f / "data.bin").write_bytes(b"\xff\xfe\x00"), r"data\.bin: is not UTF-8"),
    ],
)
def test_sync_refuses_a_malformed_folder_and_writes_nothing(db, exercises_root, breakage, expected):
    write_module_folder(exercises_root, "aaa-good")
    breakage(write_module_folder(exercises_root, "mini-block", order=2))
    with pytest.raises(CommandError, match=expected):
        exercise_sync(exercises_root, grader=StandInGrader())
    assert not Course.objects.exists() and not Exercise.objects.exists() and not ExerciseRevision.objects.exists()


def test_sync_refuses_a_folder_without_exercise_toml(db, exercises_root):
    write_module_folder(exercises_root)
    (exercises_root / "half-made").mkdir()
    with pytest.raises(CommandError, match=r"half-made/exercise\.toml: is missing"):
        exercise_sync(exercises_root, grader=StandInGrader())
    assert not Exercise.objects.exists()


def test_sync_keeps_the_wall_limit_and_refuses_one_above_the_maximum(db, exercises_root, settings):
    folder = write_module_folder(exercises_root)
    toml = (folder / "exercise.toml").read_text()
    (folder / "exercise.toml").write_text(toml.replace("[interface]", "[limits]\nwall_s = 150\n\n[interface]"))
    settings.GRADING_LIMITS_FROM_REFERENCE = False  # the TOML's limits as they are
    exercise_sync(exercises_root, grader=StandInGrader())
    assert Exercise.objects.get().current_revision.wall_s == 150

    settings.GRADING_MAX_WALL_S = 100
    with pytest.raises(CommandError, match=r"wall_s = 150 is above the 100 s a grade may take"):
        exercise_sync(exercises_root, grader=StandInGrader())


# ---- with the real grader and the real identity-block exercise --------------------------


def _copy_identity(root, slug="identity-block"):
    folder = shutil.copytree(IDENTITY_BLOCK, root / slug, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace('slug = "identity-block"', f'slug = "{slug}"'))
    return folder


@pytest.mark.needs_engine
def test_real_sync_of_identity_block(db, exercises_root, real_grader):
    _copy_identity(exercises_root)
    synced = exercise_sync(exercises_root, grader=real_grader)
    assert [(s.slug, s.created) for s in synced] == [("identity-block", True)]
    ex = Exercise.objects.get(slug="identity-block")
    assert ex.kind == "module" and "IdentityBlock" in ex.current_revision.starter


@pytest.mark.needs_engine
def test_real_sync_refuses_a_reference_without_the_shortcut(db, exercises_root, real_grader):
    _copy_identity(exercises_root, "aaa-good")  # a valid folder beside the broken one is not written either
    folder = _copy_identity(exercises_root)
    (folder / "solution.py").write_text(IDENTITY_NO_SHORTCUT)
    with pytest.raises(CommandError, match=r"identity-block/solution\.py: the reference scores .* not full marks"):
        exercise_sync(exercises_root, grader=real_grader)
    assert not Exercise.objects.exists() and not ExerciseRevision.objects.exists()


@pytest.mark.needs_engine
def test_sync_exercises_command_on_the_repository_folder(db, real_grader, monkeypatch, capsys):
    """The command as run.sh runs it, on exercises/ itself, with a Grader of its own."""
    call_command("sync_exercises")
    out = capsys.readouterr().out
    assert "identity-block: new revision" in out and "exercises in sync" in out
    call_command("sync_exercises")
    assert "identity-block: unchanged" in capsys.readouterr().out


# ---- the pass record: a folder that passed is not graded again until something changes -----------


@pytest.mark.needs_engine
def test_a_passed_folder_is_not_graded_again_until_its_content_or_catalogue_changes(
    db, exercises_root, real_grader, settings, tmp_path, monkeypatch
):
    settings.GRADER_SELFTEST_CACHE_DIR = str(tmp_path / "record")  # empty: nothing passed yet
    calls: list[str] = []
    grade = real_grader.grade

    def counting_grade(exercise, data, **kw):
        calls.append(exercise.slug)
        return grade(exercise, data, **kw)

    monkeypatch.setattr(real_grader, "grade", counting_grade)
    folder = _copy_identity(exercises_root)
    exercise_sync(exercises_root, grader=real_grader)
    assert len(calls) >= 4  # the reference verified, then graded 3 times to measure its cost
    assert len(list((tmp_path / "record").glob("*.json"))) == 1
    limits = Exercise.objects.get(slug="identity-block").current_revision.limits
    assert limits["wall_s"] > 0

    calls.clear()  # the same folder into another course: no limits stored there, yet nothing is graded
    settings.COURSE_SLUG = "another-course"
    exercise_sync(exercises_root, grader=real_grader)
    assert calls == []
    other = Exercise.objects.get(course__slug="another-course", slug="identity-block").current_revision
    assert other.limits == limits  # derived from the recorded cost

    (folder / "prompt.md").write_text((folder / "prompt.md").read_text() + "\nOne more line.\n")
    exercise_sync(exercises_root, grader=real_grader)
    assert len(calls) >= 4  # new content: verified and measured again
    assert len(list((tmp_path / "record").glob("*.json"))) == 2

    calls.clear()
    catalogue = exercises_root / "misconceptions.toml"
    catalogue.write_text(catalogue.read_text() + "\n# edited\n")
    exercise_sync(exercises_root, grader=real_grader)
    assert calls  # the catalogue names the mistakes: tested again
    catalogue.write_text(catalogue.read_text().replace("\n# edited\n", ""))
    for record in (tmp_path / "record").glob("*.json"):
        record.write_text("{not json")  # an unreadable record is no pass
    calls.clear()
    settings.COURSE_SLUG = "a-third-course"
    exercise_sync(exercises_root, grader=real_grader)
    assert len(calls) >= 4


@pytest.mark.needs_engine
def test_a_failed_folder_is_not_recorded_and_stays_refused(db, exercises_root, real_grader, settings, tmp_path):
    settings.GRADER_SELFTEST_CACHE_DIR = str(tmp_path / "record")
    folder = _copy_identity(exercises_root)
    (folder / "solution.py").write_text(IDENTITY_NO_SHORTCUT)
    for _ in range(2):
        with pytest.raises(CommandError, match=r"the reference scores .* not full marks"):
            exercise_sync(exercises_root, grader=real_grader)
    assert not list((tmp_path / "record").glob("*.json")) and not Exercise.objects.exists()


def test_a_stand_in_grader_is_always_asked(db, exercises_root, settings, tmp_path):
    settings.GRADER_SELFTEST_CACHE_DIR = str(tmp_path / "record")
    write_module_folder(exercises_root)
    for _ in range(2):
        grader = StandInGrader()
        exercise_sync(exercises_root, grader=grader)
        assert grader.calls
    assert not (tmp_path / "record").exists()
