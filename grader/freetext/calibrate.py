"""Choosing the confidence threshold from labelled answers: release as many grades as possible while
released grades still match the teacher's band at the target precision, and never release a grade
two bands off (full credit for a no-credit answer, or the reverse).

Every labelled answer is graded with the exemplars minus itself (leave-one-out), so the threshold
is measured on answers the grader did not learn from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from grader.exercise import Exercise
from grader.freetext.confidence import Decision, decide
from grader.freetext.exemplars import BAND_INDEX, Exemplar, ExemplarBank
from grader.freetext.grade import Evidence, exemplar_bank, read_answer_cached
from grader.freetext.rubric import load_rubric
from grader.freetext.score import Band
from grader.freetext.text import normalise

MIN_LABELS = 20  # fewer labels than this say too little about precision: keep the configured threshold


@dataclass(frozen=True)
class Trial:
    confidence: float
    predicted: Band
    truth: Band

    @property
    def correct(self) -> bool:
        return self.predicted == self.truth

    @property
    def two_bands_off(self) -> bool:
        return abs(BAND_INDEX[self.predicted] - BAND_INDEX[self.truth]) == 2


def released_stats(outcomes: Sequence[Trial], threshold: float) -> tuple[int, int, int]:
    """(released, released and correct, released two bands off) at this threshold."""
    released = [o for o in outcomes if o.confidence >= threshold]
    return len(released), sum(o.correct for o in released), sum(o.two_bands_off for o in released)


def precision_we_can_vouch_for(correct: int, released: int, z: float = 1.0) -> float:
    """Wilson lower bound of the precision: 160 of 168 right is 95.2% observed, but only ~93.5%
    that we can vouch for on answers the labels did not include. z = 1: one standard error."""
    if released == 0:
        return 0.0
    p = correct / released
    centre = p + z * z / (2 * released)
    spread = z * ((p * (1 - p) + z * z / (4 * released)) / released) ** 0.5
    return float((centre - spread) / (1 + z * z / released))


def choose_threshold(outcomes: Sequence[Trial], target_precision: float, ceiling: float = 1.0) -> float:
    """The lowest threshold at which the precision of the released grades we can vouch for meets
    the target, with no two-band error released. If none does, `ceiling` (all go to review)."""
    candidates = sorted({o.confidence for o in outcomes})
    for t in candidates:
        released, correct, two_off = released_stats(outcomes, t)
        if two_off == 0 and precision_we_can_vouch_for(correct, released) >= target_precision:
            return t
    return ceiling


def leave_one_out(
    evidence: Sequence[Evidence], truth: Sequence[Band], bank: ExemplarBank, exercise: Exercise
) -> list[Decision]:
    """Each answer decided with the bank minus every exemplar of the same text."""
    rubric = load_rubric(exercise)
    texts = np.asarray([e.text.strip() for e in bank.exemplars], dtype=object)
    out: list[Decision] = []
    for ev in evidence:
        keep = texts != normalise(ev.text.strip())
        out.append(
            decide(
                ev.analysis,
                ev.rubric_score,
                ev.rubric_band,
                bank.without(keep),
                rubric.review,
                rubric.scoring,
                exercise.max_score,
            )
        )
    return out


@dataclass(frozen=True)
class Calibration:
    """What a recalibration found: the threshold, and how the labels' leave-one-out grades fare at it."""

    threshold: float
    labels: int  # teacher labels the threshold was measured on
    target_precision: float
    released: int  # labels whose leave-one-out grade would be released at `threshold`
    correct: int  # ... and match the teacher's band
    two_bands_off: int  # ... and are two bands off
    vouched_precision: float  # Wilson lower bound of the released precision (what the target is met by)
    reason: str  # in words: "calibrated", or why the configured threshold was kept

    @property
    def precision(self) -> float | None:
        return self.correct / self.released if self.released else None

    @property
    def review_share(self) -> float | None:
        return 1 - self.released / self.labels if self.labels else None


def calibrate(
    labelled: Sequence[Exemplar],
    exercise: Exercise,
    exemplars: Sequence[Exemplar] | None = None,
    *,
    target_precision: float | None = None,
    include_seed: bool = True,
) -> Calibration:
    """The confidence threshold for this exercise revision from teacher-labelled answers, with the
    figures it rests on.

    `labelled` are graded leave-one-out against the seeds, `exemplars` and the other labelled
    answers (which is how they will be used afterwards). With fewer than MIN_LABELS labels the
    exercise's configured threshold is kept (and nothing is graded); when no threshold reaches the target
    precision, the threshold is 1 (every grade waits for a teacher) and the reason says so."""
    rubric = load_rubric(exercise)
    target = rubric.review.target_precision if target_precision is None else target_precision
    configured = rubric.review.confidence_threshold
    outcomes: list[Trial] = []
    if len(labelled) >= MIN_LABELS:  # fewer say too little to be worth grading them all again
        bank = exemplar_bank(exercise, rubric, [*(exemplars or ()), *labelled], include_seed)
        evidence = [read_answer_cached(normalise(e.text.strip()), rubric, exercise.max_score) for e in labelled]
        decisions = leave_one_out(evidence, [e.band for e in labelled], bank, exercise)
        outcomes = [Trial(d.confidence, d.band, e.band) for d, e in zip(decisions, labelled)]
    if len(labelled) < MIN_LABELS:
        threshold = configured
        reason = f"kept the exercise's threshold: {len(labelled)} teacher label(s), {MIN_LABELS} needed"
    else:
        threshold = choose_threshold(outcomes, target)
        reason = (
            "calibrated"
            if threshold < 1.0 or _meets(outcomes, 1.0, target)
            else f"no threshold reaches {target:.0%} on these labels: every grade waits for review"
        )
    released, correct, two_off = released_stats(outcomes, threshold)
    return Calibration(
        threshold=float(threshold),
        labels=len(labelled),
        target_precision=target,
        released=released,
        correct=correct,
        two_bands_off=two_off,
        vouched_precision=precision_we_can_vouch_for(correct, released),
        reason=reason,
    )


def _meets(outcomes: Sequence[Trial], threshold: float, target: float) -> bool:
    released, correct, two_off = released_stats(outcomes, threshold)
    return released > 0 and two_off == 0 and precision_we_can_vouch_for(correct, released) >= target


def calibrate_threshold(
    labelled: Sequence[Exemplar],
    exercise: Exercise,
    exemplars: Sequence[Exemplar] | None = None,
    *,
    target_precision: float | None = None,
    include_seed: bool = True,
) -> float:
    """calibrate(...).threshold: the confidence threshold for this exercise revision."""
    return calibrate(
        labelled, exercise, exemplars, target_precision=target_precision, include_seed=include_seed
    ).threshold
