"""From the rubric's reading and the nearest labelled answers to one band, a score and a confidence.

Two opinions are combined as votes over the bands (full, partial, none):
  - the rubric's: its band, held with a certainty that shrinks near a band edge, when a misconception
    detector fired (a regex can misread), and when a soft gate (too short, unreasoned, off topic)
    rather than a clear one (code, a question, praise) decided it; one vote in all;
  - the labelled exemplars': each of the `neighbours` nearest answers votes for its band with weight
    exp((cosine - 1) / kernel_width) * exemplar_weight (times teacher_weight for the course's own
    decisions), so an answer very like one a teacher graded follows the teacher, and a crowd of
    loosely similar ones counts for little.
The band with most votes wins; confidence is its share of the votes, times `disagreement_factor`
when the exemplars' own majority band is not the rubric's. It is high when the signals agree and
the evidence is clear, and low when they disagree or are weak, which is what decides
whether the grade is released or sent to a teacher (grade.py, calibrate.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grader.freetext.analyse import Analysis
from grader.freetext.exemplars import BAND_INDEX, BANDS, ExemplarBank
from grader.freetext.rubric import Review, Scoring
from grader.freetext.score import Band

# Gates that read the answer's form, not its meaning: almost never wrong.
CLEAR_GATES = frozenset({"code", "question", "praise", "filler"})


@dataclass(frozen=True)
class Neighbour:
    similarity: float
    band: Band
    points: float
    source: str


@dataclass(frozen=True)
class Decision:
    band: Band
    score: float
    confidence: float
    rubric_band: Band
    rubric_score: float
    votes: dict[str, float]  # share of the votes per band
    neighbours: tuple[Neighbour, ...]  # nearest labelled answers, nearest first
    followed: str  # "rubric" or "exemplars": whose band was taken
    doubts: tuple[str, ...] = field(default=())  # why the grader is unsure, in words


def _edges(max_score: float, scoring: Scoring) -> tuple[float, float]:
    return scoring.partial_at * max_score, scoring.full_at * max_score


def rubric_votes(
    analysis: Analysis, score: float, band: Band, max_score: float, scoring: Scoring
) -> tuple[np.ndarray, list[str]]:
    """The rubric's one vote spread over the bands, and the reasons it is not all on its band."""
    lo, hi = _edges(max_score, scoring)
    doubts: list[str] = []
    covered = sum(h.covered for h in analysis.hits)
    if analysis.gate in CLEAR_GATES:
        certainty = 0.95
    elif analysis.gate == "offtopic" and analysis.best_similarity < 0.2:
        certainty = 0.9  # far from every statement of the rubric: about something else entirely
    elif analysis.gate is not None:
        certainty = 0.7
        doubts.append(f"the answer was set aside as '{analysis.gate}' before its meaning was read")
    elif band == "none" and not covered and not analysis.findings:
        # On topic, reasoned, yet nothing recognised: absence of evidence, the rubric's weakest
        # reading (a learner's own words for a right idea look exactly like this).
        certainty = 0.5
        doubts.append("the answer is on topic but the rubric recognised none of its ideas")
    else:
        if band == "full":  # every point above the edge is a concept that could be misread without changing it
            certainty = 0.7 + 0.2 * min(1.0, (score - hi) / (0.2 * max_score))
        elif band == "partial":
            certainty = 0.7 if covered > 1 or score > lo else 0.65
        else:  # a misconception explains the missing credit
            certainty = 0.75
        if band != "none" and score - hi > -0.1 * max_score and score - hi < 0.05 * max_score:
            doubts.append("the rubric's score is close to the edge of its band")
        if analysis.findings:
            certainty -= 0.1 * len(analysis.findings) if band != "none" else 0.0
            doubts.append("a misconception was detected, and detectors can misread a sentence")
        certainty = max(certainty, 0.5)
    votes = np.zeros(len(BANDS))
    votes[BAND_INDEX[band]] = certainty
    leak = 1.0 - certainty
    if band == "partial":  # the doubt goes mostly to the band whose edge is nearer
        to_full, to_none = max(score - lo, 0.0), max(hi - score, 0.0)
        total = to_full + to_none or 1.0
        votes[BAND_INDEX["full"]] += leak * to_full / total
        votes[BAND_INDEX["none"]] += leak * to_none / total
    else:
        votes[BAND_INDEX["partial"]] += leak
    return votes, doubts


def neighbour_votes(
    vector: np.ndarray | None, bank: ExemplarBank, review: Review
) -> tuple[np.ndarray, tuple[Neighbour, ...], np.ndarray, np.ndarray]:
    """Kernel-weighted votes of the nearest labelled answers, the neighbours, their weights and indices."""
    votes = np.zeros(len(BANDS))
    if vector is None or len(bank) == 0:
        return votes, (), np.zeros(0), np.zeros(0, dtype=np.int64)
    sims = bank.vectors @ vector
    k = min(review.neighbours, len(bank))
    nearest = np.argpartition(-sims, k - 1)[:k]
    nearest = nearest[np.argsort(-sims[nearest])]
    weights = review.exemplar_weight * np.exp((np.minimum(sims[nearest], 1.0) - 1.0) / review.kernel_width)
    weights = weights * np.where(bank.from_teacher[nearest], review.teacher_weight, 1.0)
    np.add.at(votes, bank.bands[nearest], weights)
    neighbours = tuple(
        Neighbour(float(sims[i]), BANDS[int(bank.bands[i])], float(bank.points[i]), bank.exemplars[i].source)
        for i in nearest
    )
    return votes, neighbours, weights, nearest


def _round_half(x: float) -> float:
    return round(x * 2) / 2


def _score_in_band(band: Band, points: float, max_score: float, scoring: Scoring) -> float:
    """Clamp a score into its band, so band and score never disagree (score.band_of)."""
    lo, hi = _edges(max_score, scoring)
    low, high = {"full": (hi, max_score), "partial": (lo, hi - 0.5), "none": (0.0, lo - 0.5)}[band]
    # Round towards the band's inside, so rounding never crosses an edge.
    return min(max(_round_half(points), float(np.ceil(low * 2) / 2)), float(np.floor(high * 2) / 2))


def decide(
    analysis: Analysis,
    rubric_score: float,
    rubric_band: Band,
    bank: ExemplarBank,
    review: Review,
    scoring: Scoring,
    max_score: float,
) -> Decision:
    prior, doubts = rubric_votes(analysis, rubric_score, rubric_band, max_score, scoring)
    votes, neighbours, weights, nearest = neighbour_votes(analysis.vector, bank, review)
    total = prior + votes
    shares = total / total.sum()
    winner = int(np.argmax(shares))
    if shares[winner] - shares[BAND_INDEX[rubric_band]] < 1e-12:
        winner = BAND_INDEX[rubric_band]  # a tie keeps the rubric's reading (it can explain itself)
    band: Band = BANDS[winner]
    if band == rubric_band:
        score, followed = rubric_score, "rubric"
    else:
        mask = bank.bands[nearest] == winner
        mean = float(np.average(bank.points[nearest][mask], weights=weights[mask]))
        score, followed = _score_in_band(band, mean, max_score, scoring), "exemplars"
    confidence = float(shares[winner])
    if votes.sum() > 0:
        agreeing = votes[winner] / votes.sum()
        if agreeing < 0.5:
            doubts.append("most similar graded answers got a different band")
        if band != rubric_band:
            doubts.append(f"the rubric alone would give {rubric_band} credit, similar graded answers {band}")
        if int(np.argmax(votes)) != BAND_INDEX[rubric_band]:
            # The two signals disagree: whichever won, the grade is less certain than its vote share.
            confidence *= review.disagreement_factor
    else:
        doubts.append("no graded answer is similar to this one")
    return Decision(
        band=band,
        score=score,
        confidence=confidence,
        rubric_band=rubric_band,
        rubric_score=rubric_score,
        votes={b: float(shares[i]) for i, b in enumerate(BANDS)},
        neighbours=neighbours,
        followed=followed,
        doubts=tuple(doubts),
    )
