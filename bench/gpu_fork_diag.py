"""Which parent-side torch calls leave a forked child unable to initialise CUDA (bench/gpu_check.sh)."""

import os
import sys

import torch


def child_can_use_cuda() -> str:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            torch.cuda.init()
            torch.zeros(1, device="cuda").add_(1)
            msg = "ok"
        except BaseException as exc:  # noqa: BLE001
            msg = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    out = os.read(r, 4096).decode()
    os.waitpid(pid, 0)
    return out


def libcuda() -> bool:
    return any("libcuda.so" in ln for ln in open("/proc/self/maps"))


print("after import torch:        libcuda", libcuda(), "child:", child_can_use_cuda())
import torch.fx.experimental.symbolic_shapes  # noqa: E402,F401

print("after symbolic_shapes:     libcuda", libcuda(), "child:", child_can_use_cuda())
torch.nn.Conv2d(2, 2, 3)(torch.randn(1, 2, 5, 5))
print("after cpu conv forward:    libcuda", libcuda(), "child:", child_can_use_cuda())
(torch.randn(2, requires_grad=True) * 2).sum().backward()
print("after cpu backward:        libcuda", libcuda(), "child:", child_can_use_cuda())
sys.exit(0)
