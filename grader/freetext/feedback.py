"""Feedback a student can act on: the band, what the answer explains, what it still misses,
and which misconceptions it shows, one visible check per rubric concept."""

from __future__ import annotations

from grader.exercise import Misconception
from grader.freetext.analyse import Analysis, Gate
from grader.freetext.rubric import Rubric
from grader.freetext.score import Band
from grader.freetext.text import SentenceKind
from grader.results import CheckResult

BAND_WORDS: dict[Band, str] = {"full": "Full credit", "partial": "Partial credit", "none": "No credit"}

GATE_MESSAGES: dict[Gate, str] = {
    "code": "Your answer looks like program code. This exercise asks for an explanation in your own "
    "words, not an implementation: code earns no credit here.",
    "question": "Your answer only asks a question, so there is nothing to grade yet. Questions are welcome "
    "in the course forum; here, write your explanation as statements.",
    "praise": "Thank you for the kind words! They do not answer the question, though, so they earn no credit.",
    "filler": "Your answer does not attempt an explanation, so it earns no credit.",
    "short": "Your answer is too short to explain the reasoning: a formula or a few words on their own do "
    "not show why. Write a few full sentences.",
    "stuffing": "Your answer is a list of keywords rather than an explanation, so it earns no credit. "
    "Connect the ideas: say what happens and why it follows.",
    "unreasoned": "Your answer lists statements but never connects them (no 'because', 'so', 'if ... then'), "
    "so it does not explain anything yet and earns no credit. Say what follows from what.",
    "offtopic": "Your answer does not seem to be about residual blocks and skip connections, so it earns "
    "no credit. Re-read the question and answer it directly.",
}

_IGNORED_NOTES: dict[SentenceKind, str] = {
    "question": "{n} sentence(s) that ask a question were not graded.",
    "praise": "{n} sentence(s) of praise or thanks were not graded.",
    "code": "{n} line(s) of code were not graded.",
}


def _quote(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return f'"{text[: limit - 3]}..."' if len(text) > limit else f'"{text}"'


def concept_checks(analysis: Analysis, rubric: Rubric, catalogue: dict[str, Misconception]) -> list[CheckResult]:
    checks: list[CheckResult] = []
    for hit in analysis.hits:
        c = hit.concept
        if hit.covered:
            out = f"{c.praise} Found in: {_quote(hit.evidence)}"
        elif hit.withdrawn_by:
            title = catalogue[hit.withdrawn_by].title if hit.withdrawn_by in catalogue else hit.withdrawn_by
            out = f"Not credited: your reasoning here rests on a misconception ({title}). {c.missing}"
        else:
            out = c.missing
        checks.append(
            CheckResult(
                name=c.name,
                score=c.weight if hit.covered else 0.0,
                max_score=c.weight,
                status="passed" if hit.covered else "failed",
                output=out,
                visibility="visible",
                misconceptions=[hit.withdrawn_by] if hit.withdrawn_by else [],
            )
        )
    for f in analysis.findings:
        m = catalogue.get(f.id)
        title = m.title if m else f.id
        text = f"{m.explanation} Hint: {m.hint}" if m else ""
        penalty = rubric.scoring.misconception_penalty if f.penalty is None else f.penalty
        cost = f" This costs {penalty:g} point(s)." if penalty else ""
        checks.append(
            CheckResult(
                name=f"Misconception: {title}",
                score=0.0,
                max_score=0.0,
                status="failed",
                output=f"You wrote {_quote(f.sentence)}. {text}{cost}".strip(),
                visibility="visible",
                misconceptions=[f.id],
            )
        )
    return checks


def overall(
    analysis: Analysis, rubric: Rubric, score: float, max_score: float, band: Band, catalogue: dict[str, Misconception]
) -> str:
    head = f"{BAND_WORDS[band]}: {score:g} / {max_score:g}."
    if analysis.gate is not None:
        again = f"\nThe question was: {rubric.question}" if rubric.question else ""
        return f"{head} {GATE_MESSAGES[analysis.gate]}{again}"
    lines = [head]
    covered = [h for h in analysis.hits if h.covered]
    missing = [h for h in analysis.hits if not h.covered]
    if covered:
        lines.append("Your answer explains:")
        lines += [f"  + {h.concept.name}" for h in covered]
    else:
        lines.append("Your answer is on topic, but it does not yet explain any step of the argument.")
    if missing:
        lines.append("Still missing:" if covered else "What the answer needs:")
        lines += [f"  - {h.concept.missing}" for h in missing]
    if analysis.findings:
        lines.append("Misconceptions in your answer (an answer with a misconception cannot get full credit):")
        for f in analysis.findings:
            m = catalogue.get(f.id)
            lines.append(f"  ! {m.title}: {m.explanation}" if m else f"  ! {f.id}")
    notes = [tmpl.format(n=analysis.ignored(kind)) for kind, tmpl in _IGNORED_NOTES.items() if analysis.ignored(kind)]
    if notes:
        lines.append("Note: " + " ".join(notes))
    return "\n".join(lines)
