"""Benchmark: what one degradation-experiment grade costs, and how robust the reference's effect is.

    .venv/bin/python bench/degradation.py [--seeds 3] [--device auto|cpu|cuda] [--no-cli]

Prints
  * the wall time of full grades of the reference (exercises/degradation/solution.py) with the
    shipped budget: in a warm sandbox pool (what a worker pays per submission) and as one cold
    `python -m grader grade` command (interpreter, torch and scikit-learn imports, pool start);
    on the GPU too when this machine has one (--device auto);
  * for each of N seed pairs (initial weights, mini-batch order), the measured final training
    losses of the deep plain and the deep residual net, their ratio and whether the check passes.
    Seed pair 0 is the one the exercise grades with; the others run on a copy of the exercise
    whose exercise.toml [train] table names other seeds.
A script, not a test: the numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.engine import Grader

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXERCISE = ROOT / "exercises" / "degradation"
SOLUTION = EXERCISE / "solution.py"


def copy_with_seeds(dst_root: Path, init_seed: int, data_seed: int) -> Path:
    """A copy of the exercise (and the module's misconception catalogue) graded with other seeds."""
    dst_root.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "exercises" / "misconceptions.toml", dst_root / "misconceptions.toml")
    dst = dst_root / "degradation"
    shutil.copytree(EXERCISE, dst, ignore=shutil.ignore_patterns("__pycache__"))
    toml = dst / "exercise.toml"
    text = re.sub(r"(?m)^(init_seed|data_seed)\s*=.*\n", "", toml.read_text())
    if "[train]" not in text:
        text += "\n[train]\n"
    toml.write_text(text.rstrip("\n") + f"\ninit_seed = {init_seed}\ndata_seed = {data_seed}\n")
    return dst


def grade(grader: Grader, folder: Path) -> tuple[float, dict[str, Any]]:
    from grader.exercise import load_exercise

    exercise = load_exercise(folder)
    t = time.perf_counter()
    result = grader.grade(exercise, SOLUTION.read_bytes())
    return time.perf_counter() - t, result.to_json()


def cli_seconds() -> float:
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(EXERCISE), str(SOLUTION), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    elapsed = time.perf_counter() - t
    assert json.loads(out)["score"] == 10, out
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="seed pairs to try (pair 0 is the graded one)")
    ap.add_argument("--device", default="auto", help="auto (GPU when there is one, then CPU too), cpu or cuda")
    ap.add_argument("--no-cli", action="store_true", help="skip the cold CLI timing")
    args = ap.parse_args()

    import torch

    from grader.engine import Grader

    devices = ["cpu"]
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        devices = ["cuda", "cpu"] if args.device == "auto" else ["cuda"]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (1 min); torch {torch.__version__}")
    if args.device == "auto" and devices == ["cpu"]:
        print("no GPU on this machine: GPU timings not measured")

    with tempfile.TemporaryDirectory() as tmp:
        for device in devices:
            with Grader(device=device) as grader:
                grader.start()
                print(f"\n== device {device} ==")
                print(
                    f"{'seeds':>11} {'wall s':>7} {'train s':>8} {'plain':>7} {'resid.':>7} {'ratio':>6} {'score':>6}"
                )
                for i in range(args.seeds):
                    init_seed, data_seed = 1234 + i, 7 + i
                    folder = EXERCISE if i == 0 else copy_with_seeds(Path(tmp) / f"s{i}", init_seed, data_seed)
                    wall, r = grade(grader, folder)
                    fl = r.get("extra", {}).get("final_loss", {})
                    p, q = fl.get("plain"), fl.get("residual")
                    ratio = f"{q / p:.3f}" if p and q is not None else "-"
                    train_s = r.get("extra", {}).get("experiment", {}).get("seconds", float("nan"))
                    tag = f"{init_seed}/{data_seed}" + ("*" if i == 0 else "")
                    print(
                        f"{tag:>11} {wall:7.2f} {train_s:8.2f} {p if p is not None else float('nan'):7.3f} "
                        f"{q if q is not None else float('nan'):7.3f} {ratio:>6} {r['score']:>4g}/{r['max_score']:g}"
                        f"  [{r['execution']['device']}, peak {r['execution']['peak_rss_mb']:.0f} MB]",
                        flush=True,
                    )
                    for t in r.get("tests", []):
                        if t["status"] != "passed":
                            print(f"{'':>11}   failed: {t['name']}: {t['output'][:300]}")
                # The graded configuration once more: the warm-pool time a worker pays, second sample.
                wall, r = grade(grader, EXERCISE)
                print(f"{'again*':>11} {wall:7.2f}  (warm pool, graded seeds; * = the seeds the exercise grades with)")
    if not args.no_cli:
        print(f"\ncold CLI (python -m grader grade ... --json, CPU): {cli_seconds():.2f} s")


if __name__ == "__main__":
    main()
