"""The sandbox's seccomp filter: an allow-list, default action errno.

Allowed are the calls grading makes inside the sandbox, as measured (`python -m grader.sandbox.trace`
runs every module exercise's reference, starter and mistakes under strace and lists the calls made
under the filter: TRACED below), plus what any Python process needs to run, fork, thread, sleep,
use files in its private /tmp and AF_UNIX sockets, and print (PROCESS, MEMORY, FILES, SOCKETS).
GPU jobs also get the CUDA driver's calls (GPU) and every ioctl (the driver is driven by them);
CPU jobs get ioctl only for the terminal/FIONREAD-style requests Python and torch make.

Anything else fails with ENOSYS (so libc and Python fall back as on an older kernel, and a call a
newer kernel adds is refused by default); the calls that widen the attack surface fail with EPERM
(DENIED: namespaces, mounts, tracing, keyrings, BPF, io_uring, exec...). socket() and socketpair()
are allowed for AF_UNIX only (EAFNOSUPPORT otherwise, before any kernel code for the family runs,
so no protocol module is autoloaded), clone() never with namespace flags, clone3 gets ENOSYS (its
flags live in memory a filter cannot read, so libc falls back to clone).
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

from grader.sandbox.linux import ALL_NAMESPACES, CLONE_NEWCGROUP, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, SandboxSetupError

# Measured (CPU): every call the grading path makes under the filter, torch and numpy included.
TRACED = frozenset(
    {
        "brk",
        "clock_gettime",
        "close",
        "futex",
        "getpid",
        "getrandom",
        "getrusage",
        "getuid",
        "lseek",
        "mmap",
        "mprotect",
        "munmap",
        "newfstatat",
        "openat",
        "prlimit64",
        "read",
        "recvfrom",
        "sendto",
        "write",
    }
)

# A Python process's own life: signals, threads, fork and wait (inside its pid namespace), time.
PROCESS = frozenset(
    {
        "exit",
        "exit_group",
        "rt_sigreturn",
        "rt_sigaction",
        "rt_sigprocmask",
        "sigaltstack",
        "rt_sigtimedwait",
        "rt_sigsuspend",
        "pause",
        "alarm",
        "setitimer",
        "getitimer",
        "restart_syscall",
        "set_robust_list",
        "get_robust_list",
        "set_tid_address",
        "rseq",
        "arch_prctl",
        "prctl",
        "membarrier",
        "fork",
        "vfork",
        "wait4",
        "waitid",
        "kill",
        "tgkill",
        "tkill",
        "getppid",
        "gettid",
        "geteuid",
        "getgid",
        "getegid",
        "getgroups",
        "getresuid",
        "getresgid",
        "getpgrp",
        "getpgid",
        "getsid",
        "setsid",
        "setpgid",
        "getpriority",
        "sched_yield",
        "sched_getaffinity",
        "sched_setaffinity",
        "sched_getparam",
        "sched_getscheduler",
        "getcpu",
        "getrlimit",
        "setrlimit",
        "uname",
        "sysinfo",
        "times",
        "time",
        "gettimeofday",
        "clock_getres",
        "nanosleep",
        "clock_nanosleep",
    }
)

# Memory management beyond the traced mmap/mprotect/munmap/brk.
MEMORY = frozenset(
    {
        "madvise",
        "mremap",
        "msync",
    }
)

# Files and descriptors (the private read-only root and the job's own /tmp), polling.
FILES = frozenset(
    {
        "open",
        "fstat",
        "stat",
        "lstat",
        "statx",
        "statfs",
        "fstatfs",
        "fcntl",
        "dup",
        "dup2",
        "dup3",
        "pipe",
        "pipe2",
        "getdents64",
        "readlink",
        "readlinkat",
        "access",
        "faccessat",
        "faccessat2",
        "getcwd",
        "chdir",
        "fchdir",
        "unlink",
        "unlinkat",
        "mkdir",
        "mkdirat",
        "rename",
        "renameat",
        "renameat2",
        "rmdir",
        "ftruncate",
        "fsync",
        "fdatasync",
        "fadvise64",
        "pread64",
        "pwrite64",
        "readv",
        "writev",
        "umask",
        "fchmod",
        "chmod",
        "fchmodat",
        "utimensat",
        "close_range",
        "poll",
        "ppoll",
        "select",
        "pselect6",
        "epoll_create1",
        "epoll_ctl",
        "epoll_wait",
        "epoll_pwait",
        "eventfd2",
    }
)

# AF_UNIX sockets (socket/socketpair are checked below): the job's channel and its own pairs.
SOCKETS = frozenset(
    {
        "connect",
        "bind",
        "listen",
        "accept",
        "accept4",
        "sendmsg",
        "recvmsg",
        "shutdown",
        "getsockopt",
        "setsockopt",
        "getsockname",
        "getpeername",
    }
)

# The CUDA driver's extra calls (NUMA policy, its event and timer fds, pinned memory);
# checked on a GPU machine by bench/gpu_check.sh, which traces the GPU path.
GPU = frozenset(
    {
        "get_mempolicy",
        "set_mempolicy",
        "mbind",
        "memfd_create",
        "fallocate",
        "timerfd_create",
        "timerfd_settime",
        "timerfd_gettime",
        "mlock",
        "munlock",
        "inotify_init1",
        "inotify_add_watch",
        "inotify_rm_watch",
        "sched_get_priority_max",
        "sched_get_priority_min",
        "epoll_create",
        "eventfd",
    }
)

# Refused with EPERM (not merely unlisted): the calls that widen the attack surface.
DENIED = frozenset(
    {
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "mount",
        "umount2",
        "pivot_root",
        "chroot",
        "unshare",
        "setns",
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "bpf",
        "perf_event_open",
        "keyctl",
        "add_key",
        "request_key",
        "reboot",
        "swapon",
        "swapoff",
        "acct",
        "settimeofday",
        "clock_settime",
        "sethostname",
        "setdomainname",
        "userfaultfd",
        "open_by_handle_at",
        "name_to_handle_at",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "open_tree",
        "move_mount",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "personality",
        "kcmp",
        "lookup_dcookie",
        "quotactl",
        "iopl",
        "ioperm",
        "vhangup",
        "pidfd_getfd",
        "execve",
        "execveat",
        "mount_setattr",
    }
)

# ioctl requests a CPU job may make (terminal queries on its pipes, FIONREAD, non-blocking and
# close-on-exec switches); the same numbers on x86_64 and aarch64 (asm-generic/ioctls.h).
CPU_IOCTLS = {
    "TCGETS": 0x5401,
    "TIOCGWINSZ": 0x5413,
    "FIONREAD": 0x541B,
    "FIONBIO": 0x5421,
    "FIONCLEX": 0x5450,
    "FIOCLEX": 0x5451,
}

_NR: dict[str, dict[str, int]] = {
    "x86_64": {
        "accept": 43,
        "accept4": 288,
        "access": 21,
        "acct": 163,
        "add_key": 248,
        "alarm": 37,
        "arch_prctl": 158,
        "bind": 49,
        "bpf": 321,
        "brk": 12,
        "chdir": 80,
        "chmod": 90,
        "chroot": 161,
        "clock_getres": 229,
        "clock_gettime": 228,
        "clock_nanosleep": 230,
        "clock_settime": 227,
        "clone": 56,
        "clone3": 435,
        "close": 3,
        "close_range": 436,
        "connect": 42,
        "delete_module": 176,
        "dup": 32,
        "dup2": 33,
        "dup3": 292,
        "epoll_create": 213,
        "epoll_create1": 291,
        "epoll_ctl": 233,
        "epoll_pwait": 281,
        "epoll_wait": 232,
        "eventfd": 284,
        "eventfd2": 290,
        "execve": 59,
        "execveat": 322,
        "exit": 60,
        "exit_group": 231,
        "faccessat": 269,
        "faccessat2": 439,
        "fadvise64": 221,
        "fallocate": 285,
        "fchdir": 81,
        "fchmod": 91,
        "fchmodat": 268,
        "fcntl": 72,
        "fdatasync": 75,
        "finit_module": 313,
        "fork": 57,
        "fsconfig": 431,
        "fsmount": 432,
        "fsopen": 430,
        "fspick": 433,
        "fstat": 5,
        "fstatfs": 138,
        "fsync": 74,
        "ftruncate": 77,
        "futex": 202,
        "get_mempolicy": 239,
        "get_robust_list": 274,
        "getcpu": 309,
        "getcwd": 79,
        "getdents64": 217,
        "getegid": 108,
        "geteuid": 107,
        "getgid": 104,
        "getgroups": 115,
        "getitimer": 36,
        "getpeername": 52,
        "getpgid": 121,
        "getpgrp": 111,
        "getpid": 39,
        "getppid": 110,
        "getpriority": 140,
        "getrandom": 318,
        "getresgid": 120,
        "getresuid": 118,
        "getrlimit": 97,
        "getrusage": 98,
        "getsid": 124,
        "getsockname": 51,
        "getsockopt": 55,
        "gettid": 186,
        "gettimeofday": 96,
        "getuid": 102,
        "init_module": 175,
        "inotify_add_watch": 254,
        "inotify_init1": 294,
        "inotify_rm_watch": 255,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "io_uring_setup": 425,
        "ioctl": 16,
        "ioperm": 173,
        "iopl": 172,
        "kcmp": 312,
        "kexec_file_load": 320,
        "kexec_load": 246,
        "keyctl": 250,
        "kill": 62,
        "listen": 50,
        "lookup_dcookie": 212,
        "lseek": 8,
        "lstat": 6,
        "madvise": 28,
        "mbind": 237,
        "membarrier": 324,
        "memfd_create": 319,
        "mkdir": 83,
        "mkdirat": 258,
        "mlock": 149,
        "mmap": 9,
        "mount": 165,
        "mount_setattr": 442,
        "move_mount": 429,
        "mprotect": 10,
        "mremap": 25,
        "msync": 26,
        "munlock": 150,
        "munmap": 11,
        "name_to_handle_at": 303,
        "nanosleep": 35,
        "newfstatat": 262,
        "open": 2,
        "open_by_handle_at": 304,
        "open_tree": 428,
        "openat": 257,
        "pause": 34,
        "perf_event_open": 298,
        "personality": 135,
        "pidfd_getfd": 438,
        "pipe": 22,
        "pipe2": 293,
        "pivot_root": 155,
        "poll": 7,
        "ppoll": 271,
        "prctl": 157,
        "pread64": 17,
        "prlimit64": 302,
        "process_vm_readv": 310,
        "process_vm_writev": 311,
        "pselect6": 270,
        "ptrace": 101,
        "pwrite64": 18,
        "quotactl": 179,
        "read": 0,
        "readlink": 89,
        "readlinkat": 267,
        "readv": 19,
        "reboot": 169,
        "recvfrom": 45,
        "recvmsg": 47,
        "rename": 82,
        "renameat": 264,
        "renameat2": 316,
        "request_key": 249,
        "restart_syscall": 219,
        "rmdir": 84,
        "rseq": 334,
        "rt_sigaction": 13,
        "rt_sigprocmask": 14,
        "rt_sigreturn": 15,
        "rt_sigsuspend": 130,
        "rt_sigtimedwait": 128,
        "sched_get_priority_max": 146,
        "sched_get_priority_min": 147,
        "sched_getaffinity": 204,
        "sched_getparam": 143,
        "sched_getscheduler": 145,
        "sched_setaffinity": 203,
        "sched_yield": 24,
        "select": 23,
        "sendmsg": 46,
        "sendto": 44,
        "set_mempolicy": 238,
        "set_robust_list": 273,
        "set_tid_address": 218,
        "setdomainname": 171,
        "sethostname": 170,
        "setitimer": 38,
        "setns": 308,
        "setpgid": 109,
        "setrlimit": 160,
        "setsid": 112,
        "setsockopt": 54,
        "settimeofday": 164,
        "shutdown": 48,
        "sigaltstack": 131,
        "socket": 41,
        "socketpair": 53,
        "stat": 4,
        "statfs": 137,
        "statx": 332,
        "swapoff": 168,
        "swapon": 167,
        "sysinfo": 99,
        "tgkill": 234,
        "time": 201,
        "timerfd_create": 283,
        "timerfd_gettime": 287,
        "timerfd_settime": 286,
        "times": 100,
        "tkill": 200,
        "umask": 95,
        "umount2": 166,
        "uname": 63,
        "unlink": 87,
        "unlinkat": 263,
        "unshare": 272,
        "userfaultfd": 323,
        "utimensat": 280,
        "vfork": 58,
        "vhangup": 153,
        "wait4": 61,
        "waitid": 247,
        "write": 1,
        "writev": 20,
    },
    "aarch64": {
        "accept": 202,
        "accept4": 242,
        "acct": 89,
        "add_key": 217,
        "bind": 200,
        "bpf": 280,
        "brk": 214,
        "chdir": 49,
        "chroot": 51,
        "clock_getres": 114,
        "clock_gettime": 113,
        "clock_nanosleep": 115,
        "clock_settime": 112,
        "clone": 220,
        "clone3": 435,
        "close": 57,
        "close_range": 436,
        "connect": 203,
        "delete_module": 106,
        "dup": 23,
        "dup3": 24,
        "epoll_create1": 20,
        "epoll_ctl": 21,
        "epoll_pwait": 22,
        "eventfd2": 19,
        "execve": 221,
        "execveat": 281,
        "exit": 93,
        "exit_group": 94,
        "faccessat": 48,
        "faccessat2": 439,
        "fadvise64": 223,
        "fallocate": 47,
        "fchdir": 50,
        "fchmod": 52,
        "fchmodat": 53,
        "fcntl": 25,
        "fdatasync": 83,
        "finit_module": 273,
        "fsconfig": 431,
        "fsmount": 432,
        "fsopen": 430,
        "fspick": 433,
        "fstat": 80,
        "fstatfs": 44,
        "fsync": 82,
        "ftruncate": 46,
        "futex": 98,
        "get_mempolicy": 236,
        "get_robust_list": 100,
        "getcpu": 168,
        "getcwd": 17,
        "getdents64": 61,
        "getegid": 177,
        "geteuid": 175,
        "getgid": 176,
        "getgroups": 158,
        "getitimer": 102,
        "getpeername": 205,
        "getpgid": 155,
        "getpid": 172,
        "getppid": 173,
        "getpriority": 141,
        "getrandom": 278,
        "getresgid": 150,
        "getresuid": 148,
        "getrlimit": 163,
        "getrusage": 165,
        "getsid": 156,
        "getsockname": 204,
        "getsockopt": 209,
        "gettid": 178,
        "gettimeofday": 169,
        "getuid": 174,
        "init_module": 105,
        "inotify_add_watch": 27,
        "inotify_init1": 26,
        "inotify_rm_watch": 28,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "io_uring_setup": 425,
        "ioctl": 29,
        "kcmp": 272,
        "kexec_file_load": 294,
        "kexec_load": 104,
        "keyctl": 219,
        "kill": 129,
        "listen": 201,
        "lookup_dcookie": 18,
        "lseek": 62,
        "madvise": 233,
        "mbind": 235,
        "membarrier": 283,
        "memfd_create": 279,
        "mkdirat": 34,
        "mlock": 228,
        "mmap": 222,
        "mount": 40,
        "mount_setattr": 442,
        "move_mount": 429,
        "mprotect": 226,
        "mremap": 216,
        "msync": 227,
        "munlock": 229,
        "munmap": 215,
        "name_to_handle_at": 264,
        "nanosleep": 101,
        "newfstatat": 79,
        "open_by_handle_at": 265,
        "open_tree": 428,
        "openat": 56,
        "perf_event_open": 241,
        "personality": 92,
        "pidfd_getfd": 438,
        "pipe2": 59,
        "pivot_root": 41,
        "ppoll": 73,
        "prctl": 167,
        "pread64": 67,
        "prlimit64": 261,
        "process_vm_readv": 270,
        "process_vm_writev": 271,
        "pselect6": 72,
        "ptrace": 117,
        "pwrite64": 68,
        "quotactl": 60,
        "read": 63,
        "readlinkat": 78,
        "readv": 65,
        "reboot": 142,
        "recvfrom": 207,
        "recvmsg": 212,
        "renameat": 38,
        "renameat2": 276,
        "request_key": 218,
        "restart_syscall": 128,
        "rseq": 293,
        "rt_sigaction": 134,
        "rt_sigprocmask": 135,
        "rt_sigreturn": 139,
        "rt_sigsuspend": 133,
        "rt_sigtimedwait": 137,
        "sched_get_priority_max": 125,
        "sched_get_priority_min": 126,
        "sched_getaffinity": 123,
        "sched_getparam": 121,
        "sched_getscheduler": 120,
        "sched_setaffinity": 122,
        "sched_yield": 124,
        "sendmsg": 211,
        "sendto": 206,
        "set_mempolicy": 237,
        "set_robust_list": 99,
        "set_tid_address": 96,
        "setdomainname": 162,
        "sethostname": 161,
        "setitimer": 103,
        "setns": 268,
        "setpgid": 154,
        "setrlimit": 164,
        "setsid": 157,
        "setsockopt": 208,
        "settimeofday": 170,
        "shutdown": 210,
        "sigaltstack": 132,
        "socket": 198,
        "socketpair": 199,
        "statfs": 43,
        "statx": 291,
        "swapoff": 225,
        "swapon": 224,
        "sysinfo": 179,
        "tgkill": 131,
        "timerfd_create": 85,
        "timerfd_gettime": 87,
        "timerfd_settime": 86,
        "times": 153,
        "tkill": 130,
        "umask": 166,
        "umount2": 39,
        "uname": 160,
        "unlinkat": 35,
        "unshare": 97,
        "userfaultfd": 282,
        "utimensat": 88,
        "vhangup": 58,
        "wait4": 260,
        "waitid": 95,
        "write": 64,
        "writev": 66,
    },
}

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_AF_UNIX = 1
_EPERM = 1
_ENOSYS = 38
_EAFNOSUPPORT = 97

_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_ARG0, _ARG1 = 16, 24  # offsetof(struct seccomp_data, args[i]): low 32 bits on little-endian machines


def supported() -> bool:
    return platform.machine() in _AUDIT_ARCH


def allowed_names(device: str) -> set[str]:
    """Every call the filter lets through for this device (some only with checked arguments)."""
    names = set(TRACED | PROCESS | MEMORY | FILES | SOCKETS) | {"socket", "socketpair", "clone", "ioctl"}
    if device.startswith("cuda"):
        names |= GPU
    return names


def program(device: str, arch: str | None = None) -> tuple[bytes, int]:
    """The filter as classic BPF: (instructions, count)."""
    arch = arch or platform.machine()
    nrs = _NR[arch]
    ins: list[tuple[int, int, int, int]] = []

    def op(code: int, jt: int, jf: int, k: int) -> None:
        ins.append((code, jt, jf, k))

    def ret(action: int) -> None:
        op(_BPF_RET_K, 0, 0, action)

    op(_BPF_LD_W_ABS, 0, 0, 4)  # seccomp_data.arch
    op(_BPF_JEQ_K, 1, 0, _AUDIT_ARCH[arch])
    ret(_RET_KILL_PROCESS)
    op(_BPF_LD_W_ABS, 0, 0, 0)  # seccomp_data.nr
    if arch == "x86_64":  # the x32 ABI aliases every call: refuse it wholesale
        op(_BPF_JGE_K, 0, 1, 0x40000000)
        ret(_RET_KILL_PROCESS)
    plain = allowed_names(device) - {"socket", "socketpair", "clone", "ioctl"}
    for nr in sorted({nrs[n] for n in plain if n in nrs}):
        op(_BPF_JEQ_K, 0, 1, nr)
        ret(_RET_ALLOW)
    for name in ("socket", "socketpair"):  # AF_UNIX only
        op(_BPF_JEQ_K, 0, 4, nrs[name])
        op(_BPF_LD_W_ABS, 0, 0, _ARG0)
        op(_BPF_JEQ_K, 0, 1, _AF_UNIX)
        ret(_RET_ALLOW)
        ret(_RET_ERRNO | _EAFNOSUPPORT)
    op(_BPF_JEQ_K, 0, 4, nrs["clone"])  # no new namespaces
    op(_BPF_LD_W_ABS, 0, 0, _ARG0)
    op(_BPF_JSET_K, 0, 1, ALL_NAMESPACES | CLONE_NEWCGROUP)
    ret(_RET_ERRNO | _EPERM)
    ret(_RET_ALLOW)
    op(_BPF_JEQ_K, 0, 1, nrs["clone3"])
    ret(_RET_ERRNO | _ENOSYS)
    if device.startswith("cuda"):
        op(_BPF_JEQ_K, 0, 1, nrs["ioctl"])
        ret(_RET_ALLOW)
    else:
        requests = sorted(CPU_IOCTLS.values())
        op(_BPF_JEQ_K, 0, 2 + 2 * len(requests), nrs["ioctl"])
        op(_BPF_LD_W_ABS, 0, 0, _ARG1)  # the request (the kernel reads it as an unsigned int)
        for request in requests:
            op(_BPF_JEQ_K, 0, 1, request)
            ret(_RET_ALLOW)
        ret(_RET_ERRNO | _EPERM)
    for nr in sorted({nrs[n] for n in DENIED if n in nrs}):
        op(_BPF_JEQ_K, 0, 1, nr)
        ret(_RET_ERRNO | _EPERM)
    ret(_RET_ERRNO | _ENOSYS)
    return b"".join(struct.pack("HBBI", *i) for i in ins), len(ins)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def install_filter(device: str) -> None:
    """Install the filter for this process and everything it starts (needs no_new_privs first)."""
    if not supported():
        raise SandboxSetupError(0, f"seccomp: no filter for machine {platform.machine()}")
    code, n = program(device)
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = _SockFprog(n, ctypes.cast(buf, ctypes.c_void_p))
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise SandboxSetupError(err, f"seccomp filter failed: {os.strerror(err)}")
