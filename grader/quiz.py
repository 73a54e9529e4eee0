"""Quiz questions authored as files (exercises/<slug>/questions.toml), graded instantly in the web process.

Question types:
    single      one correct choice (answer = index)
    multiple    a set of correct choices (answer = [indices]); all-or-nothing
    numeric     a number, with absolute `tolerance` and/or relative `rel_tolerance`
    generated   numbers drawn from a seed by a named generator below; the web side seeds it per
                student and attempt, so neighbours cannot copy answers and a second attempt is not a
                replay of the first (the seed travels in the submission, so a regrade draws the same)

Nothing here runs student code: answers are parsed as data.

The graded result says right or wrong per question and nothing more; the expected answers and the
explanations go to `extra["answers"]`, which the web shows only once the course's reveal policy
allows it (courseapp.quiz).
"""

from __future__ import annotations

import hashlib
import math
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from grader.exercise import Exercise, ExerciseError
from grader.results import CheckResult, GradeResult, Outcome

TYPES = ("single", "multiple", "numeric", "generated")
_KEYS = {
    "id",
    "type",
    "prompt",
    "choices",
    "answer",
    "tolerance",
    "rel_tolerance",
    "explanation",
    "points",
    "generator",
    "misconception",
    "concept",
}


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    prompt: str
    explanation: str
    points: float = 1.0
    choices: tuple[str, ...] = ()
    answer: Any = None
    tolerance: float = 0.0
    rel_tolerance: float = 0.0
    generator: str = ""
    misconception: str = ""
    concept: str = ""


@dataclass(frozen=True)
class Rendered:
    """What the student sees: never the answer."""

    id: str
    type: str  # single | multiple | numeric (generated questions render as numeric)
    prompt: str
    choices: tuple[str, ...]
    points: float


@dataclass(frozen=True)
class AnswerResult:
    question_id: str
    correct: bool
    score: float
    max_score: float
    expected: str
    explanation: str
    feedback: str
    misconception: str = ""


@dataclass(frozen=True)
class _Instance:
    prompt: str
    answer: float
    tolerance: float
    explanation: str


# ---- generators: seed -> a concrete question (prompt, answer, tolerance, explanation) ------------


def _strided_block_shape(rng: random.Random) -> _Instance:
    c = rng.choice([16, 32, 64, 128])
    h = rng.randint(7, 57)
    w = rng.randint(7, 57)
    n = rng.choice([1, 4, 8, 16])
    ho, wo = math.ceil(h / 2), math.ceil(w / 2)
    return _Instance(
        prompt=(
            f"A batch of shape (N, C, H, W) = ({n}, {c}, {h}, {w}) goes through a conv block (projection "
            f"shortcut) with stride 2 that doubles the number of channels. How many numbers does the output "
            f"tensor hold in total (N x C' x H' x W')?"
        ),
        answer=float(n * 2 * c * ho * wo),
        tolerance=0.0,
        explanation=(
            f"Stride 2 with padding 1 (3x3) gives H' = ceil({h}/2) = {ho} and W' = ceil({w}/2) = {wo}; "
            f"the channels double to {2 * c}. So {n} x {2 * c} x {ho} x {wo} = {n * 2 * c * ho * wo}."
        ),
    )


def _identity_block_params(rng: random.Random) -> _Instance:
    c = rng.choice([8, 16, 24, 32, 48, 64])
    k = rng.choice([1, 3, 5])
    total = 2 * c * c * k * k + 4 * c
    return _Instance(
        prompt=(
            f"How many trainable parameters does an identity block with C = {c} channels and {k}x{k} "
            f"convolutions have? (conv1 -> BN -> ReLU -> conv2 -> BN, convolutions without bias; batch norm "
            f"has a scale and a shift per channel; running statistics are not trainable.)"
        ),
        answer=float(total),
        tolerance=0.0,
        explanation=(
            f"Each convolution has C x C x k x k = {c}x{c}x{k}x{k} = {c * c * k * k} weights; each batch "
            f"norm has 2C = {2 * c}. Total 2 x {c * c * k * k} + 2 x {2 * c} = {total}. The shortcut adds "
            f"no parameters."
        ),
    )


def _residual_value(rng: random.Random) -> _Instance:
    w = rng.choice([-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    a1 = round(rng.uniform(0.0, 3.0), 1)
    b = round(rng.uniform(-2.0, 1.0), 1)
    al = round(rng.uniform(0.0, 2.5), 1)
    z = w * a1 + b
    out = max(0.0, z + al)
    return _Instance(
        prompt=(
            f"In one unit of a residual block, z[l+2] = w * a[l+1] + b with w = {w}, a[l+1] = {a1} and b = {b}. "
            f"The shortcut brings a[l] = {al}. What is a[l+2] (g = ReLU)?"
        ),
        answer=round(out, 6),
        tolerance=1e-3,
        explanation=(
            f"z[l+2] = {w} x {a1} + {b} = {z:.2f}; a[l+2] = ReLU(z[l+2] + a[l]) = ReLU({z:.2f} + {al}) "
            f"= {out:.2f}. The shortcut is added before the ReLU."
        ),
    )


def _same_padding_output(rng: random.Random) -> _Instance:
    k = rng.choice([3, 5, 7])
    h = rng.randint(9, 64)
    p = rng.choice([0, k // 2])
    s = rng.choice([1, 2])
    out = (h + 2 * p - k) // s + 1
    return _Instance(
        prompt=f"A {k}x{k} convolution with padding {p} and stride {s} is applied to a {h}x{h} image. What is the output height?",
        answer=float(out),
        tolerance=0.0,
        explanation=(
            f"floor((H + 2p - k) / s) + 1 = floor(({h} + {2 * p} - {k}) / {s}) + 1 = {out}. "
            f"'Same' padding is p = k // 2 with stride 1."
        ),
    )


def _projection_params(rng: random.Random) -> _Instance:
    cin = rng.choice([16, 32, 64, 128])
    cout = 2 * cin
    total = cin * cout + 2 * cout
    return _Instance(
        prompt=(
            f"A projection shortcut W_s maps {cin} channels to {cout}: a 1x1 convolution without bias followed "
            f"by batch norm. How many trainable parameters does it have?"
        ),
        answer=float(total),
        tolerance=0.0,
        explanation=f"1x1 conv: {cin} x {cout} = {cin * cout} weights; batch norm: 2 x {cout} = {2 * cout}; total {total}.",
    )


GENERATORS: dict[str, Callable[[random.Random], _Instance]] = {
    "strided_block_shape": _strided_block_shape,
    "identity_block_params": _identity_block_params,
    "residual_value": _residual_value,
    "same_padding_output": _same_padding_output,
    "projection_params": _projection_params,
}


def _rng(seed: str, question_id: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}\0{question_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass
class Quiz:
    slug: str
    questions: list[Question] = field(default_factory=list)

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.questions)

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)

    def _instance(self, q: Question, seed: str) -> _Instance:
        return GENERATORS[q.generator](_rng(seed, q.id))

    def render_one(self, q: Question, seed: str) -> str:
        """A generated question's concrete prompt for `seed`."""
        return self._instance(q, seed).prompt

    def render(self, seed: str) -> list[Rendered]:
        out = []
        for q in self.questions:
            if q.type == "generated":
                inst = self._instance(q, seed)
                out.append(
                    Rendered(q.id, "numeric", (q.prompt + "\n\n" if q.prompt else "") + inst.prompt, (), q.points)
                )
            else:
                out.append(Rendered(q.id, q.type, q.prompt, q.choices, q.points))
        return out

    def correct_response(self, qid: str, seed: str) -> Any:
        """The right answer as a form would send it (used to prove the file grades itself full marks)."""
        q = self.question(qid)
        if q.type == "generated":
            return repr(self._instance(q, seed).answer)
        return q.answer

    def grade_all(self, answers: dict[str, Any], seed: str) -> list[AnswerResult]:
        return [self.grade(q.id, answers.get(q.id), seed) for q in self.questions]

    def grade(self, qid: str, response: Any, seed: str) -> AnswerResult:
        """Grade one answer. `response` is what the form sent: an index, a list of indices, or a number/text."""
        q = self.question(qid)
        explanation = q.explanation
        if q.type == "single":
            idx = _as_int(response)
            correct = idx == q.answer
            expected = q.choices[q.answer]
        elif q.type == "multiple":
            picked = {_as_int(r) for r in (response if isinstance(response, (list, tuple)) else [response])}
            picked.discard(None)
            correct = picked == set(q.answer)
            expected = "; ".join(q.choices[i] for i in sorted(q.answer))
        else:
            if q.type == "generated":
                inst = self._instance(q, seed)
                target, tol, rel = inst.answer, inst.tolerance, 0.0
                explanation = f"{inst.explanation}\n{q.explanation}".strip()
            else:
                target, tol, rel = float(q.answer), q.tolerance, q.rel_tolerance
            value = _as_float(response)
            correct = value is not None and abs(value - target) <= max(tol, rel * abs(target)) + 1e-12
            expected = f"{target:g}"
        blank = response is None or (
            isinstance(response, (str, list, tuple))
            and not [r for r in (response if isinstance(response, (list, tuple)) else [response]) if str(r).strip()]
        )
        if correct:
            feedback = "Correct."
        elif blank:
            feedback = "No answer given."
        else:
            feedback = "Not quite."
        # A blank answer shows no misconception: there is nothing to diagnose.
        return AnswerResult(
            q.id,
            correct,
            q.points if correct else 0.0,
            q.points,
            expected,
            explanation,
            feedback,
            "" if correct or blank else q.misconception,
        )


def quiz_grade_result(results: list[AnswerResult], max_score: float) -> GradeResult:
    """The graded result of one quiz submission. Checks say right/wrong only; the expected answers and
    explanations are kept apart (extra["answers"]) for the reveal. Misconceptions stay on the checks
    for the instructor's views; the web withholds them from the student until the reveal."""
    tests = [
        CheckResult(
            r.question_id,
            r.score,
            r.max_score,
            "passed" if r.correct else "failed",
            r.feedback,
            "visible",
            [r.misconception] if r.misconception else [],
        )
        for r in results
    ]
    answers = {r.question_id: {"expected": r.expected, "explanation": r.explanation} for r in results}
    score = sum(t.score for t in tests)
    right = sum(r.correct for r in results)
    return GradeResult(
        score=score,
        max_score=max_score,
        status="graded",
        output=f"{right} of {len(results)} questions right ({score:g}/{max_score:g}).",
        outcome=Outcome.OK if abs(score - max_score) < 1e-9 else Outcome.WRONG,
        tests=tests,
        misconceptions=list(dict.fromkeys(m for t in tests for m in t.misconceptions)),
        extra={"answers": answers},
    )


def _as_int(x: Any) -> int | None:
    try:
        return int(str(x).strip())
    except (TypeError, ValueError):
        return None


def _as_float(x: Any) -> float | None:
    try:
        v = float(str(x).strip().replace(",", "."))
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def load_quiz(exercise: Exercise, misconception_ids: set[str] | None = None) -> Quiz:
    """Read and validate questions.toml; raise ExerciseError naming the file and the question."""
    path = Path(exercise.path) / "questions.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ExerciseError(path, f"is not valid TOML: {exc}") from None
    items = raw.get("question")
    if set(raw) - {"question"} or not isinstance(items, list) or not items:
        raise ExerciseError(path, "must hold a list of [[question]] tables and nothing else")
    seen: set[str] = set()
    questions = []
    for i, item in enumerate(items, 1):
        where = f"question {i} ({item.get('id', '?')})"
        unknown = set(item) - _KEYS
        if unknown:
            raise ExerciseError(path, f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        qid, qtype = item.get("id"), item.get("type")
        if not isinstance(qid, str) or not qid or qid in seen:
            raise ExerciseError(path, f"{where}: needs a unique string id")
        seen.add(qid)
        if qtype not in TYPES:
            raise ExerciseError(path, f"{where}: type must be one of {', '.join(TYPES)}")
        if not str(item.get("explanation", "")).strip():
            raise ExerciseError(path, f"{where}: needs an explanation (shown after answering)")
        choices = tuple(item.get("choices", ()))
        answer = item.get("answer")
        if qtype == "single" and not (isinstance(answer, int) and 0 <= answer < len(choices) and len(choices) >= 2):
            raise ExerciseError(path, f"{where}: a single-choice question needs >= 2 choices and an answer index")
        if qtype == "multiple" and not (
            isinstance(answer, list) and answer and all(isinstance(a, int) and 0 <= a < len(choices) for a in answer)
        ):
            raise ExerciseError(path, f"{where}: a multiple-choice question needs a list of answer indices")
        if qtype == "numeric" and not isinstance(answer, (int, float)):
            raise ExerciseError(path, f"{where}: a numeric question needs a numeric answer")
        if qtype == "generated" and item.get("generator") not in GENERATORS:
            raise ExerciseError(path, f"{where}: generator must be one of {', '.join(GENERATORS)}")
        if qtype != "generated" and not str(item.get("prompt", "")).strip():
            raise ExerciseError(path, f"{where}: needs a prompt")
        mid = str(item.get("misconception", ""))
        if mid and misconception_ids is not None and mid not in misconception_ids:
            raise ExerciseError(path, f"{where}: misconception '{mid}' is not in exercises/misconceptions.toml")
        questions.append(
            Question(
                id=qid,
                type=qtype,
                prompt=str(item.get("prompt", "")),
                explanation=str(item["explanation"]),
                points=float(item.get("points", 1.0)),
                choices=choices,
                answer=answer,
                tolerance=float(item.get("tolerance", 0.0)),
                rel_tolerance=float(item.get("rel_tolerance", 0.0)),
                generator=str(item.get("generator", "")),
                misconception=mid,
                concept=str(item.get("concept", "")),
            )
        )
    quiz = Quiz(exercise.slug, questions)
    if abs(quiz.max_score - exercise.max_score) > 1e-9:
        raise ExerciseError(
            path,
            f"question points add up to {quiz.max_score:g}, but exercise.toml says max_score = {exercise.max_score:g}",
        )
    return quiz
