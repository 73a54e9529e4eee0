"""The grading containers' seccomp profile (deploy/seccomp-grader.json, used by docker-compose.yml
instead of `seccomp=unconfined`): an allow-list that still lets the whole grading path run, the
sandbox's own namespaces, mounts and filter included, while a sample of unlisted calls fail.

The real check loads the profile into the kernel with libseccomp (as Docker does at container
start), in a fresh process, and grades the identity block's reference solution in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import IDENTITY_BLOCK, ROOT, engine_or_skip

PROFILE = ROOT / "deploy" / "seccomp-grader.json"
NOT_ALLOWED = [
    "ptrace",
    "process_vm_readv",
    "bpf",
    "perf_event_open",
    "io_uring_setup",
    "keyctl",
    "add_key",
    "userfaultfd",
    "kexec_load",
    "init_module",
    "finit_module",
    "open_by_handle_at",
    "setns",
    "swapon",
    "reboot",
    "acct",
    "settimeofday",
    "mknod",
    "setxattr",
    "msgget",
    "io_setup",
    "fanotify_init",
]


def test_the_profile_is_an_allow_list_and_current():
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        import seccomp as generator  # deploy/seccomp.py
    finally:
        sys.path.pop(0)
    profile = json.loads(PROFILE.read_text())
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert PROFILE.read_text() == generator.render(), "run `python deploy/seccomp.py`"
    allowed = {n for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for n in rule["names"]}
    assert {"unshare", "mount", "umount2", "pivot_root", "seccomp", "socketpair"} <= allowed
    assert not allowed & set(NOT_ALLOWED)


LOADER = textwrap.dedent("""
    import ctypes, ctypes.util, errno, json, os, runpy, sys
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    profile = json.load(open(sys.argv[1]))
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    ctx = lib.seccomp_init(0x00050000 | profile.get("defaultErrnoRet", 1))
    for rule in profile["syscalls"]:
        assert rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args")
        for name in rule["names"]:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr >= 0:
                assert lib.seccomp_rule_add(ctx, 0x7fff0000, nr, 0) == 0, name
    assert lib.seccomp_load(ctx) == 0
    libc = ctypes.CDLL(None, use_errno=True)
    refused = []
    for name in sys.argv[2].split(","):
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr >= 0 and libc.syscall(nr, 0, 0, 0, 0, 0) == -1 and ctypes.get_errno() == errno.EPERM:
            refused.append(name)
    print("REFUSED", ",".join(refused), flush=True)
    sys.argv = ["grader", "grade", "--json", sys.argv[3], sys.argv[4]]
    runpy.run_module("grader", run_name="__main__")
""")


@pytest.mark.needs_engine
def test_the_whole_grading_path_runs_under_the_profile_and_unlisted_calls_fail(tmp_path):
    engine_or_skip()
    env = {**os.environ, "GRADER_DEVICE": "cpu"}
    env.pop("GRADER_INSECURE_NO_ISOLATION", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            LOADER,
            str(PROFILE),
            ",".join(NOT_ALLOWED),
            str(IDENTITY_BLOCK),
            str(IDENTITY_BLOCK / "solution.py"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    refused = next(line for line in lines if line.startswith("REFUSED")).split(" ", 1)[1].split(",")
    # kexec_load etc. may not exist on every arch; every one that resolves here is refused
    assert {"ptrace", "bpf", "keyctl", "userfaultfd", "setns", "io_uring_setup"} <= set(refused), refused
    result = json.loads(next(line for line in lines if line.startswith("{")))
    assert result["score"] == result["max_score"] and result["status"] == "graded", result
    assert result["execution"].get("isolated", True), "the sandbox ran isolated under the profile"
