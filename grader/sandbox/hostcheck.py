"""Host diagnostics: turn a failed sandbox set-up step into a message an operator can act on
(what the step needs from the host, the usual reasons a host refuses it, and the development-only
way round it)."""

from __future__ import annotations

import os

from grader.sandbox.errors import SandboxUnavailable

INSECURE_ENV = "GRADER_INSECURE_NO_ISOLATION"

# What each setup stage needs from the host, for the message of a worker that cannot start.
NEEDS = {
    "namespaces": "user namespaces (and mount, pid, network, IPC and UTS namespaces inside them)",
    "fork": "user namespaces with a uid/gid map for the sandbox (writing /proc/<pid>/uid_map)",
    "filesystem": "private mounts inside a user namespace (tmpfs, read-only bind mounts, a fresh /proc, pivot_root)",
    "hostname": "a private UTS namespace (sethostname)",
    "limits": "resource limits (setrlimit)",
    "descriptors": "file descriptor set-up",
    "privileges": "dropping to an unprivileged uid without capabilities (setresuid, capset, no_new_privs)",
    "seccomp": "seccomp filters (prctl(PR_SET_SECCOMP))",
    "cuda": "CUDA initialisation in the sandbox",
}


GPU_NO_CGROUP_ENV = "GRADER_INSECURE_GPU_NO_CGROUP"
NICE_ENV = "GRADER_NICE"
DEFAULT_NICE = 10  # the web (nice 0) gets about ten times the CPU share of a busy grading process


def insecure_requested() -> bool:
    return os.environ.get(INSECURE_ENV, "") in ("1", "true", "yes")


def gpu_without_cgroup_allowed() -> bool:
    return os.environ.get(GPU_NO_CGROUP_ENV, "") in ("1", "true", "yes")


def grading_nice() -> int:
    """How far grading (the worker's grading process and every sandbox) yields to the web: 0..19."""
    try:
        return max(0, min(19, int(os.environ.get(NICE_ENV, DEFAULT_NICE))))
    except ValueError:
        return DEFAULT_NICE


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def userns_hint() -> str:
    """Why this host may refuse user namespaces, from the usual switches."""
    hints = []
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        hints.append("sysctl user.max_user_namespaces is 0")
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0" and os.geteuid() != 0:
        hints.append("sysctl kernel.unprivileged_userns_clone is 0")
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1" and os.geteuid() != 0:
        hints.append("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)")
    if os.path.exists("/.dockerenv") or _read("/proc/1/cgroup").find("docker") >= 0:
        hints.append(
            "this looks like a container: its seccomp profile may forbid unshare() and mount() "
            "(run the worker with a profile that allows them)"
        )
    return (" Possible causes: " + "; ".join(hints) + ".") if hints else ""


def setup_failure(stage: str, error: str) -> SandboxUnavailable:
    needs = NEEDS.get(stage, f"the sandbox's '{stage}' step")
    hint = userns_hint() if stage in ("namespaces", "fork") else ""
    return SandboxUnavailable(
        f"the sandbox cannot be set up on this host: it needs {needs}, which failed ({error}).{hint} "
        f"The worker will not run student code without isolation; for development only, set {INSECURE_ENV}=1 to "
        f"grade WITHOUT a sandbox (every result then says so)."
    )
