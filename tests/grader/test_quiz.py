"""The quiz: authored as a file, randomised per student reproducibly, graded instantly with explanations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.engine import grade_quiz_file, reference_submission
from grader.exercise import ExerciseError, load_exercise, load_misconceptions
from grader.quiz import GENERATORS, load_quiz

ROOT = Path(__file__).resolve().parents[2]
QUIZ_DIR = ROOT / "exercises" / "resnet-quiz"


@pytest.fixture(scope="module")
def quiz():
    ex = load_exercise(QUIZ_DIR)
    return load_quiz(ex, set(load_misconceptions(ROOT / "exercises/misconceptions.toml")))


def test_at_least_15_questions_of_every_type(quiz) -> None:
    kinds = {q.type for q in quiz.questions}
    assert len(quiz.questions) >= 15
    assert kinds >= {"single", "multiple", "numeric", "generated"}
    assert all(q.explanation.strip() for q in quiz.questions)


def test_same_seed_same_numbers_different_students_different_numbers(quiz) -> None:
    alice1 = [r.prompt for r in quiz.render("course-1:alice")]
    alice2 = [r.prompt for r in quiz.render("course-1:alice")]
    bob = [r.prompt for r in quiz.render("course-1:bob")]
    assert alice1 == alice2
    generated = [i for i, q in enumerate(quiz.questions) if q.type == "generated"]
    assert sum(alice1[i] != bob[i] for i in generated) >= len(generated) - 1
    # Fixed questions are the same for everyone.
    assert all(alice1[i] == bob[i] for i in range(len(alice1)) if i not in generated)


def test_generated_answers_follow_the_lecture() -> None:
    import random

    inst = GENERATORS["identity_block_params"](random.Random(1))
    c = int(inst.prompt.split("C = ")[1].split(" ")[0])
    k = int(inst.prompt.split("and ")[1].split("x")[0])
    assert inst.answer == 2 * c * c * k * k + 4 * c


def test_numeric_tolerance_and_wrong_answers_get_the_explanation(quiz) -> None:
    seed = "s1"
    right = float(quiz.correct_response("residual-value", seed))
    assert quiz.grade("residual-value", f"{right + 0.0005}", seed).correct
    wrong = quiz.grade("residual-value", f"{right + 0.5}", seed)
    assert not wrong.correct and wrong.score == 0 and "ReLU" in wrong.explanation
    assert wrong.misconception == "shortcut_after_final_relu"
    assert quiz.grade("same-padding-k5", "2", seed).correct
    assert quiz.grade("same-padding-k5", "2,0", seed).correct  # decimal comma
    assert not quiz.grade("same-padding-k5", "two", seed).correct
    assert not quiz.grade("same-padding-k5", "nan", seed).correct


def test_blank_answers_score_zero_without_a_misconception(quiz) -> None:
    for qid, blank in (
        ("degradation", ""),
        ("why-skips-help", []),
        ("residual-value", None),
        ("same-padding-k5", "  "),
    ):
        r = quiz.grade(qid, blank, "s")
        assert not r.correct and r.misconception == "" and r.feedback == "No answer given."


def test_multiple_choice_is_all_or_nothing(quiz) -> None:
    assert quiz.grade("why-skips-help", ["0", "1", "3"], "s").correct
    assert not quiz.grade("why-skips-help", ["0", "1"], "s").correct
    assert not quiz.grade("why-skips-help", ["0", "1", "3", "4"], "s").correct


def test_quiz_file_grades_through_the_engine_and_the_reference_scores_full() -> None:
    ex = load_exercise(QUIZ_DIR)
    full = grade_quiz_file(ex, reference_submission(ex))
    assert full.full_marks
    half = grade_quiz_file(ex, json.dumps({"seed": "x", "answers": {"degradation": 1}}).encode())
    assert half.score == 1 and half.status == "graded"
    bad = grade_quiz_file(ex, b"not json")
    assert bad.score == 0 and "JSON" in bad.output


def test_malformed_questions_are_refused(tmp_path: Path) -> None:
    import shutil

    dst = tmp_path / "resnet-quiz"
    shutil.copytree(QUIZ_DIR, dst)
    text = (dst / "questions.toml").read_text()
    (dst / "questions.toml").write_text(
        text.replace(
            'answer = 1\nexplanation = "This is the degradation', 'answer = 9\nexplanation = "This is the degradation'
        )
    )
    with pytest.raises(ExerciseError) as info:
        load_quiz(load_exercise(dst))
    assert "question 1 (degradation)" in str(info.value)
