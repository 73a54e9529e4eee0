"""Turn an answer into evidence: which concepts it states, which misconceptions it shows, and
whether it is an answer at all (code, questions, praise, keyword lists, off-topic text).

Credit is sentence-level: a concept counts only when one sentence (or two neighbouring ones)
both says the right things (the rubric's cue regexes) and means them (embedding similarity to the
concept's statements), without negating them. A keyword list or a fluent paragraph about
something else therefore earns nothing, and so does "gradients cannot flow through the shortcut".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from grader.freetext import text as tx
from grader.freetext.model import embed
from grader.freetext.rubric import Concept, Detector, Rubric

Gate = Literal["code", "question", "praise", "filler", "short", "stuffing", "unreasoned", "offtopic"]


@dataclass
class ConceptHit:
    concept: Concept
    covered: bool = False
    similarity: float = 0.0  # best similarity of a window whose cues matched (0 if none did)
    evidence: str = ""  # the window that earned the credit
    withdrawn_by: str = ""  # misconception id that cancelled the credit


@dataclass(frozen=True)
class Finding:
    id: str
    sentence: str
    contradicts: tuple[str, ...]
    penalty: float | None


@dataclass
class Analysis:
    text: str
    sentences: list[tuple[str, tx.SentenceKind]]
    hits: list[ConceptHit] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    gate: Gate | None = None
    best_similarity: float = 0.0
    # The whole answer's embedding (unit length): how near it is to answers a teacher has graded.
    vector: np.ndarray | None = field(default=None, repr=False)

    def ignored(self, kind: tx.SentenceKind) -> int:
        return sum(k == kind for _, k in self.sentences)

    @property
    def misconception_ids(self) -> list[str]:
        return list(dict.fromkeys(f.id for f in self.findings))


def _gate_before_model(text: str, sentences: list[tuple[str, tx.SentenceKind]], min_words: int) -> Gate | None:
    """Answers that are not explanations, decided without the model (cheap and predictable)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 2 and tx.code_line_fraction(text) >= 0.5:
        return "code"
    content = [s for s, k in sentences if k == "content"]
    if not content:
        kinds = [k for _, k in sentences]
        for kind in ("code", "question", "praise", "filler"):
            if kind in kinds:
                return kind  # type: ignore[return-value]
        return "filler"
    joined = " ".join(content)
    words = tx.prose_words(joined)
    if len(words) < min_words:
        return "short"
    # A list of terms has almost no glue words, or repeats itself; real prose (even terse notes) has both.
    if tx.function_word_ratio(joined) < 0.12 or (len(words) >= 6 and tx.distinct_ratio(joined) < 0.5):
        return "stuffing"
    if not tx.REASONING.search(joined):
        return "unreasoned"
    return None


def _windows(content: list[str], rubric: Rubric) -> list[str]:
    """Each sentence, and each pair of neighbours (an idea often spans two sentences). A pair is
    only worth embedding when some concept's cues all match in it: the model is the slow part."""
    pairs = [f"{a} {b}" for a, b in zip(content, content[1:])]
    wanted = [p for p in pairs if any(all(cue.search(p) for cue in c.cues) for c in rubric.concepts)]
    return content + wanted


def _denied(concept: Concept, window: str, contrast: re.Pattern[str] | None) -> bool:
    """The window denies the concept ("cannot easily learn"), unless the denial is about the
    contrasting case ("a plain block cannot easily learn the identity" is right)."""
    if concept.negatable is None:
        return False
    for m in concept.negatable.finditer(window):
        if tx.is_negated(window, m.start(), m.end()):
            left, right = tx.clause(window, m.start(), m.end())
            if contrast is None or not contrast.search(window[left:right]):
                return True
    return False


def _match_concepts(rubric: Rubric, windows: list[str], sims: np.ndarray) -> list[ConceptHit]:
    owner = np.asarray(rubric.statement_owner)
    hits: list[ConceptHit] = []
    for ci, concept in enumerate(rubric.concepts):
        per_window = sims[:, owner == ci].max(axis=1) if len(windows) else np.zeros(0)
        hit = ConceptHit(concept=concept)
        for wi, window in enumerate(windows):
            if not all(cue.search(window) for cue in concept.cues) or _denied(concept, window, rubric.contrast):
                continue
            sim = float(per_window[wi])
            if sim > hit.similarity:
                hit.similarity, hit.evidence = sim, window
        hit.covered = hit.similarity >= concept.threshold
        hits.append(hit)
    return hits


def _detect(rubric: Rubric, content: list[str]) -> list[Finding]:
    """Regex detectors per sentence; a hit is cancelled by a negation just before it or by the
    detector's `unless` words in the same clause."""
    findings: list[Finding] = []

    def real(det: Detector, sentence: str, m: re.Match[str]) -> bool:
        if det.negation_guard and tx.is_negated(sentence, m.start(), m.end()):
            return False
        left, right = tx.clause(sentence, m.start(), m.end())
        return det.unless is None or not det.unless.search(sentence[left:right])

    for sentence in content:
        for det in rubric.detectors:
            if any(real(det, sentence, m) for pattern in det.patterns for m in pattern.finditer(sentence)):
                findings.append(Finding(det.id, sentence, det.contradicts, det.penalty))
    seen: set[str] = set()
    unique: list[Finding] = []
    for f in findings:  # one finding per id: the first sentence that showed it
        if f.id not in seen:
            seen.add(f.id)
            unique.append(f)
    return unique


def analyse(answer: str, rubric: Rubric) -> Analysis:
    sentences = [(s, tx.classify_sentence(s)) for s in tx.split_sentences(answer)]
    result = Analysis(text=answer, sentences=sentences, hits=[ConceptHit(c) for c in rubric.concepts])
    result.gate = _gate_before_model(answer, sentences, rubric.scoring.min_words)
    if result.gate is not None:
        # Still embedded: a teacher may have graded answers like this one (a gate can be wrong).
        result.vector = embed([answer])[0]
        return result
    content = [s for s, k in sentences if k == "content"]
    windows = _windows(content, rubric)
    vectors = embed(windows + [answer])  # one batch: the model call is the slow part
    result.vector = vectors[-1]
    sims = vectors[:-1] @ rubric.statement_vectors.T  # unit vectors: dot product = cosine
    result.best_similarity = float(sims.max()) if sims.size else 0.0
    result.hits = _match_concepts(rubric, windows, sims)
    if not any(h.covered for h in result.hits) and result.best_similarity < rubric.scoring.offtopic_similarity:
        result.gate = "offtopic"
        return result
    result.findings = _detect(rubric, content)
    for finding in result.findings:  # credit that rests on the wrong reasoning is withdrawn
        for hit in result.hits:
            if hit.covered and hit.concept.id in finding.contradicts:
                hit.covered, hit.withdrawn_by = False, finding.id
    return result
