"""python -m grader grade EXERCISE_DIR FILE [FILE ...] --json   (contracts.md §2)
   python -m grader check EXERCISE_DIR [...]                    (self-test folders: reference full marks, starter
                                                                less, each mistakes/ file named first)
   python -m grader submit --url URL --token TOKEN EXERCISE FILE   (submit to a running service: grader/client.py)
A FILE ending in .ipynb is a notebook: the cells that define the interface are graded (grader/notebook.py).

For grade, stdout carries only the JSON lines; everything else goes to stderr. check prints one line
per folder and problem on stdout. Exit 0 whenever every file got a
grade (whatever the scores); non-zero only when grading itself could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.engine import Grader
    from grader.exercise import Exercise
    from grader.results import GradeResult

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
                    data = f.read(max(exercise.limits.max_source_bytes * 16, _notebook_limit(path)) + 1)
            except OSError as exc:
                print(f"error: cannot read {path}: {exc}", file=sys.stderr)
                return 2
            try:
                result = _grade_file(grader, exercise, path, data)
            except SandboxUnavailable as exc:
                print(f"error: the sandbox is unavailable: {exc}", file=sys.stderr)
                return 3
            if args.json:
                out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
            else:
                out.write(
                    f"{path}: {result.score:g}/{result.max_score:g} ({result.outcome.value})\n{result.output}\n\n"
                )
            out.flush()
    finally:
        grader.close()
    return 0


def _notebook_limit(path: str) -> int:
    from grader.notebook import MAX_NOTEBOOK_BYTES, is_notebook

    return MAX_NOTEBOOK_BYTES if is_notebook(path) else 0


def _grade_file(grader: Grader, exercise: Exercise, path: str, data: bytes) -> GradeResult:
    """Grade one file; a `.ipynb` is graded by the cells that define the interface (grader.notebook)."""
    from grader.notebook import NotebookError, extract_code, is_notebook
    from grader.results import Outcome, zero_result

    if not is_notebook(path):
        return grader.grade(exercise, data)
    try:
        code = extract_code(
            data,
            names=[exercise.class_name, exercise.function_name],
            tag=exercise.slug,
            max_source_bytes=exercise.limits.max_source_bytes,
        )
    except NotebookError as exc:
        return zero_result(exercise.max_score, Outcome.REJECTED, str(exc))
    result = grader.grade(exercise, code.source.encode("utf-8"))
    result.output = f"{code.describe()}\n{result.output}".strip()
    return result


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


def _submit(args: argparse.Namespace) -> int:
    from grader.client import submit

    if not args.token:
        print("error: --token (or $GRADER_TOKEN) is required", file=sys.stderr)
        return 2
    return submit(args.url, args.token, args.exercise, args.file, timeout_s=args.timeout, as_json=args.json)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade files against one exercise folder")
    g.add_argument("exercise_dir")
    g.add_argument("files", nargs="+")
    g.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    g.add_argument("--device", default=os.environ.get("GRADER_DEVICE", "cpu"), help="cpu, cuda or auto")
    g.set_defaults(fn=_grade)
    c = sub.add_parser(
        "check",
        help="self-test exercise folders: the reference scores full marks, the starter "
        "less, every mistakes/ file fails with its misconception named first",
    )
    c.add_argument("exercise_dirs", nargs="+")
    c.add_argument("--device", default=os.environ.get("GRADER_DEVICE", "cpu"))
    c.set_defaults(fn=_check)
    sb = sub.add_parser("submit", help="submit a file to a running service through its API and print the feedback")
    sb.add_argument("--url", required=True, help="the service's address, e.g. https://grading.example.org")
    sb.add_argument(
        "--token", default=os.environ.get("GRADER_TOKEN", ""), help="your API token (default: $GRADER_TOKEN)"
    )
    sb.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the grade")
    sb.add_argument("--json", action="store_true", help="print the result as one JSON object")
    sb.add_argument("exercise", help="the exercise's slug, COURSE/SLUG, or its id")
    sb.add_argument("file", help="a .py file or a .ipynb notebook")
    sb.set_defaults(fn=_submit)
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
