"""Does the web win the CPU while every core grades? (#13 item 3: web first)

    .venv/bin/python bench/web_first.py [--graders 2] [--seconds 12] [--rounds 2] [--before /work/main]

A web-like probe (its own session at nice 0, as gunicorn runs: wake every 30 ms, do a fixed ~4 ms of
Python work, record how long that took) runs beside --graders busy grading processes, each as a Celery
worker starts it (its own session, the worker nice, then a warm Grader grading identity-block
submissions back to back, sandboxes included). Modes, interleaved round by round so the machine's
other load falls on all of them alike:

  idle       the probe alone
  nice-only  graders at nice 10 only: the code before #13's group weighting, run from --before
             CHECKOUT (a checkout without it, e.g. main before the change; mode left out without it)
  autogroup  the worker's session and each sandbox's session weighed as nice 10 (GRADER_CPU_CGROUP=off)
  cgroup     the worker in a cpu cgroup of its own weighted as nice 10 (where the host allows one)

Prints, per mode: the probe's work time p50/p95/max (ms) against its idle time, the cores it got,
and grades/s. --period-ms 0 makes the probe CPU-bound (a saturated web): the cores it gets against
the graders is then the share the scheduler gives the web.
A script, not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

PROBE = r"""
import json, sys, time
period, seconds, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
def work():
    s = 0
    for i in range(n):
        s += i * i
    return s
out = []
t0, c0 = time.perf_counter(), time.process_time()
end = t0 + seconds
while time.perf_counter() < end:
    if period:
        time.sleep(period)
    t = time.perf_counter()
    work()
    out.append(time.perf_counter() - t)
print(json.dumps({"times": out, "cores": (time.process_time() - c0) / (time.perf_counter() - t0)}))
"""

GRADER = r"""
import os, sys, time, json
root, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
sys.path.insert(0, root)
os.setpriority(os.PRIO_PROCESS, 0, 10)
group = ""
if mode in ("autogroup", "cgroup"):
    from grader.sandbox.priority import join_grading_cpu_cgroup, yield_own_session
    if mode == "cgroup" and join_grading_cpu_cgroup(10) is not None:
        group = "cgroup"
    elif yield_own_session(10):
        group = "autogroup"
from grader.engine import Grader
from grader.exercise import load_exercise
from pathlib import Path
ex = load_exercise(Path(root) / "exercises" / "identity-block")
subs = sorted((Path(root) / "tests" / "grader" / "submissions" / "identity-block").glob("*.py"))
data = [(Path(root) / "exercises" / "identity-block" / "solution.py").read_bytes()] + [p.read_bytes() for p in subs[:4]]
g = Grader(device="cpu", dedicated=True)
g.start()
for d in data:
    g.grade(ex, d)
print("ready", flush=True)
sys.stdin.readline()
n, end = 0, time.perf_counter() + seconds
while time.perf_counter() < end:
    g.grade(ex, data[n % len(data)])
    n += 1
print(json.dumps({"grades": n, "group": group}), flush=True)
g.close()
"""


def calibrate(ms: float) -> int:
    n = 100_000
    while True:
        t = time.perf_counter()
        s = 0
        for i in range(n):
            s += i * i
        dt = time.perf_counter() - t
        if dt > 0.02:
            return int(n * ms / 1000 / dt)
        n *= 2


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def run_mode(mode: str, args: argparse.Namespace, n: int) -> dict:
    graders = []
    if mode != "idle":
        root = args.before if (mode == "nice-only" and args.before) else str(ROOT)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        gmode = mode
        if mode in ("nice-only", "autogroup"):
            env["GRADER_CPU_CGROUP"] = "off"
        for _ in range(args.graders):
            graders.append(
                subprocess.Popen(
                    [PY, "-c", GRADER, root, gmode, str(args.seconds)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=env,
                    start_new_session=True,
                    cwd=root,
                )
            )
        for g in graders:
            assert g.stdout is not None
            line = g.stdout.readline()
            if "ready" not in line:
                raise SystemExit(f"{mode}: a grader did not start")
        for g in graders:
            assert g.stdin is not None
            g.stdin.write("go\n")
            g.stdin.flush()
    probe = subprocess.run(
        [PY, "-c", PROBE, str(args.period_ms / 1000), str(args.seconds - 1), str(n)],
        capture_output=True,
        text=True,
        start_new_session=True,
        check=True,
    )
    probe_out = json.loads(probe.stdout)
    times = probe_out["times"]
    grades, groups = 0, set()
    for g in graders:
        out, _ = g.communicate(timeout=120)
        info = json.loads(out.strip().splitlines()[-1])
        grades += info["grades"]
        groups.add(info["group"])
    return {
        "p50_ms": 1000 * pct(times, 50),
        "p95_ms": 1000 * pct(times, 95),
        "max_ms": 1000 * max(times),
        "grades_per_s": grades / args.seconds,
        "probe_cores": probe_out["cores"],
        "group": ",".join(sorted(groups)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graders", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work-ms", type=float, default=4.0)
    ap.add_argument("--period-ms", type=float, default=30.0, help="0: the probe never sleeps (a CPU-bound web)")
    ap.add_argument("--before", default="", help="a checkout without the fix, for the nice-only mode")
    ap.add_argument("--modes", default="idle,nice-only,autogroup,cgroup")
    args = ap.parse_args()
    n = calibrate(args.work_ms)
    modes = [m for m in args.modes.split(",") if m != "nice-only" or args.before]
    results: dict[str, list[dict]] = {m: [] for m in modes}
    for r in range(args.rounds):
        for m in modes:
            res = run_mode(m, args, n)
            results[m].append(res)
            print(
                f"round {r + 1} {m:10s} "
                + json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in res.items()}),
                flush=True,
            )
    print(
        f"\nprobe: {args.work_ms} ms of work every {args.period_ms} ms; {args.graders} graders; {os.cpu_count()} cores"
    )
    print(f"{'mode':10s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s} {'probe cores':>11s} {'grades/s':>9s}")
    for m in modes:
        rs = results[m]

        def med(k: str, rs: list[dict] = rs) -> float:
            return statistics.median(r[k] for r in rs)

        print(
            f"{m:10s} {med('p50_ms'):8.1f} {med('p95_ms'):8.1f} {med('max_ms'):8.1f} {med('probe_cores'):11.2f} "
            f"{med('grades_per_s'):9.1f}  (median of {len(rs)} rounds; group: {rs[0]['group'] or 'none'})"
        )


if __name__ == "__main__":
    main()
