"""Which system calls grading makes inside the sandbox: the evidence behind the seccomp allow-list.

    python -m grader.sandbox.trace [--device cuda] [--log FILE]

Runs a grading workload (every module exercise's reference and its mistake files, and the small
training budget of any exercise that trains) under `strace -f`, then lists every call made AFTER a
sandbox installed its seccomp filter, by the sandbox's pid 1 and everything it started, with its
count, and marks the ones the allow-list (grader/sandbox/seccomp.py) lacks. Exit status 1 when
a call is missing: bench/gpu_check.sh runs it on a GPU machine, where the driver's calls show.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()")
# A new process or thread: its id as the caller sees it, then (inside a pid namespace) as strace does.
_CHILD = re.compile(r"^(\d+)\s+(?:<\.\.\. )?(?:clone3?|fork|vfork)\b.*= (\d+)(?: /\* (\d+) in strace's PID NS \*/)?$")
_SMALL_TRAIN = {"depth": 4, "steps": 8, "chunk": 4}


def workload(device: str) -> None:
    """Grade what the course grades, as a worker would (one warm Grader)."""
    sys.path.insert(0, str(ROOT))
    from grader.engine import Grader
    from grader.exercise import load_exercise

    with tempfile.TemporaryDirectory() as tmp, Grader(device=device) as grader:
        grader.start()
        for toml in sorted((ROOT / "exercises").glob("*/exercise.toml")):
            folder = toml.parent
            exercise = load_exercise(folder)
            if exercise.kind != "module":
                continue
            train = exercise.extra.get("train")
            if isinstance(train, dict):  # a training exercise: the same calls on a small budget
                exercise = dataclasses.replace(exercise, extra={**exercise.extra, "train": {**train, **_SMALL_TRAIN}})
            files = [folder / "solution.py", folder / "starter.py", *sorted((folder / "mistakes").glob("*.py"))]
            files += sorted((ROOT / "tests" / "grader" / "submissions" / folder.name).glob("*.py"))[:6]
            for f in files:
                if not f.exists():
                    continue
                data = f.read_bytes()
                if f.parent.name == "mistakes":
                    data = (folder / "solution.py").read_bytes() + b"\n" + data
                result = grader.grade(exercise, data)
                print(
                    f"{folder.name}/{f.name}: {result.outcome.value} {result.score:g}/{result.max_score:g}",
                    file=sys.stderr,
                )
        del tmp


def sandboxed_calls(log: Path) -> collections.Counter[str]:
    """Calls made under a sandbox's filter: by a process after its prctl(PR_SET_SECCOMP), and by every
    process or thread such a process started afterwards (their filters are inherited)."""
    filtered: set[int] = set()
    counts: collections.Counter[str] = collections.Counter()
    with open(log, errors="replace") as f:
        for line in f:
            child = _CHILD.match(line)
            if child and int(child.group(1)) in filtered:
                filtered.add(int(child.group(3) or child.group(2)))
            m = _LINE.match(line)
            if not m:
                continue
            pid, name = int(m.group(1)), m.group(2) or m.group(3)
            if pid in filtered and m.group(3):  # count a call once, where it starts
                counts[name] += 1
            if name == "prctl" and "PR_SET_SECCOMP" in line and line.rstrip().endswith("= 0"):
                filtered.add(pid)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=os.environ.get("GRADER_DEVICE", "cpu"))
    parser.add_argument("--log", default="", help="keep strace's log here")
    parser.add_argument("--workload", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workload:
        workload(args.device)
        return 0
    from grader.sandbox.seccomp import allowed_names

    strace = shutil.which("strace")
    if strace is None:
        print("strace is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(args.log or Path(tmp) / "strace.log")
        cmd = [
            strace,
            "-f",
            "-qq",
            "--decode-pids=pidns",
            "-s",
            "64",
            "-o",
            str(log),
            sys.executable,
            "-m",
            "grader.sandbox.trace",
            "--workload",
            "--device",
            args.device,
        ]
        proc = subprocess.run(cmd, cwd=ROOT)
        if proc.returncode != 0:
            print(f"the traced workload failed (status {proc.returncode})", file=sys.stderr)
            return 2
        counts = sandboxed_calls(log)
    allowed = allowed_names(args.device)
    missing = sorted(set(counts) - allowed)
    for name, n in sorted(counts.items()):
        print(f"{name:<24} {n:>9}{'   NOT ALLOWED' if name not in allowed else ''}")
    print(f"{len(counts)} distinct calls under the filter; not in the {args.device} allow-list: {missing or 'none'}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
