"""Quizzes on the web side: the questions a student sees (numbers drawn for them alone) and their
answers as a submission. The worker grades quiz submissions like any other (grader.engine)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import QueryDict

from courseapp.services.engine import revision_folder
from grader.exercise import load_exercise
from grader.quiz import Quiz, Rendered, load_quiz

if TYPE_CHECKING:
    from courseapp.models import Exercise, ExerciseRevision

_cache: dict[str, Quiz] = {}
_lock = threading.Lock()


def quiz_seed(user, exercise: "Exercise") -> str:
    """The student's seed for generated numbers: stable for them, not guessable by a neighbour."""
    msg = f"quiz:{exercise.course_id}:{exercise.slug}:{user.pk}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), msg, hashlib.sha256).hexdigest()[:20]


def _quiz(revision: "ExerciseRevision") -> Quiz:
    with _lock:
        quiz = _cache.get(revision.content_hash)
    if quiz is None:
        quiz = load_quiz(load_exercise(revision_folder(revision)))
        with _lock:
            _cache[revision.content_hash] = quiz
    return quiz


def quiz_questions(user, exercise: "Exercise") -> list[Rendered]:
    return _quiz(exercise.current_revision).render(quiz_seed(user, exercise))


def quiz_labels(revision: "ExerciseRevision") -> dict[str, str]:
    """Question id -> its prompt (generated numbers left out), to title the per-question feedback."""
    return {q.id: q.prompt or q.id for q in _quiz(revision).questions}


def quiz_source(user, exercise: "Exercise", data: QueryDict) -> str:
    """The form's answers as the submission the grader reads: {"seed": ..., "answers": {id: response}}.
    The seed comes from the server, never from the form."""
    answers: dict[str, object] = {}
    for q in quiz_questions(user, exercise):
        key = f"q-{q.id}"
        if q.type == "multiple":
            answers[q.id] = data.getlist(key)
        else:
            answers[q.id] = data.get(key, "")
    return json.dumps({"seed": quiz_seed(user, exercise), "answers": answers}, sort_keys=True)


def quiz_answers(source: str) -> dict[str, object]:
    """A quiz submission's answers (to fill the form in again); {} when it is not a quiz answer."""
    try:
        answers = json.loads(source).get("answers", {})
    except (ValueError, AttributeError):
        return {}
    return answers if isinstance(answers, dict) else {}
