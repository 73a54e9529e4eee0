"""Attack: climb out of the sandbox: become root (setuid, setuid binaries), make new namespaces
(unshare, clone flags, setns into pid 1's), mount things, chroot, load BPF, use io_uring, keyrings,
userfaultfd, and write kernel knobs under /proc/sys. Contained when every step is refused."""

import os
import sys

import torch
from torch import nn


def attempt(label, fn):
    """One probe: prints LEAK when it got what it must not, BLOCKED when the sandbox refused."""
    try:
        got = fn()
    except BaseException as exc:  # noqa: BLE001
        print(f"BLOCKED {label}: {type(exc).__name__}: {str(exc)[:100]}")
        return None
    print(f"LEAK {label}: {str(got)[:200]!r}")
    return got

import ctypes
import subprocess

libc = ctypes.CDLL(None, use_errno=True)


def call(ret, what):
    if ret < 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")
    return f"{what} returned {ret}"


print("SEEN uid", os.getuid(), os.geteuid(), "groups", os.getgroups())
attempt("setuid(0)", lambda: os.setuid(0) or "root")
attempt("setgid(0)", lambda: os.setgid(0) or "root")
for flag, name in ((0x10000000, "user"), (0x00020000, "mount"), (0x40000000, "net"), (0x20000000, "pid")):
    attempt(f"unshare({name})", lambda f=flag, n=name: call(libc.unshare(f), f"unshare {n}"))
attempt("mount tmpfs", lambda: call(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None), "mount"))
attempt("chroot", lambda: os.chroot("/tmp") or "chrooted")
attempt("setns pid 1's user ns", lambda: call(libc.setns(os.open("/proc/1/ns/user", os.O_RDONLY), 0), "setns"))
attempt("bpf", lambda: call(libc.syscall(321, 0, 0, 0), "bpf"))
attempt("io_uring_setup", lambda: call(libc.syscall(425, 1, 0), "io_uring_setup"))
attempt("add_key", lambda: call(libc.syscall(248, b"user", b"grader-attack", b"x", 1, -4), "add_key"))
attempt("userfaultfd", lambda: call(libc.syscall(323, 0), "userfaultfd"))
attempt("perf_event_open", lambda: call(libc.syscall(298, 0, 0, -1, -1, 0), "perf_event_open"))
for knob in ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/hostname", "/proc/sysrq-trigger"):
    attempt(f"write {knob}", lambda k=knob: open(k, "w").write("x"))
for argv in (["/usr/bin/sudo", "-n", "id"], ["/usr/bin/su", "-c", "id", "root"], ["/bin/mount", "-t", "tmpfs", "x", "/tmp"]):
    if os.path.exists(argv[0]):
        def run(argv=argv):
            p = subprocess.run(argv, capture_output=True, timeout=5, stdin=subprocess.DEVNULL)
            if p.returncode != 0:
                raise PermissionError(p.returncode, (p.stderr or p.stdout).decode(errors="replace")[:100])
            return p.stdout
        attempt(" ".join(argv), run)


class IdentityBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)
