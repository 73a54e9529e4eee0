"""The attack suite: one hostile submission per attack (tests/security/attacks/), each graded by one
warm Grader, each asserting its concrete outcome and then `assert_contained` (a graded result with an
explanation, no secret in anything the student sees, no process / file / IPC object left behind,
and the next honest submission graded 10/10).

Attacks built on a correct block must still score full marks (the attack failed and the sandbox
did not break the honest part); attacks built on the wrong block (no shortcut) must score no more
than that block honestly earns (a cheater gets no marks for cheating).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys

import pytest

from tests.security.conftest import (
    ATTACKS,
    NUMERIC_CHECKS,
    ROOT,
    SECRETS,
    SHORT_WALL_S,
    World,
    assert_contained,
    failed,
    result_text,
    stdout_is_capped,
)


def blocked(result, at_least: int) -> None:
    n = result.stdout.count("BLOCKED")
    assert n >= at_least, f"expected {at_least} refused probes, saw {n}:\n{result.stdout[-3000:]}"


def full_marks(result) -> None:
    assert result.full_marks and result.outcome.value == "ok", (result.outcome, result.output)


def no_marks_for_cheating(world: World, result) -> None:
    assert result.score <= world.wrong_score, (result.score, world.wrong_score, result.output)
    assert NUMERIC_CHECKS <= failed(result) or result.score == 0, failed(result)


def in_time(world: World, limit_s: float = SHORT_WALL_S + 2.0) -> None:
    assert world.last_elapsed <= limit_s, f"took {world.last_elapsed:.1f} s; the limit is {SHORT_WALL_S} s"


# ---- reading what must stay hidden ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, probes",
    [
        ("read_hidden_checks.py", 14),
        ("read_reference.py", 6),
        ("read_settings.py", 18),
        ("read_worker_proc.py", 13),
    ],
)
def test_reading_hidden_files_and_other_processes(world: World, name: str, probes: int) -> None:
    result = world.grade(name)
    full_marks(result)
    blocked(result, probes)
    assert_contained(world, result)


def test_reading_the_environment(world: World) -> None:
    result = world.grade("read_environment.py")
    full_marks(result)
    assert "SEEN os.environ: {}" in result.stdout
    assert "SEEN getenv(PATH): None" in result.stdout
    assert "SEEN environment block in memory: ''" in result.stdout  # wiped, not only unset
    for name in ("PATH=", "GRADER_PROJECT_ROOT=", "OMP_NUM_THREADS=", "GRADER_SECURITY_TEST_SECRET="):
        assert name not in result.stdout, name
    assert_contained(world, result)


def test_worker_pids_are_invisible(world: World) -> None:
    result = world.grade("read_worker_proc.py")
    assert "SEEN pids: [1]" in result.stdout  # its own pid namespace: it is alone in it
    assert_contained(world, result)


def test_reading_another_students_submission(world: World) -> None:
    victim = (ATTACKS / "_victim.py").read_text().replace("__OTHER_MARKER__", SECRETS["other"]).encode()
    assert world.grader.grade(world.exercise, victim).full_marks
    result = world.grade("read_other_submissions.py")
    full_marks(result)
    blocked(result, 5)
    assert SECRETS["other"] not in result_text(result)
    assert_contained(world, result)


# ---- the network ----------------------------------------------------------------------------------


def _redis(command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", 6379), timeout=2) as s:
        s.sendall(command)
        return s.recv(100)


@pytest.mark.parametrize(
    "name, probes",
    [
        ("net_redis.py", 3),
        ("net_postgres.py", 4),
        ("net_webapp.py", 3),
        ("net_dns.py", 7),
        ("net_unix_sockets.py", 5),
    ],
)
def test_network(world: World, name: str, probes: int) -> None:
    result = world.grade(name)
    full_marks(result)
    blocked(result, probes)
    assert_contained(world, result)
    if name == "net_redis.py":
        try:
            assert _redis(b"EXISTS grader-attack-redis\r\n") == b":0\r\n", "the sandbox wrote into Redis"
        except OSError:
            pass  # no Redis on this host: the sandbox could not have reached one either


def test_escaping_namespaces_and_privileges(world: World) -> None:
    result = world.grade("escape_privileges.py")
    full_marks(result)
    assert "SEEN uid 1000 1000 groups []" in result.stdout
    blocked(result, 17)
    assert_contained(world, result)


# ---- the system-call filter ------------------------------------------------------------------------

UNLISTED_SAMPLE = {
    "inotify_init1",
    "io_setup",
    "timerfd_create",
    "signalfd4",
    "pidfd_open",
    "memfd_create",
    "sched_rr_get_interval",
    "flock",
    "shmget",
    "landlock_create_ruleset",
    "syncfs",
    "execve",
}


def test_calls_outside_the_allow_list_are_refused(world: World) -> None:
    result = world.grade("escape_unlisted_syscalls.py")
    full_marks(result)  # the grading path itself still has every call it needs
    refused = {
        fields[1]: int(fields[2])
        for fields in (line.split() for line in result.stdout.splitlines())
        if len(fields) == 3 and fields[0] == "REFUSED"
    }
    assert UNLISTED_SAMPLE <= set(refused), result.stdout
    assert all(refused[name] in (errno.EPERM, errno.ENOSYS) for name in UNLISTED_SAMPLE), refused
    # Non-AF_UNIX families are refused by the filter (EAFNOSUPPORT), not left to the kernel (EOPNOTSUPP).
    for call in ("socketpair(AF_INET)", "socketpair(AF_NETLINK)", "socket(AF_INET)", "socket(AF_NETLINK)"):
        assert refused.get(call) == errno.EAFNOSUPPORT, (call, refused)
    assert refused.get("ioctl(FIGETBSZ)") == errno.EPERM, refused  # ioctl: terminal/FIONREAD requests only
    assert "ALLOWED ioctl(FIONREAD) 0 0" in result.stdout and "ALLOWED socketpair(AF_UNIX) True" in result.stdout
    assert_contained(world, result)


# ---- forged results -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["forge_print_json.py", "forge_result_files.py", "forge_atexit.py", "forge_socket_reply.py"]
)
def test_forged_results_earn_nothing(world: World, name: str) -> None:
    result = world.grade(name)
    assert result.outcome.value == "wrong", result.output
    no_marks_for_cheating(world, result)
    assert "ATEXIT-FORGED" not in result.stdout  # the process never runs its exit hooks
    if name == "forge_print_json.py":
        assert '"score": 10.0' in result.stdout  # printed, and shown to the student as text only
    assert_contained(world, result)


def test_exit_status_zero_at_import_is_not_a_pass(world: World) -> None:
    result = world.grade("forge_exit_import.py")
    assert result.outcome.value == "rejected" and result.score == 0
    assert "SystemExit" in result.output
    assert_contained(world, result)


def test_os_exit_in_forward_is_a_crash(world: World) -> None:
    result = world.grade("forge_os_exit.py")
    assert result.outcome.value == "crashed" and result.score == 0
    assert "crashed" in result.output and "exited (status 0)" in result.output
    assert_contained(world, result)


def test_systemexit_and_keyboardinterrupt_fail_their_checks(world: World) -> None:
    result = world.grade("forge_systemexit.py")
    assert result.outcome.value == "wrong" and result.score == 0
    outputs = " ".join(t.output for t in result.tests)
    assert "SystemExit" in outputs and "KeyboardInterrupt" in outputs
    assert_contained(world, result)


def test_signal_handlers_only_break_the_students_own_replies(world: World) -> None:
    result = world.grade("forge_signal_handlers.py")
    assert result.outcome.value in ("wrong", "crashed"), result.output
    no_marks_for_cheating(world, result)
    assert_contained(world, result)


@pytest.mark.parametrize(
    "mode", ["nested", "bigint", "nan", "types", "error_string", "lying_tensor", "garbage", "huge_blob"]
)
def test_malformed_replies_are_a_crash_not_an_error(world: World, mode: str) -> None:
    result = world.grade("forge_malformed_reply.py", __MODE__=mode)
    assert result.outcome.value == "crashed", (result.status, result.output)
    assert "malformed" in result.output
    no_marks_for_cheating(world, result)
    assert_contained(world, result)


def test_an_unexpected_dtype_cannot_turn_a_zero_into_an_error(world: World) -> None:
    result = world.grade("forge_error_by_dtype.py")
    assert result.status == "graded" and result.score <= world.wrong_score, (result.status, result.output)
    assert "float64" in " ".join(t.output for t in result.tests)
    assert_contained(world, result)


def test_a_reply_dripped_byte_by_byte_still_ends_at_the_wall_limit(world: World) -> None:
    result = world.grade("forge_slow_drip.py", short=True)
    assert result.outcome.value == "timeout", result.output
    in_time(world)
    assert_contained(world, result)


def test_printed_json_cannot_forge_a_cli_line(world: World, tmp_path) -> None:
    attack = tmp_path / "attack.py"
    attack.write_bytes(world.source("forge_print_json.py"))
    env = {k: v for k, v in os.environ.items()}
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(world.exercise.path), str(attack), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 1, lines[:5]  # one JSON object per file, nothing else
    got = json.loads(lines[0])
    assert got["score"] <= world.wrong_score and got["outcome"] == "wrong"
    assert '"score": 10.0' in got.get("stdout", "")
    for secret in (SECRETS["env"], SECRETS["settings"], SECRETS["checks"], SECRETS["reference"]):
        assert secret not in lines[0]


# ---- cheating -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "cheat_patch_comparisons.py",
        "cheat_eq_always_true.py",
        "cheat_torch_function.py",
        "cheat_nan.py",
        "cheat_stack_gc.py",
        "cheat_replay_hooks.py",
    ],
)
def test_cheats_earn_nothing(world: World, name: str) -> None:
    result = world.grade(name)
    assert result.outcome.value == "wrong", result.output
    no_marks_for_cheating(world, result)
    outputs = " ".join(t.output for t in result.tests)
    if name == "cheat_eq_always_true.py":
        assert "returned a Liar" in outputs
    if name == "cheat_nan.py":
        assert "NaN/inf" in outputs and "nonfinite_output" in result.misconceptions
    assert_contained(world, result)


# ---- denial of service ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["dos_infinite_loop.py", "dos_infinite_loop_import.py", "dos_sleep.py", "dos_fork_bomb.py"]
)
def test_endless_work_ends_at_the_wall_limit(world: World, name: str) -> None:
    result = world.grade(name, short=True)
    assert result.outcome.value == "timeout" and result.score == 0, result.output
    assert "took too long" in result.output
    in_time(world)
    assert_contained(world, result)


@pytest.mark.parametrize("name", ["dos_memory_bomb.py", "dos_memory_huge_tensor.py"])
def test_memory_bombs_fail_with_an_out_of_memory_message(world: World, name: str) -> None:
    result = world.grade(name)
    assert result.score == 0 and result.outcome.value in ("wrong", "memory", "crashed"), result.output
    assert all("ran out of memory" in t.output for t in result.tests), [t.output[:200] for t in result.tests]
    assert world.last_elapsed < 15
    assert_contained(world, result)


def test_forked_memory_bomb_is_limited_for_the_sandbox_as_a_whole(world: World) -> None:
    child_limit_mb = world.exercise.limits.memory_mb
    result = world.grade("dos_memory_fork.py")
    assert_contained(world, result)
    if world.grader._pool._cgroups is None:  # noqa: SLF001
        pytest.skip("this host gives the worker no cgroup: memory is limited per process only")
    held = sum(int(line.split()[1]) for line in result.stdout.splitlines() if line.startswith("HELD "))
    # 4 x 700 MB would fit each process's own RLIMIT_AS; together they must fit one budget.
    assert held <= child_limit_mb + 512, result.stdout
    assert result.full_marks  # the submission's own block still runs


@pytest.mark.parametrize(
    "name, phrase",
    [
        ("dos_thread_bomb.py", "threads stopped at"),
        ("dos_fd_bomb.py", "Too many open files"),
        ("dos_disk_fill.py", "/tmp: stopped after 16 MB"),
        ("dos_inode_fill.py", "No space left on device"),
    ],
)
def test_resource_exhaustion_stays_inside(world: World, name: str, phrase: str) -> None:
    result = world.grade(name)
    full_marks(result)
    assert phrase in result.stdout, result.stdout[-2000:]
    assert_contained(world, result)


def test_stdout_flood_is_capped(world: World) -> None:
    result = world.grade("dos_stdout_flood.py")
    full_marks(result)
    assert result.stdout.endswith("[output truncated]") and stdout_is_capped(result)
    assert world.last_elapsed < 10
    assert_contained(world, result)


@pytest.mark.parametrize("name", ["dos_deep_recursion.py", "dos_segfault.py"])
def test_native_crashes_are_reported_as_crashes(world: World, name: str) -> None:
    result = world.grade(name)
    assert result.outcome.value == "crashed" and result.score == 0, result.output
    assert "SIGSEGV" in result.output
    assert_contained(world, result)


# ---- persistence ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["persist_pth.py", "persist_caches.py", "persist_tmp.py", "persist_daemon.py", "persist_sysv_ipc.py"]
)
def test_nothing_persists_into_the_next_job(world: World, name: str) -> None:
    result = world.grade(name)
    full_marks(result)
    assert_contained(world, result)
    probe = world.grade("persist_probe.py")  # the next student, looking for what was left
    full_marks(probe)
    assert "LEAK" not in probe.stdout, probe.stdout
    assert_contained(world, probe)


def test_a_daemon_dies_with_its_job(world: World) -> None:
    result = world.grade("persist_daemon.py")
    assert "daemon running: True" in result.stdout  # it did start, inside the sandbox
    assert_contained(world, result)  # ... and no process of its uid is left on the host


def test_killing_the_worker_or_fork_server(world: World) -> None:
    zygote = world.zygote_pid
    result = world.grade("persist_kill_worker.py")
    full_marks(result)
    blocked(result, 6)
    assert "session 1 group 1" in result.stdout  # a session of its own: nothing outside to signal
    os.kill(zygote, 0)  # the fork server is alive (and the same one), and not stopped
    assert world.zygote_pid == zygote
    with open(f"/proc/{zygote}/stat") as f:
        assert f.read().rsplit(")", 1)[1].split()[0] != "T"
    assert_contained(world, result)


def test_ptrace_and_memory_writes(world: World) -> None:
    result = world.grade("persist_ptrace.py")
    full_marks(result)
    blocked(result, 5)
    assert_contained(world, result)
