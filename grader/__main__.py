"""python -m grader grade EXERCISE_DIR FILE [FILE ...] --json   (contracts.md §2)
   python -m grader check EXERCISE_DIR [...]                    (self-test folders: reference full marks, starter
                                                                less, each mistakes/ file named first)

For grade, stdout carries only the JSON lines; everything else goes to stderr. check prints one line
per folder and problem on stdout. Exit 0 whenever every file got a
grade (whatever the scores); non-zero only when grading itself could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# Before torch (and numpy) load: a multi-threaded parent makes forked children hang.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def _grade(args: argparse.Namespace) -> int:
    from grader.engine import Grader, SandboxUnavailable
    from grader.exercise import ExerciseError, load_exercise

    try:
        exercise = load_exercise(args.exercise_dir)
    except ExerciseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    grader = Grader(device=args.device, dedicated=True)
    out = sys.stdout
    try:
        for path in args.files:
            try:
                with open(path, "rb") as f:
                    data = f.read(exercise.limits.max_source_bytes * 16 + 1)
            except OSError as exc:
                print(f"error: cannot read {path}: {exc}", file=sys.stderr)
                return 2
            try:
                result = grader.grade(exercise, data)
            except SandboxUnavailable as exc:
                print(f"error: the sandbox is unavailable: {exc}", file=sys.stderr)
                return 3
            if args.json:
                out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
            else:
                out.write(f"{path}: {result.score:g}/{result.max_score:g} ({result.outcome.value})\n{result.output}\n\n")
            out.flush()
    finally:
        grader.close()
    return 0


def _check(args: argparse.Namespace) -> int:
    from grader.engine import Grader
    from grader.exercise import ExerciseError, load_exercise
    from grader.selftest import self_test

    grader = Grader(device=args.device, dedicated=True)
    status = 0
    try:
        for folder in args.exercise_dirs:
            try:
                exercise = load_exercise(folder)
            except ExerciseError as exc:
                print(f"FAIL {folder}: {exc}")
                status = 1
                continue
            report = self_test(grader, exercise)
            for line in report.lines():
                print(line, flush=True)
            status = status if report.ok else 1
    finally:
        grader.close()
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade files against one exercise folder")
    g.add_argument("exercise_dir")
    g.add_argument("files", nargs="+")
    g.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    g.add_argument("--device", default=os.environ.get("GRADER_DEVICE", "cpu"), help="cpu, cuda or auto")
    g.set_defaults(fn=_grade)
    c = sub.add_parser("check", help="self-test exercise folders: the reference scores full marks, the starter "
                                    "less, every mistakes/ file fails with its misconception named first")
    c.add_argument("exercise_dirs", nargs="+")
    c.add_argument("--device", default=os.environ.get("GRADER_DEVICE", "cpu"))
    c.set_defaults(fn=_check)
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
