"""Grade one submission against one exercise: the single path used by the CLI and the workers.

    grader = Grader(device="cpu")      # one per worker process; keeps the warm sandbox pool
    result = grader.grade(exercise, submission_bytes)

Bad student input never raises: it is a graded result with a clear message. Only infrastructure
trouble raises (SandboxUnavailable), which callers may retry.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable

import torch

from grader.checklib import CheckFailed, CheckSpec, Context, ExerciseBug, collect_checks, load_trusted_module
from grader.exercise import Exercise, ExerciseError, Misconception, catalogue_for
from grader.results import CheckResult, Execution, GradeResult, Outcome, Visibility, zero_result
from grader.sandbox.cpuslot import pinned_thread
from grader.sandbox.binds import BindPlan
from grader.sandbox.errors import SandboxDied, SandboxUnavailable, StudentError
from grader.sandbox.hostcheck import grading_nice, insecure_requested
from grader.sandbox.limits import JobLimits, ReferenceCost, propose_limits
from grader.sandbox.pool import SandboxPool
from grader.sandbox.session import Child

if TYPE_CHECKING:
    from grader.freetext.exemplars import Exemplar as FreetextExemplar

__all__ = [
    "Grader",
    "SandboxUnavailable",
    "ExerciseError",
    "verify_reference",
    "resolve_device",
    "JobLimits",
    "measure_reference_cost",
    "derive_limits",
]

GRADE_SEED = 20240617  # fixed: a regrade of the same files gives the same result
INSECURE_NOTE = "NOTE: graded WITHOUT sandbox isolation (development switch GRADER_INSECURE_NO_ISOLATION is set)."

ProgressFn = Callable[[str, dict[str, Any]], None]
log = logging.getLogger("grader")


def use_small_tensor_kernels() -> None:
    """PyTorch's native CPU convolutions, not oneDNN's, on both sides of the sandbox.

    Grading runs blocks of a few channels on 8x8 inputs in many shapes. oneDNN builds (JIT-compiles)
    a primitive per new shape, which every fresh sandbox pays again, and for tensors this small even
    its steady state is slower: measured here, conv + batch norm 35 us native vs 97 us oneDNN, and a
    new shape's first call 0.1-0.6 ms vs 0.4-4.6 ms. Same setting on both sides: the reference and
    the student's block use the same kernels."""
    torch.backends.mkldnn.enabled = False  # type: ignore[assignment]  # a ContextProp descriptor whose setter takes a bool


def yield_cpu_to_web(nice: int) -> None:
    """Lower every thread of this process to `nice` (a Linux nice value belongs to a thread; threads
    started later inherit their creator's), so the web's processes win a core it shares with grading."""
    for tid in os.listdir("/proc/self/task"):
        try:
            if os.getpriority(os.PRIO_PROCESS, int(tid)) < nice:
                os.setpriority(os.PRIO_PROCESS, int(tid), nice)
        except OSError:
            pass  # the thread ended meanwhile


def resolve_device(device: str) -> str:
    """'auto' picks the GPU the process is pinned to (CUDA_VISIBLE_DEVICES) when there is one."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        return "cpu"
    return device


class Grader:
    def __init__(
        self,
        *,
        device: str = "cpu",
        isolate: bool | None = None,
        recycle_after: int = 500,
        pool: SandboxPool | None = None,
        dedicated: bool = False,
    ):
        """dedicated: this process does nothing but grade (a worker, the CLI), so the grading thread
        stays on its core between grades instead of being moved there and back for each one."""
        self.dedicated = dedicated
        if dedicated:
            yield_cpu_to_web(grading_nice())
        self.device = resolve_device(device)
        self.isolate = (not insecure_requested()) if isolate is None else isolate
        # `pool` exists for bench/grading.py's in-process floor only; the service always uses SandboxPool.
        self._pool = pool or SandboxPool(device=self.device, isolate=self.isolate, recycle_after=recycle_after)
        self._lock = threading.Lock()
        # The trusted side computes references single-threaded: the sandbox gets the other core.
        torch.set_num_threads(1)
        use_small_tensor_kernels()

    def start(self) -> None:
        """Start the pool and prove the sandbox works on this host (raises SandboxUnavailable if not)."""
        self._pool.start()
        child = self._pool.acquire()
        self._pool.release(child)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> "Grader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------
    def grade(
        self,
        exercise: Exercise,
        submission: bytes,
        *,
        progress: ProgressFn | None = None,
        limits: JobLimits | None = None,
        exemplars: Sequence[FreetextExemplar] | None = None,
        threshold: float | None = None,
    ) -> GradeResult:
        """limits: tighter limits for this grade (e.g. derive_limits' proposal, stored by the service);
        each is capped by the exercise's TOML value. None: the TOML's limits.
        `exemplars` and `threshold` concern free-text exercises only: the teacher-labelled answers of
        this exercise revision and the course's recalibrated confidence threshold (grader.freetext)."""
        with self._lock:
            if exercise.kind == "freetext":
                from grader.freetext import grade_freetext

                result = grade_freetext(exercise, submission, exemplars, threshold)
                result.execution.isolated = True  # text is data: no student code runs, so nothing needs isolating
                return result
            if exercise.kind == "quiz":
                return grade_quiz_file(exercise, submission)
            if exercise.kind != "module":
                return zero_result(
                    exercise.max_score,
                    Outcome.ERROR,
                    f"Exercises of kind '{exercise.kind}' are not graded by the worker.",
                    status="error",
                )
            return self._grade_module(
                exercise, submission, progress, (limits or JobLimits.of(exercise.limits)).within(exercise.limits)
            )

    def _grade_module(
        self, exercise: Exercise, submission: bytes, progress: ProgressFn | None, limits: JobLimits
    ) -> GradeResult:
        started = time.monotonic()
        limit = exercise.limits.max_source_bytes
        if len(submission) > limit:
            return zero_result(
                exercise.max_score,
                Outcome.REJECTED,
                f"Your file is {len(submission) / 1024:.1f} KiB; the limit is {limit // 1024} KiB. "
                f"Submit only the source of your {exercise.class_name or exercise.function_name}.",
            )
        try:
            source = submission.decode("utf-8")
        except UnicodeDecodeError as exc:
            return zero_result(
                exercise.max_score,
                Outcome.REJECTED,
                f"Your file is not UTF-8 text (byte {exc.start} cannot be decoded). Save it as UTF-8 "
                f"(plain Python source) and submit it again.",
            )
        if "\x00" in source:
            return zero_result(
                exercise.max_score, Outcome.REJECTED, "Your file contains NUL bytes; it is not a Python source file."
            )
        if not source.strip():
            return zero_result(exercise.max_score, Outcome.REJECTED, "Your file is empty.")
        try:
            checks = collect_checks(exercise)
            reference = load_trusted_module(exercise, "solution.py")
            catalogue = catalogue_for(exercise)
        except ExerciseError as exc:
            return zero_result(
                exercise.max_score,
                Outcome.ERROR,
                f"This exercise could not be graded (the exercise is broken): {exc}",
                status="error",
            )

        with pinned_thread(getattr(self._pool, "cpu", None), keep=self.dedicated):  # the child's core (cpuslot.py)
            return self._run_checks(exercise, source, checks, reference, catalogue, progress, started, limits)

    def _run_checks(
        self,
        exercise: Exercise,
        source: str,
        checks: list[CheckSpec],
        reference: types.ModuleType,
        catalogue: dict[str, Misconception],
        progress: ProgressFn | None,
        started: float,
        lim: JobLimits,
    ) -> GradeResult:
        child = self._pool.acquire()  # SandboxUnavailable propagates: infrastructure, retryable
        child.step_cpu_s = lim.step_cpu_s
        ex = Execution(device=str(child.ready.get("device", self.device)), isolated=child.isolated)
        deadline = time.monotonic() + lim.wall_s
        bind_plan = getattr(self._pool, "bind_plan", None)  # bench/grading.py's in-process floor has none
        if isinstance(bind_plan, BindPlan) and bind_plan.shows(str(exercise.path)):
            return self._finish(
                zero_result(
                    exercise.max_score,
                    Outcome.ERROR,
                    "This exercise could not be graded: its folder lies inside a "
                    "directory the sandbox can read, so a submission could read its reference and checks. Move it, "
                    "or protect it (SandboxPool(protected_paths=...)).",
                    status="error",
                ),
                child,
                started,
                ex,
            )
        tests: list[CheckResult] = []
        outcome = Outcome.OK
        crash_message = ""
        memory_hit = False
        try:
            limits = {"cpu_s": lim.cpu_s, "memory_mb": lim.memory_mb, "address_space": not ex.device.startswith("cuda")}
            names = [n for n in (exercise.class_name, exercise.function_name) if n]
            try:
                reply, _ = child.call("load", {"source": source, "names": names, "limits": limits}, deadline=deadline)
            except StudentError as exc:
                return self._finish(
                    zero_result(exercise.max_score, Outcome.REJECTED, _load_error_message(exc)), child, started, ex
                )
            problem = _interface_problem(exercise, reply.get("names", {}))
            if problem:
                return self._finish(zero_result(exercise.max_score, Outcome.REJECTED, problem), child, started, ex)

            ctx = Context(
                exercise=exercise,
                catalogue=catalogue,
                child=child,
                deadline=deadline,
                reference=reference,
                seed=GRADE_SEED,
                device=ex.device,
                progress=progress,
            )
            for i, spec in enumerate(checks):
                if progress:
                    progress("check", {"index": i, "total": len(checks), "name": spec.name})
                if outcome in (Outcome.TIMEOUT, Outcome.MEMORY, Outcome.CRASHED):
                    tests.append(_failed(spec, f"Not run: {crash_message}"))
                    continue
                try:
                    spec.fn(ctx)
                    tests.append(
                        CheckResult(spec.name, spec.points, spec.points, "passed", "Passed.", _visibility(spec))
                    )
                except CheckFailed as exc:
                    tests.append(
                        _failed(spec, _with_hint(exc.message, exc.misconceptions, catalogue), exc.misconceptions)
                    )
                except StudentError as exc:
                    mids = ["forward_crashed"]
                    if exc.memory:
                        memory_hit = True
                        mids = []
                        msg = (
                            f"Your code ran out of memory (the limit is {lim.memory_mb} MB above the "
                            f"baseline):\n{exc.describe()}"
                        )
                    else:
                        msg = f"Your code raised an error during this check:\n{exc.describe()}"
                    tests.append(_failed(spec, _with_hint(msg, mids, catalogue), mids))
                except SandboxDied as exc:
                    outcome = exc.outcome
                    crash_message = _death_message(exc, lim)
                    tests.append(_failed(spec, crash_message))
                except ExerciseBug:
                    raise
                except Exception as exc:  # noqa: BLE001
                    # Sync proved these checks give the reference full marks, so an exception here was
                    # provoked by this submission's output: the check fails, the grade stands.
                    log.warning("check %r raised %s: %s", spec.name, type(exc).__name__, exc)
                    tests.append(
                        _failed(
                            spec,
                            "This check could not evaluate your block's output "
                            f"({type(exc).__name__}: {str(exc)[:300]}). forward() must return "
                            "one float32 tensor shaped like the specification says.",
                        )
                    )
        except SandboxDied as exc:  # during limits/load
            outcome = exc.outcome
            return self._finish(zero_result(exercise.max_score, outcome, _death_message(exc, lim)), child, started, ex)
        except ExerciseBug as exc:
            return self._finish(
                zero_result(
                    exercise.max_score,
                    Outcome.ERROR,
                    f"This exercise could not be graded (the checks are broken): {exc}",
                    status="error",
                ),
                child,
                started,
                ex,
            )

        score = sum(t.score for t in tests)
        misconceptions = [m for t in tests if t.status == "failed" for m in t.misconceptions]
        if outcome == Outcome.OK and any(t.status == "failed" for t in tests):
            outcome = Outcome.MEMORY if memory_hit else Outcome.WRONG
        result = GradeResult(
            score=score,
            max_score=exercise.max_score,
            status="graded",
            output=_summary(tests, misconceptions, catalogue, crash_message),
            outcome=outcome,
            tests=tests,
            misconceptions=list(dict.fromkeys(misconceptions)),
            extra=dict(ctx.extra),
        )
        return self._finish(result, child, started, ex)

    def _finish(self, result: GradeResult, child: Child, started: float, ex: Execution) -> GradeResult:
        usage = child.usage()  # read from /proc before the kill
        # A living child's output is complete once its pipe is drained; a dead one's once the pipe
        # closes (what it printed as it died). Either way, read it before the next child is forked.
        stdout = child.output.text() if child.dead else child.output.text_so_far()
        self._pool.release(child)  # kills the child (and its namespace); forks the next one
        ex.cpu_s = usage["cpu_s"]
        ex.max_step_s = child.max_step_s
        ex.peak_rss_mb = usage["peak_rss_mb"]
        ex.wall_s = time.monotonic() - started
        result.execution = ex
        result.stdout = stdout
        if not ex.isolated:
            result.output = f"{INSECURE_NOTE}\n{result.output}"
        return result


def _failed(spec: CheckSpec, message: str, misconceptions: list[str] | None = None) -> CheckResult:
    return CheckResult(spec.name, 0.0, spec.points, "failed", message, _visibility(spec), list(misconceptions or []))


def _visibility(spec: CheckSpec) -> Visibility:
    """The check's declared visibility as the result type's closed set (unknown values stay hidden)."""
    if spec.visibility == "visible":
        return "visible"
    if spec.visibility == "after_due_date":
        return "after_due_date"
    return "hidden"


def _with_hint(message: str, misconceptions: list[str], catalogue: dict[str, Misconception]) -> str:
    if not misconceptions:
        return message
    m = catalogue[misconceptions[0]]
    return f"{message}\nLikely mistake: {m.title}. {m.explanation}\nHint: {m.hint}"


def _summary(
    tests: list[CheckResult], misconceptions: list[str], catalogue: dict[str, Misconception], crash: str
) -> str:
    passed = sum(t.status == "passed" for t in tests)
    score = sum(t.score for t in tests)
    total = sum(t.max_score for t in tests)
    if passed == len(tests):
        return f"All {len(tests)} checks passed ({score:g}/{total:g}). Well done."
    lines = [f"{passed} of {len(tests)} checks passed ({score:g}/{total:g})."]
    if crash:
        lines.append(crash)
    seen = list(dict.fromkeys(misconceptions))
    if seen:
        m = catalogue[seen[0]]
        lines.append(f"Most likely mistake: {m.title}. {m.hint}")
        if len(seen) > 1:
            lines.append("Also check: " + "; ".join(catalogue[x].title for x in seen[1:4]) + ".")
    return "\n".join(lines)


def _load_error_message(exc: StudentError) -> str:
    info = exc.info
    if exc.type == "SyntaxError":
        where = f" on line {info.get('line')}" if info.get("line") else ""
        text = f"\n    {info.get('text')}" if info.get("text") else ""
        return f"Your file has a syntax error{where}: {exc.message}{text}\nFix it and submit again (nothing was run)."
    if exc.type in ("ModuleNotFoundError", "ImportError"):
        return (
            f"Your file could not be imported: {exc.message}. Only torch, torch.nn, torch.nn.functional, math, "
            f"typing, dataclasses and functools are available.\n{exc.trace}"
        )
    return f"Your file raised an error while it was being imported:\n{exc.describe()}"


def _interface_problem(exercise: Exercise, names: dict[str, str]) -> str:
    if exercise.class_name:
        state = names.get(exercise.class_name, "missing")
        if state == "missing":
            return (
                f"Your file does not define a class named {exercise.class_name}. Define "
                f"`class {exercise.class_name}(nn.Module):` (the name must match exactly)."
            )
        if state != "module_class":
            return (
                f"{exercise.class_name} must be a class that subclasses torch.nn.Module "
                f"(`class {exercise.class_name}(nn.Module):`), but it is a {state.replace('_', ' ')}."
            )
    if exercise.function_name and names.get(exercise.function_name, "missing") != "function":
        return f"Your file does not define a function named {exercise.function_name}."
    return ""


def _death_message(exc: SandboxDied, lim: JobLimits) -> str:
    if exc.outcome == Outcome.TIMEOUT:
        per_step = f" and {lim.step_cpu_s:g} s of CPU time per step (one call of your code)" if lim.step_cpu_s else ""
        return (
            f"Your code took too long ({exc.detail}). The limits are {lim.wall_s:g} s in total{per_step}. "
            f"Look for an infinite loop, a sleep, or work that grows with the input."
        )
    if exc.outcome == Outcome.MEMORY:
        return f"Your code ran out of memory ({exc.detail})."
    return (
        f"Your code crashed the Python process ({exc.detail}). This happens with os._exit, sys.exit in a "
        f"thread, native crashes (segfaults) or killing the process."
    )


def grade_quiz_file(exercise: Exercise, submission: bytes) -> GradeResult:
    """Offline quiz grading: the file holds {"seed": "...", "answers": {question_id: response}} as JSON."""
    import json

    from grader.quiz import load_quiz, quiz_grade_result

    try:
        quiz = load_quiz(exercise, set(catalogue_for(exercise)))
    except ExerciseError as exc:
        return zero_result(exercise.max_score, Outcome.ERROR, f"This quiz could not be graded: {exc}", status="error")
    try:
        data = json.loads(submission.decode("utf-8"))
        seed, answers = str(data["seed"]), dict(data["answers"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return zero_result(
            exercise.max_score,
            Outcome.REJECTED,
            'A quiz submission is JSON: {"seed": "<student seed>", "answers": {"<question id>": answer}}.',
        )
    return quiz_grade_result(quiz.grade_all(answers, seed), exercise.max_score)


def reference_submission(exercise: Exercise) -> bytes:
    """What the exercise's own reference answer looks like as a submission."""
    if exercise.kind == "freetext":
        return (exercise.path / "solution.md").read_bytes()
    if exercise.kind == "quiz":
        import json

        from grader.quiz import load_quiz

        quiz = load_quiz(exercise)
        seed = "reference"
        return json.dumps(
            {"seed": seed, "answers": {q.id: quiz.correct_response(q.id, seed) for q in quiz.questions}}
        ).encode()
    return (exercise.path / "solution.py").read_bytes()


def verify_reference(grader: Grader, exercise: Exercise) -> GradeResult:
    """Grade the exercise's own reference answer; syncing refuses the folder unless it scores full marks."""
    try:
        data = reference_submission(exercise)
    except ExerciseError as exc:
        return zero_result(exercise.max_score, Outcome.ERROR, str(exc), status="error")
    return grader.grade(exercise, data)


def measure_reference_cost(grader: Grader, exercise: Exercise, *, runs: int = 3) -> ReferenceCost:
    """What grading the exercise's reference costs on this machine: the slowest of `runs` grades (wall,
    sandbox CPU, and the slowest single step), under the TOML's limits. Raises ExerciseError when the
    reference does not score full marks (then nothing can be measured)."""
    data = reference_submission(exercise)
    wall = cpu = step = 0.0
    for _ in range(max(1, runs)):
        result = grader.grade(exercise, data)
        if not result.full_marks:
            raise ExerciseError(
                exercise.path / "solution.py",
                f"the reference scores {result.score:g}/"
                f"{result.max_score:g}, so its grading cost cannot be measured: {result.output[:300]}",
            )
        wall = max(wall, result.execution.wall_s)
        cpu = max(cpu, result.execution.cpu_s)
        step = max(step, result.execution.max_step_s)
    return ReferenceCost(wall_s=wall, cpu_s=cpu, step_s=step)


def derive_limits(
    grader: Grader, exercise: Exercise, *, runs: int = 3, multiple: float = 10.0, cost: ReferenceCost | None = None
) -> JobLimits:
    """Limits sized to the exercise's work: max(floor, multiple x the reference's measured cost) for the
    wall time, the CPU time and the CPU time of one step, each capped by the TOML value (see
    grader/sandbox/limits.py for the floors). Exercises that run no code keep their TOML limits.
    cost: a cost measured before (measure_reference_cost) on this host; None measures it now."""
    if exercise.kind != "module":
        return JobLimits.of(exercise.limits)
    if cost is None:
        cost = measure_reference_cost(grader, exercise, runs=runs)
    return propose_limits(exercise.limits, cost, multiple=multiple)
