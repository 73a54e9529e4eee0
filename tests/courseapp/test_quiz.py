"""Quizzes in the browser: questions with numbers drawn per student, answers sent as one submission."""

import json
import shutil

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from courseapp import quiz, services
from courseapp.models import Enrolment, Exercise, ExercisePolicy, Submission
from tests.conftest import EXERCISES

pytestmark = pytest.mark.needs_engine


@pytest.fixture
def quiz_world(db, exercises_root, settings, real_grader):
    shutil.copytree(EXERCISES / "resnet-quiz", exercises_root / "resnet-quiz")
    services.exercise_sync(exercises_root, grader=real_grader)
    exercise = Exercise.objects.get(slug="resnet-quiz")
    User = get_user_model()
    users = [User.objects.create_user(name, password="pw-quiz-123") for name in ("quinn", "rory")]
    for user in users:
        Enrolment.objects.create(user=user, course=exercise.course)
    return exercise, users


def _right_answers(exercise, user) -> dict:
    q = quiz._quiz(exercise.current_revision)
    attempt = quiz.quiz_attempt_number(user, exercise)
    seed = quiz.quiz_seed(user, exercise, attempt)
    data = {quiz.ATTEMPT_FIELD: str(attempt)}
    for question in q.questions:
        answer = q.correct_response(question.id, seed)
        data[f"q-{question.id}"] = [str(a) for a in answer] if isinstance(answer, list) else str(answer)
    return data


def test_quiz_page_shows_questions_with_numbers_drawn_per_student(client, quiz_world):
    exercise, (quinn, rory) = quiz_world
    client.force_login(quinn)
    html = client.get(reverse("exercise-detail", args=["resnet-quiz"]), follow=True).content.decode()
    assert 'type="radio" name="q-degradation"' in html and "codemirror" not in html.lower()
    generated = [q.id for q in quiz._quiz(exercise.current_revision).questions if q.type == "generated"]
    mine = {q.id: q.prompt for q in quiz.quiz_questions(quinn, exercise)}
    theirs = {q.id: q.prompt for q in quiz.quiz_questions(rory, exercise)}
    assert generated, "the quiz has questions with numbers drawn per student"
    assert any(mine[i] != theirs[i] for i in generated), "two students do not get the same numbers"
    assert mine == {q.id: q.prompt for q in quiz.quiz_questions(quinn, exercise)}, "a student's numbers are stable"


def test_right_answers_score_full_marks_and_the_seed_comes_from_the_server(client, quiz_world, real_grader, enqueued):
    exercise, (quinn, _) = quiz_world
    client.force_login(quinn)
    data = _right_answers(exercise, quinn) | {"seed": "forged"}
    response = client.post(reverse("exercise-detail", args=["resnet-quiz"]), data)
    assert response.status_code == 302
    sub = Submission.objects.get()
    assert json.loads(sub.source)["seed"] == quiz.quiz_seed(quinn, exercise, 1)
    services.grading_job_run(sub.latest_job.pk, grader=real_grader)
    sub.latest_job.refresh_from_db()
    assert sub.latest_job.result.full_marks, sub.latest_job.result.output

    fragment = client.get(reverse("submission-feedback", args=[sub.pk])).content.decode()
    assert "Passed checks" in fragment and "As a plain (non-residual) network is made deeper" in fragment
    page = client.get(reverse("submission-detail", args=[sub.pk])).content.decode()
    assert 'name="q-degradation" value="1" checked' in page, "the form shows the answers given"


def test_a_wrong_answer_names_the_misconception(client, quiz_world, real_grader, enqueued):
    exercise, (quinn, _) = quiz_world
    # the misconception is part of the answers: shown once they are revealed (here: after the last attempt)
    ExercisePolicy.objects.create(exercise=exercise, max_attempts=1)
    client.force_login(quinn)
    data = _right_answers(exercise, quinn) | {"q-residual-equation": "0"}
    client.post(reverse("exercise-detail", args=["resnet-quiz"]), data)
    sub = Submission.objects.get()
    services.grading_job_run(sub.latest_job.pk, grader=real_grader)
    fragment = client.get(reverse("submission-feedback", args=[sub.pk])).content.decode()
    assert "Failed checks (1)" in fragment and "Which equation describes a residual block" in fragment
    assert "The shortcut is added before the final ReLU" in fragment
