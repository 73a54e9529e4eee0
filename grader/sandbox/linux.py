"""Thin ctypes wrappers for the Linux calls the sandbox needs (Python 3.11 has no os.unshare).

Everything here is called in the forked child before student code exists, so failures raise
SandboxSetupError with the call that failed: the pool turns that into "sandbox unavailable".
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
ALL_NAMESPACES = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_DUMPABLE = 4
SECCOMP_MODE_FILTER = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class SandboxSetupError(OSError):
    """A sandbox primitive failed (the host lacks user namespaces, say)."""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise SandboxSetupError(err, f"{what} failed: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source.encode() if source else None, target.encode(), fstype.encode() if fstype else None,
                       flags, data.encode() if data else None), f"mount {target}")


def umount(target: str) -> None:
    _check(_libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    nr = {"x86_64": 155, "aarch64": 41}.get(platform.machine())
    if nr is None:
        raise SandboxSetupError(0, f"pivot_root: unsupported machine {platform.machine()}")
    _check(_libc.syscall(nr, new_root.encode(), put_old.encode()), "pivot_root")


def sethostname(name: str) -> None:
    b = name.encode()
    _check(_libc.sethostname(b, len(b)), "sethostname")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    ret = int(_libc.prctl(option, arg2, arg3, arg4, arg5))
    if ret < 0:
        err = ctypes.get_errno()
        raise SandboxSetupError(err, f"prctl({option}) failed: {os.strerror(err)}")
    return ret


def set_parent_death_signal(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig)


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def drop_bounding_capabilities() -> None:
    """Drop every capability from the bounding set (needs CAP_SETPCAP, i.e. before the uid drop)."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            err = ctypes.get_errno()
            if err == 22:  # EINVAL: past the last capability this kernel knows
                break
            raise SandboxSetupError(err, f"PR_CAPBSET_DROP({cap}) failed: {os.strerror(err)}")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def clear_capabilities() -> None:
    """Empty the effective, permitted and inheritable sets (capset with zeros)."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def effective_capabilities() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return -1


def clearenv() -> None:
    """Clear the C-level environment too, not only os.environ, and wipe the environment block the
    process was exec'd with (what /proc/self/environ shows, still in our memory after a fork)."""
    os.environ.clear()
    _libc.clearenv()
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start, end = int(fields[47]), int(fields[48])  # env_start, env_end (fields 50 and 51)
        if 0 < start < end:
            ctypes.memset(start, 0, end - start)
    except (OSError, ValueError, IndexError):
        pass


# ---- seccomp ------------------------------------------------------------------------------------
# A deny-list filter: the calls student code never needs and that widen the attack surface
# (namespaces, mounts, tracing other processes, kernel modules, BPF, keyrings, io_uring...).
# Sockets other than AF_UNIX are refused too (the network namespace has no route anyway).

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

_DENY = {
    "x86_64": {
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "mount": 165, "umount2": 166,
        "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308, "kexec_load": 246, "kexec_file_load": 320,
        "init_module": 175, "finit_module": 313, "delete_module": 176, "bpf": 321, "perf_event_open": 298,
        "keyctl": 250, "add_key": 248, "request_key": 249, "reboot": 169, "swapon": 167, "swapoff": 168,
        "acct": 163, "settimeofday": 164, "clock_settime": 227, "sethostname": 170, "setdomainname": 171,
        "userfaultfd": 323, "open_by_handle_at": 304, "name_to_handle_at": 303, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "fspick": 433, "personality": 135, "kcmp": 312, "lookup_dcookie": 212,
        "quotactl": 179, "iopl": 172, "ioperm": 173, "vhangup": 153, "pidfd_getfd": 438,
    },
    "aarch64": {
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "mount": 40, "umount2": 39,
        "pivot_root": 41, "chroot": 51, "unshare": 97, "setns": 268, "kexec_load": 104, "kexec_file_load": 294,
        "init_module": 105, "finit_module": 273, "delete_module": 106, "bpf": 280, "perf_event_open": 241,
        "keyctl": 219, "add_key": 217, "request_key": 218, "reboot": 142, "swapon": 224, "swapoff": 225,
        "acct": 89, "settimeofday": 170, "clock_settime": 112, "sethostname": 161, "setdomainname": 162,
        "userfaultfd": 282, "open_by_handle_at": 265, "name_to_handle_at": 264, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "fspick": 433, "personality": 92, "kcmp": 272, "quotactl": 60,
        "vhangup": 58, "pidfd_getfd": 438,
    },
}
_SOCKET = {"x86_64": 41, "aarch64": 198}
_CLONE = {"x86_64": 56, "aarch64": 220}
_CLONE3 = 435

_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_EPERM = 1
_EAFNOSUPPORT = 97
_ENOSYS = 38


def seccomp_supported() -> bool:
    return platform.machine() in _AUDIT_ARCH


def _seccomp_program() -> tuple[bytes, int]:
    arch = platform.machine()
    ins: list[tuple[int, int, int, int]] = []

    def op(code: int, jt: int, jf: int, k: int) -> None:
        ins.append((code, jt, jf, k))

    op(_BPF_LD_W_ABS, 0, 0, 4)  # seccomp_data.arch
    op(_BPF_JEQ_K, 1, 0, _AUDIT_ARCH[arch])
    op(_BPF_RET_K, 0, 0, _RET_KILL_PROCESS)
    op(_BPF_LD_W_ABS, 0, 0, 0)  # seccomp_data.nr
    if arch == "x86_64":  # the x32 ABI aliases every call: refuse it wholesale
        op(_BPF_JGE_K, 0, 1, 0x40000000)
        op(_BPF_RET_K, 0, 0, _RET_KILL_PROCESS)
    for nr in sorted(set(_DENY[arch].values())):
        op(_BPF_JEQ_K, 0, 1, nr)
        op(_BPF_RET_K, 0, 0, _RET_ERRNO | _EPERM)
    op(_BPF_JEQ_K, 0, 1, _CLONE3)  # flags live in a struct we cannot inspect: make libc fall back to clone
    op(_BPF_RET_K, 0, 0, _RET_ERRNO | _ENOSYS)
    # socket(domain, ...): only AF_UNIX (1)
    op(_BPF_JEQ_K, 0, 4, _SOCKET[arch])
    op(_BPF_LD_W_ABS, 0, 0, 16)  # args[0], low 32 bits (little-endian)
    op(_BPF_JEQ_K, 1, 0, 1)
    op(_BPF_RET_K, 0, 0, _RET_ERRNO | _EAFNOSUPPORT)
    op(_BPF_RET_K, 0, 0, _RET_ALLOW)
    # clone(flags, ...): no new namespaces
    op(_BPF_JEQ_K, 0, 3, _CLONE[arch])
    op(_BPF_LD_W_ABS, 0, 0, 16)
    op(_BPF_JSET_K, 0, 1, ALL_NAMESPACES | CLONE_NEWCGROUP)
    op(_BPF_RET_K, 0, 0, _RET_ERRNO | _EPERM)
    op(_BPF_RET_K, 0, 0, _RET_ALLOW)
    return b"".join(struct.pack("HBBI", *i) for i in ins), len(ins)


def install_seccomp_filter() -> None:
    """Install the deny-list filter for this process and all it forks (needs no_new_privs first)."""
    if not seccomp_supported():
        raise SandboxSetupError(0, f"seccomp: no filter for machine {platform.machine()}")
    prog_bytes, n = _seccomp_program()
    buf = ctypes.create_string_buffer(prog_bytes, len(prog_bytes))

    class _SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = _SockFprog(n, ctypes.cast(buf, ctypes.c_void_p))
    ret = _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0)
    if ret != 0:
        err = ctypes.get_errno()
        raise SandboxSetupError(err, f"seccomp filter failed: {os.strerror(err)}")
