"""GPU-path checks for a lent GPU machine (run by bench/gpu_check.sh): hostile and honest submissions
graded by one warm GPU Grader, each line: what was graded, outcome, score, seconds, the first line
of the feedback. Exits non-zero when an expectation fails.

    GRADER_DEVICE=cuda python3 bench/gpu_attacks.py
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.engine import Grader  # noqa: E402
from grader.exercise import load_exercise  # noqa: E402

ATTACKS = ROOT / "tests" / "security" / "attacks"
HONEST = (ROOT / "exercises" / "identity-block" / "solution.py").read_bytes()

GPU_LOOP = b"""
import torch
from torch import nn
class IdentityBlock(nn.Module):
    def __init__(self, channels, kernel_size=3):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)
    def forward(self, x):
        a = torch.randn(4096, 4096, device=x.device)
        while True:            # keeps the GPU busy forever: only the wall-clock limit ends it
            a = torch.tanh(a @ a)
"""


def main() -> int:
    device = os.environ.get("GRADER_DEVICE", "cuda")
    ex = load_exercise(ROOT / "exercises" / "identity-block")
    short = dataclasses.replace(ex, limits=dataclasses.replace(ex.limits, wall_s=4.0))
    t = time.perf_counter()
    grader = Grader(device=device)
    grader.start()
    watch = grader._pool._gpu_watch  # noqa: SLF001 - report whether NVML enforcement is active
    print(
        f"device={grader.device} start={time.perf_counter() - t:.2f}s nvml_watch="
        f"{'on, cap %.1f GiB' % (watch.cap_bytes / 2**30) if watch and watch.reads_gpu else 'off'}"
    )
    hog = int(watch.cap_bytes * 1.5) if watch and watch.reads_gpu else 8 << 30
    cases = [
        ("honest", ex, HONEST, {"outcome": "ok", "full": True}),
        (
            "gpu memory over cap",
            ex,
            (ATTACKS / "dos_gpu_memory.py").read_text().replace("__HOG_BYTES__", str(hog)).encode(),
            {"outcome": "memory"},
        ),
        ("honest after", ex, HONEST, {"full": True}),
        ("gpu busy loop", short, GPU_LOOP, {"outcome": "timeout"}),
        ("honest after", ex, HONEST, {"full": True}),
        ("1 TB tensor", ex, (ATTACKS / "dos_memory_huge_tensor.py").read_bytes(), {"score0": True}),
        ("host memory bomb", ex, (ATTACKS / "dos_memory_bomb.py").read_bytes(), {"outcome": "memory"}),
        ("nan output", ex, (ATTACKS / "cheat_nan.py").read_bytes(), {"notfull": True}),
        ("torch_function", ex, (ATTACKS / "cheat_torch_function.py").read_bytes(), {"notfull": True}),
        ("honest after", ex, HONEST, {"full": True}),
    ]
    failed = 0
    for name, exercise, src, want in cases:
        t = time.perf_counter()
        r = grader.grade(exercise, src)
        dt = time.perf_counter() - t
        ok = True
        if "outcome" in want and r.outcome.value != want["outcome"]:
            ok = False
        if want.get("full") and r.score != r.max_score:
            ok = False
        if want.get("score0") and r.score != 0:
            ok = False
        if want.get("notfull") and r.score == r.max_score:
            ok = False
        failed += not ok
        first = next((ln for ln in r.output.splitlines() if ln.strip()), "")[:150]
        print(
            f"{'PASS' if ok else 'FAIL'} {name:<22} outcome={r.outcome.value:<8} score={r.score:g}/{r.max_score:g} "
            f"device={r.execution.device} {dt:6.2f}s  {first}"
        )
    grader.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
