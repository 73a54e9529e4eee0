"""grade_freetext: the one entry point grader.engine calls for exercises with kind == "freetext"."""

from __future__ import annotations

import resource
import time

from grader.exercise import Exercise, ExerciseError
from grader.freetext.analyse import analyse
from grader.freetext.feedback import concept_checks, overall
from grader.freetext.model import ModelUnavailable, get_model
from grader.freetext.rubric import load_rubric
from grader.freetext.score import band_of, score_of
from grader.freetext.text import BadInput, decode_answer
from grader.results import CheckResult, Execution, GradeResult, Outcome, zero_result


def _execution(wall0: float, cpu0: float) -> Execution:
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    # Nothing runs in a sandbox: the answer is only read as text, never executed.
    return Execution(wall_s=time.perf_counter() - wall0, cpu_s=time.process_time() - cpu0, device="cpu",
                     peak_rss_mb=peak_kb / 1024, isolated=False)


def warm_up() -> None:
    """Load the model now (call once when a worker starts) so the first student does not wait."""
    get_model()


def grade_freetext(exercise: Exercise, submission: bytes) -> GradeResult:
    """Grade one free-text answer. Never raises: bad input is a graded 0 (outcome 'rejected'),
    a broken rubric or a missing model is status 'error' (the grader's fault, not the student's)."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        text = decode_answer(submission, exercise.max_chars)
    except BadInput as exc:
        return zero_result(exercise.max_score, Outcome.REJECTED, f"No credit: 0 / {exercise.max_score:g}. {exc}",
                           execution=_execution(wall0, cpu0))
    try:
        rubric = load_rubric(exercise)
        catalogue = rubric.catalogue
        analysis = analyse(text, rubric)
    except (ExerciseError, ModelUnavailable) as exc:
        return zero_result(exercise.max_score, Outcome.ERROR, f"The free-text grader could not run: {exc}",
                           status="error", execution=_execution(wall0, cpu0))
    except Exception as exc:  # never let one answer crash a worker; report it as our fault
        return zero_result(exercise.max_score, Outcome.ERROR,
                           f"The free-text grader failed unexpectedly ({type(exc).__name__}: {exc}).",
                           status="error", execution=_execution(wall0, cpu0))

    score = score_of(analysis, exercise.max_score, rubric.scoring)
    band = band_of(score, exercise.max_score, rubric.scoring)
    tests: list[CheckResult] = concept_checks(analysis, rubric, catalogue)
    full_marks = abs(score - exercise.max_score) < 1e-9
    return GradeResult(
        score=score,
        max_score=exercise.max_score,
        status="graded",
        output=overall(analysis, rubric, score, exercise.max_score, band, catalogue),
        outcome=Outcome.OK if full_marks else Outcome.WRONG,
        tests=tests,
        misconceptions=analysis.misconception_ids,
        execution=_execution(wall0, cpu0),
        extra={"band": band, "gate": analysis.gate or "",
               "concepts": [h.concept.id for h in analysis.hits if h.covered]},
    )


__all__ = ["grade_freetext", "warm_up"]
