"""Quiz integrity (issue 12): no free answers.

- per-question feedback says right/wrong only (blank answers included) until the answers are revealed;
- answers and explanations are revealed after the student's last attempt or after the exercise closes;
- generated questions draw new numbers for every attempt (seeded by student and attempt number), and
  a regrade grades against the numbers the student saw.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from courseapp import quiz, services
from courseapp.models import ExercisePolicy, Submission
from grader.engine import grade_quiz_file
from grader.exercise import load_exercise
from tests.conftest import EXERCISES

URL = reverse("exercise-detail", args=["resnet-quiz"])


def _questions(exercise):
    return quiz._quiz(exercise.current_revision).questions


def _post(client, exercise, user, answers: dict) -> Submission:
    data = {"quiz_attempt": str(quiz.quiz_attempt_number(user, exercise)), **answers}
    response = client.post(URL, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Submission.objects.filter(user=user).order_by("-id").first()


def _graded_fragment(client, quiz_grader, submission) -> str:
    services.grading_job_run(submission.latest_job.pk, grader=quiz_grader)
    return client.get(reverse("submission-feedback", args=[submission.pk])).content.decode()


def test_the_grader_never_writes_the_expected_answer_into_the_feedback():
    spec = load_exercise(EXERCISES / "resnet-quiz")
    from grader.quiz import load_quiz

    questions = load_quiz(spec).questions
    wrong = {q.id: "0" if q.type != "multiple" else ["4"] for q in questions}
    for answers in ({}, wrong):  # blank, then wrong
        result = grade_quiz_file(spec, json.dumps({"seed": "s1", "answers": answers}).encode())
        assert result.score < result.max_score
        for check, q in zip(result.tests, questions):
            assert check.output in ("Correct.", "Not quite.", "No answer given."), check.output
            assert "Expected" not in check.output and q.explanation not in check.output


def test_generated_numbers_change_with_every_attempt(client, quiz_world, quiz_grader, enqueued):
    exercise, (quinn, rory) = quiz_world
    generated = [q.id for q in _questions(exercise) if q.type == "generated"]
    client.force_login(quinn)
    first = {q.id: q.prompt for q in quiz.quiz_questions(quinn, exercise)}
    assert first == {q.id: q.prompt for q in quiz.quiz_questions(quinn, exercise)}, "stable within an attempt"
    sub = _post(client, exercise, quinn, {})
    second = {q.id: q.prompt for q in quiz.quiz_questions(quinn, exercise)}
    assert all(first[i] != second[i] for i in generated), "a second attempt draws new numbers"
    # the page shows the second attempt's numbers
    page = client.get(URL, follow=True).content.decode()
    assert all(second[i].split("\n")[-1][:60] in page.replace("<br>", "\n") for i in generated)
    # the submission keeps the seed of the numbers it answered, so a regrade grades the same numbers
    assert json.loads(sub.source)["seed"] == quiz.quiz_seed(quinn, exercise, 1)
    assert quiz.quiz_seed(quinn, exercise, 1) != quiz.quiz_seed(rory, exercise, 1)
    # every attempt differs from the one before in every generated question, whatever the generator's range
    for user in (quinn, rory):
        prompts = [{q.id: q.prompt for q in quiz.quiz_questions(user, exercise, n)} for n in range(1, 9)]
        for before, after in zip(prompts, prompts[1:]):
            assert all(before[i] != after[i] for i in generated)


def test_right_answers_for_the_current_attempt_score_full_marks(client, quiz_world, quiz_grader, enqueued):
    exercise, (quinn, _) = quiz_world
    client.force_login(quinn)
    _post(client, exercise, quinn, {})
    q = quiz._quiz(exercise.current_revision)
    seed = quiz.quiz_seed(quinn, exercise, quiz.quiz_attempt_number(quinn, exercise))
    data = {}
    for question in q.questions:
        answer = q.correct_response(question.id, seed)
        data[f"q-{question.id}"] = [str(a) for a in answer] if isinstance(answer, list) else str(answer)
    sub = _post(client, exercise, quinn, data)
    services.grading_job_run(sub.latest_job.pk, grader=quiz_grader)
    sub.latest_job.refresh_from_db()
    assert sub.latest_job.result.full_marks, sub.latest_job.result.output


def _explanations(exercise) -> list[str]:
    return [q.explanation for q in _questions(exercise)]


def _no_answers_in(fragment: str, exercise) -> None:
    text = re.sub(r"\s+", " ", fragment)
    assert "Expected" not in text
    for explanation in _explanations(exercise):
        assert explanation[:50] not in text, explanation
    assert "Likely mistake" not in text and "What to look at" not in text


def test_before_reveal_feedback_says_right_or_wrong_only(client, quiz_world, quiz_grader, enqueued):
    exercise, (quinn, _) = quiz_world
    ExercisePolicy.objects.create(exercise=exercise, max_attempts=3, due_at=timezone.now() + timedelta(days=1))
    client.force_login(quinn)
    blank = _graded_fragment(client, quiz_grader, _post(client, exercise, quinn, {}))
    assert "No answer given." in blank
    _no_answers_in(blank, exercise)
    wrong = _graded_fragment(client, quiz_grader, _post(client, exercise, quinn, {"q-residual-equation": "0"}))
    assert "Not quite." in wrong
    _no_answers_in(wrong, exercise)


def test_answers_are_revealed_after_the_last_attempt(client, quiz_world, quiz_grader, enqueued):
    exercise, (quinn, rory) = quiz_world
    ExercisePolicy.objects.create(exercise=exercise, max_attempts=2)
    client.force_login(quinn)
    first = _post(client, exercise, quinn, {"q-residual-equation": "0"})
    _no_answers_in(_graded_fragment(client, quiz_grader, first), exercise)
    last = _graded_fragment(client, quiz_grader, _post(client, exercise, quinn, {"q-residual-equation": "0"}))
    residual = next(q for q in _questions(exercise) if q.id == "residual-equation")
    assert residual.explanation in last and residual.choices[residual.answer] in last
    assert "The shortcut is added before the final ReLU" in last  # the misconception, now
    # the earlier attempt's feedback is revealed too, another student's is not
    assert residual.explanation in client.get(reverse("submission-feedback", args=[first.pk])).content.decode()
    client.force_login(rory)
    _no_answers_in(_graded_fragment(client, quiz_grader, _post(client, exercise, rory, {})), exercise)


def test_answers_are_revealed_after_the_exercise_closes(client, quiz_world, quiz_grader, enqueued):
    exercise, (quinn, _) = quiz_world
    policy = ExercisePolicy.objects.create(exercise=exercise, due_at=timezone.now() + timedelta(hours=1))
    client.force_login(quinn)
    sub = _post(client, exercise, quinn, {})
    _no_answers_in(_graded_fragment(client, quiz_grader, sub), exercise)
    policy.due_at = timezone.now() - timedelta(minutes=1)
    policy.save()
    fragment = client.get(reverse("submission-feedback", args=[sub.pk])).content.decode()
    assert _explanations(exercise)[0] in fragment


def test_a_stale_quiz_page_is_refused_not_graded_with_other_numbers(client, quiz_world, enqueued):
    exercise, (quinn, _) = quiz_world
    client.force_login(quinn)
    _post(client, exercise, quinn, {})
    response = client.post(URL, {"quiz_attempt": "1"})  # the page of the first attempt, sent again
    assert response.status_code == 400
    assert "new numbers" in response.content.decode()
    assert Submission.objects.filter(user=quinn).count() == 1
