"""Agreement of the free-text grader with the teacher's labels, and its cost.

    .venv/bin/python bench/freetext_agreement.py [EXERCISE_DIR] [--misses] [--passes N]

Prints, for each split of EXERCISE_DIR/calibration.jsonl (train: tuned on; heldout: set aside
before tuning; fresh: written after tuning, never tuned on): band agreement,
the confusion matrix (rows: teacher, columns: grader), how many no-credit answers got full
credit, and concept/misconception agreement; then the model load time and the per-answer
latency (p50/p95 over all answers, N passes, model already loaded).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.exercise import load_exercise  # noqa: E402
from grader.freetext import grade_freetext  # noqa: E402
from grader.freetext.model import get_model  # noqa: E402
from grader.freetext.rubric import load_rubric  # noqa: E402

BANDS = ("full", "partial", "none")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, rows: list[dict], graded: dict[str, dict], show_misses: bool) -> None:
    n = len(rows)
    agree = sum(graded[r["id"]]["band"] == r["band"] for r in rows)
    confusion = {t: {g: 0 for g in BANDS} for t in BANDS}
    for r in rows:
        confusion[r["band"]][graded[r["id"]]["band"]] += 1
    concept_ok = sum(sorted(graded[r["id"]]["concepts"]) == sorted(r["concepts"]) for r in rows)
    misc_ok = sum(sorted(graded[r["id"]]["misconceptions"]) == sorted(r["misconceptions"]) for r in rows)
    print(f"\n== {name}: {n} answers")
    print(f"band agreement           {agree}/{n} = {agree / n:.3f}")
    print(f"none -> full credit      {confusion['none']['full']}")
    print(f"partial -> full credit   {confusion['partial']['full']}")
    print(f"exact concept sets       {concept_ok}/{n}")
    print(f"exact misconception sets {misc_ok}/{n}")
    print("confusion (rows: teacher, columns: grader)")
    print("            " + "".join(f"{g:>9}" for g in BANDS))
    for t in BANDS:
        print(f"  {t:<10}" + "".join(f"{confusion[t][g]:>9}" for g in BANDS))
    if show_misses:
        for r in rows:
            g = graded[r["id"]]
            if g["band"] != r["band"]:
                print(f"  miss {r['id']} teacher={r['band']} grader={g['band']} ({g['score']:g}) "
                      f"concepts={g['concepts']} misconceptions={g['misconceptions']}: {r['text'][:100]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exercise", nargs="?", default=str(ROOT / "exercises" / "why-skip-helps"))
    parser.add_argument("--misses", action="store_true", help="list the answers where the bands disagree")
    parser.add_argument("--passes", type=int, default=3, help="latency passes over all answers")
    args = parser.parse_args()

    exercise = load_exercise(args.exercise)
    rows = [json.loads(line) for line in (Path(args.exercise) / "calibration.jsonl").read_text().splitlines()
            if line.strip()]

    t0 = time.perf_counter()
    get_model()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    load_rubric(exercise)
    rubric_s = time.perf_counter() - t0

    graded: dict[str, dict] = {}
    latencies: list[float] = []
    for _ in range(max(1, args.passes)):
        for r in rows:
            t0 = time.perf_counter()
            result = grade_freetext(exercise, r["text"].encode("utf-8"))
            latencies.append(time.perf_counter() - t0)
            graded[r["id"]] = {"band": result.extra.get("band", "none"), "score": result.score,
                               "concepts": result.extra.get("concepts", []),
                               "misconceptions": result.misconceptions}

    for split in ("train", "heldout", "fresh"):
        subset = [r for r in rows if r["split"] == split]
        if subset:
            report(split, subset, graded, args.misses)

    print("\n== cost (CPU, this machine)")
    print(f"model load               {load_s:.2f} s (once per process)")
    print(f"rubric embeddings        {rubric_s * 1000:.0f} ms (once per rubric version)")
    print(f"per answer               p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
          f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms, mean {statistics.mean(latencies) * 1000:.1f} ms "
          f"({len(latencies)} gradings)")


if __name__ == "__main__":
    main()
