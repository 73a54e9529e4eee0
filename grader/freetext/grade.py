"""Grading one free-text answer: the rubric's reading, the nearest labelled answers, a confidence,
and whether the grade is released or provisional (waits for a teacher's review).

    from grader.freetext import grade, Exemplar
    result = grade("A residual block ...", exercise, exemplars=[Exemplar(text, "partial", 5.0)])
    result.confidence, result.provisional, result.score

grade_freetext(exercise, submission_bytes, exemplars=...) is the entry point grader.engine calls.
Neither ever raises: bad input is a graded 0 (outcome 'rejected'), a broken rubric or a missing
model is status 'error' (the grader's fault, not the student's).
"""

from __future__ import annotations

import hashlib
import resource
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from grader.exercise import Exercise, ExerciseError
from grader.freetext.analyse import Analysis, analyse
from grader.freetext.confidence import Decision, decide
from grader.freetext.exemplars import Exemplar, ExemplarBank, read_exemplar_file
from grader.freetext.feedback import BAND_WORDS, concept_checks, overall
from grader.freetext.model import ModelUnavailable, get_model
from grader.freetext.rubric import Rubric, load_rubric
from grader.freetext.score import Band, band_of, score_of
from grader.freetext.text import BadInput, decode_answer, normalise
from grader.results import CheckResult, Execution, GradeResult, Outcome, zero_result

REVIEW_NOTICE = "Your answer is being reviewed by an instructor; this grade is not final yet."


def _execution(wall0: float, cpu0: float) -> Execution:
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    # Nothing runs in a sandbox: the answer is only read as text, never executed.
    return Execution(
        wall_s=time.perf_counter() - wall0,
        cpu_s=time.process_time() - cpu0,
        device="cpu",
        peak_rss_mb=peak_kb / 1024,
        isolated=False,
    )


def warm_up() -> None:
    """Load the model now (call once when a worker starts) so the first student does not wait."""
    get_model()


@dataclass(frozen=True)
class Evidence:
    """What the rubric reads in one answer; it does not depend on the exemplars, so cross-validation
    and threshold calibration compute it once per answer and re-decide cheaply."""

    text: str
    analysis: Analysis
    rubric_score: float
    rubric_band: Band


def read_answer(text: str, rubric: Rubric, max_score: float) -> Evidence:
    analysis = analyse(text, rubric)
    score = score_of(analysis, max_score, rubric.scoring)
    return Evidence(
        text=text, analysis=analysis, rubric_score=score, rubric_band=band_of(score, max_score, rubric.scoring)
    )


_evidence_cache: OrderedDict[tuple[str, float, str], Evidence] = OrderedDict()
_evidence_lock = threading.Lock()
_EVIDENCE_LIMIT = 5_000


def read_answer_cached(text: str, rubric: Rubric, max_score: float) -> Evidence:
    """read_answer, remembered per rubric file and text in this process: what the rubric reads in an
    answer does not depend on the exemplars, so recalibrating and dry-run regrades after each teacher
    decision read each answer once."""
    try:
        stamp = f"{rubric.path}:{rubric.path.stat().st_mtime_ns}"
    except OSError:
        return read_answer(text, rubric, max_score)
    key = (stamp, max_score, hashlib.sha256(text.encode("utf-8")).hexdigest())
    with _evidence_lock:
        hit = _evidence_cache.get(key)
        if hit is not None:
            _evidence_cache.move_to_end(key)
            return hit
    evidence = read_answer(text, rubric, max_score)
    with _evidence_lock:
        _evidence_cache[key] = evidence
        while len(_evidence_cache) > _EVIDENCE_LIMIT:
            _evidence_cache.popitem(last=False)
    return evidence


_seed_cache: dict[tuple[str, ...], list[Exemplar]] = {}
_seed_lock = threading.Lock()


def seed_exemplars(exercise: Exercise, rubric: Rubric) -> list[Exemplar]:
    """The exemplars the exercise ships (rubric.toml [review] seed_exemplars), cached per file version."""
    paths = [exercise.file(name) for name in rubric.review.seed_exemplars]
    try:
        key = tuple(f"{p}:{p.stat().st_mtime_ns}" for p in paths)
    except FileNotFoundError as exc:
        raise ExerciseError(exc.filename or exercise.path, "is missing (named in [review] seed_exemplars)") from None
    with _seed_lock:
        cached = _seed_cache.get(key)
    if cached is None:
        cached = [e for p in paths for e in read_exemplar_file(p, source="seed")]
        with _seed_lock:
            _seed_cache[key] = cached
    return cached


def exemplar_bank(
    exercise: Exercise, rubric: Rubric, exemplars: Sequence[Exemplar] | None = None, include_seed: bool = True
) -> ExemplarBank:
    """Seed exemplars, then the teacher's (a teacher's label of a text replaces the seed's)."""
    seeds = seed_exemplars(exercise, rubric) if include_seed else []
    # Normalised as answers are, so a label of a text replaces another label of the same text.
    return ExemplarBank.build(
        [Exemplar(normalise(e.text.strip()), e.band, e.score, e.source) for e in [*seeds, *(exemplars or ())]],
        exercise.max_score,
    )


def _compose(body: str, decision: Decision, provisional: bool, max_score: float) -> str:
    """The rubric's feedback, with a note when similar graded answers decided the band, and the
    review notice first when the grade is provisional."""
    head, _, rest = body.partition("\n")
    lines = [head]
    if decision.followed == "exemplars":
        lines.append(
            f"Answers very similar to yours were graded {BAND_WORDS[decision.band].lower()}, so this "
            "grade follows them; the rubric's own reading of your answer is below."
        )
    if rest:
        lines.append(rest)
    text = "\n".join(lines)
    if not provisional:
        return text
    return (
        f"{REVIEW_NOTICE}\nWhat the grader found so far (its proposal, confidence {decision.confidence:.0%}):\n{text}"
    )


def result_for(
    exercise: Exercise,
    rubric: Rubric,
    evidence: Evidence,
    decision: Decision,
    threshold: float,
    execution: Execution | None = None,
) -> GradeResult:
    provisional = decision.confidence < threshold
    analysis = evidence.analysis
    tests: list[CheckResult] = concept_checks(analysis, rubric, rubric.catalogue)
    body = overall(analysis, rubric, decision.score, exercise.max_score, decision.band, rubric.catalogue)
    output = _compose(body, decision, provisional, exercise.max_score)
    full_marks = abs(decision.score - exercise.max_score) < 1e-9
    return GradeResult(
        score=decision.score,
        max_score=exercise.max_score,
        status="graded",
        output=output,
        outcome=Outcome.OK if full_marks else Outcome.WRONG,
        tests=tests,
        misconceptions=analysis.misconception_ids,
        execution=execution or Execution(device="cpu", isolated=False),
        extra={
            "band": decision.band,
            "gate": analysis.gate or "",
            "concepts": [h.concept.id for h in analysis.hits if h.covered],
            "rubric_band": decision.rubric_band,
            "rubric_score": decision.rubric_score,
            "followed": decision.followed,
            "threshold": round(threshold, 4),
            "votes": {b: round(v, 4) for b, v in decision.votes.items()},
            "neighbours": [
                {"similarity": round(n.similarity, 3), "band": n.band, "source": n.source}
                for n in decision.neighbours[:3]
            ],
            "doubts": list(decision.doubts),
            # Repeated here so a store that keeps only `extra` (the course app's Result) keeps them too.
            "confidence": round(decision.confidence, 4),
            "provisional": provisional,
        },
        confidence=decision.confidence,
        provisional=provisional,
    )


def _decide(evidence: Evidence, bank: ExemplarBank, rubric: Rubric, max_score: float) -> Decision:
    """The band, score and confidence from the rubric's reading and the exemplars (grade and preview)."""
    return decide(
        evidence.analysis,
        evidence.rubric_score,
        evidence.rubric_band,
        bank,
        rubric.review,
        rubric.scoring,
        max_score,
    )


def grade(
    answer: str | bytes,
    exercise: Exercise,
    exemplars: Sequence[Exemplar] | None = None,
    *,
    threshold: float | None = None,
    include_seed: bool = True,
) -> GradeResult:
    """Grade one answer with the exercise's rubric and labelled exemplars (the seeds the exercise
    ships plus `exemplars`, e.g. the teacher's decisions for this revision). The grade is provisional
    when its confidence is below `threshold` (default: the exercise's [review] confidence_threshold)."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        raw = answer if isinstance(answer, bytes) else answer.encode("utf-8")
        text = decode_answer(raw, exercise.max_chars)
    except BadInput as exc:  # certain: nothing to read, nothing to review
        result = zero_result(
            exercise.max_score,
            Outcome.REJECTED,
            f"No credit: 0 / {exercise.max_score:g}. {exc}",
            execution=_execution(wall0, cpu0),
        )
        result.confidence = 1.0
        return result
    try:
        rubric = load_rubric(exercise)
        bank = exemplar_bank(exercise, rubric, exemplars, include_seed)
        evidence = read_answer(text, rubric, exercise.max_score)
        decision = _decide(evidence, bank, rubric, exercise.max_score)
        limit = rubric.review.confidence_threshold if threshold is None else threshold
        return result_for(exercise, rubric, evidence, decision, limit, _execution(wall0, cpu0))
    except (ExerciseError, ModelUnavailable) as exc:
        error = f"The free-text grader could not run: {exc}"
    except Exception as exc:  # noqa: BLE001 - never let one answer crash a worker; report it as our fault
        error = f"The free-text grader failed unexpectedly ({type(exc).__name__}: {exc})."
    result = zero_result(exercise.max_score, Outcome.ERROR, error, status="error", execution=_execution(wall0, cpu0))
    result.confidence = 0.0
    return result


def preview(
    answers: Sequence[str],
    exercise: Exercise,
    exemplars: Sequence[Exemplar] | None = None,
    *,
    threshold: float | None = None,
) -> list[GradeResult]:
    """What grade() would give each answer now, for many answers at once (one exemplar bank, the
    rubric's reading remembered per text): a dry-run regrade after the exemplars changed. Answers
    that grade() would reject, and any answer when the grader cannot run, are graded by grade()."""
    try:
        rubric = load_rubric(exercise)
        bank = exemplar_bank(exercise, rubric, exemplars)
    except (ExerciseError, ModelUnavailable):
        return [grade(a, exercise, exemplars, threshold=threshold) for a in answers]
    limit = rubric.review.confidence_threshold if threshold is None else threshold
    out: list[GradeResult] = []
    for answer in answers:
        try:
            text = decode_answer(answer.encode("utf-8"), exercise.max_chars)
        except BadInput:
            out.append(grade(answer, exercise, exemplars, threshold=threshold))
            continue
        evidence = read_answer_cached(text, rubric, exercise.max_score)
        decision = _decide(evidence, bank, rubric, exercise.max_score)
        out.append(result_for(exercise, rubric, evidence, decision, limit))
    return out


def grade_freetext(
    exercise: Exercise, submission: bytes, exemplars: Sequence[Exemplar] | None = None, threshold: float | None = None
) -> GradeResult:
    """The engine's entry point (exercises with kind == "freetext")."""
    return grade(submission, exercise, exemplars, threshold=threshold)


__all__ = [
    "REVIEW_NOTICE",
    "Evidence",
    "exemplar_bank",
    "grade",
    "grade_freetext",
    "preview",
    "read_answer",
    "read_answer_cached",
    "result_for",
    "seed_exemplars",
    "warm_up",
]
