"""Load a free-text rubric (rubric.toml): concepts to credit and misconception detectors.

The file format is documented at the top of exercises/why-skip-helps/rubric.toml. Loading
validates everything an instructor can get wrong (bad regex, unknown misconception id, weights
that do not add up to max_score) and names the file and the problem.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.exercise import Exercise, ExerciseError, Misconception, catalogue_for

_FLAGS = re.IGNORECASE


@dataclass(frozen=True)
class Scoring:
    full_at: float = 0.75
    partial_at: float = 0.25
    partial_floor: float = 2.5
    misconception_penalty: float = 1.5
    misconception_cap: float = 7.0
    min_words: int = 6
    offtopic_similarity: float = 0.30


@dataclass(frozen=True)
class Review:
    """[review]: when a grade is released and how labelled exemplars weigh in (grader/freetext/confidence.py)."""

    confidence_threshold: float = 0.8  # below it the grade is provisional (waits for a teacher)
    target_precision: float = 0.95  # what calibrate_threshold aims for among released grades
    neighbours: int = 10  # labelled answers consulted per answer
    kernel_width: float = 0.04  # cosine distance at which a neighbour's vote falls by a factor e
    exemplar_weight: float = 3.0  # votes of an identical labelled answer, against the rubric's 1
    teacher_weight: float = 2.0  # a course's own decision counts this many times a seed exemplar
    # When the nearest labelled answers' band (by kernel-weighted vote) differs from the rubric's,
    # the confidence is multiplied by this: two signals that disagree make a grade less certain,
    # whichever of them wins (cross-validated on the seed exemplars, bench/freetext_agreement.py).
    disagreement_factor: float = 0.8
    seed_exemplars: tuple[str, ...] = ()  # JSON-lines files in the exercise folder, graded by its author


@dataclass(frozen=True)
class Concept:
    id: str
    name: str
    weight: float
    core: bool
    threshold: float
    statements: tuple[str, ...]
    cues: tuple[re.Pattern[str], ...]
    negatable: re.Pattern[str] | None
    missing: str
    praise: str


@dataclass(frozen=True)
class Detector:
    id: str
    patterns: tuple[re.Pattern[str], ...]
    unless: re.Pattern[str] | None
    negation_guard: bool
    contradicts: tuple[str, ...]
    penalty: float | None  # None: the rubric's misconception_penalty


@dataclass(frozen=True)
class Rubric:
    path: Path
    question: str  # the question, repeated to students whose answer missed it
    contrast: re.Pattern[str] | None  # words naming the contrasting case (a plain network)
    catalogue: dict[str, Misconception] = field(compare=False, repr=False)
    scoring: Scoring
    review: Review
    concepts: tuple[Concept, ...]
    detectors: tuple[Detector, ...]
    # Row i..j of `statement_vectors` belong to concept k: see statement_owner.
    statement_vectors: np.ndarray = field(compare=False, repr=False)
    statement_owner: tuple[int, ...] = field(compare=False, repr=False)

    @property
    def max_score(self) -> float:
        return sum(c.weight for c in self.concepts)


def _regex(path: Path, where: str, source: str) -> re.Pattern[str]:
    try:
        return re.compile(source, _FLAGS)
    except re.error as exc:
        raise ExerciseError(path, f"{where}: bad regular expression ({exc})") from None


def _str(path: Path, where: str, raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ExerciseError(path, f"{where} needs a non-empty '{key}'")
    return value


def _parse_concept(path: Path, raw: dict[str, Any]) -> Concept:
    cid = _str(path, "a [[concept]]", raw, "id")
    where = f"concept '{cid}'"
    statements = raw.get("statements")
    cues = raw.get("cues")
    if not isinstance(statements, list) or not statements or not all(isinstance(s, str) for s in statements):
        raise ExerciseError(path, f"{where} needs a non-empty list of 'statements'")
    if not isinstance(cues, list) or not cues or not all(isinstance(c, str) and c for c in cues):
        raise ExerciseError(path, f"{where} needs a non-empty list of 'cues'")
    weight = raw.get("weight")
    threshold = raw.get("threshold", 0.4)
    if not isinstance(weight, (int, float)) or weight <= 0:
        raise ExerciseError(path, f"{where}: weight must be a positive number")
    if not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise ExerciseError(path, f"{where}: threshold must be between 0 and 1")
    negatable = str(raw.get("negatable", ""))
    return Concept(
        id=cid,
        name=_str(path, where, raw, "name"),
        weight=float(weight),
        core=bool(raw.get("core", True)),
        threshold=float(threshold),
        statements=tuple(statements),
        cues=tuple(_regex(path, f"{where} cue {i + 1}", c) for i, c in enumerate(cues)),
        negatable=_regex(path, f"{where} negatable", negatable) if negatable else None,
        missing=_str(path, where, raw, "missing"),
        praise=_str(path, where, raw, "praise"),
    )


def _parse_detector(path: Path, raw: dict[str, Any], concept_ids: set[str], known: set[str]) -> Detector:
    mid = _str(path, "a [[misconception]]", raw, "id")
    where = f"misconception detector '{mid}'"
    if mid not in known:
        raise ExerciseError(path, f"{where}: id is not declared in exercises/misconceptions.toml")
    patterns = raw.get("patterns")
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise ExerciseError(path, f"{where} needs a non-empty list of 'patterns'")
    contradicts = raw.get("contradicts", [])
    if not isinstance(contradicts, list) or not set(contradicts) <= concept_ids:
        raise ExerciseError(path, f"{where}: 'contradicts' must list concept ids of this rubric")
    unless = str(raw.get("unless", ""))
    penalty = raw.get("penalty")
    if penalty is not None and (not isinstance(penalty, (int, float)) or penalty < 0):
        raise ExerciseError(path, f"{where}: penalty must be a non-negative number")
    return Detector(
        id=mid,
        patterns=tuple(_regex(path, f"{where} pattern {i + 1}", p) for i, p in enumerate(patterns)),
        unless=_regex(path, f"{where} unless", unless) if unless else None,
        negation_guard=bool(raw.get("negation_guard", True)),
        contradicts=tuple(contradicts),
        penalty=None if penalty is None else float(penalty),
    )


def _parse_review(path: Path, raw: object) -> Review:
    if not isinstance(raw, dict):
        raise ExerciseError(path, "[review] must be a table")
    values = dict(raw)
    seeds = values.pop("seed_exemplars", [])
    if not isinstance(seeds, list) or not all(isinstance(f, str) and f and "/" not in f for f in seeds):
        raise ExerciseError(path, "[review] seed_exemplars must list file names in the exercise folder")
    try:
        review = Review(**values, seed_exemplars=tuple(seeds))
    except TypeError as exc:
        raise ExerciseError(path, f"[review]: {exc}") from None
    for name in ("confidence_threshold", "target_precision", "disagreement_factor"):
        if not 0 <= getattr(review, name) <= 1:
            raise ExerciseError(path, f"[review] {name} must be between 0 and 1")
    if review.neighbours < 1 or review.kernel_width <= 0 or review.exemplar_weight < 0 or review.teacher_weight < 0:
        raise ExerciseError(path, "[review] neighbours >= 1, kernel_width > 0 and exemplar_weight >= 0 are required")
    return review


def parse_rubric(path: Path, catalogue: dict[str, Misconception], max_score: float) -> Rubric:
    """Parse and validate; statement vectors are filled in later (they need the model)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExerciseError(path, "is missing") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ExerciseError(path, f"is not valid TOML: {exc}") from None
    scoring_raw = raw.get("scoring", {})
    try:
        scoring = Scoring(**scoring_raw)
    except TypeError as exc:
        raise ExerciseError(path, f"[scoring]: {exc}") from None
    review = _parse_review(path, raw.get("review", {}))
    concepts = tuple(_parse_concept(path, c) for c in raw.get("concept", []))
    if not concepts:
        raise ExerciseError(path, "needs at least one [[concept]]")
    ids = [c.id for c in concepts]
    if len(set(ids)) != len(ids):
        raise ExerciseError(path, "concept ids must be unique")
    total = sum(c.weight for c in concepts)
    if abs(total - max_score) > 1e-6:
        raise ExerciseError(path, f"concept weights add up to {total:g}, but max_score is {max_score:g}")
    detectors = tuple(_parse_detector(path, d, set(ids), set(catalogue)) for d in raw.get("misconception", []))
    owner = tuple(i for i, c in enumerate(concepts) for _ in c.statements)
    question = raw.get("question", "")
    if not isinstance(question, str):
        raise ExerciseError(path, "'question' must be a string")
    contrast = str(raw.get("contrast", ""))
    return Rubric(
        path=path,
        question=question.strip(),
        contrast=_regex(path, "contrast", contrast) if contrast else None,
        catalogue=catalogue,
        scoring=scoring,
        review=review,
        concepts=concepts,
        detectors=detectors,
        statement_vectors=np.zeros((0, 0), dtype=np.float32),
        statement_owner=owner,
    )


_cache: dict[tuple[str, float, float], Rubric] = {}
_cache_lock = threading.Lock()


def load_rubric(exercise: Exercise) -> Rubric:
    """The exercise's rubric with its statement embeddings, cached per file version.

    Keyed on the rubric's and catalogue's modification times, so an instructor's edit is picked
    up by a running worker without re-embedding on every answer.
    """
    from grader.freetext.model import embed  # late: parsing alone must not load torch

    path = exercise.file("rubric.toml")
    catalogue_path = exercise.path.parent / "misconceptions.toml"
    try:
        key = (str(path), path.stat().st_mtime, catalogue_path.stat().st_mtime)
    except FileNotFoundError as exc:
        raise ExerciseError(exc.filename or path, "is missing") from None
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    rubric = parse_rubric(path, catalogue_for(exercise), exercise.max_score)
    vectors = embed([s for c in rubric.concepts for s in c.statements])
    rubric = dataclasses.replace(rubric, statement_vectors=vectors)
    with _cache_lock:
        _cache[key] = rubric
    return rubric
