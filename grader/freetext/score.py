"""From evidence to a score and a band (contracts.md §1: >= 0.75 full, 0.25..0.75 partial, else none).

The band is always read off the final score, so score and band can never disagree:
    raw   = sum of the weights of the covered concepts
    floor = any correct core idea is worth at least `partial_floor` (the lower edge of partial)
    each misconception costs its detector's penalty (default `misconception_penalty`), and any misconception caps the score at
    `misconception_cap` (below full credit): a confident wrong claim never gets full credit.
Scores are rounded to half points so students see 6.5, not 6.4999.
"""

from __future__ import annotations

from typing import Literal

from grader.freetext.analyse import Analysis
from grader.freetext.rubric import Scoring

Band = Literal["full", "partial", "none"]


def band_of(score: float, max_score: float, scoring: Scoring) -> Band:
    if score >= scoring.full_at * max_score - 1e-9:
        return "full"
    if score >= scoring.partial_at * max_score - 1e-9:
        return "partial"
    return "none"


def score_of(analysis: Analysis, max_score: float, scoring: Scoring) -> float:
    if analysis.gate is not None:
        return 0.0
    covered = [h for h in analysis.hits if h.covered]
    score = sum(h.concept.weight for h in covered)
    if any(h.concept.core for h in covered):
        score = max(score, scoring.partial_floor)
    if analysis.findings:
        score -= sum(scoring.misconception_penalty if f.penalty is None else f.penalty for f in analysis.findings)
        score = min(score, scoring.misconception_cap)
    score = min(max(score, 0.0), max_score)
    return round(score * 2) / 2
