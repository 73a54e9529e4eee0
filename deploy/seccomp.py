"""Writes deploy/seccomp-grader.json: the Docker seccomp profile of the grading containers
(worker-cpu, worker-gpu, setup), in place of `seccomp=unconfined`.

An allow-list (every call not named here fails with EPERM), derived from what the worker needs:
Python, Celery and its broker/database sockets, PyTorch (CPU, and the NVIDIA driver's ioctl/mmap on
GPU workers), and the sandbox's own set-up: unshare() into user/mount/pid/net/ipc/uts namespaces,
mount/umount2/pivot_root/chroot/mount_setattr/open_tree/move_mount to build its root, sethostname, and
seccomp() to install the sandbox's (stricter) filter on top of this one. Left out, among others:
ptrace, process_vm_*, bpf, perf_event_open, io_uring_*, keyctl/add_key/request_key, userfaultfd,
kexec_*, *_module, open_by_handle_at/name_to_handle_at, setns, swapon/swapoff, reboot, acct,
quotactl, clock/time setters, SysV IPC, AIO, fanotify, mknod, xattr writes.

Why each sandbox call is safe to allow here: the container has no capabilities beyond Docker's
defaults, runs as an unprivileged user (worker-cpu) and with no-new-privileges, so the namespaces it
makes are unprivileged user namespaces (the kernel's own checks apply), and mount() inside them
touches only the caller's private mount namespace.

    python deploy/seccomp.py            # rewrite the JSON (tests/integrity checks it is current)
"""

from __future__ import annotations

import json
from pathlib import Path

PROFILE = Path(__file__).with_name("seccomp-grader.json")
EPERM = 1

GROUPS: dict[str, list[str]] = {
    "memory": ["brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mincore", "msync", "mlock", "mlock2",
               "munlock", "mlockall", "munlockall", "membarrier", "memfd_create"],
    "threads and signals": ["clone", "clone3", "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4",
                            "waitid", "kill", "tgkill", "tkill", "pidfd_open", "pidfd_send_signal", "futex",
                            "futex_waitv", "set_tid_address", "set_robust_list", "get_robust_list", "rseq",
                            "arch_prctl", "prctl", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
                            "rt_sigsuspend", "rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack",
                            "restart_syscall", "pause"],
    "time": ["nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time", "alarm",
             "getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
             "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime", "times"],
    "identity and limits": ["getpid", "getppid", "gettid", "getpgid", "getpgrp", "getsid", "setsid", "setpgid",
                            "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
                            "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
                            "setfsuid", "setfsgid", "capget", "capset", "uname", "sysinfo", "getrlimit", "setrlimit",
                            "prlimit64", "getrusage", "getpriority", "setpriority", "getrandom", "umask"],
    "scheduling (CPU pinning)": ["sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam",
                                 "sched_setparam", "sched_getscheduler", "sched_setscheduler",
                                 "sched_get_priority_max", "sched_get_priority_min", "sched_getattr",
                                 "sched_setattr", "sched_rr_get_interval", "getcpu"],
    "files": ["read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
              "open", "openat", "openat2", "close", "close_range", "creat", "lseek", "stat", "fstat", "lstat",
              "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2", "readlink",
              "readlinkat", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir",
              "unlink", "unlinkat", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
              "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "truncate", "ftruncate",
              "fallocate", "fsync", "fdatasync", "sync_file_range", "flock", "fcntl", "dup", "dup2", "dup3", "pipe",
              "pipe2", "utime", "utimes", "utimensat", "futimesat", "fadvise64", "readahead", "sendfile",
              "copy_file_range", "splice", "tee", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr",
              "flistxattr", "ioctl"],
    "waiting on descriptors": ["eventfd", "eventfd2", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
                               "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6", "signalfd",
                               "signalfd4"],
    "sockets (broker, database, the sandbox's socketpairs)": [
        "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "getsockname", "getpeername",
        "getsockopt", "setsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown"],
    "the sandbox's set-up": ["unshare", "mount", "umount2", "pivot_root", "chroot", "mount_setattr", "open_tree",
                             "move_mount", "sethostname", "seccomp"],
}


def allowed() -> list[str]:
    return sorted({name for names in GROUPS.values() for name in names})


def profile() -> dict:
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        ],
        "syscalls": [{"names": allowed(), "action": "SCMP_ACT_ALLOW"}],
    }


def render() -> str:
    return json.dumps(profile(), indent=1) + "\n"


if __name__ == "__main__":
    PROFILE.write_text(render())
    print(f"wrote {PROFILE} ({len(allowed())} calls allowed)")
