"""Thin ctypes wrappers for the Linux calls the sandbox needs (Python 3.11 has no os.unshare).

Everything here is called in the forked child before student code exists, so failures raise
SandboxSetupError with the call that failed: the pool turns that into "sandbox unavailable".
"""

from __future__ import annotations

import ctypes
import os
import platform

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
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


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


# ---- recursive read-only ---------------------------------------------------------------------------
# mount(MS_REMOUNT | MS_RDONLY) changes one mount; the submounts of a recursive bind (a tmpfs inside
# /usr, say) keep their own flags. mount_setattr(AT_RECURSIVE) changes the whole tree at once.
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
_NR_MOUNT_SETATTR = 442  # the same on x86_64 and aarch64
_ENOSYS = 38


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def submounts(path: str) -> list[str]:
    """Mount points at or below path, from /proc/self/mountinfo, shallowest first."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")  # octal escapes (\040 for a space)
            if point == path or point.startswith(path.rstrip("/") + "/"):
                found.append(point)
    return sorted(set(found), key=len)


def make_readonly_recursive(path: str) -> None:
    """Read-only, nosuid, nodev for the mount at path and every mount below it."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0, 0)
    ret = _libc.syscall(
        ctypes.c_long(_NR_MOUNT_SETATTR),
        ctypes.c_long(AT_FDCWD),
        ctypes.c_char_p(path.encode()),
        ctypes.c_ulong(AT_RECURSIVE),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    if ret == 0:
        return
    err = ctypes.get_errno()
    if err != _ENOSYS:
        raise SandboxSetupError(err, f"mount_setattr(AT_RECURSIVE) {path} failed: {os.strerror(err)}")
    # Kernels before 5.12: remount each mount of the tree; any that cannot be made read-only stops the
    # set-up (a writable submount must never be left behind).
    ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
    for point in submounts(path):
        try:
            mount(None, point, None, ro)
        except SandboxSetupError as exc:
            raise SandboxSetupError(
                exc.errno,
                f"read-only bind of {path}: this kernel has no mount_setattr and "
                f"the submount {point} could not be remounted read-only ({exc})",
            ) from None
