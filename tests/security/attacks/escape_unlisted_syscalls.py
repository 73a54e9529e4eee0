"""Attack: reach the kernel through calls grading never needs. Each of these works in an unfiltered
process (and in the sandbox under a deny-list filter): new event and timer fds, inotify, AIO contexts,
pidfds, memfds, SysV shared memory, file locks, Landlock, exec. Contained when every one fails with
EPERM or ENOSYS (the filter's allow-list), socketpair() refuses a non-AF_UNIX family before the kernel
sees it (EAFNOSUPPORT, not the kernel's EOPNOTSUPP), and ioctl() allows only the terminal/FIONREAD
requests. Prints REFUSED <call> <errno>, or LEAK when a call got through."""

import ctypes
import errno
import os
import platform
import socket

import torch
from torch import nn

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
X86 = platform.machine() == "x86_64"
NR = {  # x86_64, aarch64
    "inotify_init1": (294, 26), "io_setup": (206, 0), "timerfd_create": (283, 85), "signalfd4": (289, 74),
    "pidfd_open": (434, 434), "memfd_create": (319, 279), "sched_rr_get_interval": (148, 127),
    "flock": (73, 32), "shmget": (29, 194), "landlock_create_ruleset": (444, 444), "syncfs": (306, 267),
    "execve": (59, 221),  # last: where it works, this process becomes /usr/bin/true
}
scratch = os.open("/tmp/grader-attack-scratch", os.O_RDWR | os.O_CREAT, 0o600)
ctx = ctypes.c_ulong(0)
mask = ctypes.c_ulong(0)
ts = (ctypes.c_long * 2)()
ARGS = {
    "inotify_init1": (0,), "io_setup": (1, ctypes.byref(ctx)), "timerfd_create": (1, 0),
    "signalfd4": (-1, ctypes.byref(mask), 8, 0), "pidfd_open": (os.getpid(), 0), "memfd_create": (b"x", 0),
    "sched_rr_get_interval": (0, ctypes.byref(ts)), "flock": (scratch, 2), "shmget": (0, 4096, 0o1600),
    "landlock_create_ruleset": (None, 0, 1), "syncfs": (scratch,),
    "execve": (b"/usr/bin/true", (ctypes.c_char_p * 2)(b"true", None), (ctypes.c_char_p * 1)(None)),
}


def probe(name):
    ret = libc.syscall(NR[name][0 if X86 else 1], *ARGS[name])
    if ret < 0:
        print("REFUSED", name, ctypes.get_errno())
    else:
        print("LEAK", name, "returned", ret)


for name in NR:
    if name != "execve":
        probe(name)
for family, label in ((socket.AF_INET, "AF_INET"), (socket.AF_NETLINK, "AF_NETLINK")):
    try:
        socket.socketpair(family, socket.SOCK_STREAM)
        print("LEAK", f"socketpair({label})")
    except OSError as exc:
        print("REFUSED", f"socketpair({label})", exc.errno)
    try:
        socket.socket(family, socket.SOCK_DGRAM).close()
        print("LEAK", f"socket({label})")
    except OSError as exc:
        print("REFUSED", f"socket({label})", exc.errno)

FIGETBSZ, FIONREAD = 2, 0x541B
block = ctypes.c_int(0)
if libc.ioctl(scratch, FIGETBSZ, ctypes.byref(block)) < 0:
    print("REFUSED", "ioctl(FIGETBSZ)", ctypes.get_errno())
else:
    print("LEAK", "ioctl(FIGETBSZ) returned", block.value)
r, w = os.pipe()
pending = ctypes.c_int(-1)
print("ALLOWED ioctl(FIONREAD)", libc.ioctl(r, FIONREAD, ctypes.byref(pending)), pending.value)
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)  # the job's own channel is this kind
print("ALLOWED socketpair(AF_UNIX)", a.family == socket.AF_UNIX)
os.close(scratch)
os.unlink("/tmp/grader-attack-scratch")
print("errnos", errno.EPERM, errno.ENOSYS, flush=True)
probe("execve")


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
