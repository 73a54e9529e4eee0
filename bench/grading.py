"""Benchmark: what one identity-block grade costs, from the in-process floor to the sandboxed pool.

    .venv/bin/python bench/grading.py [--rounds 30] [--throughput 120]

Prints one table (milliseconds per grade) for the reference and a few buggy submissions:
  floor      the same checks and runner commands in this warm process, no sandbox
  cold       a fresh `python -m grader grade` process per grade (torch import + pool start)
  warm p50/p95   the sandboxed warm pool (what a worker pays)
  cli/file   `python -m grader grade DIR F1..Fn`, total time divided by n (n = rounds)
and grades/second with 1 and 2 worker processes (each its own Grader, as Celery workers have).
A script, not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.engine import Grader
    from grader.exercise import Exercise

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

EXERCISE = ROOT / "exercises" / "identity-block"
SUBS = ROOT / "tests" / "grader" / "submissions" / "identity-block"
CASES = {
    "reference": EXERCISE / "solution.py",
    "no shortcut": SUBS / "no_shortcut.py",
    "add after ReLU": SUBS / "add_after_final_relu.py",
    "detached": SUBS / "detached_shortcut.py",
    "wrong padding": SUBS / "padding_fixed_1.py",
}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def time_grades(grader: Grader, exercise: Exercise, data: bytes, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        r = grader.grade(exercise, data)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status == "graded", r.output
        time.sleep(0.02)  # a worker between jobs: writes the result, fetches the next (pre-fork runs now)
    return out


def cold_ms(path: Path, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "grader", "grade", str(EXERCISE), str(path), "--json"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def cli_per_file_ms(path: Path, n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(n):
            p = Path(tmp) / f"s{i}.py"
            p.write_bytes(path.read_bytes())
            files.append(str(p))
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "grader", "grade", str(EXERCISE), str(path), "--json"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        one = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "grader", "grade", str(EXERCISE), str(path), *files, "--json"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        many = time.perf_counter() - t
    return (many - one) / n * 1000  # the marginal cost of one more file in the same call


def _worker(n: int, device: str, start: mp.Barrier, out: mp.Queue) -> None:  # type: ignore[type-arg]  # mp.Queue is generic only in the stubs
    from grader.engine import Grader
    from grader.exercise import load_exercise

    exercise = load_exercise(EXERCISE)
    datas = [p.read_bytes() for p in CASES.values()]
    g = Grader(device=device, dedicated=True)  # as a worker is
    g.start()
    g.grade(exercise, datas[0])  # warm the trusted side too
    start.wait()
    t = time.perf_counter()
    for i in range(n):
        g.grade(exercise, datas[i % len(datas)])
    out.put((n, time.perf_counter() - t))
    g.close()


def throughput(workers: int, total: int, device: str) -> float:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(total // workers, device, barrier, q)) for _ in range(workers)]
    for p in procs:
        p.start()
    barrier.wait()
    t = time.perf_counter()
    results = [q.get() for _ in procs]
    wall = time.perf_counter() - t
    for p in procs:
        p.join()
    return sum(n for n, _ in results) / wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument(
        "--cold",
        type=int,
        default=3,
        help="fresh processes per case for the cold column (0: skip the cold and cli/file columns)",
    )
    ap.add_argument("--throughput", type=int, default=120, help="grades per throughput run")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (the GPU this process is pinned to)")
    args = ap.parse_args()
    os.environ["GRADER_DEVICE"] = args.device  # the cold and CLI columns' subprocesses too

    import torch

    from grader.engine import Grader
    from grader.exercise import load_exercise
    from inprocess import InProcessPool

    torch.set_num_threads(1)
    exercise = load_exercise(EXERCISE)
    floor_grader = Grader(device=args.device, pool=InProcessPool(args.device))  # type: ignore[arg-type]  # a duck-typed in-process pool
    pool_grader = Grader(device=args.device, dedicated=True)  # as a worker is
    print(f"device: {pool_grader.device}")
    t = time.perf_counter()
    pool_grader.start()
    print(f"pool start (zygote imports torch, first sandbox): {time.perf_counter() - t:.2f} s")
    for data in (p.read_bytes() for p in CASES.values()):  # warm both trusted sides
        floor_grader.grade(exercise, data)
        pool_grader.grade(exercise, data)

    print(f"\nidentity-block, ms per grade ({args.rounds} rounds; cold = median of {args.cold} fresh processes)")
    header = f"{'submission':<16}{'score':>7}{'floor p50':>11}{'cold':>9}{'warm p50':>10}{'warm p95':>10}{'p50-floor':>11}{'cli/file':>10}"
    print(header)
    print("-" * len(header))
    all_warm, all_floor = [], []
    for name, path in CASES.items():
        data = path.read_bytes()
        score = pool_grader.grade(exercise, data).score
        floor = time_grades(floor_grader, exercise, data, args.rounds)
        warm = time_grades(pool_grader, exercise, data, args.rounds)
        all_warm += warm
        all_floor += floor
        # --cold 0 skips both process-per-call columns (each fresh process pays the torch import)
        cold = cold_ms(path, args.cold) if args.cold else float("nan")
        cli = cli_per_file_ms(path, max(args.rounds // 3, 5)) if args.cold else float("nan")
        f50, w50, w95 = pct(floor, 0.5), pct(warm, 0.5), pct(warm, 0.95)
        print(f"{name:<16}{score:>7g}{f50:>11.1f}{cold:>9.0f}{w50:>10.1f}{w95:>10.1f}{w50 - f50:>11.1f}{cli:>10.1f}")
    f50 = pct(all_floor, 0.5)
    print(
        f"{'all':<16}{'':>7}{f50:>11.1f}{'':>9}{pct(all_warm, 0.5):>10.1f}{pct(all_warm, 0.95):>10.1f}"
        f"{pct(all_warm, 0.5) - f50:>11.1f}"
    )
    print(
        f"targets: warm p50 <= floor + 25 ms -> {pct(all_warm, 0.5) - f50:.1f} ms over the floor; "
        f"warm p95 <= floor + 60 ms -> {pct(all_warm, 0.95) - pct(all_floor, 0.95):.1f} ms over the floor p95"
    )
    pool_grader.close()

    print("\nthroughput (each worker a process with its own warm pool, mixed submissions):")
    for workers in (1, 2):
        print(f"  {workers} worker(s): {throughput(workers, args.throughput, args.device):.1f} grades/s")


if __name__ == "__main__":
    main()
