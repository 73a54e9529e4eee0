"""Labelled exemplars: answers a teacher (or the exercise's author) has graded, and their embeddings.

An exemplar is the text, its band and (optionally) its score. The exercise ships seed exemplars
(files named in rubric.toml [review] seed_exemplars); the course adds the teacher's decisions for
the exercise revision. Embeddings are cached by text, so a worker embeds each exemplar once.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np

from grader.exercise import ExerciseError
from grader.freetext.score import Band

BANDS: tuple[Band, ...] = get_args(Band)  # ("full", "partial", "none")
BAND_INDEX: dict[Band, int] = {b: i for i, b in enumerate(BANDS)}
# What an exemplar labelled with a band but no score stands for (as a fraction of max_score).
BAND_DEFAULT_FRACTION: dict[Band, float] = {"full": 0.9, "partial": 0.5, "none": 0.0}


@dataclass(frozen=True)
class Exemplar:
    """One graded answer. score is in points of the exercise's max_score; None: the band's default."""

    text: str
    band: Band
    score: float | None = None
    source: str = "teacher"  # "teacher" (a course decision) or "seed" (shipped with the exercise)

    def points(self, max_score: float) -> float:
        return BAND_DEFAULT_FRACTION[self.band] * max_score if self.score is None else self.score


def exemplar_from_json(raw: dict[str, Any], source: str = "teacher") -> Exemplar:
    """{"text": ..., "band": "full"|"partial"|"none", "score": 7.5 (optional)} -> Exemplar; ValueError if malformed."""
    text, band, score = raw.get("text"), raw.get("band"), raw.get("score")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("an exemplar needs a non-empty 'text'")
    if band not in BANDS:
        raise ValueError(f"an exemplar's band must be one of {', '.join(BANDS)}, not {band!r}")
    if score is not None and (not isinstance(score, (int, float)) or isinstance(score, bool) or score < 0):
        raise ValueError("an exemplar's score must be a non-negative number")
    return Exemplar(text=text, band=band, score=None if score is None else float(score), source=source)


def read_exemplar_file(path: Path, source: str = "seed") -> list[Exemplar]:
    """A JSON-lines file of exemplars (extra keys such as id or notes are ignored)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ExerciseError(path, "is missing (named in rubric.toml [review] seed_exemplars)") from None
    out: list[Exemplar] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(exemplar_from_json(json.loads(line), source))
        except (ValueError, AttributeError) as exc:
            raise ExerciseError(path, f"line {number}: {exc}") from None
    return out


_vector_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_vector_lock = threading.Lock()
_CACHE_LIMIT = 20_000  # ~30 MB of 384-float vectors


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embed_cached(texts: Sequence[str]) -> np.ndarray:
    """Unit embeddings of whole answers, computed once per distinct text in this process."""
    from grader.freetext.model import embed
    from grader.freetext.text import normalise

    keys = [_key(t) for t in texts]
    with _vector_lock:
        missing = list(dict.fromkeys(k for k in keys if k not in _vector_cache))
    if missing:
        by_key = dict(zip(keys, texts))
        # Normalised as answers are (decode_answer), so an exemplar and the same answer embed alike.
        fresh = embed([normalise(by_key[k].strip()) for k in missing])
        with _vector_lock:
            for k, v in zip(missing, fresh):
                _vector_cache[k] = v
            while len(_vector_cache) > _CACHE_LIMIT:
                _vector_cache.popitem(last=False)
    with _vector_lock:
        rows = [_vector_cache.get(k) for k in keys]
    if any(r is None for r in rows):  # evicted meanwhile by another thread: embed directly
        return embed_cached(texts)
    return np.stack([r for r in rows if r is not None]) if rows else np.zeros((0, 384), dtype=np.float32)


@dataclass(frozen=True)
class ExemplarBank:
    """Exemplars with their embeddings, bands and points as arrays (what nearest-neighbour search needs)."""

    exemplars: tuple[Exemplar, ...]
    vectors: np.ndarray  # (n, d), unit rows
    bands: np.ndarray  # (n,) band index into BANDS
    points: np.ndarray  # (n,) score in points
    from_teacher: np.ndarray  # (n,) bool: a course's own decision rather than a seed

    @classmethod
    def build(cls, exemplars: Iterable[Exemplar], max_score: float) -> ExemplarBank:
        # A teacher's decision on a text replaces any earlier label of the same text (seed or teacher).
        latest: dict[str, Exemplar] = {}
        for ex in exemplars:
            latest.pop(ex.text.strip(), None)
            latest[ex.text.strip()] = ex
        items = tuple(latest.values())
        vectors = embed_cached([e.text for e in items]) if items else np.zeros((0, 384), dtype=np.float32)
        return cls(
            exemplars=items,
            vectors=vectors,
            bands=np.asarray([BAND_INDEX[e.band] for e in items], dtype=np.int64),
            points=np.asarray([e.points(max_score) for e in items], dtype=np.float64),
            from_teacher=np.asarray([e.source == "teacher" for e in items], dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.exemplars)

    def without(self, keep: np.ndarray) -> ExemplarBank:
        """The bank restricted to the rows where keep is True (cross-validation, leave-one-out)."""
        idx = np.flatnonzero(keep)
        return ExemplarBank(
            exemplars=tuple(self.exemplars[i] for i in idx),
            vectors=self.vectors[idx],
            bands=self.bands[idx],
            points=self.points[idx],
            from_teacher=self.from_teacher[idx],
        )
