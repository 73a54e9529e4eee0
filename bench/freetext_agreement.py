"""How far a teacher can trust the free-text grader: agreement with the teacher's band, among all
grades and among released ones, and how many answers go to review, as a function of the confidence
threshold; and how that changes as the teacher labels k answers.

    .venv/bin/python bench/freetext_agreement.py [EXERCISE_DIR] [--heldback] [--repeats N] [--out DIR]

Development answers (the exercise's seed exemplars, which also tuned the rubric and the confidence
rule) are measured with 5-fold cross-validation: each fold is graded with the other folds as
exemplars and with the threshold calibrated (leave-one-out) on the other folds only, so no answer
is graded by a grader that learned from it. "k teacher labels" on the development set starts from
the rubric alone and adds k labelled answers drawn from the other folds.

With --heldback, the held-back answers (--heldback-file, default answers_fresh.jsonl: written and
labelled before the tuning of 2026-12-06 and never used for it; the older answers_heldback.jsonl was
looked at once and then merged into development) are graded
as a course would grade them: all development answers as seed exemplars, the shipped threshold,
and then k of the held-back answers labelled by the teacher (drawn at random, --repeats times),
measured on the remaining held-back answers only.

Writes DIR/agreement.json (the instructor page shows it) and DIR/agreement.svg; DIR defaults to
the exercise folder.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.exercise import Exercise, load_exercise
from grader.freetext.calibrate import Trial, choose_threshold, released_stats
from grader.freetext.confidence import decide
from grader.freetext.exemplars import Exemplar, ExemplarBank, exemplar_from_json
from grader.freetext.grade import Evidence, read_answer
from grader.freetext.rubric import Rubric, load_rubric
from grader.freetext.text import normalise

THRESHOLDS = [round(0.5 + 0.025 * i, 3) for i in range(21)]  # 0.5 .. 1.0
KS = (0, 10, 20, 40)
FOLDS = 5


@dataclass
class Labelled:
    exemplar: Exemplar
    evidence: Evidence


def load_labelled(exercise: Exercise, rubric: Rubric, files: Sequence[str], source: str) -> list[Labelled]:
    out: list[Labelled] = []
    for name in files:
        for line in exercise.file(name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                ex = exemplar_from_json(json.loads(line), source=source)
                text = normalise(ex.text.strip())
                out.append(
                    Labelled(
                        Exemplar(text, ex.band, ex.score, ex.source), read_answer(text, rubric, exercise.max_score)
                    )
                )
    return out


def trials(test: Sequence[Labelled], bank: ExemplarBank, rubric: Rubric, max_score: float) -> list[Trial]:
    out = []
    for item in test:
        ev = item.evidence
        d = decide(ev.analysis, ev.rubric_score, ev.rubric_band, bank, rubric.review, rubric.scoring, max_score)
        out.append(Trial(d.confidence, d.band, item.exemplar.band))
    return out


def loo_threshold(train: Sequence[Labelled], bank: ExemplarBank, rubric: Rubric, max_score: float) -> float:
    """The threshold calibrate_threshold would choose on `train` (bank rows = train, same order)."""
    if len(train) < 20:
        return rubric.review.confidence_threshold
    outcomes = []
    for i, item in enumerate(train):
        keep = np.ones(len(bank), dtype=bool)
        keep[i] = False
        outcomes += trials([item], bank.without(keep), rubric, max_score)
    return choose_threshold(outcomes, rubric.review.target_precision)


def summarise(outcomes: Sequence[Trial], threshold: float) -> dict[str, Any]:
    n = len(outcomes)
    released, correct, two_off = released_stats(outcomes, threshold)
    return {
        "answers": n,
        "threshold": round(threshold, 4),
        "agreement_all": round(sum(o.correct for o in outcomes) / n, 4) if n else None,
        "two_band_all": sum(o.two_bands_off for o in outcomes),
        "released": released,
        "released_agreement": round(correct / released, 4) if released else None,
        "released_two_band": two_off,
        "review_share": round(1 - released / n, 4) if n else None,
    }


def curve(outcomes: Sequence[Trial]) -> list[dict[str, Any]]:
    return [summarise(outcomes, t) for t in THRESHOLDS]


def as_teacher(item: Labelled) -> Labelled:
    e = item.exemplar
    return Labelled(Exemplar(e.text, e.band, e.score, "teacher"), item.evidence)


def bank_of(items: Sequence[Labelled], max_score: float) -> ExemplarBank:
    return ExemplarBank.build([i.exemplar for i in items], max_score)


def development(dev: list[Labelled], rubric: Rubric, max_score: float, repeats: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    order = list(range(len(dev)))
    rng.shuffle(order)
    folds = [order[f::FOLDS] for f in range(FOLDS)]
    pooled: list[Trial] = []
    at_calibrated: list[tuple[list[Trial], float]] = []
    by_k: dict[str, list[Trial]] = {str(k): [] for k in KS}
    by_k_thr: dict[str, list[tuple[list[Trial], float]]] = {str(k): [] for k in KS}
    for f, test_idx in enumerate(folds):
        test = [dev[i] for i in test_idx]
        train = [dev[i] for i in order if i not in set(test_idx)]
        bank = bank_of(train, max_score)
        threshold = loo_threshold(train, bank, rubric, max_score)
        outcomes = trials(test, bank, rubric, max_score)
        pooled += outcomes
        at_calibrated.append((outcomes, threshold))
        for k in KS:
            for r in range(repeats):
                picked = random.Random(seed * 1000 + f * 100 + r).sample(range(len(train)), min(k, len(train)))
                small = bank_of([as_teacher(train[i]) for i in picked], max_score)
                out_k = trials(test, small, rubric, max_score)
                by_k[str(k)] += out_k
                by_k_thr[str(k)].append((out_k, threshold))
    return {
        "cross_validated": {
            "curve": curve(pooled),
            "at_calibrated": merge(at_calibrated),
            "threshold_from_pooled": choose_threshold(pooled, rubric.review.target_precision),
        },
        "teacher_labels": {k: {"curve": curve(v), "at_calibrated": merge(by_k_thr[k])} for k, v in by_k.items()},
    }


def merge(parts: Sequence[tuple[list[Trial], float]]) -> dict[str, Any]:
    """Totals over folds or draws, each measured at its own calibrated threshold."""
    n = released = correct = two_off = agree = two_all = 0
    for outcomes, threshold in parts:
        r, c, t = released_stats(outcomes, threshold)
        n, released, correct, two_off = n + len(outcomes), released + r, correct + c, two_off + t
        agree += sum(o.correct for o in outcomes)
        two_all += sum(o.two_bands_off for o in outcomes)
    return {
        "answers": n,
        "thresholds": sorted({round(t, 4) for _, t in parts}),
        "agreement_all": round(agree / n, 4) if n else None,
        "two_band_all": two_all,
        "released": released,
        "released_agreement": round(correct / released, 4) if released else None,
        "released_two_band": two_off,
        "review_share": round(1 - released / n, 4) if n else None,
    }


def heldback(
    dev: list[Labelled], held: list[Labelled], rubric: Rubric, max_score: float, repeats: int, seed: int
) -> dict[str, Any]:
    threshold = rubric.review.confidence_threshold
    out: dict[str, Any] = {"threshold": threshold, "teacher_labels": {}}
    for k in KS:
        parts: list[tuple[list[Trial], float]] = []
        pooled: list[Trial] = []
        for r in range(repeats if k else 1):
            picked = set(random.Random(seed * 7919 + k * 31 + r).sample(range(len(held)), min(k, len(held) - 1)))
            bank = bank_of([*dev, *(held[i] for i in sorted(picked))], max_score)
            outcomes = trials([h for i, h in enumerate(held) if i not in picked], bank, rubric, max_score)
            parts.append((outcomes, threshold))
            pooled += outcomes
        out["teacher_labels"][str(k)] = {"curve": curve(pooled), "at_threshold": merge(parts)}
    return out


# ---- drawing ---------------------------------------------------------------------------------------

COLOURS = {"0": "#9e9e9e", "10": "#64b5f6", "20": "#1e88e5", "40": "#0d47a1"}


def svg(data: dict[str, Any]) -> str:
    """Two panels over the threshold: share sent to review, and agreement of released grades, one line
    per number k of teacher labels (held-back part when measured, else development CV)."""
    part = data.get("heldback") or data["development"]
    title = "held-back answers" if data.get("heldback") else "development answers (cross-validated)"
    w, h, pad = 340, 220, 46
    panels = [("sent to review", "review_share"), ("released grades matching the teacher", "released_agreement")]
    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w + 20}" height="{h + 70}" '
            f'font-family="sans-serif" font-size="11" role="img" aria-label="free-text grader agreement">'
        ),
        f'<text x="10" y="16" font-size="13">Free-text grader: {title}, by confidence threshold</text>',
    ]
    for p, (label, key) in enumerate(panels):
        x0, y0 = 10 + p * (w + 10), 30
        lo = 0.0 if key == "review_share" else 0.6

        def px(t: float, x0: float = x0) -> float:
            return x0 + pad + (t - 0.5) / 0.5 * (w - pad - 10)

        def py(v: float, y0: float = y0, lo: float = lo) -> float:
            return y0 + h - 30 - (v - lo) / (1 - lo) * (h - 50)

        out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#ccc"/>')
        out.append(f'<text x="{x0 + pad}" y="{y0 + 14}">{label}</text>')
        for v in np.linspace(lo, 1.0, 5):
            out.append(f'<line x1="{px(0.5)}" x2="{px(1.0)}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#eee"/>')
            out.append(f'<text x="{x0 + 4}" y="{py(v) + 4:.1f}">{v:.0%}</text>')
        for t in (0.5, 0.75, 1.0):
            out.append(f'<text x="{px(t) - 8:.1f}" y="{y0 + h - 14}">{t:g}</text>')
        target = 0.25 if key == "review_share" else 0.95
        out.append(
            f'<line x1="{px(0.5)}" x2="{px(1.0)}" y1="{py(target):.1f}" y2="{py(target):.1f}" '
            f'stroke="#e53935" stroke-dasharray="4 3"/>'
        )
        for k, series in part["teacher_labels"].items():
            pts = [(px(c["threshold"]), py(c[key])) for c in series["curve"] if c[key] is not None]
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{COLOURS.get(k, "#000")}" stroke-width="2"/>')
        thr = part.get("threshold")
        if isinstance(thr, float):
            out.append(
                f'<line x1="{px(thr):.1f}" x2="{px(thr):.1f}" y1="{y0 + 20}" y2="{y0 + h - 30}" '
                f'stroke="#555" stroke-dasharray="2 2"/>'
            )
    for i, k in enumerate(part["teacher_labels"]):
        x = 12 + i * 130
        out.append(
            f'<line x1="{x}" x2="{x + 20}" y1="{h + 52}" y2="{h + 52}" stroke="{COLOURS.get(k, "#000")}" '
            f'stroke-width="2"/><text x="{x + 24}" y="{h + 56}">{k} teacher labels</text>'
        )
    out.append(f'<text x="12" y="{h + 68}" fill="#e53935">dashed red: goals (25% review, 95% agreement)</text>')
    out.append("</svg>")
    return "\n".join(out)


def line(name: str, s: dict[str, Any]) -> str:
    ra = "-" if s["released_agreement"] is None else f"{s['released_agreement']:.1%}"
    return (
        f"{name:<34} n={s['answers']:<5} all-agree {s['agreement_all']:.1%}  released {s['released']:<4} "
        f"released-agree {ra:>6}  released two-band {s['released_two_band']}  review {s['review_share']:.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exercise", nargs="?", default=str(ROOT / "exercises" / "why-skip-helps"))
    parser.add_argument("--heldback", action="store_true", help="also measure the held-back answers")
    parser.add_argument(
        "--heldback-file",
        default="answers_fresh.jsonl",
        help="the held-back answers (default answers_fresh.jsonl, written before the last tuning; "
        "answers_heldback.jsonl, the older batch, is now part of development)",
    )
    parser.add_argument("--repeats", type=int, default=10, help="random draws of the k teacher labels")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None, help="folder for agreement.json and agreement.svg")
    args = parser.parse_args()

    exercise = load_exercise(args.exercise)
    rubric = load_rubric(exercise)
    t0 = time.perf_counter()
    # A held-back file that is also a seed file (an older held-back batch since merged into
    # development) is taken out of development for this run, so no answer is graded by itself.
    dev_files = [f for f in rubric.review.seed_exemplars if not (args.heldback and f == args.heldback_file)]
    dev = load_labelled(exercise, rubric, dev_files, "seed")
    print(f"read {len(dev)} development answers in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    data: dict[str, Any] = {
        "exercise": exercise.slug,
        "shipped_threshold": rubric.review.confidence_threshold,
        "target_precision": rubric.review.target_precision,
        "development": development(dev, rubric, exercise.max_score, args.repeats, args.seed),
    }
    print(f"== development answers ({len(dev)}), {FOLDS}-fold cross-validation, threshold calibrated per fold")
    print(line("all exemplars of the other folds", data["development"]["cross_validated"]["at_calibrated"]))
    for k, v in data["development"]["teacher_labels"].items():
        print(line(f"rubric + {k} teacher labels", v["at_calibrated"]))
    loo = loo_threshold(dev, bank_of(dev, exercise.max_score), rubric, exercise.max_score)
    pooled = data["development"]["cross_validated"]["threshold_from_pooled"]
    data["calibrated_on_all_development"] = {"leave_one_out": loo, "cross_validated": pooled}
    # The cross-validated figure is the one to ship: its exemplar banks are smaller than the deployed
    # one, so it is the more cautious of the two (leave-one-out sees 179 of 180 answers each time).
    print(
        f"threshold from the pooled cross-validated grades: {pooled:.4f}; leave-one-out on all: {loo:.4f} "
        f"(shipped in rubric.toml: {rubric.review.confidence_threshold})"
    )
    if args.heldback:
        held = load_labelled(exercise, rubric, [args.heldback_file], "teacher")
        data["heldback_file"] = args.heldback_file
        data["heldback"] = heldback(dev, held, rubric, exercise.max_score, args.repeats, args.seed)
        print(
            f"\n== held-back answers ({args.heldback_file}: {len(held)}), development answers as exemplars, threshold "
            f"{rubric.review.confidence_threshold}"
        )
        for k, v in data["heldback"]["teacher_labels"].items():
            print(line(f"+ {k} held-back teacher labels", v["at_threshold"]))
    print("\nthreshold curve (" + ("held-back, 0 labels" if args.heldback else "development CV") + ")")
    series = (
        data["heldback"]["teacher_labels"]["0"]["curve"]
        if args.heldback
        else data["development"]["cross_validated"]["curve"]
    )
    for c in series[::2]:
        print(line(f"  threshold {c['threshold']:.3f}", c))
    out = Path(args.out) if args.out else exercise.path
    out.mkdir(parents=True, exist_ok=True)
    (out / "agreement.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    (out / "agreement.svg").write_text(svg(data) + "\n", encoding="utf-8")
    print(f"\nwrote {out / 'agreement.json'} and {out / 'agreement.svg'}", file=sys.stderr)


if __name__ == "__main__":
    main()
