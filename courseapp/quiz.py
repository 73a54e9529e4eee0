"""Quizzes on the web side: the questions a student sees (numbers drawn for them and this attempt
alone), their answers as a submission, and when the answers are revealed. The worker grades quiz
submissions like any other (grader.engine).

Integrity rules (issue 12):
- generated numbers are seeded by (student, attempt number): a second attempt is not a replay of
  the first. The seed is written into the submission, so a regrade grades the numbers the student saw;
- the form carries the attempt number it was drawn for: a stale page (another attempt was submitted
  since) is refused instead of being graded against numbers the student never saw;
- before the reveal the student sees right/wrong per question only; the expected answers, the
  explanations and the suspected misconceptions are shown once `answers_revealed` says so: after the
  student's last attempt (all of them graded), after the exercise closes, or always when the
  instructor set the reveal policy to "always" (a practice quiz).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict

from courseapp.services.grader_runtime import revision_folder
from grader.exercise import load_exercise
from grader.quiz import Quiz, Rendered, load_quiz

if TYPE_CHECKING:
    from courseapp.models import Exercise, ExerciseRevision
    from courseapp.policies import Window

ATTEMPT_FIELD = "quiz_attempt"

_cache: dict[str, Quiz] = {}
_lock = threading.Lock()


SEED_TRIES = 32


def _candidate_seed(user, exercise: "Exercise", attempt: int, k: int) -> str:
    msg = f"quiz:{exercise.course_id}:{exercise.slug}:{user.pk}:{attempt}:{k}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), msg, hashlib.sha256).hexdigest()[:20]


def quiz_seed(user, exercise: "Exercise", attempt: int) -> str:
    """The seed for one student's attempt: stable for that attempt, not guessable by a neighbour,
    and drawing different numbers than the attempt before for every generated question (a generator
    with few values would otherwise repeat one by chance): attempt n takes the first of its candidate
    seeds whose numbers all differ from attempt n-1's."""
    revision = exercise.current_revision
    assert revision is not None  # a quiz is shown and seeded only once it has been synced
    quiz = _quiz(revision)
    generated = [q for q in quiz.questions if q.type == "generated"]
    seed, previous = "", None
    for n in range(1, attempt + 1):
        for k in range(SEED_TRIES):
            seed = _candidate_seed(user, exercise, n, k)
            prompts = [quiz.render_one(q, seed) for q in generated]
            if previous is None or all(a != b for a, b in zip(prompts, previous)):
                break
        previous = prompts
    return seed


def quiz_attempt_number(user, exercise: "Exercise") -> int:
    """The number of the student's next attempt: their own submissions so far (failed ones included,
    so a retry after a grader failure also gets fresh numbers) + 1. A regrade is not an attempt."""
    from courseapp.models import Submission

    return Submission.objects.filter(user=user, revision__exercise=exercise).count() + 1


def _quiz(revision: "ExerciseRevision") -> Quiz:
    with _lock:
        quiz = _cache.get(revision.content_hash)
    if quiz is None:
        quiz = load_quiz(load_exercise(revision_folder(revision)))
        with _lock:
            _cache[revision.content_hash] = quiz
    return quiz


def quiz_questions(user, exercise: "Exercise", attempt: int | None = None) -> list[Rendered]:
    """The questions of the student's next attempt (or of `attempt`)."""
    attempt = quiz_attempt_number(user, exercise) if attempt is None else attempt
    if exercise.current_revision is None:  # not open for submissions: no questions to draw
        return []
    return _quiz(exercise.current_revision).render(quiz_seed(user, exercise, attempt))


def quiz_labels(revision: "ExerciseRevision") -> dict[str, str]:
    """Question id -> its prompt (generated numbers left out), to title the per-question feedback."""
    return {q.id: q.prompt or q.id for q in _quiz(revision).questions}


def quiz_source(user, exercise: "Exercise", data: QueryDict) -> str:
    """The form's answers as the submission the grader reads: {"seed", "attempt", "answers"}.
    The seed comes from the server, never from the form; a form drawn for another attempt than the
    next one is refused (ValidationError)."""
    attempt = quiz_attempt_number(user, exercise)
    if data.get(ATTEMPT_FIELD, "").strip() != str(attempt):
        raise ValidationError(
            "This page was out of date: you have submitted this quiz since it was loaded. "
            "Here are the questions of your next attempt, with new numbers."
        )
    answers: dict[str, object] = {}
    for q in quiz_questions(user, exercise, attempt):
        key = f"q-{q.id}"
        if q.type == "multiple":
            answers[q.id] = data.getlist(key)
        else:
            answers[q.id] = data.get(key, "")
    return json.dumps(
        {"seed": quiz_seed(user, exercise, attempt), "attempt": attempt, "answers": answers}, sort_keys=True
    )


def quiz_answers(source: str, exercise: "Exercise | None" = None, seed: str | None = None) -> dict[str, object]:
    """A quiz submission's answers (to fill the form in again); {} when it is not a quiz answer.
    Given the exercise and the seed of the attempt the form is for, answers to generated questions
    drawn with another seed are left out (they answered other numbers)."""
    try:
        data = json.loads(source)
        answers = data.get("answers", {})
    except (ValueError, AttributeError):
        return {}
    if not isinstance(answers, dict):
        return {}
    if exercise is not None and exercise.current_revision is not None and seed is not None and data.get("seed") != seed:
        generated = {q.id for q in _quiz(exercise.current_revision).questions if q.type == "generated"}
        answers = {k: v for k, v in answers.items() if k not in generated}
    return answers


# ---- the reveal ---------------------------------------------------------------------------------


def answers_revealed(exercise: "Exercise", user, window: "Window", now: datetime) -> bool:
    """Whether the student may see the quiz's answers, explanations and misconceptions now."""
    from courseapp.models import GradingJob
    from courseapp import policies

    if window.reveal_hidden == "always":
        return True
    closes = window.closes_at
    if closes is not None and now > closes:
        return True
    if window.max_attempts is None:
        return False
    attempts = policies.student_attempts(exercise, user)
    used, _ = policies.attempt_usage(exercise, user)
    # Every attempt used, and none still grading: a queued attempt that fails would give one back.
    in_flight = attempts.filter(jobs__status__in=(GradingJob.Status.QUEUED, GradingJob.Status.RUNNING)).exists()
    return used >= window.max_attempts and not in_flight


def quiz_feedback(feedback: dict[str, Any], result, revealed: bool) -> dict[str, Any]:
    """The student's per-question feedback (selectors.result_feedback's shape): right/wrong only
    before the reveal; each question's expected answer and explanation after it."""
    answers = (result.extra or {}).get("answers", {}) if isinstance(result.extra, dict) else {}
    out = dict(feedback)
    if not revealed:
        out["misconceptions"] = []
        out["overall_ids"] = set()
    for group in ("failed", "passed"):
        items = []
        for item, test in zip(
            feedback[group], [t for t in result.tests if (t.get("status") == "passed") == (group == "passed")]
        ):
            item = dict(item)
            given = answers.get(test.get("name", ""), {}) if revealed else {}
            if revealed and given:
                item["output"] = (
                    f"{item['output']} Expected: {given.get('expected', '')}. {given.get('explanation', '')}".strip()
                )
            if not revealed:
                item["misconceptions"] = []
            items.append(item)
        out[group] = items
    out["quiz_revealed"] = revealed
    return out
