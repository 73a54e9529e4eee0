"""Fixtures for the attack suite: one warm Grader, planted secrets, exercise copies, and the checks
every attack must pass afterwards (the worker survives, the next honest submission scores full marks,
no secret reaches the student, nothing is left behind)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.engine import Grader
from grader.exercise import Exercise, load_exercise
from grader.results import GradeResult
from grader.sandbox.output import STDOUT_CAP
from grader.sandbox.zygote import HOST_UID_BASE, HOST_UID_SPAN

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = ROOT / "exercises"
ATTACKS = Path(__file__).resolve().parent / "attacks"
HONEST = (EXERCISES / "identity-block" / "solution.py").read_bytes()
MARKER = "grader-attack"  # every file an attack plants carries this in its name
SHORT_WALL_S = 3.0

# Planted before the Grader starts: the test process is the "worker", and these are its secrets.
SECRETS = {
    "env": f"env-secret-{uuid.uuid4().hex}",
    "settings": f"django-secret-key-{uuid.uuid4().hex}",
    "file": f"file-secret-{uuid.uuid4().hex}",
    "checks": f"HIDDEN-CHECKS-{uuid.uuid4().hex}",
    "reference": f"REFERENCE-{uuid.uuid4().hex}",
    "other": f"OTHER-SUBMISSION-{uuid.uuid4().hex}",
}
SECRET_ENV = "GRADER_SECURITY_TEST_SECRET"
SETTINGS_ENV = "GRADER_SECURITY_TEST_SECRET_KEY"


@dataclass
class World:
    grader: Grader
    exercise: Exercise  # identity-block copy with hidden markers in checks.py and solution.py
    short: Exercise  # the same with wall_s = SHORT_WALL_S, for attacks that spend time
    secret_file: Path
    listener: str  # abstract unix socket name the test process listens on
    wrong_score: float  # what the plain wrong block (no shortcut) honestly earns
    tmp_dirs: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm")
    jobs: list[tuple[int, int]] = field(default_factory=list)  # (host pid, host uid) of each job's pid 1
    last_job: tuple[int, int] = (0, 0)
    last_elapsed: float = 0.0

    @property
    def zygote_pid(self) -> int:
        z = self.grader._pool._zygote  # noqa: SLF001 - the test needs the real pid to aim at it
        return z.pid if z is not None else 0

    def source(self, name: str, **extra: str) -> bytes:
        """An attack file with its placeholders filled in (the pids and paths it aims at)."""
        text = (ATTACKS / name).read_text()
        subs = {
            "__WORKER_PID__": str(os.getpid()),
            "__ZYGOTE_PID__": str(self.zygote_pid),
            "__PROJECT_ROOT__": str(ROOT),
            "__EXERCISE_DIR__": str(self.exercise.path),
            "__SECRET_FILE__": str(self.secret_file),
            "__LISTENER__": self.listener,
            "__OTHER_MARKER_PREFIX__": SECRETS["other"][:17],
        }
        subs.update(extra)
        for k, v in subs.items():
            text = text.replace(k, v)
        return text.encode()

    def grade(self, name: str, *, short: bool = False, **extra: str) -> GradeResult:
        """Grade one attack file; remembers its sandbox (host pid and uid) for assert_contained."""
        exercise = self.short if short else self.exercise
        n = len(self.jobs)
        hung: list[bool] = []

        def rescue() -> None:  # a grader stuck far past the wall limit: kill the sandbox, fail the test
            hung.append(True)
            for pid, _ in self.jobs[n:]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

        watchdog = threading.Timer(exercise.limits.wall_s + 20, rescue)
        watchdog.daemon = True
        watchdog.start()
        started = time.monotonic()
        try:
            result = self.grader.grade(exercise, self.source(name, **extra))
        finally:
            watchdog.cancel()
        self.last_elapsed = time.monotonic() - started
        assert not hung, f"the grader was still busy {self.last_elapsed:.0f} s into a {exercise.limits.wall_s:g} s job"
        assert len(self.jobs) == n + 1, "the submission did not get a sandbox of its own"
        self.last_job = self.jobs[n]
        return result


def _copy_exercise(root: Path, wall_s: float | None) -> Exercise:
    root.mkdir(parents=True)
    shutil.copy(EXERCISES / "misconceptions.toml", root / "misconceptions.toml")
    dst = root / "identity-block"
    shutil.copytree(EXERCISES / "identity-block", dst, ignore=shutil.ignore_patterns("__pycache__"))
    with open(dst / "checks.py", "a") as f:
        f.write(f"\n# {SECRETS['checks']}\nEXPECTED_SECRET = {SECRETS['checks']!r}\n")
    with open(dst / "solution.py", "a") as f:
        f.write(f"\n# {SECRETS['reference']}\n")
    (dst / "settings.py").write_text(f"SECRET_KEY = {SECRETS['settings']!r}\n")
    if wall_s is not None:
        toml = (dst / "exercise.toml").read_text().replace("wall_s = 20", f"wall_s = {wall_s:g}")
        assert f"wall_s = {wall_s:g}" in toml
        (dst / "exercise.toml").write_text(toml)
    return load_exercise(dst)


def sandbox_ipc_objects() -> list[str]:
    """The host's SysV IPC objects (what `ipcs` lists) owned or created by a sandbox uid."""
    found = []
    for kind in ("shm", "sem", "msg"):
        with open(f"/proc/sysvipc/{kind}") as f:
            header, *rows = f.read().splitlines()
        cols = header.split()
        for row in rows:
            fields = dict(zip(cols, row.split()))
            owners = {int(fields.get(k, -1)) for k in ("uid", "cuid")}
            if any(HOST_UID_BASE <= u < HOST_UID_BASE + HOST_UID_SPAN for u in owners):
                found.append(f"{kind} {row}")
    return found


def _processes() -> dict[int, tuple[int, list[int]]]:
    """pid -> (parent pid, [real, effective, saved, fs uid]) for every host process."""
    out: dict[int, tuple[int, list[int]]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        fields = {line.split(":", 1)[0]: line.split(":", 1)[1].split() for line in lines if ":" in line}
        try:
            out[int(name)] = (int(fields["PPid"][0]), [int(x) for x in fields["Uid"]])
        except (KeyError, ValueError, IndexError):
            continue
    return out


def host_uid(pid: int) -> int:
    return _processes()[pid][1][0]


def processes_of_uid(uid: int) -> list[int]:
    return [pid for pid, (_, uids) in _processes().items() if uid in uids]


def describe(pid: int) -> str:
    """A process's state, uids and what it waits in (for failure messages)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            keep = [
                line for line in f.read().splitlines() if line.startswith(("Name", "State", "PPid", "Uid", "NSpid"))
            ]
        with open(f"/proc/{pid}/wchan") as f:
            keep.append("wchan " + f.read())
    except OSError as exc:
        return f"{pid}: gone ({exc.strerror})"
    return f"{pid}: " + ", ".join(k.replace("\t", " ") for k in keep)


def descendants(root: int) -> list[int]:
    procs = _processes()
    out, frontier = [], {root}
    while frontier:
        children = {pid for pid, (ppid, _) in procs.items() if ppid in frontier}
        out += sorted(children)
        frontier = children
    return out


def planted_files(dirs: tuple[str, ...]) -> list[str]:
    found = []
    for d in dirs:
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for e in entries:
            p = os.path.join(d, e)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if MARKER in e or HOST_UID_BASE <= st.st_uid < HOST_UID_BASE + HOST_UID_SPAN:
                found.append(p)
    return found


def _listen_abstract(name: str) -> socket.socket:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind("\0" + name)
    srv.listen(8)
    srv.setblocking(False)
    return srv


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory):
    os.environ[SECRET_ENV] = SECRETS["env"]
    os.environ[SETTINGS_ENV] = SECRETS["settings"]
    base = tmp_path_factory.mktemp("security")
    exercise = _copy_exercise(base / "normal", None)
    short = _copy_exercise(base / "short", SHORT_WALL_S)
    # A world-readable secret in the host's shared /tmp: the sandbox must not see the host's /tmp.
    secret_file = Path(f"/tmp/grader-security-secret-{uuid.uuid4().hex}.txt")
    secret_file.write_text(SECRETS["file"] + "\n")
    secret_file.chmod(0o644)
    listener_name = f"grader-security-{uuid.uuid4().hex}"
    listener = _listen_abstract(listener_name)
    grader = Grader(device="cpu")
    try:
        grader.start()
        honest = grader.grade(exercise, HONEST)
        assert honest.full_marks, honest.output
        wrong = grader.grade(exercise, (ATTACKS / "_wrong_block.py").read_bytes())
        assert wrong.status == "graded" and wrong.score < wrong.max_score, wrong.output
        w = World(
            grader=grader,
            exercise=exercise,
            short=short,
            secret_file=secret_file,
            listener=listener_name,
            wrong_score=wrong.score,
        )
        # Note which host pid and uid each job's sandbox gets, to prove later that none of it survives.
        pool = grader._pool  # noqa: SLF001
        acquire = pool.acquire

        def recording_acquire():  # type: ignore[no-untyped-def]
            child = acquire()
            w.jobs.append((child.pid, host_uid(child.pid)))
            return child

        pool.acquire = recording_acquire  # type: ignore[method-assign]
        yield w
    finally:
        cgroups = grader._pool._cgroups  # noqa: SLF001
        grader.close()
        listener.close()
        secret_file.unlink(missing_ok=True)
        os.environ.pop(SECRET_ENV, None)
        os.environ.pop(SETTINGS_ENV, None)
    if cgroups is not None:
        assert not cgroups.memory_base.exists(), f"the worker left its cgroup behind: {cgroups.memory_base}"


def result_text(result: GradeResult) -> str:
    """Everything the student can see: the result JSON, their output included."""
    return json.dumps(result.to_json(), ensure_ascii=False)


def assert_no_secret(result: GradeResult) -> None:
    text = result_text(result)
    for what, secret in SECRETS.items():
        if what == "other":
            continue  # an "other submission" marker is checked by the test that plants it
        assert secret not in text, f"the {what} secret reached the student's result"


def assert_contained(world: World, result: GradeResult) -> None:
    """What every attack must leave true: a graded result, no secret out, nothing behind, next job fine."""
    assert result.status == "graded", (result.status, result.output)
    assert result.output.strip(), "the student must get an explanation"
    assert result.execution.isolated
    assert_no_secret(result)
    assert "LEAK" not in result.stdout, result.stdout[-3000:]
    # The whole sandbox dies with the job: no process of its uid survives, and the fork server has
    # no children left but the next jobs' pre-forked pairs (each a C1 and the sandbox's pid 1).
    _, uid = world.last_job
    ahead = 2 * world.grader._pool.prefork  # noqa: SLF001
    assert HOST_UID_BASE <= uid < HOST_UID_BASE + HOST_UID_SPAN, f"the sandbox ran as host uid {uid}"
    deadline = time.monotonic() + 10.0  # generous: a loaded CI box may take a while to schedule the exits
    while (
        (left := processes_of_uid(uid)) or len(descendants(world.zygote_pid)) > ahead
    ) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not left, f"processes of the job's uid {uid} outlived it: {left}"
    stray = descendants(world.zygote_pid)
    assert len(stray) <= ahead, f"the fork server has stray children: {[describe(pid) for pid in stray]}"
    cgroups = world.grader._pool._cgroups  # noqa: SLF001
    if cgroups is not None:  # the job's cgroup empties (every process in it is gone) and is removed
        while any(cg.released for cg in cgroups._jobs) and time.monotonic() < deadline:  # noqa: SLF001
            cgroups.collect()
            time.sleep(0.02)
        assert not [cg for cg in cgroups._jobs if cg.released], "a finished job's cgroup still has processes"  # noqa: SLF001
    assert not planted_files(world.tmp_dirs), planted_files(world.tmp_dirs)
    assert not sandbox_ipc_objects(), f"SysV IPC objects of a sandbox on the host: {sandbox_ipc_objects()}"
    # The worker survives, and the next honest submission is graded as if nothing happened.
    honest = world.grader.grade(world.exercise, HONEST)
    assert honest.full_marks and honest.outcome.value == "ok", honest.output
    assert "LEAK" not in honest.stdout and not honest.stdout.strip(), honest.stdout[-2000:]


def stdout_is_capped(result: GradeResult) -> bool:
    return len(result.stdout.encode()) <= STDOUT_CAP + 64


def failed(result: GradeResult) -> set[str]:
    return {t.name for t in result.tests if t.status == "failed"}


NUMERIC_CHECKS = {"matches the reference in training mode", "matches the reference in evaluation mode"}
