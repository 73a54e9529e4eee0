"""The GPU sandbox's new walls, on a lent GPU machine (run by bench/gpu_check.sh); each line PASS/FAIL.

    GRADER_DEVICE=cuda python3 bench/gpu_sandbox_check.py

1. a GPU worker refuses to start without a cgroup (GRADER_CGROUP=off), unless the insecure switch is set;
2. a GPU job's sandbox sees only its own /dev/nvidiaN (plus nvidiactl, nvidia-uvm, nvidia-uvm-tools);
3. a GPU job's cgroup holds memory and pids limits: a forked host-memory bomb stays within one budget;
4. GPU memory is summed over the sandbox's processes (the kill message names how many);
5. a CUDA busy loop stops at its per-step CPU limit (derive_limits), not at the TOML's wall;
6. the honest reference still scores full marks after each.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.engine import Grader, derive_limits  # noqa: E402
from grader.exercise import load_exercise  # noqa: E402

ATTACKS = ROOT / "tests" / "security" / "attacks"
HONEST = (ROOT / "exercises" / "identity-block" / "solution.py").read_bytes()
LIST_DEV = b"""
import os
import torch
from torch import nn
nodes = sorted(n for n in os.listdir("/dev") if n.startswith("nvidia"))
print("NODES", " ".join(nodes))
for n in nodes:
    try:
        os.close(os.open("/dev/" + n, os.O_RDWR))
        print("OPENED", n)
    except OSError as exc:
        print("REFUSED", n, exc.errno)
class IdentityBlock(nn.Module):
    def __init__(self, channels, kernel_size=3):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)
    def forward(self, x):
        return x
"""
SPIN = b"""
import torch
from torch import nn
class IdentityBlock(nn.Module):
    def __init__(self, channels, kernel_size=3):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)
    def forward(self, x):
        while True:  # host CPU spent on a GPU job: the per-step CPU limit stops it
            x = x + 1
"""

failed = 0


def report(ok: bool, name: str, detail: str) -> None:
    global failed
    failed += not ok
    print(f"{'PASS' if ok else 'FAIL'} {name:<34} {detail[:160]}")


def main() -> int:
    device = os.environ.get("GRADER_DEVICE", "cuda")
    ex = load_exercise(ROOT / "exercises" / "identity-block")
    code = "from grader.sandbox.pool import SandboxPool; p = SandboxPool(device='cuda'); p.start(); p.close()"
    env = dict(os.environ, GRADER_CGROUP="off")
    env.pop("GRADER_INSECURE_GPU_NO_CGROUP", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    report(
        out.returncode != 0 and "needs a cgroup" in out.stderr,
        "no cgroup: refuses to start",
        out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "started",
    )

    grader = Grader(device=device)
    grader.start()
    pool = grader._pool  # noqa: SLF001 - report what the pool runs with
    print(f"device={grader.device} prefork={pool.prefork} cgroup={'yes' if pool._cgroups else 'NO'}")  # noqa: SLF001
    r = grader.grade(ex, LIST_DEV)
    nodes = next((ln.split()[1:] for ln in r.stdout.splitlines() if ln.startswith("NODES")), [])
    gpus = [n for n in nodes if n[6:].isdigit()]
    report(len(gpus) == 1 and r.status == "graded", "only the pinned GPU's node", " ".join(nodes))

    r = grader.grade(ex, (ATTACKS / "dos_memory_fork.py").read_bytes())
    held = sum(int(ln.split()[1]) for ln in r.stdout.splitlines() if ln.startswith("HELD "))
    budget = ex.limits.memory_mb + 384 + 4096
    report(
        held <= budget and r.status == "graded",
        "forked host-memory bomb",
        f"held {held} MB (budget {budget} MB), outcome {r.outcome.value}",
    )
    watch = pool._gpu_watch  # noqa: SLF001
    if watch is not None and watch.reads_gpu:
        hog = int(watch.cap_bytes * 1.5)
        src = (ATTACKS / "dos_gpu_memory.py").read_text().replace("__HOG_BYTES__", str(hog)).encode()
        r = grader.grade(ex, src)
        report(
            r.outcome.value == "memory" and "process(es)" in r.output,
            "GPU memory over the cap (summed)",
            r.output.splitlines()[-1] if r.output else "",
        )
    else:
        report(False, "GPU memory over the cap (summed)", "no NVML: install nvidia-ml-py")
    limits = derive_limits(grader, ex, runs=3)
    print(f"derived limits: {limits.to_json()}")
    t = time.monotonic()
    r = grader.grade(ex, SPIN, limits=limits)
    report(
        r.outcome.value == "timeout" and "CPU time" in r.output,
        "busy loop stopped per step",
        f"{time.monotonic() - t:.1f} s: {r.output.splitlines()[0] if r.output else ''}",
    )
    r = grader.grade(ex, HONEST, limits=limits)
    report(r.full_marks, "honest under derived limits", r.output.splitlines()[0])
    grader.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
